"""Fuzz roster import (bot/roster.py, behind `members import` and the console's upload): CSV
and XLSX files with random cells, formulas, wrong encodings (GBK, GB18030, UTF-16, BOMs, Big5,
latin-1), random bytes, huge rows and cells, duplicate and missing columns.

For every file: only RosterError comes out of reading it (a clear Chinese message); a file with
any error writes nothing (every row of every table unchanged); a clean file is written whole,
every row findable afterwards. One seed per example (tests/fuzz/messages.py says why).
"""

from __future__ import annotations

import csv
import io
import zipfile
from xml.sax.saxutils import escape

import pytest
from hypothesis import given

from bot import roster
from bot.store import members
from tests.fuzz import FUZZ
from tests.fuzz.messages import SEED, Gen
from tests.fuzz.store import fingerprint, writes

HEADERS = ["姓名", "支部", "党小组", "手机", "企业微信账号", "角色", "name", "branch", "userid",
           "备注", "", "姓名 ", "手机号"]
NAMES = ["王建国", "李红梅", "张伟", "欧阳娜娜", "买买提·艾力", "A" * 33, "", " ", "=1+1",
         "@SUM(A1)", "-2+3", "+cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\")", "'; DROP TABLE m"]
BRANCHES = ["第一党支部", "第二党支部", "机关党委", "", "=A1", "支部\n换行"]
PHONES = ["13800000001", "+8613800000002", "138-0000-0003", "1380000000", "", "abc", "1e10",
          "13800000001.0", "０１２３"]
ROLES = ["党员", "党小组长", "支部书记", "党务干部", "", "群众", "member", "admin", "ADMIN"]
WECOM = ["wangjg", "li.hm", "a@b", "", "bad id", "x" * 65, "WANGJG", "中文"]
ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "big5", "latin-1",
             "cp1252"]


def cell(g: Gen, column: str) -> str:
    if g.one_in(6):
        return g.text(40 if not g.one_in(100) else 5000, hostile=g.one_in(3))
    pools = {"姓名": NAMES, "name": NAMES, "支部": BRANCHES, "branch": BRANCHES,
             "手机": PHONES, "手机号": PHONES, "角色": ROLES, "企业微信账号": WECOM,
             "userid": WECOM}
    pool = pools.get(column.strip())
    return g.pick(pool) if pool else g.text(20)


def table(g: Gen) -> list[list[str]]:
    header = ["姓名", "支部"] if not g.one_in(8) else []
    header += [g.pick(HEADERS) for _ in range(g.int(0, 5))]
    if g.one_in(3):
        g.r.shuffle(header)
    rows = [header]
    count = g.pick([0, 1, 2, 3, g.int(0, 15)]) if not g.one_in(100) else 300  # huge: rarely
    for _ in range(count):
        width = len(header) + (g.pick([0, 0, 0, -1, 1]) if not g.one_in(30) else 40)
        rows.append([cell(g, header[i] if i < len(header) else "") for i in range(max(width, 0))])
        if g.one_in(10):
            rows.append([""] * len(header))  # blank rows between
    return rows


def csv_bytes(g: Gen, rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=g.pick([",", ",", ",", "\t", ";"])).writerows(rows)
    text = buffer.getvalue()
    if g.one_in(10):
        text = text[:g.int(0, len(text))]  # truncated, maybe inside a quoted cell
    if g.one_in(20):
        text += '"' + "x" * 200_000  # one cell beyond csv's field size limit
    return text.encode(g.pick(ENCODINGS), errors="replace")


def xlsx_bytes(g: Gen, rows: list[list[str]]) -> bytes:
    """A minimal workbook written by hand (openpyxl would cost 20 ms a file): inline strings,
    numbers, formulas, and sometimes a broken part."""
    def xml_cell(ref: str, value: str) -> str:
        clean = "".join(ch for ch in value if ch in "\t\n\r" or 0x20 <= ord(ch) < 0xD800
                        or 0xE000 <= ord(ch) < 0xFFFE)
        kind = g.int(0, 9)
        if kind == 0 and clean.replace(".", "", 1).isdigit():
            return f'<c r="{ref}"><v>{clean}</v></c>'
        if kind == 1:
            return f'<c r="{ref}"><f>{escape(clean)}</f><v>0</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(clean)}</t></is></c>'

    sheet_rows = []
    for number, row in enumerate(rows, start=1):
        cells = "".join(xml_cell(f"{_column(i)}{number}", v) for i, v in enumerate(row))
        sheet_rows.append(f'<row r="{number}">{cells}</row>')
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxml'
             'formats.org/spreadsheetml/2006/main"><sheetData>' + "".join(sheet_rows)
             + "</sheetData></worksheet>")
    if g.one_in(10):
        sheet = sheet[:g.int(0, len(sheet))]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        for name, content in XLSX_PARTS.items():
            if not g.one_in(40):  # sometimes a part is missing
                book.writestr(name, content)
        book.writestr("xl/worksheets/sheet1.xml", sheet)
    data = buffer.getvalue()
    if g.one_in(15):
        data = data[:g.int(0, len(data))]
    return data


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


