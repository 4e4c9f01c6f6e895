"""The CLI as a subprocess when the content it loads is wrong (issue 11 §5): a `content.path`
that is no folder, a broken TOML file, a task whose group two branches share, a broken
holidays.toml. Each is one Chinese line naming the file and what to do, a non-zero exit, no
traceback, and nothing half-written (a fresh database is not even created)."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.paths import CONTENT
from tests.test_cli_storage_errors import assert_one_line, run


def write_config(folder: Path, db: Path, content: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(f'[store]\npath = "{db}"\n\n[content]\npath = "{content}"\n\n'
                      "[sandbox]\nenabled = true\n", encoding="utf-8")
    return config


@pytest.fixture
def content(tmp_path) -> Path:
    """A copy of the repository's content folder, to break."""
    return Path(shutil.copytree(CONTENT, tmp_path / "content"))


def snapshot(db: Path) -> tuple:
    """What `init` writes: readings, quiz, tasks, reminders, members and the audit log."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return tuple(list(conn.execute(f"SELECT * FROM {table} ORDER BY 1")) for table in
                     ("readings", "quiz_questions", "tasks", "reminders", "members", "audit"))


def test_a_content_path_that_is_no_folder(tmp_path):
    db = tmp_path / "qingfeng.db"
    config = write_config(tmp_path, db, tmp_path / "no-such-folder")
    assert_one_line(run(config, "init"), "找不到内容目录", str(tmp_path / "no-such-folder"),
                    "content.path", "本次未写入任何数据")
    assert not db.exists()


@pytest.mark.parametrize("broken", ["quiz.toml", "reminders.toml", "readings/党章.toml",
                                    "tasks/2026-12.toml"])
def test_a_broken_toml_file_on_a_fresh_database(tmp_path, content, broken):
    with (content / broken).open("a", encoding="utf-8") as out:
        out.write("\nbroken = [\n")
    db = tmp_path / "qingfeng.db"
    assert_one_line(run(write_config(tmp_path, db, content), "init"), "内容文件有误",
                    f"content/{broken}", "TOML", "请按提示改正该文件后重试")
    assert not db.exists()


def test_a_task_for_a_group_two_branches_share_changes_nothing(tmp_path, content):
    """The error is found while writing (the group is resolved against the roster): the
    readings changed in the same run are rolled back with it."""
    db = tmp_path / "qingfeng.db"
    config = write_config(tmp_path, db, content)
    assert run(config, "init").returncode == 0
    with contextlib.closing(sqlite3.connect(db)) as conn:  # a second 综合处党小组
        conn.execute("INSERT INTO members (name, branch, grp, created_at) VALUES"
                     " ('钱七', '第二党支部', '综合处党小组', '2026-11-01T09:00:00+08:00')")
        conn.commit()
    before = snapshot(db)
    charter = content / "readings" / "党章.toml"
    charter.write_text(charter.read_text(encoding="utf-8").replace("不谋私利不搞特权", "改过的标题"),
                       encoding="utf-8")
    (content / "tasks" / "2027-01.toml").write_text(
        'month = "2027-01"\n\n[[task]]\nid = "2027-01-group"\ntitle = "小组学习"\ndetail = "学习"\n'
        'due = "2027-01-20"\nrequired = true\nkind = "study"\n'
        'audience = {groups = ["综合处党小组"]}\n', encoding="utf-8")
    line = assert_one_line(run(config, "init"), "内容文件有误", "content/tasks/2027-01.toml",
                           "综合处党小组", "第一党支部/综合处党小组", "第二党支部/综合处党小组")
    assert "本次未写入任何数据" in line
    assert snapshot(db) == before  # the changed reading was not written either


def test_a_broken_holidays_file_is_one_line(tmp_path, content):
    db = tmp_path / "qingfeng.db"
    config = write_config(tmp_path, db, content)
    assert run(config, "init").returncode == 0
    (content / "holidays.toml").write_text("[[break]\n", encoding="utf-8")
    assert_one_line(run(config, "nudges", "preview"), "holidays.toml", "TOML")


def test_a_csv_roster_beyond_the_column_limit_is_one_line(tmp_path):
    db = tmp_path / "qingfeng.db"
    config = write_config(tmp_path, db, CONTENT)
    assert run(config, "init").returncode == 0
    roster = tmp_path / "roster.csv"
    roster.write_text("姓名,支部" + ",x" * 29 + ",第31列\n郑强,第三党支部\n", encoding="utf-8")
    before = snapshot(db)
    assert_one_line(run(config, "members", "import", str(roster)), "列数太多（最多 30 列）")
    assert snapshot(db) == before
