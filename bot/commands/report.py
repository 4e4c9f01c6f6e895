"""`python -m bot report month YYYY-MM`: the monthly study report (bot/report.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from bot.cli import Ctx, pass_ctx


@click.group("report")
def group() -> None:
    """给支部书记的报表。"""


@group.command("month")
@click.argument("month")
@click.option("--branch", help="只统计这个支部。")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="csv",
              show_default=True, help="报表格式。")
@click.option("--out", type=click.Path(path_type=Path),
              help="写入的文件（CSV 不指定时输出到屏幕；XLSX 必须指定）。")
@pass_ctx
def month(ctx: Ctx, month: str, branch: str | None, fmt: str, out: Path | None) -> None:
    """某月（MONTH，写作 YYYY-MM）的学习情况月报。

    按支部和党小组统计：应学、已学、缺项，打卡，答题正确率，连续未完成的月数。
    """
    from bot.report import ReportError, month_report, report_csv, report_xlsx

    if fmt == "xlsx" and out is None:
        raise click.UsageError("XLSX 需要指定文件：加上 --out 文件名.xlsx")
    try:
        report = month_report(ctx.services.store.db, month, branch=branch,
                              today=ctx.services.clock.today())
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    if out is None:
        sys.stdout.write(report_csv(report))
        return
    # The BOM lets Excel and WPS open the CSV as UTF-8 (as `checkins export` does).
    data = report_xlsx(report) if fmt == "xlsx" else report_csv(report).encode("utf-8-sig")
    _write_whole(out, data)
    click.echo(f"已生成 {report.month} 学习情况报表（{len(report.rows)} 人）：{out}", err=True)


def _write_whole(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a full disk or a crash leaves the
    old file (or none), never half a report."""
    if path.is_dir():
        raise click.ClickException(f"无法写入 {path}：这是一个文件夹，请给出文件名")
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                                        prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise click.ClickException(f"无法写入 {path}：{exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise click.ClickException(f"无法写入 {path}：{exc.strerror or exc}") from None