XLSX_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="名册" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def roster_file(g: Gen) -> tuple[str, bytes]:
    shape = g.int(0, 19)
    if shape == 0:
        return g.pick(["r.csv", "r.xlsx", "r.txt"]), g.bytes(2000)
    if shape == 1:
        return g.pick(["r.xls", "r", "r.CSV", "r.XLSX", "r.json"]), csv_bytes(g, table(g))
    if shape <= 4:
        return "r.xlsx", xlsx_bytes(g, table(g))
    return g.pick(["r.csv", "r.csv", "r.txt"]), csv_bytes(g, table(g))


@pytest.fixture
def roster_services(make_services):
    return make_services(demo=True)


@FUZZ
@given(seed=SEED)
def test_roster_files(roster_services, tmp_path, seed):
    services = roster_services
    name, data = roster_file(Gen(seed))
    path = tmp_path / "upload" / name
    path.parent.mkdir(exist_ok=True)
    for old in path.parent.iterdir():
        old.unlink()
    path.write_bytes(data)
    before = writes(services.store)
    try:
        check = roster.check_rows(roster.read_table(path), services.store)
    except roster.RosterError as exc:
        assert str(exc) and any("\u4e00" <= ch <= "\u9fff" for ch in str(exc))
        assert writes(services.store) == before
        return
    assert writes(services.store) == before, "checking a roster wrote rows"
    if not check.ok:
        assert all(error.startswith("第 ") for error in check.errors), check.errors[:3]
        with pytest.raises(roster.RosterError):
            roster.import_rows(services.store, check, actor="fuzz", now=services.clock.now())
        assert writes(services.store) == before, "a roster with errors wrote rows"
        return
    roster.import_rows(services.store, check, actor="fuzz", now=services.clock.now())
    db = services.store.db
    everyone = {(m.branch, m.name) for m in members.list_members(db)}
    for row in check.rows:
        assert (row.branch, row.name) in everyone, row
        if row.wecom:
            assert members.find_by_identity(db, "wecom", row.wecom.lower()) is not None


def test_a_refused_roster_leaves_every_row_alone(roster_services, tmp_path):
    """The thorough check behind `writes`: one good row and one bad, every row hashed."""
    path = tmp_path / "bad.csv"
    path.write_text("姓名,支部,手机\n王五,第一党支部,13800000009\n,第一党支部,abc\n",
                    encoding="utf-8")
    before = fingerprint(str(roster_services.config.store_path))
    check = roster.check_rows(roster.read_table(path), roster_services.store)
    assert not check.ok
    with pytest.raises(roster.RosterError):
        roster.import_rows(roster_services.store, check, actor="t", now=roster_services.clock.now())
    assert fingerprint(str(roster_services.config.store_path)) == before


# --- size bombs: the limits hold whatever the file declares -------------------------------

LIMITS = {"MAX_ROWS": 40, "MAX_COLUMNS": 6, "MAX_PART_BYTES": 300_000,
          "MAX_UNPACKED_BYTES": 600_000, "MAX_CELLS_PER_ROW": 64}


def bomb(g: Gen) -> tuple[bytes, int, int, int]:
    """A workbook with random real extent, a random (often lying) dimension tag and random
    blank padding; returns it with its valued rows, widest valued column and sheet size."""
    count, widest = g.pick([1, 5, 40, 41, g.int(0, 120)]), 0
    rows = [f'<row r="1">{_inline(1, "姓名")}{_inline(2, "支部")}</row>']
    for number in range(2, count + 1):
        width = g.pick([2, 6, 7, g.int(0, 12)])
        first = g.pick([1, 1, 1, g.int(1, 40)])
        cells = "".join(_inline(first + i, g.pick(NAMES) or "x") for i in range(width))
        if g.one_in(8):
            cells += '<c s="1"/>' * g.pick([10, 63, 65, 500])  # styled, empty
        rows.append(f'<row r="{number}">{cells}</row>')
        if width:
            widest = max(widest, first + width - 1)
    valued = 1 + sum(1 for row in rows[1:] if "<is>" in row)
    padding = "<row/>" * g.pick([0, 0, 10, 1_000, 200_000])
    ref = g.pick(["A1:B2", "A1:XFD1048576", f"A1:{_column(max(widest, 2) - 1)}{count}", None,
                  "A1:F160", "A1"])
    dimension = f'<dimension ref="{ref}"/>' if ref else ""
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxml'
             f'formats.org/spreadsheetml/2006/main">{dimension}<sheetData>{"".join(rows)}'
             f"{padding}</sheetData></worksheet>").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name, content in XLSX_PARTS.items():
            book.writestr(name, content)
        book.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue(), valued, max(widest, 2), len(sheet)


def _inline(column: int, value: str) -> str:
    return f'<c r="{_column(column - 1)}1" t="inlineStr"><is><t>{escape(value)}</t></is></c>'


@FUZZ
@given(seed=SEED)
def test_size_bombs_are_refused_within_the_limits(tmp_path, monkeypatch, seed):
    for name, value in LIMITS.items():
        monkeypatch.setattr(roster, name, value)
    data, valued, widest, unpacked = bomb(Gen(seed))
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(data)
    try:
        table = roster.read_table(path)
    except roster.RosterError as exc:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in str(exc))
        return
    assert valued <= LIMITS["MAX_ROWS"] + 1, "more rows than the limit were read"
    assert widest <= LIMITS["MAX_COLUMNS"], "a value beyond the column limit was read"
    assert unpacked <= LIMITS["MAX_PART_BYTES"]
    assert len(table) <= LIMITS["MAX_ROWS"]
