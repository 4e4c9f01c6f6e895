"""`python -m bot vote open|list|show|close|tally|remind`: through click's CliRunner on a real
config and database (the test clock: Monday 2026-11-23 09:00), and once as a subprocess. Bad
input is one Chinese line, a non-zero exit and nothing written."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from bot.conversation import handle_inbound
from bot.messages import Inbound
from bot.store import members
from tests.paths import ROOT
from tests.test_schedule_cli import make_run, write_config

OPEN = ("vote", "open", "--title", "第四季度共产党员先锋岗", "--branch", "第一党支部",
        "--candidate", "张伟", "--candidate", "李红梅", "--candidate", "刘芳",
        "--closes", "2026-11-30 18:00")


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path / "config.toml")


@pytest.fixture
def run(config, built):
    run = make_run(config)
    assert "已添加 8 名演示成员" in run("init").output
    return run


def chat(services, member_id: int, words: str) -> str:
    with services.store.transaction() as db:
        members.bind_identity(db, channel="sandbox", external_id=f"cli{member_id}",
                              member_id=member_id, now=services.clock.now())
    return handle_inbound(services, Inbound("sandbox", f"cli{member_id}", "text", words,
                                            f"cli-{member_id}-{words}",
                                            services.clock.now())).text


def count(built, table: str) -> int:
    return built[-1].store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_open_list_show_close_tally(run, built, tmp_path):
    opened = run(*OPEN).output
    assert "已发起评选 #1「第四季度共产党员先锋岗」：第一党支部投票，11月23日 09:00 至 11月30日 18:00" \
        in opened and "1. 张伟（第一党支部）" in opened
    services = built[-1]
    assert chat(services, 2, "投票 1").startswith("已投票")
    assert chat(services, 3, "投票 2").startswith("已投票")
    assert "#1  第四季度共产党员先锋岗  投票中" in run("vote", "list").output
    shown = run("vote", "show", "1").output
    assert "投票率：已投 2/4（50%）" in shown and "未投票：王建国、刘芳" in shown
    early = run("vote", "tally", "1", ok=False)
    assert early.exit_code == 1 and "还没有结束" in early.output
    assert "已结束" in run("vote", "close", "1").output
    out = tmp_path / "tally.csv"
    tally = run("vote", "tally", "1", "--csv", str(out)).output
    assert "第 1 名（并列）：张伟（第一党支部）1 票" in tally
    assert "第 1 名（并列）：李红梅（第一党支部）1 票" in tally
    assert "第 3 名：刘芳（第一党支部）0 票" in tally
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["名次", "并列", "姓名", "支部", "票数"] and len(rows) == 4
    announced = run("vote", "tally", "1", "--announce-at", "2026-12-01 09:00").output
    assert "已新建定时消息 #1：2026-12-01 09:00 向第一党支部公布结果" in announced
    again = run("vote", "close", "1", ok=False)
    assert again.exit_code == 1 and "已于" in again.output


def test_remind_sends_to_those_who_have_not_voted(run, built):
    run(*OPEN)
    chat(built[-1], 2, "投票 1")
    assert "已提醒：应发 3，已送达 3" in run("vote", "remind", "1").output


@pytest.mark.parametrize("args, message", [
    (("--closes", "明天"), "时间应写作 'YYYY-MM-DD HH:MM'"),
    (("--closes", "2026-11-22 18:00"), "截止时间须晚于开始时间"),
    (("--candidate", "没这个人", "--closes", "2026-11-30 18:00"), "名册里没有“没这个人”"),
    (("--branch", "第九党支部", "--closes", "2026-11-30 18:00"), "投票范围内没有在册党员"),
    (("--choices", "0", "--closes", "2026-11-30 18:00"), "每人可选人数须在 1 到 10 之间"),
])
def test_open_refuses_bad_input(run, built, args, message):
    result = run("vote", "open", "--title", "先锋岗", *args, ok=False)
    assert result.exit_code != 0 and message in result.output
    assert count(built, "votes") == 0


def test_unknown_vote(run):
    for command in ("show", "close", "tally", "remind"):
        result = run("vote", command, "7", ok=False)
        assert result.exit_code == 1 and "没有编号为 7 的评选" in result.output


def test_as_a_subprocess(config, run):
    run(*OPEN)
    done = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "vote", "list"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "#1  第四季度共产党员先锋岗" in done.stdout
