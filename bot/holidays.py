"""Holiday-aware working-day calendar: when integrity reminders (廉洁提醒) and readings go out.

Pure module: no database, no Flask. Three sources answer "is this a working day?", in order:

1. the admin override file ``content/holidays.toml`` (official; wins over everything, so it can
   also correct a library error);
2. ``chinesecalendar`` (official State Council arrangements, 2004-2026 in 1.11.0; it raises
   ``NotImplementedError`` for later years, which we catch);
3. an estimate for years nobody has published yet: Monday-Friday minus the statutory holidays
   placed by their usual rules (fixed dates, lunar dates from ``borax``). No make-up workdays
   (调休) can be guessed, so estimates say so (``official=False``) and ``config check`` warns.

A holiday *break* is the run of consecutive rest days around a statutory holiday, weekends
included (2026 春节: 02-15..02-23). A reminder goes out on the Nth working day before the break's
first day, so make-up workdays count: the last working day before the 2026 春节 break is Saturday
02-14.

When 中秋 and 国庆 fall into one run of rest days (2017, 2020, 2023, 2025) the break is named
"中秋国庆" and both occasions anchor on it, so both plans land on the same day; a caller that sends
one 双节 notice groups plans by ``(day, holiday)``. In 2026 they are separate breaks
(09-25..09-27 and 10-01..10-07).
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
from borax.calendars.lunardate import LunarDate, TermUtils

OCCASIONS = ("元旦", "春节", "清明", "劳动节", "端午", "升学季", "中秋", "国庆", "年末")

# The statutory holidays, in calendar order; a merged break joins names in this order.
HOLIDAY_NAMES = ("元旦", "春节", "清明", "劳动节", "端午", "中秋", "国庆")
MERGED_MID_AUTUMN = "中秋国庆"
BREAK_NAMES = (*HOLIDAY_NAMES, MERGED_MID_AUTUMN)

# Occasions that are not holidays: a fixed anchor date and why it matters.
FIXED_ANCHORS: dict[str, tuple[int, int, str]] = {
    "升学季": (6, 7, "固定日期：6月7日高考，升学宴、谢师宴高发期，非法定假日"),
    "年末": (12, 20, "固定日期：12月20日，年末突击花钱、滥发奖金高发期，非法定假日"),
}

# borax's lunar tables cover 1900-2100; keep a year's margin so a break's run of rest days can
# spill into the neighbouring year without leaving the tables.
MIN_YEAR = 1901
MAX_YEAR = 2099

# No real break is longer than 10 days (2020 春节 extension); a longer override is a typo.
MAX_BREAK_DAYS = 14

DEFAULT_OVERRIDES = Path(__file__).resolve().parents[1] / "content" / "holidays.toml"


class HolidayConfigError(ValueError):
    """The override file is unreadable or wrong; the message names the file and the field."""


@dataclass(frozen=True)
class HolidayBreak:
    name: str  # one of BREAK_NAMES
    start: date
    end: date
    official: bool  # True: chinesecalendar or an admin override; False: estimated

    @property
    def occasions(self) -> tuple[str, ...]:
        """The holiday occasions this break anchors ("中秋国庆" anchors both 中秋 and 国庆)."""
        return tuple(name for name in HOLIDAY_NAMES if name in self.name)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True)
class PlannedDate:
    occasion: str  # one of OCCASIONS
    day: date  # when the reminder goes out (a working day)
    anchor: date  # the break's first day, or the fixed anchor date
    holiday: str  # the break's name; "" for 升学季 / 年末 and years without that holiday
    official: bool  # every day the plan rests on comes from official data
    note: str  # Chinese, shown to admins: where the date comes from


@dataclass(frozen=True)
class YearOverride:
    """One ``[[year]]`` table of holidays.toml: a published State Council arrangement."""

    year: int
    published: str
    breaks: tuple[HolidayBreak, ...]
    workdays: frozenset[date]


class Calendar:
    """Working days and holiday breaks, from overrides, chinesecalendar, or an estimate."""

    def __init__(
        self, overrides: Mapping[str, Any] | None = None, *, source: str = "holidays.toml"
    ) -> None:
        # `source` only names the file in error messages.
        self._years: dict[int, YearOverride] = _parse_overrides(overrides or {}, source)
        self._rest_days: set[date] = {
            day for ov in self._years.values() for brk in ov.breaks for day in _days(brk)
        }
        self._make_up_days: set[date] = {day for ov in self._years.values() for day in ov.workdays}
        self._estimate_cache: dict[int, frozenset[date]] = {}
        self._breaks_cache: dict[int, list[HolidayBreak]] = {}

    @classmethod
    def from_file(cls, path: Path) -> Calendar:
        """Load and validate holidays.toml; any problem raises HolidayConfigError."""
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise HolidayConfigError(f"{source}: 文件不存在") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise HolidayConfigError(f"{source}: 无法读取（须为 UTF-8 文本）：{exc}") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise HolidayConfigError(f"{source}: TOML 语法错误：{exc}") from exc
        return cls(data, source=source)

    @property
    def override_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._years))

    # --- single days -------------------------------------------------------------------------

    def is_workday(self, day: date) -> bool:
        _check_day(day)
        if day in self._rest_days:
            return False
        if day in self._make_up_days:
            return True
        if day.year in self._years:
            # The override is the whole arrangement for its year: anything else is a plain day.
            return day.weekday() < 5
        official = _library_is_workday(day)
        if official is not None:
            return official
        return day.weekday() < 5 and day not in self._estimated_holidays(day.year)

    def is_official(self, day: date) -> bool:
        _check_day(day)
        return (
            day.year in self._years
            or day in self._rest_days
            or day in self._make_up_days
            or _library_covers(day)
        )

    def workday_before(self, day: date, n: int) -> date:
        """The nth working day strictly before `day` (n=1: the last working day before it)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        current = day
        for _ in range(n):
            current -= timedelta(days=1)
            while not self.is_workday(current):
                current -= timedelta(days=1)
        return current

    def next_workday(self, day: date) -> date:
        """`day` itself if it is a working day, else the first working day after it."""
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def uncovered_days(self, start: date, days: int) -> list[date]:
        """Days in [start, start+days) whose answer is an estimate, for `config check`."""
        return [d for d in _date_range(start, days) if not self.is_official(d)]

    # --- breaks and plans --------------------------------------------------------------------

    def breaks(self, year: int) -> list[HolidayBreak]:
        """The holiday breaks of `year`, by start date (元旦's may start the previous December)."""
        _check_year(year)
        if year not in self._breaks_cache:
            if year in self._years:
                found = sorted(self._years[year].breaks, key=lambda b: b.start)
            else:
                found = self._derived_breaks(year)
            self._breaks_cache[year] = found
        return list(self._breaks_cache[year])

    def plan(self, occasion: str, year: int, lead_workdays: int) -> PlannedDate:
        """When `year`'s reminder for `occasion` goes out: lead_workdays working days ahead."""
        if occasion not in OCCASIONS:
            raise ValueError(f"unknown occasion {occasion!r}; expected one of {OCCASIONS}")
        if lead_workdays < 1:
            raise ValueError(f"lead_workdays must be at least 1, got {lead_workdays}")
        if occasion in FIXED_ANCHORS:
            month, day_of_month, why = FIXED_ANCHORS[occasion]
            anchor = date(year, month, day_of_month)
            day = self.workday_before(anchor, lead_workdays)
            official = self._all_official(day, anchor)
            note = why if official else f"{why}；{_estimate_note(day, anchor, self)}"
            return PlannedDate(occasion, day, anchor, "", official, note)
        brk = self._break_for(occasion, year)
        if brk is None:
            # Before 2008 清明, 端午 and 中秋 were no holidays: remind before the day itself.
            anchor = _key_date(occasion, year)
            day = self.workday_before(anchor, lead_workdays)
            note = f"{year}年{occasion}不放假，按节日当天推算"
            return PlannedDate(occasion, day, anchor, "", self._all_official(day, anchor), note)
        day = self.workday_before(brk.start, lead_workdays)
        official = brk.official and self._all_official(day, brk.start)
        note = self._source_note(year) if official else _estimate_note(day, brk.start, self)
        return PlannedDate(occasion, day, brk.start, brk.name, official, note)

    def year_plan(self, year: int, leads: Mapping[str, int]) -> list[PlannedDate]:
        """Plans for the occasions named in `leads` (occasion -> lead working days), by day."""
        unknown = sorted(set(leads) - set(OCCASIONS))
        if unknown:
            raise ValueError(f"unknown occasions {unknown}; expected some of {OCCASIONS}")
        plans = [self.plan(occ, year, leads[occ]) for occ in OCCASIONS if occ in leads]
        return sorted(plans, key=lambda p: (p.day, OCCASIONS.index(p.occasion)))

    # --- internals ---------------------------------------------------------------------------

    def _break_for(self, occasion: str, year: int) -> HolidayBreak | None:
        found = self.breaks(year)
        for brk in found:
            if occasion in brk.occasions:
                return brk
        # An override may name the merged break only "国庆": fall back to the festival's date.
        key = _key_date(occasion, year)
        return next((brk for brk in found if key in brk), None)

    def _derived_breaks(self, year: int) -> list[HolidayBreak]:
        """Breaks from chinesecalendar or the estimate: each festival's run of rest days."""
        runs: dict[tuple[date, date], list[str]] = {}
        for name in HOLIDAY_NAMES:
            run = self._rest_run(_key_date(name, year))
            if run is not None and any(self._is_statutory(d) for d in _span(*run)):
                runs.setdefault(run, []).append(name)
        result = [
            HolidayBreak("".join(names), start, end, self._all_official(start, end, inclusive=True))
            for (start, end), names in runs.items()
        ]
        return sorted(result, key=lambda b: b.start)

    def _rest_run(self, key: date) -> tuple[date, date] | None:
        """The maximal run of rest days containing `key`, or None if `key` is a working day."""
        if self.is_workday(key):
            return None
        start, end = key, key
        while not self.is_workday(start - timedelta(days=1)):
            start -= timedelta(days=1)
        while not self.is_workday(end + timedelta(days=1)):
            end += timedelta(days=1)
        return start, end

    def _is_statutory(self, day: date) -> bool:
        """A holiday by notice or estimate, not merely a weekend."""
        if day in self._rest_days:
            return True
        if _library_covers(day):
            return day in chinese_calendar.holidays
        return day in self._estimated_holidays(day.year)

    def _estimated_holidays(self, year: int) -> frozenset[date]:
        if year not in self._estimate_cache:
            self._estimate_cache[year] = frozenset(_estimate_statutory_days(year))
        return self._estimate_cache[year]

    def _all_official(self, start: date, end: date, *, inclusive: bool = False) -> bool:
        last = end if inclusive else end - timedelta(days=1)
        return all(self.is_official(d) for d in _span(start, last))

    def _source_note(self, year: int) -> str:
        override = self._years.get(year)
        if override is None:
            return f"依据国务院办公厅关于{year}年部分节假日安排的通知"
        if override.published:
            return f"依据{override.published}（holidays.toml 录入）"
        return f"依据 holidays.toml 录入的{year}年放假安排"


