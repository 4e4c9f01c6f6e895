"""The CLI as a subprocess against a database it cannot use: a file that is not SQLite, a
read-only file (chattr +i), a full disk (a tiny tmpfs mounted here). Every command answers one
Chinese line naming the file and what to do, exits non-zero, and writes nothing."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import CONTENT, ROOT

ROSTER = "姓名,支部,党小组\n" + "".join(f"成员{i},第九党支部,第一党小组\n" for i in range(3000))


def write_config(folder: Path, db: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(f'[store]\npath = "{db}"\n\n[content]\npath = "{CONTENT}"\n\n'
                      "[sandbox]\nenabled = true\n", encoding="utf-8")
    return config


def run(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(config), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def assert_one_line(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if " INFO " not in line]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def members_count(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT count(*) FROM members").fetchone()[0]


@pytest.mark.parametrize("command", [("init",), ("members", "list"), ("checkins", "export"),
                                     ("members", "import", "ROSTER")])
def test_a_file_that_is_not_sqlite_is_one_line(tmp_path, command):
    db = tmp_path / "qingfeng.db"
    junk = b"this is a text file, not a database; " * 40
    db.write_bytes(junk)
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    args = [str(roster) if part == "ROSTER" else part for part in command]
    line = assert_one_line(run(write_config(tmp_path, db), *args), str(db), "不是可用的清风数据库",
                           "store.path")
    assert "Error" in line
    assert db.read_bytes() == junk


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("command", [("init",), ("members", "import", "ROSTER")])
def test_a_read_only_database_is_one_line(tmp_path, command):
    db = tmp_path / "qingfeng.db"
    config = write_config(tmp_path, db)
    assert run(config, "init").returncode == 0
    before = members_count(db)
    with contextlib.closing(sqlite3.connect(db)) as conn:  # drop the seed's rows so init writes
        conn.execute("DELETE FROM kv")
        conn.commit()
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    args = [str(roster) if part == "ROSTER" else part for part in command]
    with immutable(db):
        done = run(config, *args)
    assert_one_line(done, str(db), "只读")
    assert members_count(db) == before


@pytest.fixture
def tiny_disk(tmp_path) -> Iterator[Path]:
    """A 2 MB tmpfs: the disk that fills up."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
        while True:
            out.write(b"\0" * 4096)
    return filler


def test_init_on_a_full_disk_names_the_disk_not_the_rollback(tmp_path, tiny_disk):
    """Before: `database or disk is full`, then `cannot rollback - no transaction is active`
    hid it, in a 46-line traceback."""
    db = tiny_disk / "qingfeng.db"
    fill(tiny_disk).unlink()
    (tiny_disk / "keep").write_bytes(b"\0" * (2 * 1024 * 1024 - 200 * 1024))  # 200 KB left
    line = assert_one_line(run(write_config(tmp_path, db), "init"), str(db), "磁盘已满")
    assert "rollback" not in line


def test_import_on_a_full_disk_writes_nothing(tmp_path, tiny_disk):
    db = tiny_disk / "qingfeng.db"
    config = write_config(tmp_path, db)
    assert run(config, "init").returncode == 0
    before = members_count(db)
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    filler = fill(tiny_disk)
    assert_one_line(run(config, "members", "import", str(roster)), str(db), "磁盘已满")
    filler.unlink()
    assert members_count(db) == before
