"""The working-day calendar, checked against chinesecalendar's own data where it has any."""

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from bot.holidays import (
    OCCASIONS,
    Calendar,
    HolidayBreak,
    HolidayConfigError,
)
from tests.paths import CONTENT

MAKE_UP_2026 = [
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
]

# chinesecalendar's English label for the first day of each 2026 break.
LIBRARY_NAMES = {
    "元旦": "New Year's Day",
    "春节": "Spring Festival",
    "清明": "Tomb-sweeping Day",
    "劳动节": "Labour Day",
    "端午": "Dragon Boat Festival",
    "中秋": "Mid-autumn Festival",
    "国庆": "National Day",
}

OVERRIDE_2027 = """
[[year]]
year = 2027
published = "国办发明电〔2026〕99号"
breaks = [
  { name = "春节", start = 2027-02-06, end = 2027-02-14 },
  { name = "端午", start = 2027-06-09, end = 2027-06-11 },
]
workdays = [2027-02-20]
"""


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return Calendar()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- 2026: every plan agrees with chinesecalendar ------------------------------------------


@pytest.mark.parametrize("occasion", [o for o in OCCASIONS if o in LIBRARY_NAMES])
@pytest.mark.parametrize("lead", [1, 2, 3, 5])
def test_2026_holiday_plans_match_library(cal: Calendar, occasion: str, lead: int) -> None:
    planned = cal.plan(occasion, 2026, lead)
    assert planned.official
    assert planned.note.startswith("依据国务院办公厅")
    # The anchor is the first rest day of the break: a holiday, right after a working day.
    assert chinese_calendar.is_holiday(planned.anchor)
    assert chinese_calendar.is_workday(planned.anchor - timedelta(days=1))
    assert chinese_calendar.get_holiday_detail(planned.anchor)[1] == LIBRARY_NAMES[occasion]
    # The plan day is a working day, and it is the lead-th one counting back from the anchor.
    assert chinese_calendar.is_workday(planned.day)
    between = [planned.day + timedelta(days=i) for i in range((planned.anchor - planned.day).days)]
    assert sum(chinese_calendar.is_workday(d) for d in between) == lead


def test_2026_spring_festival_counts_the_saturday_make_up_day(cal: Calendar) -> None:
    first = cal.plan("春节", 2026, 1)
    second = cal.plan("春节", 2026, 2)
    assert first.anchor == date(2026, 2, 15)
    assert first.day == date(2026, 2, 14)  # a Saturday, 调休上班
    assert first.day.weekday() == 5
    assert second.day == date(2026, 2, 13)
    assert first.holiday == "春节"


def test_2026_breaks(cal: Calendar) -> None:
    assert cal.breaks(2026) == [
        HolidayBreak("元旦", date(2026, 1, 1), date(2026, 1, 3), True),
        HolidayBreak("春节", date(2026, 2, 15), date(2026, 2, 23), True),
        HolidayBreak("清明", date(2026, 4, 4), date(2026, 4, 6), True),
        HolidayBreak("劳动节", date(2026, 5, 1), date(2026, 5, 5), True),
        HolidayBreak("端午", date(2026, 6, 19), date(2026, 6, 21), True),
        HolidayBreak("中秋", date(2026, 9, 25), date(2026, 9, 27), True),
        HolidayBreak("国庆", date(2026, 10, 1), date(2026, 10, 7), True),
    ]


def test_merged_mid_autumn_and_national_day_anchor_both(cal: Calendar) -> None:
    [merged] = [b for b in cal.breaks(2025) if b.start.month == 10]
    assert merged == HolidayBreak("中秋国庆", date(2025, 10, 1), date(2025, 10, 8), True)
    assert merged.occasions == ("中秋", "国庆")
    mid, national = cal.plan("中秋", 2025, 1), cal.plan("国庆", 2025, 1)
    assert mid.day == national.day == date(2025, 9, 30)
    assert mid.holiday == national.holiday == "中秋国庆"
    # 2020: chinesecalendar labels the whole week "National Day"; 中秋 (10-01) is found by date.
    assert cal.plan("中秋", 2020, 1).holiday == "中秋国庆"


