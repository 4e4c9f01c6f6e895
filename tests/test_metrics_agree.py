"""One figure, one definition: the same numbers on 概览, 学习任务, 报表, the CLI report (CSV and
XLSX), and 连续未完成月数 around month boundaries (bot.report.METRICS)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot import report as reports
from bot.cli import cli
from bot.clock import SHANGHAI, SettableClock
from bot.store import tasks as store_tasks
from tests.console_helpers import logged_in, text

DEC_4 = datetime(2026, 12, 4, 9, 0, tzinfo=SHANGHAI)
ONE, TWO = "第一党支部", "第二党支部"


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(DEC_4)


def branch_members(db, branch: str) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM members WHERE branch = ? ORDER BY id",
                                     [branch])]


def finish(services, month: str, member_id: int, how_many: int | None = None) -> None:
    """The member marks the first `how_many` (all when None) required tasks of `month` done."""
    with services.store.transaction() as tx:
        tasks = [t for t in store_tasks.month_tasks(tx, month) if t.required]
        for task in tasks[:how_many]:
            store_tasks.mark_done(tx, task, member_id, at=services.clock.now(),
                                  day=services.clock.today(), via="test")


@pytest.fixture
def known(services):
    """The demo roster, on the roster since October; November: the second branch and the
    first branch's first member did everything. December (under way): the first member did
    all 4 of their tasks, the other three of the first branch did 1 each."""
    db = services.store.db
    db.execute("UPDATE members SET created_at = '2026-10-01T09:00:00+08:00'")
    db.conn.commit()
    one, two = branch_members(db, ONE), branch_members(db, TWO)
    for member_id in [one[0], *two]:
        finish(services, "2026-11", member_id)
    finish(services, "2026-12", one[0])
    for member_id in one[1:]:
        finish(services, "2026-12", member_id, 1)
    return services


def test_the_same_numbers_on_every_page_and_in_every_file(known, client, tmp_path):
    admin = logged_in(known, client, "admin1")
    report = reports.month_report(known.store.db, "2026-12", today=known.clock.today())
    first = next(b for b in report.branches if b.branch == ONE).total
    assert (first.rate, first.task_rate) == (0.25, 8 / 18)  # 完成率 vs 任务完成度

    dashboard = text(admin.get("/admin/"))
    assert f"{ONE}：25%" in dashboard  # the bar's title: the 完成率, not the 44.4% 任务完成度
    assert "44.4" not in dashboard and "本月必学任务完成率" in dashboard
    tasks_page = text(admin.get("/admin/tasks", query_string={"month": "2026-12"}))
    by_branch = re.search(r'<table id="by-branch">(.*?)</table>', tasks_page, re.S).group(1)
    assert f"<tr><td>{ONE}</td><td>4</td><td>4</td><td>1</td><td>25.0%</td><td>44.4%</td>" \
        in by_branch
    reports_page = text(admin.get("/admin/reports", query_string={"month": "2026-12"}))
    overview = re.search(r'<table id="overview">(.*?)</table>', reports_page, re.S).group(1)
    assert f"<td>{ONE}</td><td>4</td><td>4</td><td>1</td><td>25.0%</td><td>44.4%</td>" \
        in overview
    # 5 tasks this month, one for 第一党支部's 综合处党小组 only: say so.
    assert "本月必学任务共 5 项，每人应学 4–5 项" in reports_page
    for page in (dashboard, tasks_page, reports_page):  # the legend, from the one place
        assert reports.METRICS["rate"].definition in page

    # December is under way: no one has missed it; November ended and the first branch's
    # other three missed it. Nothing of December is past due, so only those three need attention.
    detail = re.search(r'<table id="report-rows">(.*?)</table>', reports_page, re.S).group(1)
    flagged = re.findall(r'<tr class="bad" data-attention="1"><td>[^<]+</td><td>[^<]+</td>'
                         r'<td>([^<]+)</td>', detail)
    expected_flagged = [r.name for r in report.rows if r.needs_attention]
    assert len(expected_flagged) == 3 and flagged == expected_flagged
    page_rows = [(r.name, r.required, r.done, r.months_missed) for r in report.rows]
    assert sorted(m for *_, m in page_rows) == [0, 0, 0, 0, 0, 1, 1, 1]

    csv_out = CliRunner().invoke(cli, ["--config", str(config_of(known, tmp_path)), "report",
                                       "month", "2026-12"])
    assert csv_out.exit_code == 0, csv_out.output
    rows = list(csv.reader(io.StringIO(csv_out.stdout)))
    assert rows[0] == reports.HEADER
    assert [(r[2], int(r[3]), int(r[4]), int(r[8])) for r in rows[1:]] == page_rows
    assert [r[2] for r in rows[1:] if r[10] == "是"] == expected_flagged

    xlsx = tmp_path / "r.xlsx"
    result = CliRunner().invoke(cli, ["--config", str(config_of(known, tmp_path)), "report",
                                      "month", "2026-12", "--format", "xlsx", "--out", str(xlsx)])
    assert result.exit_code == 0, result.output
    book = load_workbook(xlsx)
    totals = {row[1]: row for row in book["总览"].iter_rows(min_row=2, values_only=True)}
    assert totals[ONE][5] == pytest.approx(0.25) and totals[ONE][6] == pytest.approx(8 / 18)
    detail_rows = list(book["明细"].iter_rows(min_row=2, values_only=True))
    assert [(r[2], r[3], r[4], r[8]) for r in detail_rows] == page_rows
    legend = dict(book["说明"].iter_rows(min_row=2, values_only=True))
    assert legend["完成率"] == reports.METRICS["rate"].definition


def config_of(services, tmp_path: Path) -> Path:
    """A config file for the CLI on the same database (the test clock comes from `built`)."""
    path = tmp_path / "cli.toml"
    path.write_text(f'[store]\npath = "{services.store.path}"\n', encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _cli_uses_the_test_clock(built):
    """bot.cli builds its Services with the settable clock (tests/conftest.py `built`)."""


# --- 连续未完成月数 around month boundaries ------------------------------------------------------

def november_missed(services, today: date) -> dict[str, int]:
    rows = reports.month_report(services.store.db, "2026-11", today=today).rows
    return {r.name: r.months_missed for r in rows}


@pytest.fixture
def november_behind(services):
    """The demo roster on the roster since October; nobody did November's tasks."""
    services.store.db.execute("UPDATE members SET created_at = '2026-10-01T09:00:00+08:00'")
    services.store.db.conn.commit()
    return services


