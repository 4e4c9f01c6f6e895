"""The roster's 入党时间 in Chromium at 390 px and 1280 px: a bad date reported with its row and
nothing written, then the preview showing the columns were read, the confirm, and the dates on
the 成员 page; no page wider than the screen. Screenshots go to pytest's tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bot.services import Services
from bot.store import members as store_members
from tests.console_helpers import make_account
from tests.test_console_browser import DESKTOP, PHONE, log_in

pytest_plugins = ["tests.browser"]

BAD = "姓名,支部,党小组,入党时间,转正时间\n周明,第三党支部,机关党小组,2001年7月1日,\n吴敏,第三党支部,机关党小组,1921/6/30,\n"
GOOD = ("姓名,支部,党小组,入党时间,转正时间\n周明,第三党支部,机关党小组,2001年7月1日,2002/7/1\n"
        "吴敏,第三党支部,机关党小组,2004.02.29,\n")


def fits(page: Page, width: int) -> None:
    overflow = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth]")
    assert max(overflow) <= width, overflow


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop-1280", "phone-390"])
def test_import_dates_and_see_them(live_server: str, new_page, services: Services, device,
                                   tmp_path: Path):
    make_account(services, "root")
    page = new_page(**device)
    width = device["viewport"]["width"]
    log_in(page, live_server, "root")
    page.goto(f"{live_server}/admin/members/import")
    before = {m.name for m in store_members.list_members(services.store.db)}

    page.locator("input[name=file]").set_input_files(
        files=[{"name": "名册.csv", "mimeType": "text/csv", "buffer": BAD.encode()}])
    page.get_by_role("button", name="上传并预览").click()
    expect(page.locator("#import-errors")).to_contain_text(
        "第 3 行：入党时间「1921/6/30」早于建党日期 1921年7月1日")
    expect(page.locator("#preview-table tr.bad")).to_have_count(1)
    fits(page, width)
    page.screenshot(path=str(tmp_path / f"import-bad-{width}.png"), full_page=True)
    assert {m.name for m in store_members.list_members(services.store.db)} == before

    page.locator("input[name=file]").set_input_files(
        files=[{"name": "名册.csv", "mimeType": "text/csv", "buffer": GOOD.encode()}])
    page.get_by_role("button", name="上传并预览").click()
    expect(page.locator("#party-dates-read")).to_have_text(
        "已读取入党时间列：2 人填写了入党时间，1 人填写了转正时间（留空的保留已有日期）。")
    expect(page.locator("#preview-table thead")).to_contain_text("入党时间")
    fits(page, width)
    page.screenshot(path=str(tmp_path / f"import-ready-{width}.png"), full_page=True)
    page.get_by_role("button", name="确认导入 2 人").click()
    expect(page.locator(".flash.ok")).to_contain_text("导入完成：新增 2 人")

    page.goto(f"{live_server}/admin/members?branch=第三党支部")
    row = page.locator("#members-table tbody tr", has_text="周明")
    expect(row.locator("td.party-dates")).to_have_text("2001-07-01转正 2002-07-01")
    expect(page.locator("#members-table tbody tr", has_text="吴敏").locator("td.party-dates")
           ).to_have_text("2004-02-29")
    fits(page, width)
    page.screenshot(path=str(tmp_path / f"members-{width}.png"), full_page=True)
