"""`python -m bot checkins export`: one row per check-in of one month, as CSV or XLSX."""

from __future__ import annotations

import csv
import io
import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from bot.cli import cli
from bot.clock import SHANGHAI
from bot.config import load_config
from bot.conversation import handle_inbound
from bot.messages import Inbound
from bot.seed import add_demo_roster
from bot.services import build_services
from bot.store import members
from tests.conftest import test_config as config_for

HEADER = ["日期", "时间", "姓名", "支部", "党小组", "学习内容", "渠道"]

# Demo roster ids (bot.seed.DEMO_ROSTER): 2 = 李红梅 (第一党支部 综合处党小组),
# 6 = 杨帆 (第二党支部 业务一处党小组).
LI, YANG = "sandbox-li", "sandbox-yang"

NOVEMBER = [
    ["2026-11-01", "00:10", "李红梅", "第一党支部", "综合处党小组", "", "模拟器"],
    ["2026-11-01", "09:00", "杨帆", "第二党支部", "业务一处党小组", "", "模拟器"],
    ["2026-11-02", "12:00", "李红梅", "第一党支部", "综合处党小组", "读党章", "模拟器"],
    ["2026-11-15", "07:05", "杨帆", "第二党支部", "业务一处党小组", "学习纪律处分条例第六章",
     "模拟器"],
    ["2026-11-30", "23:30", "李红梅", "第一党支部", "综合处党小组", "", "模拟器"],
]

_keys = itertools.count(1)


@pytest.fixture(autouse=True)
def no_qingfeng_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("QINGFENG_"):
            monkeypatch.delenv(name)


@pytest.fixture
def seeded(clock, tmp_path) -> Iterator[Path]:
    """Check-ins from late October to early December; returns a config file on that database."""
    services = build_services(load_config(config_for(tmp_path), env={}), clock)
    add_demo_roster(services)
    with services.store.transaction() as db:
        members.bind_identity(db, channel="sandbox", external_id=LI, member_id=2, now=clock.now())
        members.bind_identity(db, channel="sandbox", external_id=YANG, member_id=6,
                              now=clock.now())

    def check_in(user: str, at: datetime, text: str = "打卡") -> None:
        clock.set(at)
        reply = handle_inbound(services, Inbound("sandbox", user, "text", text,
                                                 f"export-{next(_keys)}", clock.now()))
        assert reply.text.startswith("打卡成功"), reply.text

    check_in(LI, datetime(2026, 10, 30, 8, 15))
    check_in(LI, datetime(2026, 10, 31, 15, 50, tzinfo=UTC))   # 23:50 on the 31st in Shanghai
    check_in(LI, datetime(2026, 10, 31, 16, 10, tzinfo=UTC))   # 00:10 on 11-01 in Shanghai
    check_in(YANG, datetime(2026, 11, 1, 9, 0))
    check_in(LI, datetime(2026, 11, 2, 12, 0), "打卡 读党章")
    check_in(YANG, datetime(2026, 11, 15, 7, 5), "打卡：学习纪律处分条例第六章")
    check_in(LI, datetime(2026, 11, 30, 23, 30, tzinfo=SHANGHAI))
    check_in(LI, datetime(2026, 11, 30, 16, 30, tzinfo=UTC))   # 00:30 on 12-01 in Shanghai
    path = tmp_path / "config.toml"
    path.write_text('[store]\npath = "qingfeng.db"\n', encoding="utf-8")
    assert services.config.store_path == tmp_path / "qingfeng.db"
    yield path
    services.store.close()


def export(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config_path), "checkins", "export",
                                    *map(str, args)])


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_to_stdout_has_the_month_only(seeded):
    result = export(seeded, "--month", "2026-11")
    assert result.exit_code == 0, result.output
    table = csv_rows(result.stdout)
    assert table[0] == HEADER
    assert table[1:] == NOVEMBER


@pytest.mark.parametrize("month, expected", [
    ("2026-10", [["2026-10-30", "08:15", "李红梅", "第一党支部", "综合处党小组", "", "模拟器"],
                 ["2026-10-31", "23:50", "李红梅", "第一党支部", "综合处党小组", "", "模拟器"]]),
    ("2026-12", [["2026-12-01", "00:30", "李红梅", "第一党支部", "综合处党小组", "", "模拟器"]]),
    ("2026-09", []),
])
def test_other_months_and_the_shanghai_day_boundary(seeded, month, expected):
    result = export(seeded, "--month", month)
    assert result.exit_code == 0, result.output
    assert csv_rows(result.stdout) == [HEADER, *expected]


def test_csv_to_a_file_is_utf8_with_bom(seeded, tmp_path):
    out = tmp_path / "exports" / "nov.csv"
    out.parent.mkdir()
    result = export(seeded, "--month", "2026-11", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "已导出 5 条打卡记录" in result.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert csv_rows(raw.decode("utf-8-sig")) == [HEADER, *NOVEMBER]


def test_xlsx_export_reads_back(seeded, tmp_path):
    out = tmp_path / "f.xlsx"
    result = export(seeded, "--month", "2026-11", "--format", "xlsx", "--out", out)
    assert result.exit_code == 0, result.output
    assert "已导出 5 条打卡记录" in result.stderr and str(out) in result.stderr
    book = load_workbook(out)
    sheet = book.active
    assert sheet.title == "打卡 2026-11"
    assert sheet.freeze_panes == "A2"
    values = [["" if value is None else value for value in row]
              for row in sheet.iter_rows(values_only=True)]
    assert values == [HEADER, *NOVEMBER]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.column_dimensions["F"].width > sheet.column_dimensions["B"].width


def test_xlsx_of_an_empty_month_has_the_header(seeded, tmp_path):
    out = tmp_path / "deep" / "empty.xlsx"
    result = export(seeded, "--month", "2026-09", "--format", "xlsx", "--out", out)
    assert result.exit_code == 0, result.output
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert [list(row) for row in rows] == [HEADER]


def test_xlsx_without_out_is_a_clear_error(seeded, tmp_path):
    result = export(seeded, "--month", "2026-11", "--format", "xlsx")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert "--out" in result.stderr and "XLSX 需要指定文件" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.glob("*.xlsx")) == []


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "11-2026", "abc", "2026-1", "202611",
                                   "2026-11-01"])
def test_bad_month_is_a_clear_error(seeded, month):
    result = export(seeded, "--month", month)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert "--month" in result.stderr and "Traceback" not in result.stderr
    assert "Invalid value" in result.stderr


def test_unknown_format_is_refused(seeded):
    result = export(seeded, "--month", "2026-11", "--format", "xls")
    assert result.exit_code == 2
    assert "--format" in result.stderr


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_workbook_that_cannot_be_saved_leaves_nothing_open(tmp_path):
    import gc

    from bot.exports import Sheet, write_workbook

    with pytest.raises(OSError):
        write_workbook(tmp_path / "no" / "such" / "x.xlsx", [Sheet("打卡", ("姓名",), [("王",)])])
    gc.collect()  # an unclosed write-only sheet would complain here, failing the test
    assert not (tmp_path / "no").exists()
