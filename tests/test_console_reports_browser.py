"""The report page in headless Chromium: download the month's XLSX from the page and read it
back; the page fits a phone's 390 px and a desktop's 1280 px."""

from __future__ import annotations

import openpyxl
from playwright.sync_api import expect

from bot.store import tasks as store_tasks
from tests.test_console_content_browser import DESKTOP, DEVICES, check_layout, open_console

pytest_plugins = ["tests.browser"]


def test_download_the_months_report_and_read_it_back(live_server, new_page, services,
                                                     tmp_path) -> None:
    db = services.store.db
    member = db.execute("SELECT id FROM members WHERE name = '杨帆'").fetchone()[0]
    with services.store.transaction() as tx:
        for task in store_tasks.month_tasks(tx, "2026-11"):
            store_tasks.mark_done(tx, task, member, at=services.clock.now(),
                                  day=services.clock.today(), via="test")
    page = open_console(new_page, services, live_server, DESKTOP)
    page.locator("nav.menu").get_by_role("link", name="报表").click()
    expect(page.locator("h1")).to_have_text("2026-11 学习情况月报")
    with page.expect_download() as download:
        page.locator("#download-xlsx").click()
    assert download.value.suggested_filename == "学习情况月报-2026-11.xlsx"
    saved = tmp_path / "report.xlsx"
    download.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    rows = list(book["明细"].iter_rows(values_only=True))
    assert rows[0][:6] == ("支部", "党小组", "姓名", "应学", "已学", "缺项")
    by_name = {row[2]: row for row in rows[1:]}
    assert set(by_name) == {r[0] for r in db.execute("SELECT name FROM members")}
    assert by_name["杨帆"][3] == by_name["杨帆"][4] > 0 and not by_name["杨帆"][5]
    assert by_name["李红梅"][4] == 0 and by_name["李红梅"][5]
    # what the page shows is what the file says
    expect(page.locator("#report-rows tbody tr")).to_have_count(len(rows) - 1)


@DEVICES
def test_report_page_renders_at_phone_and_desktop_widths(live_server, new_page, services,
                                                        device) -> None:
    page = open_console(new_page, services, live_server, device)
    width = device["viewport"]["width"]
    page.goto(f"{live_server}/admin/reports")
    check_layout(page, width, "学习情况月报", "#report-chart svg")
    check_layout(page, width, "学习情况月报", "#overview")
    check_layout(page, width, "学习情况月报", "#report-rows")