# --- festival dates --------------------------------------------------------------------------


def _lunar(year: int, month: int, day: int) -> date:
    return LunarDate(year, month, day).to_solar_date()


def _key_date(name: str, year: int) -> date:
    """The festival's own day: every break of that holiday contains it."""
    if name == "元旦":
        return date(year, 1, 1)
    if name == "春节":
        # Lunar 1/1, not 除夕: before 2025 除夕 was sometimes a working day (2014, 2024).
        return _lunar(year, 1, 1)
    if name == "清明":
        return _qingming(year)
    if name == "劳动节":
        return date(year, 5, 1)
    if name == "端午":
        return _lunar(year, 5, 5)
    if name == "中秋":
        return _lunar(year, 8, 15)
    if name == "国庆":
        return date(year, 10, 1)
    raise ValueError(f"no key date for {name!r}")


def _qingming(year: int) -> date:
    try:
        return TermUtils.nth_term_day(year, term_name="清明")
    except ValueError:
        return date(year, 4, 5)  # the usual date, should borax not know the year


def _estimate_statutory_days(year: int) -> Iterator[date]:
    """The usual arrangement, for years no notice covers yet (adjacent weekends follow)."""
    yield date(year, 1, 1)
    new_year_eve = _lunar(year, 1, 1) - timedelta(days=1)
    yield from _date_range(new_year_eve, 8)  # since 2025: 除夕 plus seven days
    yield _qingming(year)
    yield from _date_range(date(year, 5, 1), 5)
    yield _lunar(year, 5, 5)
    mid_autumn = _lunar(year, 8, 15)
    yield mid_autumn
    yield from _date_range(date(year, 10, 1), 7)
    if date(year, 10, 1) <= mid_autumn <= date(year, 10, 7):
        # When 中秋 falls in the 国庆 week the notice adds a day (2017, 2020, 2025).
        yield date(year, 10, 8)


