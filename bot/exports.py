"""Tabular exports (CSV rows and XLSX sheets) shared by the CLI and, later, the console."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

import sqlite_utils

from bot.store import checkins

CHECKIN_HEADER = ["日期", "时间", "姓名", "支部", "党小组", "学习内容", "渠道"]
CHANNEL_NAMES = {"mp": "公众号", "wecom": "企业微信", "sandbox": "模拟器", "admin": "补录"}


def channel_names(codes: Iterable[str]) -> str:
    """Channels in Chinese, each once (a member may have two sandbox ids): 「企业微信、模拟器」;
    「未绑定」 for none. The console's 成员 page and `members list` show this."""
    names = dict.fromkeys(CHANNEL_NAMES.get(code, code) for code in codes)
    return "、".join(names) or "未绑定"


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
    path.parent.mkdir(parents=True, exist_ok=True)
    write_workbook(path, [Sheet(title, header, rows)])


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a title (cut to Excel's 31 characters), a header and rows. Cells of
    `percent_columns` (0-based) that hold numbers are shown as percentages (0.875 -> 87.5%)."""
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    percent_columns: tuple[int, ...] = ()


def write_workbook(target: Path | BinaryIO, sheets: Sequence[Sheet]) -> None:
    """Sheets in order, each with a bold frozen header row and widths that fit Chinese text.

    openpyxl's write-only mode streams rows to the file instead of keeping a cell object per
    value: about half the time and a fraction of the memory for a 5,000-row report.
    """
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    try:
        for sheet in sheets:
            _fill(book.create_sheet(sheet.title[:31]), sheet)  # Excel's limit on sheet names
        book.save(target)
    except BaseException:
        # A write-only sheet streams through an open generator and a temporary file: close
        # them here, or they are closed at some later garbage collection, with an error.
        for ws in book.worksheets:
            with contextlib.suppress(Exception):
                ws.close()
        raise


def _fill(ws, sheet: Sheet) -> None:  # noqa: ANN001  (an openpyxl write-only Worksheet)
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    # Write-only sheets take their widths and frozen panes before the first row.
    sample = sheet.rows[:500]
    for index, name in enumerate(sheet.header, start=1):
        width = max([_display_width(name)] + [_display_width(r[index - 1]) for r in sample])
        ws.column_dimensions[get_column_letter(index)].width = min(width + 2, 60)
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in sheet.header:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    percent = set(sheet.percent_columns)
    for row in sheet.rows:
        if percent:
            row = [_percent_cell(ws, v) if i in percent else v for i, v in enumerate(row)]
        ws.append([_text_cell(ws, v) for v in row])


def _text_cell(ws, value: object) -> object:  # noqa: ANN001
    # openpyxl stores a string that starts with "=" as a formula; an explicit string cell is
    # shown as typed and never evaluated (the XLSX side of `inert`).
    if not (isinstance(value, str) and value.startswith("=")):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    return cell


def _percent_cell(ws, value: object) -> object:  # noqa: ANN001
    from openpyxl.cell import WriteOnlyCell

    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = "0.0%"
    return cell


def csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A CSV table as text; write it to a file with encoding "utf-8-sig" (a BOM) for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([inert(v) for v in row] for row in rows)
    return buffer.getvalue()


# Excel and WPS run a cell that starts with one of these as a formula: a member's check-in note
# "=HYPERLINK(...)" would become a live link or command in the secretary's export (CSV
# injection). A leading apostrophe makes the cell text, as OWASP advises.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _display_width(value: object) -> int:
    # CJK characters take two columns in Excel's width units.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(value or ""))
