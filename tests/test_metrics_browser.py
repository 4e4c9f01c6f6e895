"""On the demo data in Chromium at 390 and 1280 px: 报表 highlights only the members who need
attention (bot.report METRICS["attention"]) and shows the legend; 概览 and 学习任务 show it too.
Screenshots go to $QINGFENG_SHOTS when set (for looking at them), else nowhere."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bot import report as reports
from bot.clock import SHANGHAI, SettableClock
from bot.store import tasks as store_tasks
from tests.test_console_content_browser import DEVICES, open_console

pytest_plugins = ["tests.browser"]

DEC_19 = datetime(2026, 12, 19, 9, 0, tzinfo=SHANGHAI)  # December's first task was due 12-18


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(DEC_19)


def shot(page, name: str) -> None:
    folder = os.environ.get("QINGFENG_SHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@DEVICES
def test_only_members_needing_attention_are_highlighted(live_server, new_page, services,
                                                        device) -> None:
    db = services.store.db
    # The demo as initialised on 12-04 (the report), looked at on 12-19.
    db.execute("UPDATE members SET created_at = '2026-12-04T09:00:00+08:00'")
    db.conn.commit()
    done_all = db.execute("SELECT id FROM members WHERE name = '杨帆'").fetchone()[0]
    with services.store.transaction() as tx:
        for task in store_tasks.month_tasks(tx, "2026-12"):
            store_tasks.mark_done(tx, task, done_all, at=services.clock.now(),
                                  day=services.clock.today(), via="test")
    report = reports.month_report(db, "2026-12", today=services.clock.today())
    needing = [r.name for r in report.rows if r.needs_attention]
    assert "杨帆" not in needing and len(needing) == len(report.rows) - 1
    width = device["viewport"]["width"]
    page = open_console(new_page, services, live_server, device)
    page.goto(f"{live_server}/admin/reports")
    rows = page.locator("#report-rows tbody tr")
    expect(rows).to_have_count(len(report.rows))
    backgrounds = rows.evaluate_all(
        "trs => trs.map(tr => [tr.cells[2].textContent,"
        " getComputedStyle(tr.cells[0]).backgroundColor])")
    plain = {bg for name, bg in backgrounds if name == "杨帆"}
    assert [name for name, bg in backgrounds if bg not in plain] == needing
    expect(page.locator("#legend")).to_contain_text(reports.METRICS["attention"].definition)
    shot(page, f"reports-{width}")
    for path, name in (("/admin/", "dashboard"), ("/admin/tasks", "tasks")):
        page.goto(f"{live_server}{path}")
        expect(page.locator("#legend")).to_contain_text(reports.METRICS["rate"].definition)
        shot(page, f"{name}-{width}")
