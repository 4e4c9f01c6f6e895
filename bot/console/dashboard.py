"""概览: today's check-in rate, the 30-day trend, branches compared, next pushes, failures."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from bot import report as reports
from bot.console import charts
from bot.console import dashboard_data as data
from bot.console.base import branch_scope, db, route, services, user
from bot.store import alerts


@route("/")
def dashboard() -> ResponseReturnValue:
    scope = branch_scope()
    clock = services().clock
    today = clock.today()
    points = data.trend(db(), scope, today)
    measured, branches = data.branch_completion(services(), scope, today)
    upcoming = data.upcoming(services(), scope)
    in_window = data.upcoming_count(services(), scope)
    return render_template(
        "console/dashboard.html",
        today=today, rate=data.checkin_rate(db(), scope, today),
        trend_svg=charts.line_chart(points, title="近 30 天打卡率", chart_id="trend"),
        branch_svg=charts.bar_chart(branches, title=measured, chart_id="branches"),
        measured=measured,
        upcoming=upcoming,
        upcoming_count=in_window,
        upcoming_hours=data.UPCOMING_HOURS,
        upcoming_note=data.upcoming_note(in_window, len(upcoming)),
        legend=reports.legend("rate"),
        failures=data.failed_deliveries(db(), scope, clock.now() - timedelta(days=30)),
        alerts=data.open_alerts(db()) if user().is_admin else [],
        meeting_warnings=_meeting_warnings(scope),
    )


def _meeting_warnings(scope: str | None) -> list:
    """组织生活 requirements not met yet, in the quarter's last weeks (bot/meetings.py)."""
    from bot import meetings
    from bot.store import members

    branches = sorted({m.branch for m in members.list_members(db(), active_only=True)
                       if scope is None or m.branch == scope})
    return meetings.quarter_warnings(db(), branches, services().clock.now())


@route("/alerts/<int:alert_id>/ack", methods=("POST",), admin_only=True)
def acknowledge_alert(alert_id: int) -> ResponseReturnValue:
    """An admin has dealt with an alert: close it (the next occurrence opens a new one)."""
    with services().store.transaction() as tx:
        try:
            alert = alerts.acknowledge(tx, alert_id, actor=f"console:{user().name}",
                                       at=services().clock.now())
        except alerts.AlertError as exc:
            flash(str(exc), "error")
        else:
            flash(f"已确认告警：{alert.title}", "ok")
    return redirect(url_for("console.dashboard"))
