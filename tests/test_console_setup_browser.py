"""首次设置 in Chromium, as the secretary does it on a fresh `make run`: open the link `serve`
printed, the token arrives in the form (and leaves the address bar), a mismatch and a weak
password are explained and write nothing, the right form logs in to 概览; the same link
afterwards, and a wrong link, get a clear Chinese page. At 390 px and 1280 px, nothing wider
than the screen. (QF_SCREENSHOTS=DIR keeps the pictures.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bot.console import first_run
from bot.services import Services
from bot.store import admins
from tests.console_helpers import PASSWORD

pytest_plugins = ["tests.browser"]

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


def shoot(page: Page, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("QF_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def fits(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def fill(page: Page, name: str, password: str, again: str) -> None:
    page.get_by_label("账号名").fill(name)
    page.get_by_label("密码（至少").fill(password)
    page.get_by_label("再输入一次密码").fill(again)
    page.get_by_role("button", name="创建并登录").click()


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop-1280", "phone-390"])
def test_the_whole_first_run_in_the_browser(live_server: str, new_page, services: Services,
                                            browser_errors: list[str], tmp_path, device):
    width = device["viewport"]["width"]
    token = first_run.issue(services.store)
    page = new_page(**device)
    page.goto(f"{live_server}{first_run.SETUP_PATH}#{token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("首次设置：创建管理员账号")
    expect(page.get_by_label("设置码")).to_have_value(token)
    assert "#" not in page.url, "the token leaves the address bar and the history"
    fits(page, width)
    shoot(page, tmp_path, f"setup-{width}")

    fill(page, "张书记", PASSWORD, PASSWORD + "x")
    expect(page.get_by_role("alert")).to_have_text("两次输入的密码不一致，请重新输入。")
    expect(page.get_by_label("账号名")).to_have_value("张书记")
    fill(page, "张书记", "short", "short")  # the browser's minlength is bypassed below
    assert admins.all_admins(services.store.db) == []
    page.get_by_label("密码（至少").evaluate("e => e.removeAttribute('minlength')")
    fill(page, "张书记", "short", "short")
    expect(page.get_by_role("alert")).to_have_text("密码至少 10 个字符")
    shoot(page, tmp_path, f"setup-error-{width}")
    assert admins.all_admins(services.store.db) == []

    fill(page, "张书记", PASSWORD, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("概览")
    expect(page.get_by_role("status").first).to_contain_text("已创建管理员账号 张书记，并已登录")
    [account] = admins.all_admins(services.store.db)
    assert (account.name, account.role) == ("张书记", "admin")

    # The link again, in another browser: it is spent.
    other = new_page(**device)
    other.goto(f"{live_server}{first_run.SETUP_PATH}#{token}")
    expect(other.get_by_role("heading", level=1)).to_have_text("首次设置链接已失效")
    expect(other.locator("main")).to_contain_text("已经有后台账号了")
    fits(other, width)
    shoot(other, tmp_path, f"setup-spent-{width}")
    browser_errors[:] = [e for e in browser_errors if "404" not in e]  # that page is a 404
    assert len(admins.all_admins(services.store.db)) == 1


def test_a_wrong_link_is_explained(live_server: str, page: Page, services: Services):
    first_run.issue(services.store)
    page.goto(f"{live_server}{first_run.SETUP_PATH}#not-the-token")
    fill(page, "张书记", PASSWORD, PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("设置链接不正确或已过期")
    assert admins.all_admins(services.store.db) == []
