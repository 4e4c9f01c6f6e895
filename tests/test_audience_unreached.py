"""`init` and `config check` warn (注意) about a task or schedule whose audience matches no one
on the roster: a misspelt or renamed group, a branch that is not there, members who left. The
shipped demo data has none (its 补学 task once named 「综合科党小组」, which no demo member is in)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.store import members
from tests.paths import CONTENT


def write_config(tmp_path: Path, content: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "q.db"}"\n\n[content]\npath = "{content}"\n',
                    encoding="utf-8")
    return path


def run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def misspelt(tmp_path) -> Path:
    """content/ with the December 补学 task addressed as it used to be."""
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    month = content / "tasks" / "2026-12.toml"
    text = month.read_text(encoding="utf-8")
    assert 'groups = ["第一党支部/综合处党小组"]' in text
    month.write_text(text.replace('groups = ["第一党支部/综合处党小组"]', 'groups = ["综合科党小组"]'),
                     encoding="utf-8")
    return content


def test_the_shipped_demo_reaches_someone_with_every_task(tmp_path, built):
    config = write_config(tmp_path, CONTENT)
    output = run(config, "init")
    assert "没有在册成员" not in output and "不明确" not in output, output
    assert "没有在册成员" not in run(config, "config", "check")
    listing = run(config, "tasks", "list", "--month", "2026-12")
    assert "综合处党小组" in listing and "0/0" not in listing, listing


def test_init_and_config_check_name_a_task_nobody_is_in(tmp_path, built, misspelt):
    config = write_config(tmp_path, misspelt)
    run(config, "init")  # the first run loads the tasks before adding the demo roster
    for output in (run(config, "init"), run(config, "config", "check")):
        assert "注意：2026-12 第 5 项任务「综合处党小组：补学11月主题党日内容」的对象“综合科党小组”" \
            "在名册中没有在册成员，不会发给任何人" in output, output
        assert "名册中的党小组：第一党支部/综合处党小组" in output, output


def test_no_warning_before_there_is_a_roster(tmp_path, built, misspelt):
    config = write_config(tmp_path, misspelt)
    assert "没有在册成员" not in run(config, "init", "--no-demo")


def test_a_schedule_whose_members_all_left_is_named(tmp_path, built):
    config = write_config(tmp_path, CONTENT)
    run(config, "init")
    run(config, "schedule", "add", "--at", "2026-12-01 08:00", "--member", "2", "--text", "提醒")
    assert "没有在册成员" not in run(config, "config", "check")
    services = built[-1]
    with services.store.transaction() as db:
        members.deactivate(db, 2)
    output = run(config, "config", "check")
    assert "定时消息 #1 的对象" in output and "没有在册成员" in output, output
