"""`python -m bot tasks add|list|edit|remove|import` through click's CliRunner, with a real config
file and database in tmp_path and the test clock (Monday 2026-11-23): Chinese output, and bad
input is one line, a non-zero exit, and nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import bot.cli
from bot.cli import cli
from bot.config import load_config
from bot.seed import initialise
from bot.services import Services
from bot.store import tasks as store_tasks
from tests.paths import CONTENT

Run = Callable[..., Result]


@pytest.fixture
def config(tmp_path, built) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "cli.db"}"\n\n[content]\npath = "{CONTENT}"\n\n'
                    "[sandbox]\nenabled = true\n", encoding="utf-8")
    initialise(bot.cli.build_services(load_config(path)))  # content tasks and the demo roster
    return path


@pytest.fixture
def run(config) -> Run:
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(cli, ["--config", str(config), *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result
    return invoke


def tasks_table(built: list[Services]) -> list[tuple]:
    return [tuple(row) for row in built[0].store.db.execute("SELECT * FROM tasks ORDER BY id")]


def refused(run: Run, built: list[Services], *args: str) -> str:
    before = tasks_table(built)
    result = run(*args, ok=False)
    assert result.exit_code != 0
    assert tasks_table(built) == before
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines, result.output
    return lines[-1]


def test_list_shows_number_title_due_required_audience_and_counts(run, built):
    services = built[0]
    task = store_tasks.by_position(services.store.db, "2026-11", 5)
    with services.store.transaction() as db:
        store_tasks.mark_done(db, task, 1, at=services.clock.now(), day=services.clock.today(),
                              via="sandbox")
    out = run("tasks", "list").output.splitlines()
    assert out[0] == "2026-11 学习任务（5 项）："
    # The demo roster joined today (11-23): task 1, due 11-20, is expected of nobody (应学's
    # rule, as on 学习任务 and in the report).
    assert out[1] == "  1. 学习《纪律处分条例》第六章｜11-20 截止｜必学｜学习｜全体党员｜已完成 0/0［文件］"
    assert out[5] == "  5. 第一党支部：查找岗位廉政风险点｜11-30 截止｜选学｜其他｜第一党支部｜已完成 1/4（25%）［文件］"
    services.store.db.execute("UPDATE members SET created_at = '2026-10-01T09:00:00+08:00'")
    services.store.db.conn.commit()
    out = run("tasks", "list").output.splitlines()
    assert out[1] == "  1. 学习《纪律处分条例》第六章｜11-20 截止｜必学｜学习｜全体党员｜已完成 0/8（0%）［文件］"
    december = run("tasks", "list", "--month", "2026-12").output
    assert december.startswith("2026-12 学习任务（5 项）：")
    assert run("tasks", "list", "--month", "2027-05").output == (
        "2027-05 没有学习任务。用 tasks add 或 tasks import 添加。\n")


def test_add_then_edit_then_remove(run, built):
    added = run("tasks", "add", "--title", "学习《问责条例》", "--due", "2026-11-29",
                "--reading", "jlcf-2023-058", "--link", "https://www.12371.cn/",
                "--branch", "第二党支部", "--optional", "--kind", "other").output
    assert added == "已添加 2026-11 第 6 项：学习《问责条例》（11-29 截止，第二党支部）\n"
    task = store_tasks.by_position(built[0].store.db, "2026-11", 6)
    assert (task.origin, task.required, task.kind, task.readings, task.link) == (
        "admin", False, "other", ("jlcf-2023-058",), "https://www.12371.cn/")
    edited = run("tasks", "edit", "6", "--title", "学习《问责条例》全文", "--required", "--all",
                 "--no-readings").output
    assert edited == "已修改 2026-11 第 6 项：学习《问责条例》全文（11-29 截止，必学，全体党员）\n"
    task = store_tasks.by_position(built[0].store.db, "2026-11", 6)
    assert task.readings == () and task.audience == {"all": True} and task.required
    assert run("tasks", "edit", task.slug, "--due", "2026-11-30").output.startswith("已修改 2026-11 第 6 项")
    removed = run("tasks", "remove", "6").output
    assert removed == "已删除 2026-11 第 6 项：学习《问责条例》全文（完成记录保留，序号不再使用）\n"
    assert "学习《问责条例》" not in run("tasks", "list").output
    assert "［已删除］" in run("tasks", "list", "--removed").output
    again = run("tasks", "add", "--title", "新任务", "--due", "2026-11-30").output
    assert "第 7 项" in again  # 6 is not reused
    audits = [row[0] for row in built[0].store.db.execute(
        "SELECT action FROM audit WHERE action LIKE 'task %' ORDER BY id")]
    assert audits == ["task add", "task edit", "task edit", "task remove", "task add"]


def test_add_in_another_month_with_a_group_and_a_member(run, built):
    out = run("tasks", "add", "--month", "2027-01", "--title", "元旦廉洁提醒学习",
              "--due", "2027-01-10", "--group", "财务处党小组", "--member", "5").output
    assert out == "已添加 2027-01 第 1 项：元旦廉洁提醒学习（01-10 截止，第一党支部 · 财务处党小组、1 名指定党员）\n"


@pytest.mark.parametrize("args, message", [
    (("--due", "2026-11-30"), "--title"),
    (("--title", "学习"), "--due"),
    (("--title", " ", "--due", "2026-11-30"), "标题不能为空"),
    (("--title", "学习", "--due", "2026-10-30"), "早于"),
    (("--title", "学习", "--due", "11月30日"), "格式不对"),
    (("--title", "学习", "--due", "2026-11-30", "--month", "2026-13"), "月份「2026-13」格式不对"),
    (("--title", "学习", "--due", "2026-11-30", "--link", "ftp://x"), "不是有效的网址"),
    (("--title", "学习", "--due", "2026-11-30", "--reading", "jlcf-2099-001"), "jlcf-2099-001"),
    (("--title", "学习", "--due", "2026-11-30", "--branch", "第九党支部"), "名册里没有支部「第九党支部」"),
    (("--title", "学习", "--due", "2026-11-30", "--group", "无此小组"), "名册里没有党小组「无此小组」"),
    (("--title", "学习", "--due", "2026-11-30", "--member", "999"), "名册里没有党员编号「999」"),
    (("--title", "学习", "--due", "2026-11-30", "--slug", "2026-11-study-ch6"), "已经有"),
])
def test_add_refuses_bad_input(run, built, args, message):
    line = refused(run, built, "tasks", "add", *args)
    assert message in line, line


def test_unknown_options_and_kinds_are_refused_by_click(run, built):
    assert "kind" in refused(run, built, "tasks", "add", "--title", "学习", "--due", "2026-11-30",
                             "--kind", "party").lower()


@pytest.mark.parametrize("args, message", [
    (("99",), "2026-11 没有第 99 项任务"),
    (("0",), "2026-11 没有第 0 项任务"),
    (("no-such-slug",), "没有第 no-such-slug 项任务"),
    (("1",), "content/tasks/2026-11.toml"),  # a file task is edited in its file
    (("1", "--month", "2026/11"), "格式不对"),
])
def test_edit_and_remove_refuse_bad_references(run, built, args, message):
    for command in ("edit", "remove"):
        extra = ("--title", "改") if command == "edit" else ()
        line = refused(run, built, "tasks", command, *args, *extra)
        assert message in line, line


def test_edit_refuses_bad_values_and_empty_edits(run, built):
    run("tasks", "add", "--title", "学习", "--due", "2026-11-30")
    assert "没有要修改" in refused(run, built, "tasks", "edit", "6")
    assert "早于" in refused(run, built, "tasks", "edit", "6", "--due", "2026-01-01")
    assert "只能选一个" in refused(run, built, "tasks", "edit", "6", "--reading",
                                   "jlcf-2023-058", "--no-readings")
    run("tasks", "remove", "6")
    assert "已经删除" in refused(run, built, "tasks", "edit", "6", "--title", "改")
    assert "已经删除" in refused(run, built, "tasks", "remove", "6")


MONTH_FILE = """\
month = "2027-02"

