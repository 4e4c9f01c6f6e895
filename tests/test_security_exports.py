"""Exports a secretary opens in Excel or WPS: a member's text that starts like a formula stays
text (CSV injection), and `--out` writes exactly the file it names or fails in one line."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.cli import cli
from bot.config import load_config
from bot.conversation import handle_inbound
from bot.exports import Sheet, csv_text, write_workbook
from bot.messages import Inbound
from bot.seed import add_demo_roster
from bot.services import build_services
from bot.store import members
from tests.conftest import test_config as config_for

FORMULAS = ['=HYPERLINK("http://evil.example","点这里")', "+1+cmd|' /C calc'!A0", "-2+3",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "=1+1"]


@pytest.fixture(autouse=True)
def no_qingfeng_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("QINGFENG_"):
            monkeypatch.delenv(name)


@pytest.fixture
def config_path(clock, tmp_path) -> Path:
    """Member 2 checked in with a formula as the note; returns a config file on that store."""
    services = build_services(load_config(config_for(tmp_path), env={}), clock)
    add_demo_roster(services)
    with services.store.transaction() as db:
        members.bind_identity(db, channel="sandbox", external_id="m2", member_id=2,
                              now=clock.now())
    reply = handle_inbound(services, Inbound("sandbox", "m2", "text", "打卡 " + FORMULAS[0],
                                             "formula-1", clock.now()))
    assert reply.text.startswith("打卡成功"), reply.text
    services.store.close()
    path = tmp_path / "config.toml"
    path.write_text('[store]\npath = "qingfeng.db"\n', encoding="utf-8")
    return path


def export(config_path: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(config_path), "checkins", "export",
                                    "--month", "2026-11", *args])


def test_csv_cells_that_start_like_a_formula_stay_text():
    table = list(csv.reader(io.StringIO(csv_text(["备注"], [[f] for f in FORMULAS] + [[5]]))))
    assert [row[0] for row in table[1:-1]] == ["'" + f for f in FORMULAS]
    assert table[-1] == ["5"]  # numbers are untouched


def test_xlsx_cells_that_start_with_equals_are_strings_not_formulas(tmp_path):
    path = tmp_path / "x.xlsx"
    write_workbook(path, [Sheet("t", ["备注"], [[f] for f in FORMULAS])])
    sheet = load_workbook(path).worksheets[0]
    cells = [sheet.cell(row, 1) for row in range(2, len(FORMULAS) + 2)]
    assert [c.value for c in cells] == FORMULAS
    assert {c.data_type for c in cells} == {"s"}, [c.data_type for c in cells]


def test_the_cli_export_of_a_members_formula_note(config_path, tmp_path):
    result = export(config_path)
    assert result.exit_code == 0, result.output
    notes = [row[5] for row in csv.reader(io.StringIO(result.stdout))][1:]
    assert notes == ["'" + FORMULAS[0]]
    out = tmp_path / "n.xlsx"
    assert export(config_path, "--format", "xlsx", "--out", str(out)).exit_code == 0
    sheet = load_workbook(out).worksheets[0]
    notes = [c for c in sheet["F"] if c.value == FORMULAS[0]]
    assert notes and notes[0].data_type == "s"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_out_writes_exactly_the_named_file(config_path, tmp_path, fmt):
    (tmp_path / "a").mkdir()
    target = tmp_path / "a" / ".." / f"export.{fmt}"
    def files() -> set[Path]:  # but the database's own WAL files
        return {p for p in tmp_path.parent.rglob("*")
                if p.is_file() and not p.name.startswith("qingfeng.db")}

    before = files()
    result = export(config_path, "--format", fmt, "--out", str(target))
    assert result.exit_code == 0, result.output
    created = files() - before
    assert {p.resolve() for p in created} == {(tmp_path / f"export.{fmt}").resolve()}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("where", ["a directory", "inside a file", "a missing folder"])
def test_out_that_cannot_be_written_is_one_line(config_path, tmp_path, fmt, where):
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    target = {"a directory": tmp_path, "inside a file": tmp_path / "plain" / f"x.{fmt}",
              "a missing folder": tmp_path / "no" / "such" / f"x.{fmt}"}[where]
    result = export(config_path, "--format", fmt, "--out", str(target))
    if where == "a missing folder" and result.exit_code == 0:
        assert target.is_file()  # creating the folder is a fine answer too
        return
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not a traceback
    assert result.output.strip().count("\n") == 0 and "无法写入" in result.output
    assert (tmp_path / "plain").read_text(encoding="utf-8") == "x"