def test_new_year_break_may_start_in_december(cal: Calendar) -> None:
    planned = cal.plan("元旦", 2017, 1)
    assert planned.anchor == date(2016, 12, 31)
    assert planned.day == date(2016, 12, 30)


def test_fixed_anchors_are_not_holidays(cal: Calendar) -> None:
    exams = cal.plan("升学季", 2026, 1)
    assert exams.anchor == date(2026, 6, 7)
    assert exams.day == date(2026, 6, 5)  # 06-07 is a Sunday: the Friday before
    assert exams.holiday == ""
    year_end = cal.plan("年末", 2026, 1)
    assert year_end.anchor == date(2026, 12, 20)
    assert year_end.day == date(2026, 12, 18)
    assert "非法定假日" in year_end.note


def test_year_plan_is_sorted_and_complete(cal: Calendar) -> None:
    plans = cal.year_plan(2026, dict.fromkeys(OCCASIONS, 1))
    assert sorted(p.occasion for p in plans) == sorted(OCCASIONS)
    assert plans[0].day == date(2025, 12, 31)  # 元旦's reminder goes out the December before
    assert [p.day for p in plans] == sorted(p.day for p in plans)
    assert all(cal.is_workday(p.day) for p in plans)
    assert [p.occasion for p in cal.year_plan(2026, {"国庆": 2, "春节": 1})] == ["春节", "国庆"]
    with pytest.raises(ValueError, match="unknown"):
        cal.year_plan(2026, {"重阳": 1})


def test_bad_arguments(cal: Calendar) -> None:
    with pytest.raises(ValueError):
        cal.plan("重阳", 2026, 1)
    with pytest.raises(ValueError):
        cal.plan("春节", 2026, 0)
    with pytest.raises(ValueError):
        cal.workday_before(date(2026, 1, 1), 0)


# --- single days -----------------------------------------------------------------------------


@pytest.mark.parametrize("day", MAKE_UP_2026)
def test_2026_make_up_days_are_workdays(cal: Calendar, day: date) -> None:
    assert day.weekday() >= 5
    assert cal.is_workday(day)
    assert cal.is_official(day)


def test_national_day_is_not_a_workday(cal: Calendar) -> None:
    assert not cal.is_workday(date(2026, 10, 1))


def test_whole_2026_agrees_with_library(cal: Calendar) -> None:
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_workday_walks(cal: Calendar) -> None:
    assert cal.workday_before(date(2026, 2, 15), 1) == date(2026, 2, 14)
    assert cal.workday_before(date(2026, 2, 24), 1) == date(2026, 2, 14)
    assert cal.next_workday(date(2026, 2, 14)) == date(2026, 2, 14)
    assert cal.next_workday(date(2026, 2, 15)) == date(2026, 2, 24)
    assert cal.next_workday(date(2026, 10, 1)) == date(2026, 10, 8)


# --- 2027: not in chinesecalendar 1.11.0 -----------------------------------------------------


def test_library_really_lacks_2027() -> None:
    # If this fails, chinesecalendar has been upgraded: the fallback tests below need 2028.
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_2027_fallback_is_estimated(cal: Calendar) -> None:
    breaks = {b.name: b for b in cal.breaks(2027)}
    assert set(breaks) == {"元旦", "春节", "清明", "劳动节", "端午", "中秋", "国庆"}
    assert not any(b.official for b in breaks.values())
    assert breaks["春节"].start == date(2027, 2, 5)  # 除夕; 正月初一 is 02-06
    assert date(2027, 2, 6) in breaks["春节"]
    assert breaks["端午"].start == date(2027, 6, 9)
    assert breaks["中秋"].start == date(2027, 9, 15)
    assert breaks["清明"].end == date(2027, 4, 5)
    for occasion in ("春节", "端午", "中秋"):
        planned = cal.plan(occasion, 2027, 1)
        assert not planned.official
        assert planned.note.startswith("估算：2027年放假安排尚未发布")
    assert cal.plan("端午", 2027, 1).day == date(2027, 6, 8)
    assert not cal.is_workday(date(2027, 9, 15))  # a Wednesday, estimated 中秋
    assert cal.is_workday(date(2027, 9, 16))
    assert not cal.is_official(date(2027, 9, 16))