[[task]]
id = "2027-02-spring"
title = "春节廉洁提醒学习"
detail = "学习元旦春节期间廉洁要求。"
due = 2027-02-05
required = true
kind = "study"
audience = "all"
"""


def test_import_a_month_file(run, built, tmp_path):
    path = tmp_path / "2027-02.toml"
    path.write_text(MONTH_FILE, encoding="utf-8")
    assert run("tasks", "import", str(path)).output == (
        "已导入 2027-02：新增 1 项，更新 0 项，未变 0 项。\n")
    assert run("tasks", "import", str(path)).output == (
        "2027-02 的 1 项任务已导入过，内容没有变化。\n")
    run("tasks", "add", "--month", "2027-02", "--title", "另加的", "--due", "2027-02-20")
    out = run("tasks", "import", str(path)).output
    assert "另有 1 项任务不在此文件中，未作改动" in out
    assert "春节廉洁提醒学习" in run("tasks", "list", "--month", "2027-02").output


@pytest.mark.parametrize("text, message", [
    (MONTH_FILE.replace("due = 2027-02-05", "due = 2027-01-05"), "文件有误，未导入"),
    (MONTH_FILE.replace('kind = "study"', 'kind = "学习"'), "文件有误，未导入"),
    (MONTH_FILE + 'readings = ["nope"]\n', "不在纪法条文库里"),
    (MONTH_FILE.replace("2027-02-spring", "2026-11-study-ch6"), "content/tasks/2026-11.toml"),
    ('month = "2027-02"\n', "no [[task]] entries"),
    ("month = 2027-02\n[[task]\n", "文件有误，未导入"),
])
def test_import_refuses_a_bad_file_and_writes_nothing(run, built, tmp_path, text, message):
    path = tmp_path / "2027-02.toml"
    path.write_text(text, encoding="utf-8")
    line = refused(run, built, "tasks", "import", str(path))
    assert message in line, line


def test_import_of_a_missing_file(run, built, tmp_path):
    assert "找不到文件" in refused(run, built, "tasks", "import", str(tmp_path / "none.toml"))