def test_the_last_day_of_the_month_is_not_yet_missed(november_behind):
    assert set(november_missed(november_behind, date(2026, 11, 30)).values()) == {0}


def test_the_first_day_of_the_next_month_counts_it(november_behind):
    assert set(november_missed(november_behind, date(2026, 12, 1)).values()) == {1}
    # Asked about December on 12-01, the streak still ends at November, the last ended month.
    december = reports.month_report(november_behind.store.db, "2026-12",
                                    today=date(2026, 12, 1)).rows
    assert {r.months_missed for r in december} == {1}


def test_a_member_who_joined_mid_month_misses_only_what_was_due_after(services):
    db = services.store.db
    db.execute("UPDATE members SET created_at = '2026-10-01T09:00:00+08:00'")
    late = branch_members(db, ONE)[0]
    # Joined 11-26: only the tasks due 11-27 and 11-30 are theirs (not those due 11-20, 11-25).
    db.execute("UPDATE members SET created_at = '2026-11-26T09:00:00+08:00' WHERE id = ?",
               [late])
    db.conn.commit()
    with services.store.transaction() as tx:
        for task in store_tasks.month_tasks(tx, "2026-11"):
            if task.required and task.due >= date(2026, 11, 27):
                store_tasks.mark_done(tx, task, late, at=services.clock.now(),
                                      day=date(2026, 11, 28), via="test")
    rows = {r.member_id: r for r in
            reports.month_report(db, "2026-11", today=date(2026, 12, 1)).rows}
    assert (rows[late].required, rows[late].done, rows[late].months_missed) == (2, 2, 0)
    assert not rows[late].needs_attention and rows[late].note == "本月新加入"
    others = [r for member_id, r in rows.items() if member_id != late]
    assert all(r.months_missed == 1 and r.needs_attention for r in others)


def test_overdue_task_in_the_month_under_way_needs_attention_but_is_not_missed(services):
    services.store.db.execute("UPDATE members SET created_at = '2026-10-01T09:00:00+08:00'")
    services.store.db.conn.commit()
    for member_id in branch_members(services.store.db, TWO):
        finish(services, "2026-11", member_id)
    # 12-19: December's first task (due 12-18) is past due and undone by everyone.
    rows = reports.month_report(services.store.db, "2026-12", today=date(2026, 12, 19)).rows
    second = [r for r in rows if r.branch == TWO]
    assert all(r.months_missed == 0 and r.overdue == 1 and r.needs_attention for r in second)
    assert reports.month_report(services.store.db, "2026-12", today=date(2026, 12, 18)
                                ).rows[-1].overdue == 0  # due today is not yet overdue


