"""/sim in a real browser (Debian's chromium), on a desktop and on a phone-sized screen.

A member checks in, asks for their progress and the menu, gets a push without reloading; an
unbound visitor is asked to bind and binds. What the page shows is checked against the store.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from bot.services import Services
from bot.store import members, sandbox

pytest_plugins = ["tests.browser"]

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 3}


def say(page: Page, text: str, *, tap: bool = False) -> Locator:
    """Send `text` from the composer; returns the bot's answer bubble, once it is there."""
    answers = page.locator("#chat li.bot .bubble")
    before = answers.count()
    page.get_by_label("消息", exact=True).fill(text)
    if tap:
        page.get_by_role("button", name="发送").tap()
    else:
        page.get_by_label("消息", exact=True).press("Enter")
    expect(page.locator("#chat li.me .bubble").last).to_have_text(text)
    expect(answers).to_have_count(before + 1)
    return answers.last


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_fits(page: Page, width: int) -> None:
    """Nothing is wider than the viewport; the chat, its newest message and the composer are on
    screen without scrolling the page (the chat scrolls inside itself instead of growing)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for element in (page.get_by_test_id("chat"), page.locator("#chat li").last,
                    page.get_by_label("消息", exact=True), page.get_by_role("button", name="发送")):
        expect(element).to_be_in_viewport()
        box = element.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop-1280", "phone-390"])
def test_member_and_visitor_in_the_browser(live_server: str, new_page, services: Services,
                                           tmp_path: Path, device: dict) -> None:
    width, height = device["viewport"]["width"], device["viewport"]["height"]
    phone = device.get("is_mobile", False)
    db = services.store.db
    member = next(m for m in members.list_members(db) if m.demo and m.name == "刘芳")

    page = new_page(**device)
    page.goto(f"{live_server}/sim")
    expect(page).to_have_title("清风 · 成员模拟器")
    expect(page.get_by_label("消息", exact=True)).to_be_disabled()

    # A demo member, picked in the select.
    select = page.get_by_test_id("member-select")
    expect(select.locator(f"option[value='m{member.id}']")).to_contain_text("刘芳 [演示]")
    select.select_option(f"m{member.id}")
    expect(page.locator("#chat-title")).to_have_text("刘芳")
    expect(page.get_by_label("消息", exact=True)).to_be_enabled()

    reply = say(page, "打卡 学习了第三章", tap=phone)
    expect(reply).to_contain_text("打卡成功")
    expect(reply).to_contain_text("学习了第三章")
    rows = list(db.query("SELECT day, note, via FROM checkins WHERE member_id = ?", [member.id]))
    assert rows == [{"day": "2026-11-23", "note": "学习了第三章", "via": "sandbox"}]

    expect(say(page, "我的", tap=phone)).to_contain_text("本月打卡：1 天")
    menu = say(page, "帮助", tap=phone)
    expect(menu).to_contain_text("清风学习助手可以帮你")
    expect(menu).to_contain_text("「帮助」再看这份菜单")
    expect(menu).to_contain_text("「今日纪法」")

    # A push to this member shows up by itself, marked as a push.
    push = "【提醒】本周五下午三点支部学习，请准时参加。"
    sandbox.deliver(db, external_id=f"m{member.id}", member_id=member.id, text=push,
                    at=services.clock.now())
    expect(page.locator("#chat li.push .bubble")).to_have_text(push)

    assert_fits(page, width)
    shot = tmp_path / f"sim-{width}x{height}.png"
    page.screenshot(path=str(shot), scale="css")
    assert png_size(shot) == (width, height)

    # An unbound visitor is asked to bind, then binds by name and phone tail.
    page.get_by_role("button", name="换成未绑定的访客").click()
    expect(page.locator("#chat-title")).to_have_text("未绑定的访客")
    expect(page.locator("#chat li.push")).to_have_count(0)  # the member's chat is gone
    expect(say(page, "打卡", tap=phone)).to_contain_text("绑定 姓名 手机后四位")
    expect(say(page, "绑定 李红梅 0002", tap=phone)).to_contain_text("绑定成功")
    li = next(m for m in members.list_members(db) if m.name == "李红梅")
    visitors = [ext for channel, ext, active in members.identities_of(db, li.id)
                if channel == "sandbox" and ext.startswith("v") and active]
    assert len(visitors) == 1
    expect(say(page, "打卡", tap=phone)).to_contain_text("打卡成功！李红梅")
    assert_fits(page, width)


def test_a_late_reply_stays_out_of_the_next_chat(live_server: str, page: Page,
                                                 services: Services) -> None:
    """A reply still on its way when the user switches identity is not shown to the new one."""
    member = next(m for m in members.list_members(services.store.db) if m.name == "张伟")
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.goto(f"{live_server}/sim")
    page.get_by_test_id("member-select").select_option(f"m{member.id}")
    page.route("**/sim/api/send", hold_the_first)
    with page.expect_request("**/sim/api/send"):
        page.get_by_label("消息", exact=True).fill("打卡")
        page.get_by_label("消息", exact=True).press("Enter")
    expect(page.locator("#chat li.me")).to_have_count(1)
    assert len(held) == 1

    page.get_by_role("button", name="换成未绑定的访客").click()
    expect(page.locator("#chat-title")).to_have_text("未绑定的访客")
    with page.expect_response("**/sim/api/send") as late:
        held[0].continue_()
    assert "打卡成功" in late.value.json()["reply"]  # the server did answer the member
    expect(say(page, "帮助")).to_contain_text("清风学习助手可以帮你")
    expect(page.locator("#chat li.bot")).to_have_count(1)  # ...but only the visitor's answer shows
    expect(page.locator("#chat")).not_to_contain_text("打卡成功")
