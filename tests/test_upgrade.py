"""Upgrades: a database made by an older release is migrated at start with nothing lost, and
two processes starting at once apply each migration once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from bot.store import Store
from bot.store.migrations import MIGRATIONS, _statements
from tests.paths import CONTENT

OLD_VERSION = 3  # the schema as issue 4 shipped it


def old_database(path: Path) -> None:
    """A database as release `OLD_VERSION` left it, with a member, a check-in and a schedule."""
    conn = sqlite3.connect(path, isolation_level=None)
    for version, script in enumerate(MIGRATIONS[:OLD_VERSION]):
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version + 1}")
    conn.execute("INSERT INTO members (id, name, branch, created_at) VALUES"
                 " (1, '老党员', '第一党支部', '2026-01-05T09:00:00+08:00')")
    conn.execute("INSERT INTO checkins (member_id, day, at, via) VALUES"
                 " (1, '2026-01-05', '2026-01-05T09:00:00+08:00', 'mp')")
    conn.execute("INSERT INTO schedules (kind, spec, audience, content, created_by, created_at)"
                 " VALUES ('daily', '{\"time\": \"08:30\"}', '{\"all\": true}', '{\"text\": \"早\"}',"
                 " 'cli', '2026-01-05T09:00:00+08:00')")
    conn.close()


def test_an_old_database_is_migrated_with_nothing_lost(tmp_path):
    path = tmp_path / "qingfeng.db"
    old_database(path)
    store = Store(path)
    db = store.db
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("SELECT name, branch FROM members").fetchall() == [("老党员", "第一党支部")]
    assert db.execute("SELECT day, via FROM checkins").fetchall() == [("2026-01-05", "mp")]
    assert db.execute("SELECT count(*) FROM schedules").fetchone()[0] == 1
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    store.close()


def test_init_on_an_old_database_upgrades_and_loads_the_content(tmp_path):
    path = tmp_path / "qingfeng.db"
    old_database(path)
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{path}"\n[content]\npath = "{CONTENT}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "init", "--no-demo"])
    assert result.exit_code == 0, result.output
    assert f"结构版本 {len(MIGRATIONS)}" in result.output
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 1  # no demo added
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] > 0


def test_processes_starting_together_migrate_once(tmp_path):
    path = tmp_path / "qingfeng.db"
    old_database(path)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            Store(path).close()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 1
