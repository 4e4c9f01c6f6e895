"""推荐评选 in headless Chromium: a secretary opens a vote through the form on a phone, members
vote in chat, the page shows turnout, then the tied tally after the close; the pages fit 390 px
and 1280 px. Screenshots go to $VOTE_SHOTS when it is set (for looking at them)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect

from bot import votes
from bot.store import votes as store_votes
from tests.test_console_content_browser import DEVICES, PHONE, check_layout, open_console
from tests.test_console_votes import chat

pytest_plugins = ["tests.browser"]


def shoot(page, name: str) -> None:
    folder = os.environ.get("VOTE_SHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_secretary_opens_a_vote_on_a_phone(live_server, new_page, services) -> None:
    page = open_console(new_page, services, live_server, PHONE, name="shuji1",
                        role="secretary", branch="第一党支部")
    page.locator("nav.menu").get_by_role("link", name="推荐评选").click()
    expect(page.locator("h1")).to_have_text("推荐评选 · 第一党支部")
    page.get_by_role("link", name="发起评选").click()
    page.get_by_label("评选名称").fill("第四季度共产党员先锋岗")
    page.get_by_label("投票范围（谁可以投票）").select_option("branch:第一党支部")
    page.get_by_label("候选人（每行一位").fill("张伟\n李红梅\n刘芳")
    page.get_by_label("截止时间").fill("2026-11-30T18:00")
    page.get_by_role("button", name="发起").click()
    expect(page.locator(".flash")).to_contain_text("已发起评选")
    expect(page.locator("#vote-status")).to_have_text("投票中")
    (vote,) = store_votes.list_votes(services.store.db)
    assert vote.branch == "第一党支部" and vote.mode == "list"


@DEVICES
def test_vote_pages_at_phone_and_desktop_widths(live_server, new_page, services, device) -> None:
    now = services.clock.now()
    vote_id = votes.open_vote(services, votes.Opening(
        "第四季度共产党员先锋岗", {"branches": ["第一党支部"]}, ["张伟", "李红梅", "刘芳", "王建国"],
        2, now, now + timedelta(days=5), True), actor="test")
    chat(services, 1, "投票 1 2")
    chat(services, 2, "投票 1 2")
    page = open_console(new_page, services, live_server, device)
    width = device["viewport"]["width"]
    page.goto(f"{live_server}/admin/votes")
    check_layout(page, width, "推荐评选", "#votes")
    shoot(page, f"votes-list-{width}")
    page.goto(f"{live_server}/admin/votes/{vote_id}")
    check_layout(page, width, "评选 #", "#turnout")
    expect(page.locator("#turnout")).to_contain_text("2 / 4 人已投票（50%）")
    shoot(page, f"vote-open-{width}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="现在结束").click()
    expect(page.locator("#vote-status")).to_have_text("已结束")
    check_layout(page, width, "评选 #", "#tally")
    expect(page.locator("#tally tbody tr").first).to_contain_text("并列")
    expect(page.locator("#tally tbody tr")).to_have_count(4)
    shoot(page, f"vote-closed-{width}")
    page.goto(f"{live_server}/admin/votes/new")
    check_layout(page, width, "发起评选", "#vote-form")
    shoot(page, f"vote-form-{width}")


@DEVICES
def test_a_member_votes_in_the_simulator(live_server, new_page, services, device) -> None:
    from bot import delivery
    from schedules.jobs import fire_votes
    from tests.test_simulator_browser import say

    now = services.clock.now()
    votes.open_vote(services, votes.Opening(
        "第四季度共产党员先锋岗", {"branches": ["第一党支部"]}, ["张伟", "李红梅", "刘芳"], 1, now,
        now + timedelta(days=5), False), actor="test")
    page = new_page(**device)
    page.goto(f"{live_server}/sim")
    page.get_by_test_id("member-select").select_option("m2")  # 李红梅
    expect(page.get_by_label("消息", exact=True)).to_be_enabled()
    fire_votes(services)       # the scheduler's tick: the ballot, once, through the ledger
    delivery.drain(services)
    expect(page.locator("#chat li.push .bubble").last).to_contain_text("1. 张伟（第一党支部）",
                                                                       timeout=10_000)
    expect(say(page, "投票 4")).to_have_text("没有 4 号候选人（编号 1 到 3）。发送「投票」查看候选人。")
    expect(say(page, "投票 1")).to_have_text("已投票（第四季度共产党员先锋岗）：张伟（第一党支部）。")
    expect(say(page, "投票 2")).to_contain_text("你已经投过「第四季度共产党员先锋岗」的票了")
    expect(say(page, "我的投票")).to_contain_text("你的选择：张伟（第一党支部）")
    shoot(page, f"sim-vote-{device['viewport']['width']}")
    assert store_votes.voter_ids(services.store.db, 1) == {2}
