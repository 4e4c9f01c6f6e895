"""Task pages in headless Chromium: a secretary creates a task and sees it; the pages fit a
phone's 390 px and a desktop's 1280 px."""

from __future__ import annotations

from playwright.sync_api import expect

from bot.store import tasks as store_tasks
from tests.test_console_content_browser import DESKTOP, DEVICES, PHONE, check_layout, open_console

pytest_plugins = ["tests.browser"]


def test_create_a_task_and_see_it(live_server, new_page, services) -> None:
    page = open_console(new_page, services, live_server, PHONE, name="shuji1",
                        role="secretary", branch="第一党支部")
    page.locator("nav.menu").get_by_role("link", name="学习任务").click()
    expect(page.locator("h1")).to_have_text("2026-11 学习任务 · 第一党支部")
    page.get_by_role("link", name="新建任务").click()
    page.get_by_label("标题").fill("学习《问责条例》并交流")
    page.get_by_label("内容（党员回复“任务”时看到）").fill("通读问责条例，党小组会上每人谈一点体会。")
    page.get_by_label("截止日期").fill("2026-11-27")
    page.get_by_label("面向").select_option("group:第一党支部/综合处党小组")
    page.get_by_role("button", name="添加任务").click()

    expect(page.locator(".flash.ok")).to_contain_text("学习《问责条例》并交流")
    row = page.locator("#tasks tbody tr", has_text="学习《问责条例》并交流")
    expect(row).to_contain_text("2026-11-27")
    expect(row).to_contain_text("综合处党小组")
    expect(row).to_contain_text("0 / 2")
    (task,) = [t for t in store_tasks.month_tasks(services.store.db, "2026-11")
               if t.origin == "admin"]
    assert task.audience == {"groups": ["第一党支部/综合处党小组"]} and task.due.isoformat() == "2026-11-27"


def test_a_bad_due_date_is_shown_on_the_form(live_server, new_page, services,
                                             browser_errors) -> None:
    page = open_console(new_page, services, live_server, DESKTOP)
    page.goto(f"{live_server}/admin/tasks/new?month=2026-12")
    page.get_by_label("标题").fill("十二月学习")
    page.get_by_label("截止日期").fill("2026-11-15")  # before the task's month
    page.get_by_role("button", name="添加任务").click()
    expect(page.locator("#form-error")).to_contain_text("早于任务所在的 2026-12 月")
    expect(page.get_by_label("标题")).to_have_value("十二月学习")
    assert not [t for t in store_tasks.month_tasks(services.store.db, "2026-12")
                if t.origin == "admin"]
    assert len(browser_errors) == 1 and "status of 400" in browser_errors[0]
    browser_errors.clear()


@DEVICES
def test_task_pages_render_at_phone_and_desktop_widths(live_server, new_page, services,
                                                      device) -> None:
    page = open_console(new_page, services, live_server, device)
    width = device["viewport"]["width"]
    page.goto(f"{live_server}/admin/tasks")
    check_layout(page, width, "学习任务", "#tasks")
    check_layout(page, width, "学习任务", "#branch-chart svg")
    check_layout(page, width, "学习任务", "#by-group")
    expect(page.locator("#branch-chart svg rect.bar")).to_have_count(2)
    page.goto(f"{live_server}/admin/tasks/new")
    check_layout(page, width, "新建", "#task-form")


@DEVICES
def test_a_secretary_schedules_for_a_group_of_their_branch(live_server, new_page, services,
                                                          device) -> None:
    """The schedule form offers a secretary their branch or its groups, each named with the
    branch; the live preview counts that group only."""
    page = open_console(new_page, services, live_server, device, name="shuji1",
                        role="secretary", branch="第一党支部")
    page.goto(f"{live_server}/admin/schedules/new")
    page.get_by_label("日期和时间").fill("2026-11-30T10:00")
    page.get_by_label("发送对象").select_option("groups")
    page.get_by_label("第一党支部 · 综合处党小组").check()
    expect(page.get_by_label("第二党支部 · 业务一处党小组")).to_have_count(0)
    page.get_by_label("文字（最多 600 字）").fill("周一上午小组学习")
    expect(page.locator("#preview-audience")).to_have_text("第一党支部 · 综合处党小组")
    expect(page.locator("#preview-size")).to_have_text("2")
    check_layout(page, device["viewport"]["width"], "新建定时消息", "#schedule-form")
    page.get_by_role("button", name="创建").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("定时消息 #")
    expect(page.locator("main")).to_contain_text("第一党支部 · 综合处党小组")
