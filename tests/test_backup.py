"""Backups and the restore drill: a backup made while check-ins are being written is whole and
consistent; restoring it brings the service back with exactly what the backup held; damaged,
foreign and too-new files are refused; the oldest backups are pruned, nothing else."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import backup, create_app
from bot.cli import cli
from bot.config import load_config
from bot.services import build_services
from bot.store import members
from bot.store.checkins import record_checkin
from bot.store.migrations import MIGRATIONS
from schedules import lease
from tests.conftest import TEST_NOW
from tests.paths import CONTENT


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "var" / "qingfeng.db"
        self.backups = tmp_path / "var" / "backups"
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'[store]\npath = "{self.db}"\n[content]\npath = "{CONTENT}"\n'
                               f'[backup]\ndir = "{self.backups}"\nkeep = 3\n', encoding="utf-8")

    def __call__(self, *args: str, ok: bool = True, stdin: str | None = None):
        result = CliRunner().invoke(cli, ["--config", str(self.config), *args], input=stdin)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 1, result.output
            assert "Traceback" not in result.output
        return result


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_a_backup_taken_during_a_burst_of_check_ins_is_consistent(make_services, tmp_path):
    services = make_services(demo=False)
    now = services.clock.now()
    with services.store.transaction() as db:
        ids = [members.add_member(db, name=f"党员{n}", branch="第一党支部", grp="", phone="",
                                  role="member", demo=False, now=now) for n in range(200)]
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        for day in range(60):
            for member_id in ids:
                if stop.is_set():
                    return
                with services.store.transaction() as db:
                    record_checkin(db, member_id=member_id, day=(now - timedelta(days=day)).date(),
                                   note="", at=now, via="sandbox")
                written.append(member_id)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 500:
            threading.Event().wait(0.005)
        infos = [backup.create(services.store.path, tmp_path / "b", now + timedelta(seconds=i), 10)
                 for i in range(3)]
    finally:
        stop.set()
        thread.join()
    counts = [info.counts["checkins"] for info in infos]
    assert counts == sorted(counts) and counts[0] >= 500  # each a snapshot, taken in order
    for info in infos:
        assert rows(info.path, "PRAGMA integrity_check") == [("ok",)]
        # Consistent: every check-in's member is in the same snapshot.
        assert rows(info.path, "SELECT count(*) FROM checkins WHERE member_id NOT IN"
                               " (SELECT id FROM members)") == [(0,)]
    assert not list((tmp_path / "b").glob("*.partial"))


def test_the_restore_drill(tmp_path):
    run = Cli(tmp_path)
    run("init")
    services = build_services(load_config(run.config))
    with services.store.transaction() as db:
        member_id = db.execute("SELECT id FROM members ORDER BY id LIMIT 1").fetchone()[0]
        record_checkin(db, member_id=member_id, day=TEST_NOW.date(), note="备份前", at=TEST_NOW,
                       via="sandbox")
    made = run("backup", "create").output
    assert "已备份" in made and "已通过完整性检查" in made
    [saved] = backup.listing(run.backups)
    # After the backup: more data, then a disaster (the roster wiped).
    with services.store.transaction() as db:
        record_checkin(db, member_id=member_id, day=(TEST_NOW + timedelta(days=1)).date(),
                       note="备份后", at=TEST_NOW, via="sandbox")
        db.execute("DELETE FROM checkins")
        db.execute("DELETE FROM identities")
        db.execute("UPDATE members SET active = 0")
    services.store.close()

    restored = run("backup", "restore", str(saved), "--yes").output
    assert "已恢复" in restored
    safety = next(run.db.parent.glob("qingfeng.db.before-restore-*"))
    assert rows(safety, "SELECT count(*) FROM checkins") == [(0,)]  # what was there is kept
    assert rows(run.db, "PRAGMA integrity_check") == [("ok",)]
    assert rows(run.db, "SELECT note FROM checkins") == [("备份前",)]
    assert rows(run.db, "SELECT count(*) FROM members WHERE active = 1") == [(8,)]
    # The service starts on the restored database and serves it.
    client = create_app(run.config).test_client()
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert client.get("/metrics").get_data(as_text=True).count("qingfeng_members_active 8") == 1


def test_restore_refuses_while_the_service_runs(tmp_path):
    run = Cli(tmp_path)
    run("init")
    run("backup", "create")
    [saved] = backup.listing(run.backups)
    services = build_services(load_config(run.config))
    assert lease.try_acquire(services.store, "web:1:abc", services.clock.timestamp())
    before = rows(run.db, "SELECT count(*) FROM members")
    refused = run("backup", "restore", str(saved), "--yes", ok=False)
    assert "服务仍在运行" in refused.output
    assert rows(run.db, "SELECT count(*) FROM members") == before
    assert not list(run.db.parent.glob("qingfeng.db.before-restore-*"))


def test_restore_asks_and_a_no_changes_nothing(tmp_path):
    run = Cli(tmp_path)
    run("init")
    run("backup", "create")
    [saved] = backup.listing(run.backups)
    result = run("backup", "restore", str(saved), ok=False, stdin="n\n")
    assert "已取消" in result.output
    assert not list(run.db.parent.glob("qingfeng.db.before-restore-*"))


@pytest.mark.parametrize("content, says", [
    (b"", "不是清风的数据库"),
    (b"SQLite format 3\x00" + b"\xff" * 4000, "不是可用的 SQLite 数据库"),
    (b"name,branch\n", "不是可用的 SQLite 数据库"),
])
def test_bad_backup_files_are_refused(tmp_path, content, says):
    run = Cli(tmp_path)
    run("init")
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    before = run.db.read_bytes()
    assert says in run("backup", "verify", str(bad), ok=False).output
    assert says in run("backup", "restore", str(bad), "--yes", ok=False).output
    assert run.db.read_bytes() == before


def test_a_missing_backup_file_is_named(tmp_path):
    run = Cli(tmp_path)
    assert "找不到备份文件" in run("backup", "verify", str(tmp_path / "nope.db"), ok=False).output


def test_a_backup_from_a_newer_version_is_refused(tmp_path):
    run = Cli(tmp_path)
    run("init")
    run("backup", "create")
    [saved] = backup.listing(run.backups)
    with sqlite3.connect(saved) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    assert "更新的版本" in run("backup", "restore", str(saved), "--yes", ok=False).output


def test_only_the_newest_backups_are_kept_and_nothing_else_is_touched(tmp_path, make_services):
    services = make_services()
    directory = tmp_path / "b"
    directory.mkdir()
    mine = directory / "notes.txt"
    mine.write_text("not a backup")
    lookalike = directory / "qingfeng-latest.db"
    lookalike.write_text("not ours either")
    made = [backup.create(services.store.path, directory, TEST_NOW + timedelta(hours=h), keep=3).path
            for h in range(5)]
    assert backup.listing(directory) == made[2:]
    assert mine.exists() and lookalike.exists()


def test_an_unwritable_backup_directory_is_a_clear_error(tmp_path):
    run = Cli(tmp_path)
    run("init")
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    result = run("backup", "create", "--dir", str(blocker / "sub"), ok=False)
    assert "无法创建备份目录" in result.output and str(blocker / "sub") in result.output


def test_list_says_when_there_are_none(tmp_path):
    run = Cli(tmp_path)
    assert "还没有备份" in run("backup", "list").output
    run("init")
    run("backup", "create")
    assert "qingfeng-" in run("backup", "list").output
