"""`reminders plan --year` and `config check`: integrity reminders land on the right working
day (checked against chinesecalendar), estimated years say so, broken overrides are reported."""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from click.testing import CliRunner

from bot.checks import COVERAGE_DAYS, holiday_coverage
from bot.cli import cli
from bot.config import load_config
from bot.holidays import Calendar
from tests.paths import CONTENT

LINE = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})  周(?P<weekday>.)  (?P<occasion>\S+)\s+"
                  r"(?P<title>\S+)\s+(?P<holiday>\S+)（(?P<anchor>\d{2}-\d{2})起）  "
                  r"\[(?P<status>官方|估算)\] (?P<note>.*)$")
WEEKDAYS = "一二三四五六日"


class Cli:
    def __init__(self, tmp_path: Path, content: Path = CONTENT) -> None:
        self.db_path = tmp_path / "qingfeng.db"
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'[store]\npath = "{self.db_path}"\n\n'
                               f'[content]\npath = "{content}"\n', encoding="utf-8")

    def __call__(self, *args: str, ok: bool = True):
        result = CliRunner().invoke(cli, ["--config", str(self.config), *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def plan(self, year: int) -> dict[str, dict[str, str]]:
        """The plan's rows by occasion; every line must parse and no occasion may repeat."""
        lines = self("reminders", "plan", "--year", str(year)).output.splitlines()
        assert lines[0].startswith("发送日期")
        rows: dict[str, dict[str, str]] = {}
        for line in lines[1:]:
            match = LINE.match(line)
            assert match, line
            row = match.groupdict()
            assert row["occasion"] not in rows, line
            rows[row["occasion"]] = row
        days = [row["day"] for row in rows.values()]
        assert days == sorted(days)
        return rows

    def leads(self) -> dict[str, int]:
        with sqlite3.connect(self.db_path) as conn:
            return dict(conn.execute(
                "SELECT occasion, lead_workdays FROM reminders WHERE is_default = 1"))


@pytest.fixture
def run(tmp_path) -> Cli:
    runner = Cli(tmp_path)
    runner("init", "--no-demo")
    return runner


def workdays_between(start: date, end: date) -> int:
    """chinesecalendar's working days in [start, end)."""
    return sum(chinese_calendar.is_workday(start + timedelta(days=n))
               for n in range((end - start).days))


# --- 2026: official data ----------------------------------------------------------------------


def test_2026_lists_every_default_reminder_once(run):
    rows = run.plan(2026)
    leads = run.leads()
    assert set(rows) == set(leads) == {"元旦", "春节", "清明", "劳动节", "端午", "升学季", "中秋",
                                       "国庆", "年末"}
    for row in rows.values():
        day = date.fromisoformat(row["day"])
        assert day.year == 2026
        assert row["weekday"] == WEEKDAYS[day.weekday()]


def test_2026_spring_festival_reminder_is_two_workdays_before_the_break(run):
    row = run.plan(2026)["春节"]
    assert (row["day"], row["holiday"], row["anchor"], row["status"]) == (
        "2026-02-13", "春节", "02-15", "官方")
    assert run.leads()["春节"] == 2
    # Against chinesecalendar: a working day, and exactly two working days (02-13 and the
    # make-up Saturday 02-14) before the break's first rest day.
    assert chinese_calendar.is_workday(date(2026, 2, 13))
    assert chinese_calendar.is_workday(date(2026, 2, 14)) and date(2026, 2, 14).weekday() == 5
    assert chinese_calendar.is_holiday(date(2026, 2, 15))
    assert chinese_calendar.get_holiday_detail(date(2026, 2, 17))[1] == "Spring Festival"
    assert workdays_between(date(2026, 2, 13), date(2026, 2, 15)) == 2


def test_every_official_2026_date_agrees_with_chinesecalendar(run):
    rows, leads = run.plan(2026), run.leads()
    checked = 0
    for occasion, row in rows.items():
        if row["status"] != "官方":
            continue
        day = date.fromisoformat(row["day"])
        anchor = date.fromisoformat(f"{day.year}-{row['anchor']}")
        assert chinese_calendar.is_workday(day), occasion
        assert workdays_between(day, anchor) == leads[occasion], occasion
        if row["holiday"] != "—":  # a holiday break: its first day follows a working day
            assert chinese_calendar.is_holiday(anchor), occasion
            assert chinese_calendar.is_workday(anchor - timedelta(days=1)), occasion
        checked += 1
    assert checked == 8  # all but 元旦 2027


def test_new_year_2027_is_reminded_in_late_december_2026_as_an_estimate(run):
    row = run.plan(2026)["元旦"]
    assert row["day"] == "2026-12-30" and row["anchor"] == "01-01"
    assert row["status"] == "估算"
    assert "2027年放假安排尚未发布" in row["note"]


def test_2027_is_all_estimated(run):
    rows = run.plan(2027)
    assert len(rows) == 9
    assert {row["status"] for row in rows.values()} == {"估算"}
    spring = rows["春节"]
    assert spring["day"] == "2027-02-03" and spring["anchor"] == "02-05"
    assert date(2027, 2, 3) < date(2027, 2, 6)  # before 春节 itself (2027-02-06)
    assert all("content/holidays.toml" in row["note"] for row in rows.values())
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 2, 3))


