"""Every console page (and /sim) in Chromium at 390 px and 1280 px, on demo data, as an admin.

Each page fails the walk on: visible text with an internal code (an ASCII identifier such as
snake_case, a.b, `console:`, a role key), an element wider than the screen or clipped by its
container, text under 11 px as rendered (chart text included), a console error. All pages are
walked before the test fails, so one run lists every problem.

A new page: add one row to PAGES (or to FLOWS when only a form's answer shows it).
`make screenshots` sets QF_SCREENSHOTS=<folder> and this walk writes every page there
(<name>-<width>.png, full page; README_SHOTS also as <name>-<width>-screen.png, the first screen
at CSS pixels, which is what docs/screenshots/ holds).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bot import votes
from bot.clock import SHANGHAI, SettableClock
from bot.services import Services
from bot.store import alerts, checkins
from bot.store import meetings as store_meetings
from bot.store import members as store_members
from bot.store import tasks as store_tasks
from schedules import admin
from tests.console_helpers import PASSWORD, make_account

pytest_plugins = ["tests.browser"]

# The day the walk happens: a Friday early in a month, like the day issue 12 was written.
WALK_NOW = datetime(2026, 12, 4, 9, 30, tzinfo=SHANGHAI)
ADMIN = "张书记"

# name (file name of the screenshot), path; {schedule}, {task}, ... are ids from demo_console.
PAGES: list[tuple[str, str]] = [
    ("dashboard", "/admin/"),
    ("members", "/admin/members"),
    ("members-filtered", "/admin/members?branch=第一党支部&status=all"),
    ("members-import", "/admin/members/import"),
    ("birthdays", "/admin/birthdays"),
    ("schedules", "/admin/schedules"),
    ("schedules-all", "/admin/schedules?all=1"),
    ("schedule-new", "/admin/schedules/new"),
    ("schedule", "/admin/schedules/{schedule}"),
    ("schedule-edit", "/admin/schedules/{schedule}/edit"),
    ("tasks", "/admin/tasks"),
    ("tasks-last-month", "/admin/tasks?month=2026-11"),
    ("task-new", "/admin/tasks/new"),
    ("task-edit", "/admin/tasks/{task}/edit"),
    ("task-from-file", "/admin/tasks/{file_task}/edit"),
    ("content", "/admin/content"),
    ("content-search", "/admin/content?q=廉洁"),
    ("reading", "/admin/content/readings/{reading}"),
    ("content-import", "/admin/content/import"),
    ("reminders", "/admin/content/reminders"),
    ("quiz", "/admin/content/quiz"),
    ("reports", "/admin/reports"),
    ("daily-push", "/admin/schedules/daily"),
    ("meetings", "/admin/meetings"),
    ("meeting-new", "/admin/meetings/new"),
    ("meeting", "/admin/meetings/{meeting}"),
    ("meeting-edit", "/admin/meetings/{meeting}/edit"),
    ("votes", "/admin/votes"),
    ("vote-new", "/admin/votes/new"),
    ("vote", "/admin/votes/{vote}"),
    ("accounts", "/admin/accounts"),
    ("audit", "/admin/audit"),
]

# What may be ASCII on a Chinese page, and nothing else: upper-case acronyms (XLSX, CSV, UTF-8),
# single letters (quiz options A-D), numbers and cron fields (30 8 * * 1-5) are never codes;
# these words are product or format names (cron: the 「高级（cron 表达式）」 kind names its
# expression, which issue 12 lets stay under 高级); and these patterns are things a secretary or
# the IT person must copy or find exactly as written.
ALLOWED_WORDS = {"WeCom", "Excel", "cron"}
VERBATIM = re.compile("|".join((
    r"\bhttps?://[^\s，。、；）」]*",                 # URLs to copy (callback address, task link)
    r"[\w/.-]*\.(?:csv|xlsx|txt|md|toml)\b",        # file names and kinds (名册.csv, .txt)
    r"python -m bot(?: [a-z-]+)*",                  # a CLI command the IT person runs
    r"\bw[xw][0-9a-f]{16}\b",                       # an app id as the platform shows it
)))
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_.:][A-Za-z0-9]+)*:?")
MIN_TEXT_PX = 11


def code_words(text: str) -> list[str]:
    """The internal codes in a piece of visible text (empty when it reads as Chinese)."""
    found = []
    for word in WORD.findall(VERBATIM.sub(" ", text)):
        identifier = any(c in word for c in "_.:")
        if identifier or (word not in ALLOWED_WORDS and any(c.islower() for c in word)):
            found.append(word)
    return found


def test_the_code_detector_knows_codes_from_words() -> None:
    for code in ("console:张书记", "report.download", "角色=admin", "group_leader", "cli",
                 "0 new, 2 updated", "schedule:1:2026-12-03T08:30", "secretary", "member",
                 "schedule add", "token_refresh（wecom）", "{branch}"):
        assert code_words(code), code
    for fine in ("下载 Excel（XLSX）", "下载 CSV", "企业微信（WeCom）", "选项 A", "绑定码 K7Q2MN3P",
                 "30 8 * * 1-5", "https://qingfeng.example.gov.cn/wechat/mp", "完成率 4.2%",
                 "第 3 行", "2026-12-04 09:30", "名册.csv：共 3 行", "上传 .txt 或 .md（UTF-8）",
                 "修改 content/quiz.toml 后运行 python -m bot init 生效", "https://",
                 "企业微信 ww0123456789abcdef", "高级（cron 表达式）"):
        assert not code_words(fine), fine


def test_the_font_check_sees_a_machine_without_cjk_fonts(monkeypatch, tmp_path: Path) -> None:
    from tests.browser import cjk_fonts  # here: a plugin module imported early is not rewritten
    assert cjk_fonts(), "this machine has a CJK font (the browser tests need one)"
    empty = tmp_path / "fonts.conf"
    empty.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
                     "<fontconfig></fontconfig>")
    monkeypatch.setenv("FONTCONFIG_FILE", str(empty))
    assert cjk_fonts() == []


# Run in the page: every problem a secretary would see, as one line each.
INSPECT = """(minPx) => {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    else if (typeof el.className === 'string' && el.className.trim())
      s += '.' + el.className.trim().split(/\\s+/).join('.');
    const owner = el.parentElement && el.parentElement.closest('[id]');
    return owner ? `${s} in #${owner.id}` : s;
  };
  document.querySelectorAll('details').forEach((d) => { d.open = true; });
  if (document.documentElement.scrollWidth > vw + 1)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px`);
  const texts = [];
  const ctx = document.createElement('canvas').getContext('2d');
  for (const el of document.body.querySelectorAll('*')) {
    if (!el.checkVisibility()) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -1 || r.right > vw + 1)
      problems.push(`off the screen: ${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)} px`);
    const style = getComputedStyle(el);
    const field = el.matches('input:not([type=hidden]):not([type=checkbox]):not([type=radio]), textarea');
    if ((style.overflowX !== 'visible' || field) && el.scrollWidth > el.clientWidth + 1)
      problems.push(`cut off sideways: ${name(el)} holds ${el.scrollWidth} px in ${el.clientWidth} px`);
    if (['hidden', 'clip'].includes(style.overflowY) && el.scrollHeight > el.clientHeight + 1)
      problems.push(`cut off at the bottom: ${name(el)}`);
    if (field) {
      if (el.placeholder) {
        texts.push([el.placeholder, name(el)]);
        // A hint cut off inside its field reads as a different hint (「如：四风、礼金、」).
        ctx.font = `${style.fontSize} ${style.fontFamily}`;
        const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        const needed = ctx.measureText(el.placeholder).width;
        if (needed > room + 1)
          problems.push(`hint cut off: 「${el.placeholder}」 needs ${Math.round(needed)} px in ${Math.round(room)} px (${name(el)})`);
      }
      // A date or time field's value is ISO (2026-12-04T09:30); the browser draws it in its
      // own format, so only typed text is read.
      const drawn = ['password', 'date', 'time', 'datetime-local', 'month'].includes(el.type);
      if (el.value && !drawn) texts.push([el.value, name(el)]);
    }
    if (el.tagName === 'SELECT') {
      for (const o of el.options) texts.push([o.text, name(el)]);
      const shown = el.selectedOptions.length ? el.selectedOptions[0].text : '';
      ctx.font = `${style.fontSize} ${style.fontFamily}`;
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
        - 18;  // the drop-down arrow
      const needed = ctx.measureText(shown).width;
      if (needed > room + 1)
        problems.push(`choice cut off: 「${shown}」 needs ${Math.round(needed)} px in ${Math.round(room)} px (${name(el)})`);
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !el || el.closest('script, style, template, select')) continue;
    if (!el.checkVisibility() && !el.closest('svg')) continue;
    if (el.closest('svg title, svg desc')) { texts.push([text, name(el)]); continue; }
    let px = parseFloat(getComputedStyle(el).fontSize);
    const svgText = el.closest('svg text');
    if (svgText) {
      const m = svgText.getScreenCTM();
      px *= Math.hypot(m.a, m.b);
    }
    if (px < minPx - 0.05)
      problems.push(`text too small: 「${text.slice(0, 20)}」 ${px.toFixed(1)} px in ${name(el)}`);
    texts.push([text, name(el)]);
  }
  return {problems, texts};
}"""


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(WALK_NOW)


@pytest.fixture(scope="module")
def shots_dir() -> Path | None:
    folder = os.environ.get("QF_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_console(services: Services) -> dict[str, int]:
    """The demo roster with a month of use on it: check-ins, tasks done, a task made in the
    console, schedules (one sent now, one paused), a second account, an open alert. Returns the
    ids the detail pages need."""
    now = services.clock.now()
    make_account(services, ADMIN)
    make_account(services, "王建国", role="secretary", branch="第一党支部")
    roster = store_members.list_members(services.store.db)
    december = store_tasks.month_tasks(services.store.db, "2026-12")
    with services.store.transaction() as db:
        for back in range(30):
            day = now.date() - timedelta(days=back)
            for i, member in enumerate(roster):
                if (i + back) % 3 and not (back == 0 and member.name == "李红梅"):  # she does, in /sim
                    checkins.record_checkin(db, member_id=member.id, day=day, note="",
                                            at=datetime.combine(day, now.timetz()), via="sandbox")
        for member in roster[:3]:
            store_tasks.mark_done(db, december[0], member.id, at=now, day=now.date(),
                                  via="sandbox")
        own_task = store_tasks.add_task(
            db, month="2026-12", title="观看专题片《持续发力 纵深推进》", due="2026-12-20", now=now,
            detail="选学：各党小组自行组织观看并交流。", link="https://www.12371.cn/",
            required=False)
        alerts.raise_alert(db, kind="token_refresh", channel="ww0123456789abcdef",
                           detail="应用 ww0123456789abcdef 连续 3 次获取平台调用凭证失败，"
                                  "最近一次：连接超时", at=now)
    actor = f"console:{ADMIN}"
    daily = admin.create(services, kind="daily", spec={"time": "18:00"}, workdays_only=True,
                         audience={"all": True}, actor=actor,
                         content={"text": "请各位党员按时完成今日学习。" * 6})
    admin.create(services, kind="weekly", spec={"weekdays": ["mon"], "time": "09:00"},
                 workdays_only=False, audience={"branches": ["第二党支部"]}, actor=actor,
                 content={"text": "第二党支部周一例会提醒"})
    once = admin.create(services, kind="once", spec={"at": "2026-12-08T09:00"},
                        workdays_only=True, audience={"groups": ["第一党支部/综合处党小组"]},
                        actor=actor, content={"text": "综合处党小组 12 月 8 日集中学习"})
    admin.set_status(services, once, "paused", actor=actor)
    admin.send_now(services, daily, actor=actor)
    first_branch = [m for m in roster if m.branch == "第一党支部"]
    vote = votes.open_vote(services, votes.Opening(
        title="第四季度共产党员先锋岗", audience={"branches": ["第一党支部"]},
        candidates=[f"#{m.id}" for m in first_branch[:3]], choices=1, opens_at=now,
        closes_at=now + timedelta(days=7), changeable=False), actor=actor)
    with services.store.transaction() as db:
        meeting = store_meetings.add(
            db, branch="第一党支部", kind="党课", title="学习新修订的纪律处分条例", place="三楼会议室",
            start=datetime(2026, 12, 10, 14, 30, tzinfo=SHANGHAI),
            end=datetime(2026, 12, 10, 16, 0, tzinfo=SHANGHAI), now=now)
    reading = services.store.db.execute("SELECT id FROM readings ORDER BY id LIMIT 1").fetchone()
    return {"meeting": meeting.id, "schedule": daily, "task": own_task.id, "file_task": december[0].id,
            "reading": reading[0], "vote": vote}


ROSTER_WITH_ROLES = ("姓名,支部,党小组,角色\n李红梅,第一党支部,综合处党小组,党员\n"
                     "张伟,第一党支部,财务处党小组,党小组长\n王建国,第一党支部,综合处党小组,支部书记\n")


def roster_preview(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/members/import")
    page.locator("input[name=file]").set_input_files(files=[
        {"name": "名册.csv", "mimeType": "text/csv", "buffer": ROSTER_WITH_ROLES.encode()}])
    page.get_by_role("button", name="上传并预览").click()
    expect(page.locator("#import-ready")).to_be_visible()


def sim_chat(page: Page, base: str) -> None:
    page.goto(f"{base}/sim")
    who = page.locator("#who option[data-name=李红梅]").get_attribute("value")
    page.get_by_test_id("member-select").select_option(who)
    for text in ("任务", "打卡 学习了党章第三章", "我的"):
        answers = page.locator("#chat li.bot .bubble")
        before = answers.count()
        page.get_by_label("消息", exact=True).fill(text)
        page.get_by_label("消息", exact=True).press("Enter")
        expect(answers).to_have_count(before + 1)


# Also saved as one screen at CSS scale (<name>-<width>-screen.png) for docs/screenshots/.
README_SHOTS = {"dashboard", "sim"}
SHOT_TIMEOUT_MS = 60_000

# Pages that only a form's answer shows, or that need a few steps: name -> steps.
FLOWS: list[tuple[str, Callable[[Page, str], None]]] = [
    ("members-import-preview", roster_preview),
    ("sim", sim_chat),
]


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/login")
    page.get_by_label("账号").fill(ADMIN)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("概览"))


def inspect(page: Page, label: str, errors: list[str], shots: Path | None,
            width: int) -> Iterator[str]:
    """Every problem on the page as it is now, each prefixed with `label`."""
    # A flow's last step may see its element while the page's scripts are still to run (the
    # preview's table became cards only after console.js loaded): read the page once it has loaded.
    page.wait_for_load_state("load")
    found = page.evaluate(INSPECT, MIN_TEXT_PX)
    if shots is not None:
        # A long page at twice the pixels takes seconds to encode on a busy machine.
        page.screenshot(path=str(shots / f"{label}-{width}.png"), full_page=True,
                        timeout=SHOT_TIMEOUT_MS)
        if label in README_SHOTS:  # what a first screen shows, small enough for the README
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(shots / f"{label}-{width}-screen.png"), scale="css",
                            timeout=SHOT_TIMEOUT_MS)
    for problem in dict.fromkeys(found["problems"]):
        yield f"{label}: {problem}"
    for text, where in found["texts"]:
        if words := code_words(text):
            yield f"{label}: code on screen {words} in 「{text[:60]}」 ({where})"
    for error in errors:
        yield f"{label}: {error}"
    errors.clear()


@pytest.mark.parametrize("width", [390, 1280])
def test_every_page_reads_as_chinese_and_fits(live_server: str, browser: Browser,
                                              services: Services, width: int,
                                              shots_dir: Path | None) -> None:
    ids = demo_console(services)
    phone = width < 760
    context = browser.new_context(
        viewport={"width": width, "height": 844 if phone else 800}, is_mobile=phone,
        has_touch=phone, device_scale_factor=2 if phone else 1, locale="zh-CN",
        timezone_id="Asia/Shanghai")
    errors: list[str] = []
    context.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
               if m.type == "error" else None)
    context.on("weberror", lambda e: errors.append(f"page error: {e.error}"))
    page = context.new_page()
    page.set_default_timeout(15_000)  # generous: 8 test runs may share 2 cores
    problems: list[str] = []
    try:
        page.goto(f"{live_server}/admin/login")
        problems += inspect(page, "login", errors, shots_dir, width)
        log_in(page, live_server)
        for label, path in PAGES:
            response = page.goto(live_server + path.format(**ids))
            if response is None or response.status != 200:
                problems.append(f"{label}: {path} answered {response and response.status}")
                continue
            problems += inspect(page, label, errors, shots_dir, width)
        for label, steps in FLOWS:
            steps(page, live_server)
            problems += inspect(page, label, errors, shots_dir, width)
    finally:
        context.close()
    assert not problems, f"{len(problems)} problems at {width} px:\n" + "\n".join(problems)


def test_every_console_page_is_walked(app) -> None:
    """A GET page added to the console without a row in PAGES fails here."""
    walked = {re.sub(r"\{\w+\}", "<id>", path.split("?")[0]) for _, path in PAGES}
    walked |= {"/admin/login", "/admin/members/import"}
    not_pages = {"/admin/reports/<month>.xlsx", "/admin/reports/<month>.csv",
                 "/admin/votes/<int:vote_id>/tally.csv",
                 "/admin/meetings/year.xlsx", "/admin/meetings/year.csv",
                 # Only while no account exists (this walk has accounts): its own Chromium
                 # test at 390 and 1280 px is tests/test_console_setup_browser.py.
                 "/admin/setup"}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or "GET" not in (rule.methods or ()):
            continue
        shape = re.sub(r"<[^>]+>", "<id>", rule.rule)
        if rule.rule in not_pages:
            continue
        assert shape in walked, f"{rule.rule} is a console page missing from PAGES"

