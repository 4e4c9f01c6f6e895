"""A roster's 入党日期 / 转正日期 cells read as dates, the way an office's spreadsheet writes them.

Accepted: 2001-07-01, 2001/7/1, 2001.07.01, 2001年7月1日, 20010701, full-width digits, and
an Excel date cell (openpyxl gives a datetime; the roster reads it as "2001-07-01 00:00:00").
A date must exist, not lie in the future, and not precede the Party's founding (1921-07-01).
Pure functions: the roster calls `read_date` per cell and reports the problem with its row.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date

FOUNDED = date(1921, 7, 1)
# year, month, day separated by - / . or 年 月 (日 optional), or written together as 8 digits.
_SEPARATED = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                        r"(?:[ T]0{1,2}:00(?::00)?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH_ONLY = re.compile(r"^\d{4}\s*[-/.年]\s*\d{1,2}\s*月?$")


class PartyDateError(ValueError):
    """A cell that is not a usable date; the message is the roster's words for the row."""


def read_date(cell: str, label: str, today: date) -> date | None:
    """The date in `cell` (None when blank); PartyDateError says what is wrong with it."""
    text = unicodedata.normalize("NFKC", cell).strip()
    if not text:
        return None
    found = _SEPARATED.match(text) or _COMPACT.match(text)
    if found is None:
        if _MONTH_ONLY.match(text):
            raise PartyDateError(f"{label}「{cell}」不完整：请写到日，如 2001-07-01")
        raise PartyDateError(f"{label}「{cell}」无法识别：请写成 2001-07-01、2001/7/1 或 2001年7月1日")
    try:
        day = date(*map(int, found.groups()))
    except ValueError:
        raise PartyDateError(f"{label}「{cell}」不是真实存在的日期") from None
    if day > today:
        raise PartyDateError(f"{label}「{cell}」晚于今天")
    if day < FOUNDED:
        raise PartyDateError(f"{label}「{cell}」早于建党日期 1921年7月1日")
    return day


def years_between(start: date, day: date) -> int:
    """Whole years from `start` to `day`, a 29 February anniversary reached on 28 February in a
    common year (as the greeting has it)."""
    years = day.year - start.year
    return years - 1 if day < anniversary(start, day.year) else years


def anniversary(start: date, year: int) -> date:
    """`start`'s anniversary in `year`: 29 February falls on 28 February in a common year, the
    last day of February, so the member is greeted within their own month."""
    if (start.month, start.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return start.replace(year=year)