def test_the_nudges_escalate_on_the_reports_months_missed(november_behind):
    """12-01 (Tue, a working day): the "behind" nudge carries the same 连续未完成月数 as the
    report, for November, the month that just ended."""
    from bot import nudges
    from bot.reminders import holiday_calendar

    day = date(2026, 12, 1)
    settings = nudges.Settings(monthly_day=28, days_before_due=3, inactive_days=30)
    plan = nudges.plan_day(november_behind.store.db, day, settings,
                           holiday_calendar(november_behind))
    behind = {n.member.name: n.months for n in plan.nudges if n.rule == "behind"}
    assert behind and behind == november_missed(november_behind, day)
    on_the_last_day = nudges.plan_day(november_behind.store.db, date(2026, 11, 30), settings,
                                      holiday_calendar(november_behind))
    assert not [n for n in on_the_last_day.nudges if n.rule == "behind"
                and n.months]  # November is not "missed" on its last day


def test_a_member_who_joined_mid_month_is_counted_alike_on_tasks_reports_and_dashboard(
        services, client):
    """学习任务's 「完成 x / y」 counted every member in a task's audience, 报表 only those on the
    roster by its due date (METRICS["required"]). Seen on 28 November: one member joined on
    the 26th and did the two tasks due after; nobody else did anything."""
    services.clock.set(datetime(2026, 11, 28, 9, 0, tzinfo=SHANGHAI))
    db = services.store.db
    db.execute("UPDATE members SET created_at = '2026-10-01T09:00:00+08:00'")
    late = branch_members(db, ONE)[0]
    db.execute("UPDATE members SET created_at = '2026-11-26T09:00:00+08:00' WHERE id = ?",
               [late])
    db.conn.commit()
    with services.store.transaction() as tx:
        for task in store_tasks.month_tasks(tx, "2026-11"):
            if task.required and task.due >= date(2026, 11, 27):
                store_tasks.mark_done(tx, task, late, at=services.clock.now(),
                                      day=date(2026, 11, 28), via="test")
    admin = logged_in(services, client, "admin1")
    tasks_page = text(admin.get("/admin/tasks", query_string={"month": "2026-11"}))
    table = re.search(r'<table id="tasks">(.*?)</table>', tasks_page, re.S).group(1)
    counts = {title: (int(done), int(reach)) for title, done, reach in re.findall(
        r"<strong>(.*?)</strong>.*?<td>(\d+) / (\d+)", table, re.S)}
    assert counts["学习《纪律处分条例》第六章"] == (0, 7)    # due 11-20: not theirs
    assert counts["11月主题党日：重温入党誓词"] == (0, 7)    # due 11-25: not theirs
    assert counts["参加支部党员大会"] == (1, 8)              # due 11-27
    assert counts["观看警示教育片并交流观后感"] == (1, 8)    # due 11-30
    assert counts["第一党支部：查找岗位廉政风险点"] == (0, 4)  # 选学, the same rule

    report = reports.month_report(db, "2026-11", today=services.clock.today())
    rows = {r.member_id: r for r in report.rows}
    assert (rows[late].required, rows[late].done) == (2, 2)
    required_titles = {t.title for t in report.tasks}
    # The task rows' y and x add up to the report's 应学 and 已学 totals.
    assert sum(reach for title, (_d, reach) in counts.items() if title in required_titles) \
        == sum(r.required for r in report.rows) == 30
    assert sum(done for title, (done, _r) in counts.items() if title in required_titles) \
        == sum(r.done for r in report.rows) == 2
    first = next(b for b in report.branches if b.branch == ONE).total
    assert (first.with_tasks, first.complete, first.rate) == (4, 1, 0.25)
    assert f"{ONE}：25%" in text(admin.get("/admin/"))  # 概览's 完成率 bar
    by_branch = re.search(r'<table id="by-branch">(.*?)</table>', tasks_page, re.S).group(1)
    assert f"<tr><td>{ONE}</td><td>4</td><td>4</td><td>1</td><td>25.0%</td>" in by_branch
    reports_page = text(admin.get("/admin/reports", query_string={"month": "2026-11"}))
    overview = re.search(r'<table id="overview">(.*?)</table>', reports_page, re.S).group(1)
    assert f"<td>{ONE}</td><td>4</td><td>4</td><td>1</td><td>25.0%</td>" in overview
