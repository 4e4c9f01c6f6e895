"""组织生活 in headless Chromium: a secretary creates a meeting on a phone, shows the code,
sees attendance and writes minutes; the pages fit 390 px and 1280 px. With QINGFENG_SHOTS=dir
set, the layout test also saves full-page screenshots there (for a person to look at)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from playwright.sync_api import expect

from bot.clock import SHANGHAI
from bot.store import meetings as store
from tests.console_helpers import PASSWORD
from tests.test_console_content_browser import DEVICES, PHONE, check_layout, open_console

pytest_plugins = ["tests.browser"]


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def relogin(page, live_server: str, name: str) -> None:
    page.goto(f"{live_server}/admin/login")
    page.get_by_label("账号").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("nav.menu")).to_be_visible()


def test_create_show_the_code_attendance_and_minutes(live_server, new_page, services,
                                                     clock) -> None:
    page = open_console(new_page, services, live_server, PHONE, name="shuji1",
                        role="secretary", branch="第一党支部")
    page.locator("nav.menu").get_by_role("link", name="组织生活").click()
    expect(page.locator("h1")).to_have_text("组织生活 · 第一党支部")
    lessons = page.locator("#compliance tbody tr", has_text="党课")
    expect(lessons).to_contain_text("0 / 1")
    expect(lessons.locator(".badge")).to_have_text("还差 1 次")
    expect(lessons.locator(".badge")).to_have_attribute("title", "本季度党课：已开 0 次，应开至少 1 次")
    page.get_by_role("link", name="安排会议").click()
    page.get_by_label("类型").select_option("党课")
    page.get_by_label("会议名称").fill("学习贯彻党的二十届四中全会精神")
    page.get_by_label("开始时间").fill("2026-11-26T14:30")
    page.get_by_label("结束时间").fill("2026-11-26T16:00")
    page.get_by_label("地点").fill("三楼党员活动室")
    page.get_by_label("主讲人（党课填写）").fill("王建国")
    page.get_by_role("button", name="安排并通知").click()
    expect(page.locator(".flash.ok")).to_contain_text("会议通知已发出")
    [meeting] = [store.get(services.store.db, 1)]
    assert meeting is not None and meeting.speaker == "王建国"
    expect(page.locator("#sign-in-code .value")).to_have_text(meeting.code)

    clock.set(at(11, 26, 14, 40))
    with services.store.transaction() as db:
        store.sign_in(db, meeting.id, 2, clock.now())
    relogin(page, live_server, "shuji1")
    page.goto(f"{live_server}/admin/meetings/{meeting.id}")
    expect(page.locator("#sign-in-code")).to_contain_text(f"党员发送「签到 {meeting.code}」")
    expect(page.locator("#attendance tbody tr", has_text="李红梅")).to_contain_text("14:40")
    page.get_by_label("张伟的出勤").select_option("present")
    page.get_by_role("button", name="保存出勤").click()
    expect(page.locator(".flash.ok")).to_have_text("已保存出勤登记。")
    page.get_by_label("会议记录（可直接粘贴）").fill("王建国同志讲授专题党课，与会党员交流发言。")
    page.get_by_role("button", name="保存会议记录").click()
    expect(page.locator(".flash.ok")).to_have_text("已保存会议记录。")
    assert store.get(services.store.db, meeting.id).minutes.startswith("王建国同志")
    expect(page.locator(".stat", has_text="出席 / 应到").locator(".value")).to_have_text("2 / 4")


@DEVICES
def test_meeting_pages_render_at_phone_and_desktop_widths(live_server, new_page, services,
                                                         clock, device) -> None:
    with services.store.transaction() as db:
        meeting = store.add(db, branch="第一党支部", kind="主题党日", title="十一月主题党日：重温入党誓词",
                            now=clock.now(), start=at(11, 28, 9), end=at(11, 28, 11),
                            place="三楼党员活动室", agenda="重温入党誓词；学习党章；交流发言",
                            materials={"links": ["https://www.12371.cn/"]})
        store.request_leave(db, meeting.id, 3, "到省里参加业务培训", clock.now())
    page = open_console(new_page, services, live_server, device)
    width = device["viewport"]["width"]
    shots = os.environ.get("QINGFENG_SHOTS")
    for path, heading, main in (("/admin/meetings?branch=第一党支部", "组织生活", "#compliance"),
                                (f"/admin/meetings/{meeting.id}", "十一月主题党日", "#attendance"),
                                ("/admin/meetings/new?branch=第一党支部", "安排会议", "#meeting-form")):
        page.goto(f"{live_server}{path}")
        check_layout(page, width, heading, main)
        if shots:
            name = path.split("?")[0].strip("/").replace("/", "-")
            page.screenshot(path=str(Path(shots) / f"{name}-{width}.png"), full_page=True)


@DEVICES
def test_the_dashboard_warning_fits_and_links_to_the_page(live_server, new_page, services,
                                                          clock, device) -> None:
    clock.set(at(12, 15, 9))
    page = open_console(new_page, services, live_server, device, name="shuji1",
                        role="secretary", branch="第一党支部")
    width = device["viewport"]["width"]
    check_layout(page, width, "概览", "#meeting-warnings")
    expect(page.locator("#meeting-warnings .flash")).to_have_text(
        "第一党支部：2026年第4季度还剩 17 天，以下组织生活还没有达到要求")
    expect(page.locator("#meeting-warnings li", has_text="党课")).to_have_text(
        "本季度党课：已开 0 次，应开至少 1 次")
    shots = os.environ.get("QINGFENG_SHOTS")
    if shots:
        page.screenshot(path=str(Path(shots) / f"dashboard-warning-{width}.png"), full_page=True)
    page.get_by_role("link", name="去组织生活页面安排").click()
    expect(page.locator("h1")).to_have_text("组织生活 · 第一党支部")