# --- official data ---------------------------------------------------------------------------


def _library_is_workday(day: date) -> bool | None:
    """chinesecalendar's answer, or None for a year it does not know."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def _library_covers(day: date) -> bool:
    return _library_is_workday(day) is not None


def _estimate_note(start: date, end: date, cal: Calendar) -> str:
    years = sorted({d.year for d in _span(start, end) if not cal.is_official(d)})
    label = "、".join(f"{y}年" for y in years)
    return f"估算：{label}放假安排尚未发布，按农历/固定日期推算；公布后请填写 content/holidays.toml"


# --- override file ---------------------------------------------------------------------------


def _parse_overrides(data: Mapping[str, Any], source: str) -> dict[int, YearOverride]:
    if not isinstance(data, Mapping):
        raise HolidayConfigError(f"{source}: 内容应为 TOML 表")
    _reject_unknown_keys(data, {"year"}, source, "")
    entries = data.get("year", [])
    if not isinstance(entries, list):
        raise HolidayConfigError(f"{source}: 字段 year：应写成 [[year]] 表数组")
    years: dict[int, YearOverride] = {}
    for index, entry in enumerate(entries, start=1):
        override = _parse_year(entry, source, f"year[{index}]")
        if override.year in years:
            raise HolidayConfigError(
                f"{source}: 字段 year[{index}].year：{override.year}年重复出现"
            )
        years[override.year] = override
    _check_no_overlap(years, source)
    return years


def _parse_year(entry: Any, source: str, field: str) -> YearOverride:
    if not isinstance(entry, Mapping):
        raise HolidayConfigError(f"{source}: 字段 {field}：应为表（[[year]]）")
    _reject_unknown_keys(entry, {"year", "published", "breaks", "workdays"}, source, field)
    year = entry.get("year")
    if isinstance(year, bool) or not isinstance(year, int):
        raise HolidayConfigError(f"{source}: 字段 {field}.year：应为整数年份，如 2027")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise HolidayConfigError(
            f"{source}: 字段 {field}.year：{year} 超出支持范围 {MIN_YEAR}-{MAX_YEAR}"
        )
    published = entry.get("published", "")
    if not isinstance(published, str):
        raise HolidayConfigError(f"{source}: 字段 {field}.published：应为文字（加引号）")
    raw_breaks = entry.get("breaks")
    if not isinstance(raw_breaks, list) or not raw_breaks:
        raise HolidayConfigError(f"{source}: 字段 {field}.breaks：应为非空列表")
    breaks = tuple(
        _parse_break(item, year, source, f"{field}.breaks[{i}]")
        for i, item in enumerate(raw_breaks, start=1)
    )
    names = [b.name for b in breaks]
    for i, name in enumerate(names, start=1):
        if names.index(name) != i - 1:
            raise HolidayConfigError(f"{source}: 字段 {field}.breaks[{i}].name：{name} 重复")
    raw_workdays = entry.get("workdays", [])
    if not isinstance(raw_workdays, list):
        raise HolidayConfigError(f"{source}: 字段 {field}.workdays：应为日期列表")
    workdays = frozenset(
        _parse_workday(item, year, breaks, source, f"{field}.workdays[{i}]")
        for i, item in enumerate(raw_workdays, start=1)
    )
    return YearOverride(year, published.strip(), breaks, workdays)


def _parse_break(item: Any, year: int, source: str, field: str) -> HolidayBreak:
    if not isinstance(item, Mapping):
        raise HolidayConfigError(
            f'{source}: 字段 {field}：应写成 {{ name = "元旦", start = ..., end = ... }}'
        )
    _reject_unknown_keys(item, {"name", "start", "end"}, source, field)
    name = item.get("name")
    if name not in BREAK_NAMES:
        raise HolidayConfigError(
            f"{source}: 字段 {field}.name：{name!r} 不是可用的假日名称，"
            f"应为 {'、'.join(BREAK_NAMES)}"
        )
    start = _as_date(item.get("start"), source, f"{field}.start")
    end = _as_date(item.get("end"), source, f"{field}.end")
    if end < start:
        raise HolidayConfigError(f"{source}: 字段 {field}.end：结束日期 {end} 早于开始日期 {start}")
    if (end - start).days + 1 > MAX_BREAK_DAYS:
        raise HolidayConfigError(
            f"{source}: 字段 {field}.end：{start} 至 {end} 超过 {MAX_BREAK_DAYS} 天，请核对日期"
        )
    if year not in (start.year, end.year):
        raise HolidayConfigError(f"{source}: 字段 {field}.start：{start} 不在 {year} 年")
    return HolidayBreak(name, start, end, official=True)


def _parse_workday(
    item: Any, year: int, breaks: tuple[HolidayBreak, ...], source: str, field: str
) -> date:
    day = _as_date(item, source, field)
    if day.year != year:
        raise HolidayConfigError(f"{source}: 字段 {field}：调休上班日 {day} 不在 {year} 年")
    clash = next((b for b in breaks if day in b), None)
    if clash is not None:
        raise HolidayConfigError(
            f"{source}: 字段 {field}：调休上班日 {day} 落在{clash.name}假期 "
            f"{clash.start} 至 {clash.end} 内"
        )
    return day


def _as_date(value: Any, source: str, field: str) -> date:
    # tomllib gives datetime for 2027-01-01T00:00; a holiday is a whole day.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if value is None:
        raise HolidayConfigError(f"{source}: 字段 {field}：缺少日期")
    hint = "（日期不要加引号）" if isinstance(value, str) else ""
    raise HolidayConfigError(
        f"{source}: 字段 {field}：应为日期，如 2027-01-01，实际为 {value!r}{hint}"
    )


def _reject_unknown_keys(
    table: Mapping[str, Any], allowed: set[str], source: str, field: str
) -> None:
    # A misspelt key (e.g. "workday") would otherwise be ignored silently.
    unknown = sorted(set(table) - allowed)
    if unknown:
        where = f"{field}." if field else ""
        raise HolidayConfigError(
            f"{source}: 字段 {where}{unknown[0]}：未知字段，可用字段为 {'、'.join(sorted(allowed))}"
        )


def _check_no_overlap(years: Mapping[int, YearOverride], source: str) -> None:
    all_breaks = sorted(
        ((b, y) for y, ov in years.items() for b in ov.breaks), key=lambda item: item[0].start
    )
    for (first, _), (second, year) in zip(all_breaks, all_breaks[1:], strict=False):
        if second.start <= first.end:
            raise HolidayConfigError(
                f"{source}: 字段 year（{year}年）breaks：{second.name} {second.start} 与 "
                f"{first.name} {first.start} 至 {first.end} 重叠"
            )


# --- small helpers ---------------------------------------------------------------------------


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"year {year} outside the supported range {MIN_YEAR}-{MAX_YEAR}")


def _check_day(day: date) -> None:
    # A neighbouring year is fine: a break's run of rest days may cross the year boundary.
    if not MIN_YEAR - 1 <= day.year <= MAX_YEAR + 1:
        raise ValueError(f"{day} outside the supported range {MIN_YEAR}-{MAX_YEAR}")


def _date_range(start: date, days: int) -> Iterator[date]:
    for offset in range(days):
        yield start + timedelta(days=offset)


def _span(start: date, end: date) -> Iterator[date]:
    """start..end inclusive (empty when end < start)."""
    return _date_range(start, (end - start).days + 1)


def _days(brk: HolidayBreak) -> Iterator[date]:
    return _span(brk.start, brk.end)


# --- command line: `python -m bot.holidays 2026` prints a year's reminder plan ----------------

WEEKDAYS = "一二三四五六日"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a year's integrity-reminder plan.")
    parser.add_argument("year", type=int, nargs="?", default=date.today().year)
    parser.add_argument("--lead", type=int, default=1, help="working days before each anchor")
    parser.add_argument("--overrides", type=Path, default=DEFAULT_OVERRIDES)
    args = parser.parse_args(argv)
    try:
        cal = Calendar.from_file(args.overrides)
    except HolidayConfigError as exc:
        parser.exit(2, f"{exc}\n")
    for brk in cal.breaks(args.year):
        flag = "官方" if brk.official else "估算"
        print(f"假期 {brk.name:<6} {brk.start} 至 {brk.end}  {flag}")
    for p in cal.year_plan(args.year, dict.fromkeys(OCCASIONS, args.lead)):
        flag = "官方" if p.official else "估算"
        print(
            f"{p.occasion:<4} {p.day} 周{WEEKDAYS[p.day.weekday()]}  锚点 {p.anchor}"
            f"  {p.holiday or '-':<6} {flag}  {p.note}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
