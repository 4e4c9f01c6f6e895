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
    """Reports for the branch secretary."""


@group.command("month")
@click.argument("month")
@click.option("--branch", help="Only this branch (支部).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="csv",
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path),
              help="File to write (CSV: stdout if not given; XLSX needs it).")
@pass_ctx
def month(ctx: Ctx, month: str, branch: str | None, fmt: str, out: Path | None) -> None:
    """Per branch and group: 应学 / 已学 / 缺项, check-ins, quiz accuracy, months missed."""
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
