"""Content pages in headless Chromium: importing a regulation through its preview, and every
content page at a phone's 390 px and a desktop's 1280 px.

The helpers here (`open_console`, `check_layout`) are shared by the tasks and reports browser
tests.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bot.services import Services
from tests.console_helpers import PASSWORD, make_account
from tests.paths import REGULATIONS

pytest_plugins = ["tests.browser"]

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DEVICES = pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop-1280", "phone-390"])
LJZL = REGULATIONS / "中国共产党廉洁自律准则.md"


def open_console(new_page, services: Services, live_server: str, device: dict,
                 name: str = "admin1", role: str = "admin", branch: str | None = None) -> Page:
    """A page logged in to the console through the login form."""
    make_account(services, name, role=role, branch=branch)
    page = new_page(**device)
    page.goto(f"{live_server}/admin/login")
    page.get_by_label("账号").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("nav.menu")).to_be_visible()
    return page


def png_width(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">I", data[16:20])[0]


def check_layout(page: Page, width: int, heading: str, main_selector: str) -> None:
    """The page fits the screen's width, has its heading, and its main table or chart shows
    something: checked in the DOM and from a full-page screenshot's size."""
    expect(page.locator("h1")).to_contain_text(heading)
    expect(page.locator("h1")).to_be_in_viewport()
    main = page.locator(main_selector).first
    expect(main).to_be_visible()
    # A table's .table-wrap must fit the screen (on a phone its rows are cards). A chart is
    # drawn at its natural size (its width attribute) and only shrinks to fit its container.
    box = main.evaluate("""el => { const r = (el.closest('.table-wrap') || el)
                                     .getBoundingClientRect();
                                   const box = el.parentElement, st = getComputedStyle(box);
                                   const room = box.clientWidth - parseFloat(st.paddingLeft)
                                     - parseFloat(st.paddingRight);
                                   const natural = el.tagName === 'svg' ? Math.min(
                                     Number(el.getAttribute('width')), room) : 0;
                                   return {x: r.x, width: r.width, height: r.height, natural}; }""")
    least = box["natural"] - 1 if box["natural"] else 0.4 * min(width, 1200)
    assert box["width"] >= least and box["height"] > 20, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate("document.body.scrollWidth") <= width
    assert png_width(page.screenshot(full_page=True)) == width


def test_import_a_regulation_through_its_preview(live_server, new_page, services) -> None:
    page = open_console(new_page, services, live_server, DESKTOP)
    page.get_by_role("link", name="学习内容").click()
    page.get_by_role("link", name="导入法规").click()
    page.get_by_label("法规文本文件").set_input_files(str(LJZL))
    page.get_by_label("版本年份").fill("2015")
    page.get_by_role("button", name="上传并预览").click()

    expect(page.locator("h1")).to_have_text("导入预览：《中国共产党廉洁自律准则》2015 年版")
    expect(page.locator("#article-count")).to_have_text("8 条（第一条至第八条）")
    expect(page.locator("#chapters tbody tr")).not_to_have_count(0)
    page.locator("#all-articles summary").click()
    expect(page.locator("#all-articles tbody tr")).to_have_count(8)
    assert _imported(services) == 0  # the preview wrote nothing

    page.get_by_role("button", name="确认导入 8 条").click()
    expect(page.locator("#import-result")).to_contain_text("已导入《中国共产党廉洁自律准则》2015 年版：8 条")
    assert _imported(services) == 8
    page.get_by_role("link", name="查看条文库").click()
    expect(page.locator("#result-count")).to_contain_text("中国共产党廉洁自律准则")
    expect(page.locator("#readings tbody tr")).to_have_count(8)


def test_a_file_that_is_not_a_regulation_is_refused(live_server, new_page, services,
                                                    tmp_path: Path, browser_errors) -> None:
    letter = tmp_path / "通知.txt"
    letter.write_text("各位同志：\n周五下午开会。\n", encoding="utf-8")
    page = open_console(new_page, services, live_server, PHONE)
    page.goto(f"{live_server}/admin/content/import")
    page.get_by_label("法规文本文件").set_input_files(str(letter))
    with page.expect_response(lambda r: r.url.endswith("/admin/content/import")) as answer:
        page.get_by_role("button", name="上传并预览").click()
    assert answer.value.status == 400
    expect(page.locator("#import-error")).to_contain_text("没有找到任何条文")
    assert _imported(services) == 0
    # The refusal is a 400 on purpose, which Chromium logs; it must be the only error.
    assert len(browser_errors) == 1 and "status of 400" in browser_errors[0]
    browser_errors.clear()


def _imported(services: Services) -> int:
    return services.store.db.execute(
        "SELECT count(*) FROM readings WHERE origin = 'import'").fetchone()[0]


PAGES = [
    ("/admin/content", "学习内容", "#readings"),
    ("/admin/content?q=四风", "学习内容", "#readings"),
    ("/admin/content/readings/{reading}", "《", "article.reading"),
    ("/admin/content/import", "学习内容", "#import-form"),
    ("/admin/content/reminders", "学习内容", "#reminder-plan"),
    ("/admin/content/quiz", "学习内容", "#quiz-bank"),
]


@DEVICES
def test_content_pages_render_at_phone_and_desktop_widths(live_server, new_page, services,
                                                         device) -> None:
    # The library's longest article, so a long text is what must fit.
    reading = services.store.db.execute(
        "SELECT id FROM readings ORDER BY length(body) DESC LIMIT 1").fetchone()[0]
    page = open_console(new_page, services, live_server, device)
    width = device["viewport"]["width"]
    for path, heading, selector in PAGES:
        page.goto(live_server + path.format(reading=reading))
        check_layout(page, width, heading, selector)
    # an admin has the import tab besides the three shared ones
    expect(page.locator("nav.tabs a")).to_have_count(4)
    expect(page.locator("nav.tabs a", has_text="导入法规")).to_be_visible()