def test_new_year_2027_leads_are_official_but_break_is_not(cal: Calendar) -> None:
    planned = cal.plan("元旦", 2027, 1)
    assert planned.day == date(2026, 12, 31)
    assert not planned.official  # the break itself is an estimate


def test_override_changes_2027_plan_and_is_official(tmp_path: Path) -> None:
    cal = Calendar.from_file(_write(tmp_path, OVERRIDE_2027))
    spring = cal.plan("春节", 2027, 1)
    assert spring.anchor == date(2027, 2, 6)
    assert spring.day == date(2027, 2, 5)  # the estimate had 02-04
    assert spring.official
    assert "国办发明电〔2026〕99号" in spring.note
    assert cal.is_workday(date(2027, 2, 20))  # Saturday make-up day
    assert not cal.is_workday(date(2027, 6, 11))
    assert cal.is_workday(date(2027, 9, 15))  # 中秋 not in this (made-up) arrangement
    assert cal.is_official(date(2027, 9, 15))
    assert cal.uncovered_days(date(2027, 1, 1), 365) == []
    assert [b.name for b in cal.breaks(2027)] == ["春节", "端午"]


def test_uncovered_days_across_the_year_boundary(cal: Calendar) -> None:
    days = cal.uncovered_days(date(2026, 12, 25), 14)
    assert days == [date(2027, 1, 1) + timedelta(days=i) for i in range(7)]
    assert cal.uncovered_days(date(2026, 1, 1), 365) == []


# --- the override file -----------------------------------------------------------------------


def test_shipped_file_loads_without_inventing_2027() -> None:
    cal = Calendar.from_file(CONTENT / "holidays.toml")
    assert cal.override_years == ()
    assert not cal.plan("春节", 2027, 1).official


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[[year]]\nyear = "2027"\nbreaks = []\n', "year[1].year"),
        (
            '[[year]]\nyear = 2027\nbreaks = [{ name = "元旦", start = "2027-01-01", '
            "end = 2027-01-03 }]\n",
            "year[1].breaks[1].start",
        ),
        (
            '[[year]]\nyear = 2027\nbreaks = [{ name = "春节", start = 2027-02-05, '
            'end = 2027-02-13 }, { name = "元旦", start = 2027-01-03, end = 2027-01-01 }]\n',
            "year[1].breaks[2].end",
        ),
        (
            '[[year]]\nyear = 2027\nbreaks = [{ name = "重阳", start = 2027-10-08, '
            "end = 2027-10-08 }]\n",
            "year[1].breaks[1].name",
        ),
        (
            '[[year]]\nyear = 2027\nbreaks = [{ name = "元旦", start = 2027-01-01, '
            "end = 2027-01-03 }]\nworkdays = [2027-01-02]\n",
            "year[1].workdays[1]",
        ),
        (
            '[[year]]\nyear = 2027\nbreaks = [{ name = "元旦", start = 2027-01-01, '
            "end = 2027-01-03 }]\nworkday = [2027-01-04]\n",
            "year[1].workday",
        ),
        (
            '[[year]]\nyear = 2027\nbreaks = [{ name = "国庆", start = 2027-01-01, '
            "end = 2027-10-07 }]\n",
            "year[1].breaks[1].end",
        ),
    ],
    ids=[
        "year-string",
        "date-quoted",
        "end-before-start",
        "unknown-name",
        "workday-in-break",
        "misspelt-key",
        "too-long",
    ],
)
def test_bad_override_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(HolidayConfigError) as caught:
        Calendar.from_file(path)
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[year]]\nyear = 2027\nbreaks = [ { name = "元旦", start = \n')
    with pytest.raises(HolidayConfigError, match="TOML") as caught:
        Calendar.from_file(path)
    assert str(path) in str(caught.value)
    assert "line" in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(HolidayConfigError, match="不存在"):
        Calendar.from_file(tmp_path / "nope.toml")


def test_config_error_is_a_value_error() -> None:
    assert issubclass(HolidayConfigError, ValueError)