def test_a_published_2027_arrangement_makes_its_dates_official(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    # The example arrangement from holidays.toml's comments (not a real notice).
    (content / "holidays.toml").write_text("""
[[year]]
year = 2027
published = "国办发明电〔2026〕9号"
breaks = [
  { name = "元旦", start = 2027-01-01, end = 2027-01-03 },
  { name = "春节", start = 2027-02-05, end = 2027-02-13 },
  { name = "清明", start = 2027-04-03, end = 2027-04-05 },
  { name = "劳动节", start = 2027-05-01, end = 2027-05-05 },
  { name = "端午", start = 2027-06-09, end = 2027-06-09 },
  { name = "中秋", start = 2027-09-15, end = 2027-09-15 },
  { name = "国庆", start = 2027-10-01, end = 2027-10-07 },
]
workdays = [2027-02-20]
""", encoding="utf-8")
    run = Cli(tmp_path, content)
    run("init", "--no-demo")
    rows = run.plan(2027)
    assert (rows["春节"]["day"], rows["春节"]["status"]) == ("2027-02-03", "官方")
    assert "国办发明电〔2026〕9号" in rows["春节"]["note"]
    assert rows["清明"]["day"] == "2027-04-01"
    # Only 元旦 2028 (reminded in December 2027) still rests on an estimate.
    assert {o for o, row in rows.items() if row["status"] == "估算"} == {"元旦"}
    assert run.plan(2026)["元旦"]["status"] == "官方"
    config = load_config(run.config)
    assert holiday_coverage(config, date(2026, 11, 23)) == []


# --- config check -----------------------------------------------------------------------------


def config_for(content: Path):
    return load_config({"store": {"path": ":memory:"}, "content": {"path": str(content)}})


def test_coverage_warning_within_60_days_of_an_unpublished_year():
    [warning] = holiday_coverage(config_for(CONTENT), date(2026, 11, 23))
    assert COVERAGE_DAYS == 60
    assert "未来 60 天中从 2027-01-01 起的 21 天没有官方放假安排" in warning
    assert str(CONTENT / "holidays.toml") in warning


@pytest.mark.parametrize("today, warned", [
    (date(2026, 3, 1), False),
    (date(2026, 11, 2), False),   # 2027-01-01 is the 61st day
    (date(2026, 11, 3), True),    # ... and here the 60th
])
def test_coverage_warning_boundary(today, warned):
    warnings = holiday_coverage(config_for(CONTENT), today)
    assert bool(warnings) is warned
    if warned:
        assert "从 2027-01-01 起的 1 天" in warnings[0]
    assert Calendar().uncovered_days(today, 60) == ([date(2027, 1, 1)] if warned else [])


def test_config_check_prints_the_coverage_warning(run):
    # The command uses the real clock: whether it warns depends on today's date.
    out = run("config", "check").output
    uncovered = Calendar().uncovered_days(date.today(), COVERAGE_DAYS)
    assert ("没有官方放假安排" in out) is bool(uncovered)
    assert "配置正确" in out


@pytest.mark.parametrize("text, named", [
    ("[[year]\nyear = 2027\n", "TOML 语法错误"),
    ("[[year]]\nyear = 2027\nbreaks = [{ name = \"圣诞\", start = 2027-12-25, end = 2027-12-25 }]\n",
     "圣诞"),
    ("[[year]]\nyear = 2027\nbreaks = [{ name = \"春节\", start = 2027-02-13, end = 2027-02-05 }]\n",
     "2027"),
    ("[[year]]\nyear = 2027\nbreaks = [{ name = \"春节\", start = \"下周\", end = 2027-02-05 }]\n",
     "下周"),
])
def test_a_broken_holidays_file_is_reported(tmp_path, text, named):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    holidays = content / "holidays.toml"
    holidays.write_text(text, encoding="utf-8")
    run = Cli(tmp_path, content)
    result = run("config", "check", ok=False)
    assert result.exit_code == 1  # an error, not a warning: the scheduler could not plan
    [line] = [line for line in result.output.splitlines() if "节假日调整文件有错误" in line]
    assert line.startswith("错误：") and str(holidays) in line and named in line
    assert "Traceback" not in result.output
    # The plan cannot be made from a broken file: a one-line error, no traceback.
    run("init", "--no-demo")
    failed = run("reminders", "plan", "--year", "2026", ok=False)
    assert failed.exit_code == 1
    assert str(holidays) in failed.output and "Traceback" not in failed.output


def test_the_plan_before_init_says_to_run_init(tmp_path):
    run = Cli(tmp_path)
    failed = run("reminders", "plan", "--year", "2026", ok=False)
    assert failed.exit_code == 1
    assert "python -m bot init" in failed.output and "Traceback" not in failed.output
    run("init", "--no-demo")
    assert run.plan(2026)  # and after init, the plan is there
