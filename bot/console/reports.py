"""报表: the monthly study report by branch (bot.report), as a page and as XLSX or CSV.

An admin sees every branch, or picks one; a branch secretary always gets their own branch
(asking for another is refused and audited). Every download is audited: the report names people.
"""

from __future__ import annotations

import io
from typing import Any

from flask import render_template, request, send_file
from flask.typing import ResponseReturnValue

from bot import report as reports
from bot.console import charts
from bot.console.base import branch_scope, db, record, require_branch, route, services
from bot.store import tasks as store_tasks

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _this_month() -> str:
    today = services().clock.today()
    return f"{today.year}-{today.month:02d}"


def _branch_asked() -> str | None:
    """The branch to report on: the secretary's own, or the admin's pick (None = all)."""
    asked = request.args.get("branch", "").strip() or None
    scope = branch_scope()
    if scope is None:
        return asked
    if asked is not None:
        require_branch(asked, f"{asked} 的报表")
    return scope


def _load(month: str) -> reports.MonthReport:
    branch = _branch_asked()
    # A secretary whose branch has nobody on the roster yet: an empty report, not an error.
    if branch is not None and branch_scope() is not None \
            and branch not in reports.branches(db()):
        return reports.MonthReport(reports.month_of(reports.parse_month(month)[0]), branch,
                                   [], [], [], reports.Tally())
    return reports.month_report(db(), month, branch=branch, today=services().clock.today())


def _error(message: str) -> ResponseReturnValue:
    return render_template("console/error.html", title="无法生成报表", text=message,
                           code=400), 400


@route("/reports", endpoint="reports")  # the menu's endpoint; `reports` is the module
def reports_page() -> ResponseReturnValue:
    month = request.args.get("month", "") or _this_month()
    try:
        report = _load(month)
    except reports.ReportError as exc:
        return _error(str(exc))
    overview = _overview(report)
    chart = charts.bar_chart([(row["branch"], row["percent"]) for row in overview],
                             title=f"{report.month} 各支部完成率", chart_id="report-branches")
    return render_template("console/reports.html", report=report, overview=overview,
                           chart=chart,
                           rows=list(zip(reports.report_rows(report),
                                         [r.needs_attention for r in report.rows], strict=True)),
                           tasks_line=reports.tasks_line(report),
                           attention_count=reports.attention_count(report),
                           legend=reports.legend(),
                           header=reports.HEADER, months=_months(report.month),
                           branches=reports.branches(db()) if branch_scope() is None else [],
                           scope=branch_scope())


def _overview(report: reports.MonthReport) -> list[dict[str, Any]]:
    rows = []
    for place, branch, members, with_tasks, complete, rate, task_rate in \
            reports.overview_rows(report):
        rows.append({"place": place, "branch": branch, "members": members,
                     "with_tasks": with_tasks, "complete": complete,
                     "percent": None if rate == "—" else round(100 * rate, 1),
                     "task_percent": None if task_rate == "—" else round(100 * task_rate, 1)})
    return rows


def _months(current: str) -> list[str]:
    return sorted({*store_tasks.months(db()), _this_month(), current}, reverse=True)


def _download(month: str, kind: str) -> ResponseReturnValue:
    try:
        report = _load(month)
    except reports.ReportError as exc:
        return _error(str(exc))
    if kind == "xlsx":
        data, mimetype = reports.report_xlsx(report), XLSX_TYPE
    else:  # the BOM lets Excel and WPS open the CSV as UTF-8
        data, mimetype = reports.report_csv(report).encode("utf-8-sig"), "text/csv"
    with services().store.transaction():
        record("report.download", {"month": report.month, "branch": report.branch,
                                   "format": kind, "rows": len(report.rows)})
    name = f"学习情况月报-{report.month}" + (f"-{report.branch}" if report.branch else "")
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=f"{name}.{kind}", max_age=0)


@route("/reports/<month>.xlsx")
def reports_xlsx(month: str) -> ResponseReturnValue:
    return _download(month, "xlsx")


@route("/reports/<month>.csv")
def reports_csv(month: str) -> ResponseReturnValue:
    return _download(month, "csv")
