"""Roster import (CSV or XLSX): columns 姓名, 支部, 党小组, and optionally 手机, 企业微信账号, 角色,
入党时间 (or 入党日期) and 转正时间 (or 转正日期), read by bot/party_dates.py.

Every row is checked first; any problem is reported in plain words with its row number and
nothing is written. A valid file is written in one transaction: all of it or none of it.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from xml.parsers import expat

import sqlite_utils

from bot.clock import Clock
from bot.party_dates import PartyDateError, read_date
from bot.store import Store, audit, members, party_dates

MAX_ROWS = 5_000       # a branch roster is tens or hundreds of people; an office, thousands
MAX_COLUMNS = 30
MAX_FILE_BYTES = 10 * 1024 * 1024
# The size limit caps the file, not the work: a few KB of XLSX can unpack to gigabytes of XML.
# Parts are bounded by their declared size (zipfile never inflates past it: a part that lies
# about it fails its CRC), and the sheet is scanned for its real rows and columns before
# openpyxl reads a cell (its dimension tag may lie, and openpyxl pads every row to it).
MAX_PART_BYTES = 16 * 1024 * 1024
MAX_UNPACKED_BYTES = 40 * 1024 * 1024
MAX_CELLS_PER_ROW = 1024  # empty styled cells included
BLANK_ROWS_ALLOWED = 4  # the declared extent counts blank rows: refused beyond 4 x MAX_ROWS
COLUMNS = {
    "姓名": "name", "name": "name",
    "支部": "branch", "branch": "branch",
    "党小组": "grp", "group": "grp", "小组": "grp",
    "手机": "phone", "手机号": "phone", "phone": "phone",
    "企业微信账号": "wecom", "企业微信": "wecom", "wecom_userid": "wecom", "userid": "wecom",
    "角色": "role", "role": "role",
    "入党时间": "joined", "入党日期": "joined",
    "转正时间": "confirmed", "转正日期": "confirmed",
}
REQUIRED = ("name", "branch")
LINE = "_line"  # each row's number in the file (1 = header), kept across blank rows
PHONE = re.compile(r"^(?:\+?86)?1\d{10}$|^\d{7,15}$")
WECOM_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class RosterError(ValueError):
    """The file as a whole cannot be read (wrong type, no header, missing columns)."""


KEEP_ONLY = "请只保留名册那一张表和需要的列后再上传"


def too_many_rows() -> RosterError:
    return RosterError(f"行数太多（最多 {MAX_ROWS} 行）：{KEEP_ONLY}")


def too_many_columns() -> RosterError:
    return RosterError(f"列数太多（最多 {MAX_COLUMNS} 列）：{KEEP_ONLY}")


def too_big_unpacked() -> RosterError:
    return RosterError(f"表格解压后太大（超过 {MAX_UNPACKED_BYTES // 1024 // 1024} MB，"
                       f"单个部分超过 {MAX_PART_BYTES // 1024 // 1024} MB）：{KEEP_ONLY}")


@dataclass(frozen=True)
class RosterRow:
    line: int
    name: str
    branch: str
    grp: str
    phone: str
    wecom: str
    role: str
    joined: date | None = None     # 入党日期
    confirmed: date | None = None  # 转正日期


@dataclass
class RosterCheck:
    rows: list[RosterRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "第 3 行：缺少姓名"
    party_dates: bool = False  # the file has a 入党时间 or 转正时间 column (the preview shows it)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ImportResult:
    """What an import does (or, from `plan`, would do): members added, members whose stored
    fields change, WeCom accounts newly linked. Rows that change nothing count in none."""
    created: int
    updated: int
    bound_wecom: int

    @property
    def changes_nothing(self) -> bool:
        return not (self.created or self.updated or self.bound_wecom)

    def summary(self) -> str:
        """「新增 1 人，更新 2 人，关联企业微信账号 1 个」 or 「没有变化」 (CLI and console)."""
        if self.changes_nothing:
            return "没有变化"
        return (f"新增 {self.created} 人，更新 {self.updated} 人，"
                f"关联企业微信账号 {self.bound_wecom} 个")

    def preview(self) -> str:
        """The same before the write: 「导入将新增 1 人，…」 or 「与现有名册相同，没有变化」."""
        return "与现有名册相同，没有变化" if self.changes_nothing else f"导入将{self.summary()}"


def read_table(path: Path) -> list[dict[str, str]]:
    """The file's rows as dicts keyed by our column names, from CSV (UTF-8/GBK) or XLSX."""
    if not path.is_file():
        raise RosterError(f"找不到文件：{path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RosterError("文件太大（超过 10 MB）")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        table = _xlsx_rows(path)
    elif suffix in (".csv", ".txt"):
        try:
            table = _csv_rows(_decode(path.read_bytes()))
        except csv.Error:
            raise RosterError("无法读取 CSV 文件：格式不对或单元格太长") from None
    else:
        raise RosterError(f"不支持的文件类型 {suffix or '(无扩展名)'}：请用 .csv 或 .xlsx")
    return _keyed(table)


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise RosterError("这不是文本格式的 CSV 文件")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterError("无法识别文件编码：请另存为 UTF-8 编码的 CSV")


def _csv_rows(text: str) -> list[list[str]]:
    """The CSV's rows under the XLSX limits: at most MAX_COLUMNS columns with a value (and
    MAX_CELLS_PER_ROW cells in all), MAX_ROWS rows with a value, blank rows within reason."""
    table: list[list[str]] = []
    filled = 0
    for cells in csv.reader(io.StringIO(text)):
        if len(cells) > MAX_CELLS_PER_ROW or any(c.strip() for c in cells[MAX_COLUMNS:]):
            raise too_many_columns()
        table.append(cells)
        filled += any(c.strip() for c in cells)
        if filled > MAX_ROWS + 1 or len(table) > BLANK_ROWS_ALLOWED * MAX_ROWS:
            raise too_many_rows()
    return table


def _xlsx_rows(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    # Not a zip (BadZipFile), a damaged one (zlib.error), or broken sheet XML (a SyntaxError,
    # raised while iterating in read-only mode): all mean the file cannot be read.
    try:
        _check_archive(path)
        book = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            _check_dimension(sheet.max_row, sheet.max_column)
            with book._archive.open(sheet._worksheet_path) as part:
                _scan_sheet(part)
            table: list[list[str]] = []
            filled = 0
            # max_col: else openpyxl pads each row to the declared width (no value lies beyond
            # MAX_COLUMNS: the scan said so).
            for values in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
                table.append([_cell(value) for value in values])
                filled += any(table[-1])
                if filled > MAX_ROWS + 1:  # header + one row too many: enough to refuse it
                    break
            return table
        finally:
            book.close()
    except RosterError:
        raise
    except (InvalidFileException, zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError,
            ValueError, SyntaxError, expat.ExpatError) as exc:
        raise RosterError(f"无法读取 Excel 文件：{type(exc).__name__}") from None


def _check_archive(path: Path) -> None:
    """Refuse an archive whose parts would unpack to more than a roster can need."""
    with zipfile.ZipFile(path) as archive:
        sizes = [info.file_size for info in archive.infolist()]
    if sum(sizes) > MAX_UNPACKED_BYTES or max(sizes, default=0) > MAX_PART_BYTES:
        raise too_big_unpacked()


_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d{1,7})$")


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _check_dimension(rows: int | None, columns: int | None) -> None:
    """The sheet's declared extent (<dimension ref="A1:XFD1048576"/>), checked before any cell
    is read. A missing tag is no answer, and a tag may lie: _scan_sheet counts the real ones."""
    if rows is not None and rows > BLANK_ROWS_ALLOWED * MAX_ROWS:
        raise too_many_rows()
    if columns is not None and columns > MAX_COLUMNS:
        raise too_many_columns()


def _scan_sheet(part: io.BufferedIOBase) -> None:
    """Count the sheet's rows with a value and its cells per row, stopping at the limit:
    cheap (no cell is converted), and true whatever the dimension tag says."""
    state = {"rows": 0, "cells": 0, "column": 0, "valued": False}

    def start(name: str, attrs: dict[str, str]) -> None:
        tag = name.rpartition(":")[2]
        if tag == "row":
            state["cells"], state["column"], state["valued"] = 0, 0, False
        elif tag == "c":
            state["cells"] += 1
            ref = _REF.match(attrs.get("r", "").upper())
            state["column"] = _column_number(ref.group(1)) if ref else state["column"] + 1
            if state["cells"] > MAX_CELLS_PER_ROW:
                raise too_many_columns()
        elif tag in ("v", "is"):
            if state["column"] > MAX_COLUMNS:
                raise too_many_columns()
            state["valued"] = True

    def end(name: str) -> None:
        if name.rpartition(":")[2] == "row" and state["valued"]:
            state["rows"] += 1
            if state["rows"] > MAX_ROWS + 1:  # the header and one row too many
                raise too_many_rows()

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    while chunk := part.read(64 * 1024):
        parser.Parse(chunk, False)
    parser.Parse(b"", True)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores phone numbers typed as numbers as floats
    return str(value).strip()


def _keyed(table: list[list[str]]) -> list[dict[str, str]]:
    numbered = [(line, row) for line, row in enumerate(table, start=1)
                if any(cell.strip() for cell in row)]
    if not numbered:
        raise RosterError("文件是空的")
    header = [COLUMNS.get(cell.strip()) for cell in numbered[0][1]]
    missing = [name for name, key in (("姓名", "name"), ("支部", "branch")) if key not in header]
    if missing:
        raise RosterError(f"表头缺少列：{'、'.join(missing)}（第一行应为 姓名,支部,党小组,手机,企业微信账号,角色）")
    if len(numbered) - 1 > MAX_ROWS:
        raise too_many_rows()
    rows = []
    for line, cells in numbered[1:]:
        row = {key: cells[i].strip() for i, key in enumerate(header) if key and i < len(cells)}
        row[LINE] = str(line)
        rows.append(row)
    return rows


def check_rows(rows: list[dict[str, str]], store: Store,
               today: date | None = None) -> RosterCheck:
    """Validate every row; nothing is written. `today` bounds the dates (the service clock's)."""
    today = today or Clock().today()
    check = RosterCheck(party_dates=any("joined" in r or "confirmed" in r for r in rows))
    seen_people: dict[tuple[str, str], int] = {}
    seen_wecom: dict[str, int] = {}
    for index, raw in enumerate(rows, start=2):  # row 1 is the header
        number = int(raw.get(LINE, index))  # the file's own row number, blank rows counted
        problems, row = _check_row(number, raw, today)
        key = (row.branch, row.name)
        if row.name and row.branch and key in seen_people:
            problems.append(f"与第 {seen_people[key]} 行重复（同一支部同名）")
        seen_people.setdefault(key, number)
        if row.wecom:
            wecom = row.wecom.lower()
            if wecom in seen_wecom:
                problems.append(f"企业微信账号 {row.wecom} 与第 {seen_wecom[wecom]} 行重复")
            seen_wecom.setdefault(wecom, number)
            other = members.find_by_identity(store.db, "wecom", wecom)
            if other and (other.branch, other.name) != key:
                problems.append(f"企业微信账号 {row.wecom} 已属于 {other.branch} {other.name}")
        check.errors.extend(f"第 {number} 行：{p}" for p in problems)
        check.rows.append(row)
    return check


def _check_row(number: int, raw: dict[str, str], today: date) -> tuple[list[str], RosterRow]:
    problems: list[str] = []
    name, branch = raw.get("name", ""), raw.get("branch", "")
    phone = re.sub(r"[\s-]", "", raw.get("phone", ""))
    wecom, role_text = raw.get("wecom", ""), raw.get("role", "")
    if not name:
        problems.append("缺少姓名")
    elif len(name) > 32:
        problems.append("姓名太长")
    if not branch:
        problems.append("缺少支部")
    elif "/" in branch or "／" in branch:
        # "支部/党小组" names a group (bot/audience.py), so a branch's own name cannot hold "/".
        problems.append(f"支部名称「{branch}」不能含有“/”")
    grp = _group_cell(raw.get("grp", ""), branch, problems)
    if phone and not PHONE.match(phone):
        problems.append(f"手机号 {raw.get('phone')} 格式不对")
    if wecom and not WECOM_ID.match(wecom):
        problems.append(f"企业微信账号 {wecom} 含有不允许的字符")
    role = members.role_key(role_text)
    if role is None:
        known = "、".join(members.ROLES.values())
        problems.append(f"角色「{role_text}」无法识别（可填：{known}）")
    joined, confirmed = _party_dates(raw, today, problems)
    row = RosterRow(number, name, branch, grp, phone, wecom, role or "member", joined, confirmed)
    return problems, row


def _party_dates(raw: dict[str, str], today: date,
                 problems: list[str]) -> tuple[date | None, date | None]:
    """入党日期 and 转正日期 (each optional); 转正 is never before 入党."""
    found: list[date | None] = []
    for key, label in (("joined", "入党时间"), ("confirmed", "转正时间")):
        try:
            found.append(read_date(raw.get(key, ""), label, today))
        except PartyDateError as exc:
            problems.append(str(exc))
            found.append(None)
    joined, confirmed = found
    if joined and confirmed and confirmed < joined:
        problems.append(f"转正时间 {confirmed.isoformat()} 早于入党时间 {joined.isoformat()}")
    return joined, confirmed


def _group_cell(cell: str, branch: str, problems: list[str]) -> str:
    """The 党小组 column is the group's name within the row's branch; "本支部/党小组" (as
    audiences write a group) is read as that name. Other cells are names as written: a group
    name may hold "/" itself (办公室/人事处党小组)."""
    prefix, separator, grp = cell.partition("/")
    if not separator or not branch or prefix != branch:
        return cell
    if not grp.strip():
        problems.append(f"党小组「{cell}」缺少小组名称")
    return grp.strip()


def _fields(row: RosterRow) -> dict[str, str]:
    """The stored member columns a row sets (members.upsert_member's keywords): one list, so
    what is written and what is compared to say "changed" cannot drift apart."""
    return {"grp": row.grp, "phone": row.phone, "role": row.role}


@dataclass(frozen=True)
class _RowEffect:
    member_id: int | None  # None: the row adds a member
    changes: bool          # an existing member's stored fields (or 停用) change
    binds_wecom: bool      # the row's WeCom account is not yet linked to this member


def _effect(db: sqlite_utils.Database, row: RosterRow) -> _RowEffect:
    """What writing this row would change, read without writing."""
    stored = members.find_in_branch(db, row.branch, row.name)
    if stored is None:
        return _RowEffect(None, True, bool(row.wecom))
    binds = bool(row.wecom) and not members.is_linked(db, "wecom", row.wecom, stored.id)
    changes = members.differs(db, stored.id, _fields(row)) or party_dates.would_change(
        db, stored.id, joined=row.joined, confirmed=row.confirmed)
    return _RowEffect(stored.id, changes, binds)


def _tally(effects: list[_RowEffect]) -> ImportResult:
    return ImportResult(created=sum(e.member_id is None for e in effects),
                        updated=sum(e.member_id is not None and e.changes for e in effects),
                        bound_wecom=sum(e.binds_wecom for e in effects))


def plan(store: Store, check: RosterCheck) -> ImportResult:
    """What import_rows would do with this check now (the preview and --dry-run say it)."""
    return _tally([_effect(store.db, row) for row in check.rows])


def import_rows(store: Store, check: RosterCheck, *, actor: str, now: datetime) -> ImportResult:
    """Write a checked roster in one transaction. Refuses a check with errors."""
    if not check.ok:
        raise RosterError("名册有错误，未导入任何数据")
    effects = []
    with store.transaction() as db:
        for row in check.rows:
            effects.append(_effect(db, row))
            member_id, _is_new = members.upsert_member(
                db, name=row.name, branch=row.branch, **_fields(row), now=now)
            party_dates.set_dates(db, member_id, joined=row.joined, confirmed=row.confirmed)
            if row.wecom:
                members.bind_identity(db, channel="wecom", external_id=row.wecom,
                                      member_id=member_id, now=now)
        result = _tally(effects)
        audit.record(db, actor=actor, action="roster import",
                     detail={"created": result.created, "updated": result.updated,
                             "wecom": result.bound_wecom}, at=now)
    return result
