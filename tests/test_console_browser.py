"""The console end to end in headless Chromium (tests/browser.py fails a test on any console
error): log in, import a roster (a bad row reported and nothing written, then a good one), create
a schedule with its live preview and see it fire into the sandbox on the set clock with its
delivery counts, a secretary kept to their branch, a POST without its CSRF token refused, the
audit log, the lockout, and every page at 390 px and 1280 px."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bot.services import Services
from bot.store import members as store_members
from bot.store import schedules as store_schedules
from schedules import admin, jobs
from tests.console_helpers import PASSWORD, make_account

pytest_plugins = ["tests.browser"]

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
BAD_ROSTER = "姓名,支部,党小组\n周明,第三党支部,机关党小组\n吴敏,,机关党小组\n"
GOOD_ROSTER = "姓名,支部,党小组\n周明,第三党支部,机关党小组\n吴敏,第三党支部,机关党小组\n"


def log_in(page: Page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/admin/login")
    page.get_by_label("账号").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def member_names(services: Services) -> set[str]:
    return {m.name for m in store_members.list_members(services.store.db)}


def test_log_in_and_import_a_roster(live_server: str, page: Page, services: Services):
    make_account(services, "root")
    log_in(page, live_server, "root")
    expect(page.get_by_role("heading", level=1)).to_have_text("概览")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="成员").click()
    page.get_by_role("link", name="导入名册").click()
    before = member_names(services)

    page.locator("input[name=file]").set_input_files(
        files=[{"name": "名册.csv", "mimeType": "text/csv", "buffer": BAD_ROSTER.encode()}])
    page.get_by_role("button", name="上传并预览").click()
    errors = page.locator("#import-errors")
    expect(errors).to_contain_text("发现 1 处问题，未导入任何数据")
    expect(errors).to_contain_text("第 3 行：缺少支部")
    expect(page.locator("#preview-table tr.bad")).to_have_count(1)
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    assert member_names(services) == before

    page.locator("input[name=file]").set_input_files(
        files=[{"name": "名册.csv", "mimeType": "text/csv", "buffer": GOOD_ROSTER.encode()}])
    page.get_by_role("button", name="上传并预览").click()
    expect(page.locator("#import-ready")).to_contain_text("共 2 行，检查通过")
    assert member_names(services) == before  # the preview wrote nothing
    page.get_by_role("button", name="确认导入 2 人").click()
    expect(page.locator(".flash.ok")).to_contain_text("导入完成：新增 2 人，更新 0 人")
    assert member_names(services) == before | {"周明", "吴敏"}
    page.get_by_label("姓名").fill("周明")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#members-table tbody tr")).to_have_count(1)
    expect(page.locator("#members-table")).to_contain_text("第三党支部")


def test_create_a_schedule_with_a_live_preview_and_see_it_fire(live_server: str, page: Page,
                                                              services: Services, clock):
    make_account(services, "root")
    log_in(page, live_server, "root")
    page.goto(f"{live_server}/admin/schedules/new")
    page.get_by_label("日期和时间").fill("2026-11-23T09:10")
    page.get_by_label("发送对象").select_option("branches")
    page.get_by_label("第一党支部", exact=True).check()  # not 「第一党支部 · …党小组」
    page.get_by_label("文字（最多 600 字）").fill("九点十分：支部学习开始")
    expect(page.locator("#preview-audience")).to_have_text("第一党支部")
    expect(page.locator("#preview-size")).to_have_text("4")
    expect(page.locator("#preview-fires li")).to_have_text(["2026-11-23 09:10"])
    expect(page.locator("#preview-text")).to_have_text("九点十分：支部学习开始")
    # A bad time is explained in the preview before anything is saved.
    page.get_by_label("日期和时间").fill("2026-11-23T08:00")
    page.get_by_label("文字（最多 600 字）").fill("")
    expect(page.locator("#preview-status")).to_have_text("消息内容不能为空")
    page.get_by_label("文字（最多 600 字）").fill("九点十分：支部学习开始")
    page.get_by_label("日期和时间").fill("2026-11-23T09:10")
    expect(page.locator("#preview-fires li")).to_have_text(["2026-11-23 09:10"])
    page.get_by_role("button", name="创建").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("定时消息 #")
    expect(page.locator("#history-table")).to_contain_text("尚未发送过")
    schedule = store_schedules.list_all(services.store.db)[0]
    assert schedule.audience == {"branches": ["第一党支部"]}

    clock.advance(minutes=11)  # 09:11: the scheduler's own jobs, as one tick would run them
    jobs.fire_admin_schedules(services)
    jobs.drain_deliveries(services)
    page.reload()
    row = page.locator("#history-table tbody tr").first
    expect(row.locator(".targeted")).to_have_text("4")
    expect(row.locator(".sent")).to_have_text("4")
    expect(row.locator(".failed")).to_have_text("0")
    inbox = [r[0] for r in services.store.db.execute("SELECT text FROM sandbox_inbox")]
    assert inbox.count("九点十分：支部学习开始") == 4
    expect(page.get_by_text("已完成")).to_be_visible()


def test_a_secretary_cannot_see_or_reach_another_branch(live_server: str, page: Page,
                                                        services: Services, browser_errors):
    theirs = admin.create(services, kind="daily", spec={"time": "18:00"}, workdays_only=False,
                          audience={"branches": ["第二党支部"]}, content={"text": "二支部"},
                          actor="test")
    make_account(services, "sec1", role="secretary", branch="第一党支部")
    log_in(page, live_server, "sec1")
    expect(page.get_by_role("heading", level=1)).to_have_text("概览 · 第一党支部")
    page.goto(f"{live_server}/admin/members?branch=第二党支部")
    table = page.locator("#members-table")
    expect(table.locator("tbody tr")).to_have_count(4)
    expect(table).not_to_contain_text("第二党支部")
    # No branch filter offered (get_by_label would also match the 党小组 select, whose options
    # now read 「第一党支部 · …」).
    expect(page.locator("select[name=branch]")).to_have_count(0)
    expect(page.locator("select[name=group] option")).to_have_text(
        ["全部小组", "第一党支部 · 综合处党小组", "第一党支部 · 财务处党小组"])
    page.goto(f"{live_server}/admin/schedules")
    expect(page.locator("#schedules-table")).not_to_contain_text("二支部")
    response = page.goto(f"{live_server}/admin/schedules/{theirs}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("无权访问")
    browser_errors.clear()  # the 403 above is the point: Chromium logs it as a failed load
    assert store_schedules.get(services.store.db, theirs).status == "active"


def test_a_form_without_its_csrf_token_is_refused(live_server: str, page: Page,
                                                  services: Services, browser_errors):
    make_account(services, "root")
    log_in(page, live_server, "root")
    page.goto(f"{live_server}/admin/accounts")
    form = page.locator("#account-create")
    form.get_by_label("账号名").fill("mallory")
    form.get_by_label("初始密码").fill(PASSWORD)
    page.evaluate("document.querySelector('#account-create input[name=csrf_token]').remove()")
    form.get_by_role("button", name="创建").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("页面已过期")
    expect(page.locator("main")).to_contain_text("安全校验未通过")
    browser_errors.clear()  # the 400 is the point
    assert "mallory" not in {a[0] for a in services.store.db.execute(
        "SELECT name FROM admin_users")}


def test_the_audit_log_shows_each_action(live_server: str, page: Page, services: Services):
    make_account(services, "root")
    log_in(page, live_server, "root")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/admin/members?q=王建国")
    page.get_by_role("button", name="生成绑定码").click()
    expect(page.locator(".flash.ok")).to_contain_text("王建国 的新绑定码")
    page.get_by_role("button", name="停用").click()
    expect(page.locator(".flash.ok")).to_contain_text("已停用 王建国")
    page.goto(f"{live_server}/admin/accounts")
    form = page.locator("#account-create")
    form.get_by_label("账号名").fill("李书记")
    form.get_by_label("初始密码").fill(PASSWORD)
    form.get_by_label("角色").select_option("secretary")
    form.get_by_label("所属支部（支部书记必填）").select_option("第二党支部")
    form.get_by_role("button", name="创建").click()
    expect(page.locator(".flash.ok")).to_contain_text("已创建账号 李书记")
    page.get_by_role("link", name="操作日志").click()
    table = page.locator("#audit-table")
    for action in ("登录后台", "生成绑定码", "停用成员", "新建账号"):
        expect(table).to_contain_text(action)
    expect(table).not_to_contain_text("console:")
    page.get_by_label("操作人").fill("root")
    page.locator("select[name=action]").select_option(label="停用成员")
    page.get_by_role("button", name="筛选").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("王建国")


def test_lockout_after_failed_logins(live_server: str, page: Page, services: Services, clock):
    make_account(services, "root")
    for attempt in range(5):
        log_in(page, live_server, "root", f"wrong-password-{attempt}")
        expect(page.locator(".flash.error")).to_have_text("账号或密码不正确，或账号已停用。")
        clock.advance(seconds=30)
    log_in(page, live_server, "root")  # the right password, but locked
    expect(page.locator(".flash.error")).to_contain_text("登录失败次数过多，请在 09:17:00 之后再试。")
    clock.advance(minutes=16)
    log_in(page, live_server, "root")
    expect(page.get_by_role("heading", level=1)).to_have_text("概览")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


PAGES = [  # path, what must be there besides the <h1>
    ("/admin/", "#trend-chart svg"),
    ("/admin/members", "#members-table"),
    ("/admin/members/import", "#import-form"),
    ("/admin/schedules", "#schedules-table"),
    ("/admin/schedules/new", "#preview-body"),
    ("/admin/schedules/{id}", "#history-table"),
    ("/admin/schedules/daily", "#daily-push"),
    ("/admin/accounts", "#accounts-table"),
    ("/admin/audit", "#audit-table"),
]


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop-1280", "phone-390"])
def test_every_page_fits_and_has_its_content(live_server: str, new_page, services: Services,
                                             device, tmp_path: Path):
    schedule_id = admin.create(services, kind="daily", spec={"time": "18:00"},
                               workdays_only=True, audience={"all": True},
                               content={"text": "一条比较长的通知：" + "请各位党员按时参加学习。" * 8},
                               actor="test")
    make_account(services, "root")
    page = new_page(**device)
    width = device["viewport"]["width"]
    log_in(page, live_server, "root")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    for path, key in PAGES:
        url = live_server + path.format(id=schedule_id)
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        heading = page.get_by_role("heading", level=1)
        expect(heading).to_be_visible()
        assert heading.inner_text().strip(), url
        assert page.locator(key).count() == 1, (url, key)
        overflow = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth]")
        assert max(overflow) <= width, (url, overflow)
        box = heading.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, url
        shot = page.screenshot(full_page=True)
        shot_width, shot_height = png_size(shot)
        scale = device.get("device_scale_factor", 1)
        assert shot_width == width * scale and shot_height >= 200 * scale, (url, shot_width)
    # On the phone the wide tables are cards (every cell in view, named), never scrolled.
    page.goto(live_server + "/admin/members")
    wrap = page.locator(".table-wrap").first
    inner, outer = wrap.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert inner <= outer <= width
    if width < 500:
        expect(wrap).to_have_class(re.compile(r"\bcards\b"))
        expect(wrap.locator("td[data-label=角色]").first).to_be_in_viewport()
