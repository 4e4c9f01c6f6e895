"""Roster import (CSV or XLSX): columns 姓名, 支部, 党小组, and optionally 手机, 企业微信账号, 角色.

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
from datetime import datetime
from pathlib import Path

from bot.store import Store, audit, members

MAX_ROWS = 20_000
MAX_FILE_BYTES = 10 * 1024 * 1024
COLUMNS = {
    "姓名": "name", "name": "name",
    "支部": "branch", "branch": "branch",
    "党小组": "grp", "group": "grp", "小组": "grp",
    "手机": "phone", "手机号": "phone", "phone": "phone",
    "企业微信账号": "wecom", "企业微信": "wecom", "wecom_userid": "wecom", "userid": "wecom",
    "角色": "role", "role": "role",
}
REQUIRED = ("name", "branch")
LINE = "_line"  # each row's number in the file (1 = header), kept across blank rows
PHONE = re.compile(r"^(?:\+?86)?1\d{10}$|^\d{7,15}$")
WECOM_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class RosterError(ValueError):
    """The file as a whole cannot be read (wrong type, no header, missing columns)."""


@dataclass(frozen=True)
class RosterRow:
    line: int
    name: str
    branch: str
    grp: str
    phone: str
    wecom: str
    role: str


@dataclass
class RosterCheck:
    rows: list[RosterRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "第 3 行：缺少姓名"

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    bound_wecom: int


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
            table = list(csv.reader(io.StringIO(_decode(path.read_bytes()))))
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


def _xlsx_rows(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    # Not a zip (BadZipFile), a damaged one (zlib.error), or broken sheet XML (a SyntaxError,
    # raised while iterating in read-only mode): all mean the file cannot be read.
    try:
        book = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            table: list[list[str]] = []
            filled = 0
            for values in sheet.iter_rows(values_only=True):
                table.append([_cell(value) for value in values])
                filled += any(table[-1])
                if filled > MAX_ROWS + 1:  # header + one row too many: enough to refuse it
                    break
            return table
        finally:
            book.close()
    except (InvalidFileException, zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError,
            ValueError, SyntaxError) as exc:
        raise RosterError(f"无法读取 Excel 文件：{type(exc).__name__}") from None


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
        raise RosterError(f"行数太多（最多 {MAX_ROWS} 行）")
    rows = []
    for line, cells in numbered[1:]:
        row = {key: cells[i].strip() for i, key in enumerate(header) if key and i < len(cells)}
        row[LINE] = str(line)
        rows.append(row)
    return rows


def check_rows(rows: list[dict[str, str]], store: Store) -> RosterCheck:
    """Validate every row; nothing is written."""
    check = RosterCheck()
    seen_people: dict[tuple[str, str], int] = {}
    seen_wecom: dict[str, int] = {}
    for index, raw in enumerate(rows, start=2):  # row 1 is the header
        number = int(raw.get(LINE, index))  # the file's own row number, blank rows counted
        problems, row = _check_row(number, raw)
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


def _check_row(number: int, raw: dict[str, str]) -> tuple[list[str], RosterRow]:
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
    if phone and not PHONE.match(phone):
        problems.append(f"手机号 {raw.get('phone')} 格式不对")
    if wecom and not WECOM_ID.match(wecom):
        problems.append(f"企业微信账号 {wecom} 含有不允许的字符")
    role = members.role_key(role_text)
    if role is None:
        known = "、".join(members.ROLES.values())
        problems.append(f"角色「{role_text}」无法识别（可填：{known}）")
    row = RosterRow(number, name, branch, raw.get("grp", ""), phone, wecom, role or "member")
    return problems, row


def import_rows(store: Store, check: RosterCheck, *, actor: str, now: datetime) -> ImportResult:
    """Write a checked roster in one transaction. Refuses a check with errors."""
    if not check.ok:
        raise RosterError("名册有错误，未导入任何数据")
    created = updated = bound = 0
    with store.transaction() as db:
        for row in check.rows:
            member_id, is_new = members.upsert_member(
                db, name=row.name, branch=row.branch, grp=row.grp, phone=row.phone,
                role=row.role, now=now)
            created += is_new
            updated += not is_new
            if row.wecom:
                members.bind_identity(db, channel="wecom", external_id=row.wecom,
                                      member_id=member_id, now=now)
                bound += 1
        audit.record(db, actor=actor, action="roster import",
                     detail={"created": created, "updated": updated, "wecom": bound}, at=now)
    return ImportResult(created, updated, bound)
