"""Tabular exports (CSV rows and XLSX sheets) shared by the CLI and, later, the console."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import sqlite_utils

from bot.store import checkins

CHECKIN_HEADER = ["日期", "时间", "姓名", "支部", "党小组", "学习内容", "渠道"]
CHANNEL_NAMES = {"mp": "公众号", "wecom": "企业微信", "sandbox": "模拟器", "admin": "补录"}


def month_range(month: str) -> tuple[date, date]:
    """'2026-11' -> (2026-11-01, 2026-11-30)."""
    if not re.fullmatch(r"\d{4}-\d{2}", month):
        raise ValueError(f"month must look like 2026-11, got {month!r}")
    year, number = int(month[:4]), int(month[5:])
    if not 1 <= number <= 12:
        raise ValueError(f"no month {number} in a year")
    start = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return start, following - timedelta(days=1)


def checkin_rows(db: sqlite_utils.Database, start: date, end: date) -> list[list[str]]:
    rows = []
    for row in checkins.checkins_between(db, start, end):
        rows.append([row["day"], row["at"][11:16], row["name"], row["branch"], row["grp"],
                     row["note"], CHANNEL_NAMES.get(row["via"], row["via"])])
    return rows


def write_xlsx(path: Path, title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """One sheet: a frozen header row and column widths that fit Chinese text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit on sheet names
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    sheet.freeze_panes = "A2"
    for index, name in enumerate(header, start=1):
        width = max([_display_width(name)] + [_display_width(r[index - 1]) for r in rows[:500]])
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = min(width + 2, 60)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def _display_width(value: object) -> int:
    # CJK characters take two columns in Excel's width units.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(value or ""))
