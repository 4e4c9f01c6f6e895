"""The work of reading a roster is bounded, not only its file size: crafted XLSX files built
here (a sheet declaring A1:XFD1048576, a part that unpacks to far more than its compressed
size, rows beyond the limit, a dimension tag that lies about rows or columns), each uploaded
through the console and fed to the CLI import. Each gets one Chinese sentence and writes
nothing. (Before: a 127 KB file of 500 x 4,000 cells took 24 s, an 8.6 MB one half an hour.)"""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot import roster
from tests.console_helpers import login, make_account, token
from tests.test_roster import assert_clean_failure, import_file, member_count

SHEET = "xl/worksheets/sheet1.xml"


def small_book() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "支部", "党小组"])
    sheet.append(["郑强", "第三党支部", "机关党小组"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def replace_part(xlsx: bytes, name: str, edit) -> bytes:  # noqa: ANN001  (bytes -> bytes)
    """The same workbook with one part rewritten (deflated, as Excel writes it)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info.filename, edit(data) if info.filename == name else data)
    return out.getvalue()


def with_dimension(ref: str):  # noqa: ANN201
    return lambda xml: re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), xml)


def with_rows(rows_xml: bytes, ref: str = "A1:C2"):  # noqa: ANN201
    """The sheet's rows replaced by `rows_xml`, its dimension set to `ref` (which may lie)."""
    def edit(xml: bytes) -> bytes:
        xml = with_dimension(ref)(xml)
        return re.sub(rb"<sheetData>.*</sheetData>", b"<sheetData>" + rows_xml + b"</sheetData>",
                      xml, flags=re.S)
    return edit


def inline_row(number: int, values: list[str], first_column: int = 1) -> bytes:
    cells = []
    for offset, value in enumerate(values):
        column = first_column + offset
        letters = ""
        while column:
            column, rest = divmod(column - 1, 26)
            letters = chr(65 + rest) + letters
        cells.append(f'<c r="{letters}{number}" t="inlineStr"><is><t>{value}</t></is></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'.encode()


def many_rows(count: int) -> bytes:
    return inline_row(1, ["姓名", "支部"]) + b"".join(
        inline_row(n, [f"成员{n}", "第三党支部"]) for n in range(2, count + 2))


CRAFTED = {
    # A sheet that declares the whole grid: openpyxl padded every row to 16,384 columns.
    "declared A1:XFD1048576": (lambda: replace_part(small_book(), SHEET,
                                                    with_dimension("A1:XFD1048576")), "行数太多"),
    "declared 40 columns": (lambda: replace_part(small_book(), SHEET, with_dimension("A1:AN2")),
                            "列数太多"),
    # 60 MB of XML (blank rows) in a few hundred KB: the declared size is refused unread.
    "part unpacks to 60 MB": (lambda: replace_part(
        small_book(), SHEET, lambda xml: xml.replace(b"</sheetData>",
                                                     b"<row/>" * 10_000_000 + b"</sheetData>")),
        "解压后太大"),
    "5,001 rows, honestly declared": (lambda: replace_part(
        small_book(), SHEET, with_rows(many_rows(5_001), "A1:B5002")), "行数太多"),
    "6,000 rows declared as A1:C2": (lambda: replace_part(
        small_book(), SHEET, with_rows(many_rows(6_000), "A1:C2")), "行数太多"),
    "a value in column 31, declared as A1:C2": (lambda: replace_part(
        small_book(), SHEET, with_rows(inline_row(1, ["姓名", "支部"])
                                       + inline_row(2, ["郑强", "第三党支部"])
                                       + inline_row(3, ["多余"], first_column=31))), "列数太多"),
    "rows of 4,000 cells declared as A1:C2": (lambda: replace_part(
        small_book(), SHEET, with_rows(inline_row(1, ["姓名", "支部"]) + b"".join(
            f'<row r="{n}">'.encode() + b"<c/>" * 4_000 + b"</row>" for n in range(2, 500)))),
        "列数太多"),
}


@pytest.fixture
def config_path(tmp_path, monkeypatch) -> Path:
    for name in [n for n in os.environ if n.startswith("QINGFENG_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "config.toml"
    path.write_text('[store]\npath = "roster.db"\n', encoding="utf-8")
    return path


@pytest.fixture(params=sorted(CRAFTED))
def crafted(request, tmp_path) -> tuple[Path, str]:
    build, words = CRAFTED[request.param]
    path = tmp_path / "名册.xlsx"
    path.write_bytes(build())
    assert path.stat().st_size < roster.MAX_FILE_BYTES  # under the file limit: the work is not
    return path, words


def test_the_cli_refuses_a_crafted_xlsx_in_one_line(config_path, crafted):
    path, words = crafted
    started = time.monotonic()
    result = import_file(config_path, path)
    assert_clean_failure(result)
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert time.monotonic() - started < 10
    assert member_count(config_path) == 0


def test_the_console_refuses_a_crafted_xlsx(services, client, crafted):
    path, words = crafted
    make_account(services, "root")
    login(client, "root")
    before = services.store.db.execute("SELECT count(*) FROM members").fetchone()[0]
    response = client.post("/admin/members/import",
                           data={"csrf_token": token(client),
                                 "file": (io.BytesIO(path.read_bytes()), "名册.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert words in response.get_data(as_text=True)
    assert services.store.db.execute("SELECT count(*) FROM members").fetchone()[0] == before
    folder = Path(services.store.path).parent / "uploads"
    assert not any(folder.glob("roster-*"))  # the refused upload is not kept


def test_a_roster_at_the_limits_is_read(tmp_path):
    """5,000 rows of 30 columns, with blank rows between: read whole, nothing cut."""
    rows = [inline_row(1, ["姓名", "支部"] + [f"列{n}" for n in range(3, 31)])]
    for n in range(2, 5_002):
        rows.append(inline_row(n * 2, [f"成员{n}", "第三党支部"] + ["x"] * 28))
    path = tmp_path / "r.xlsx"
    path.write_bytes(replace_part(small_book(), SHEET, with_rows(b"".join(rows), "A1:AD10004")))
    table = roster.read_table(path)
    assert len(table) == 5_000 and table[-1]["name"] == "成员5001"


# --- CSV: the same limits and words as XLSX (issue 11 §4: it had no column limit) ----------

def csv_text(rows: list[list[str]]) -> bytes:
    return "".join(",".join(row) + "\n" for row in rows).encode("utf-8")


HEAD = ["姓名", "支部"]
CRAFTED_CSV = {
    "a value in column 31": (lambda: csv_text([HEAD, ["郑强", "第三党支部"] + [""] * 28 + ["多余"]]),
                             "列数太多"),
    "40 named columns": (lambda: csv_text([HEAD + [f"列{n}" for n in range(3, 41)]]), "列数太多"),
    "a row of 4,000 empty cells": (lambda: csv_text([HEAD, ["郑强", "第三党支部"] + [""] * 4_000]),
                                   "列数太多"),
    "5,001 rows": (lambda: csv_text([HEAD] + [[f"成员{n}", "第三党支部"] for n in range(5_001)]),
                   "行数太多"),
    "a million blank lines": (lambda: csv_text([HEAD, ["郑强", "第三党支部"]]) + b"\n" * 1_000_000,
                              "行数太多"),
}


@pytest.fixture(params=sorted(CRAFTED_CSV))
def crafted_csv(request, tmp_path) -> tuple[Path, str]:
    build, words = CRAFTED_CSV[request.param]
    path = tmp_path / "名册.csv"
    path.write_bytes(build())
    assert path.stat().st_size < roster.MAX_FILE_BYTES
    return path, words


def test_the_cli_refuses_a_csv_beyond_the_limits_in_one_line(config_path, crafted_csv):
    path, words = crafted_csv
    result = import_file(config_path, path)
    assert_clean_failure(result)
    assert words in result.stderr and roster.KEEP_ONLY in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert member_count(config_path) == 0


def test_the_console_refuses_a_csv_beyond_the_limits(services, client, crafted_csv):
    path, words = crafted_csv
    make_account(services, "root")
    login(client, "root")
    before = services.store.db.execute("SELECT count(*) FROM members").fetchone()[0]
    response = client.post("/admin/members/import",
                           data={"csrf_token": token(client),
                                 "file": (io.BytesIO(path.read_bytes()), "名册.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and words in response.get_data(as_text=True)
    assert services.store.db.execute("SELECT count(*) FROM members").fetchone()[0] == before


def test_a_csv_at_the_limits_is_read(tmp_path):
    """5,000 rows of 30 columns (trailing empty cells beyond them allowed, as Excel writes)."""
    rows = [HEAD + [f"列{n}" for n in range(3, 31)]]
    rows += [[f"成员{n}", "第三党支部"] + ["x"] * 28 + ["", ""] for n in range(5_000)]
    path = tmp_path / "r.csv"
    path.write_bytes(csv_text(rows) + b"\n" * 100)
    table = roster.read_table(path)
    assert len(table) == 5_000 and table[-1]["name"] == "成员4999"
