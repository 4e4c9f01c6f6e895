"""/healthz: is the service able to serve members, and what state is it in?

Load balancers and monitors poll it: 200 while the database answers, 503 when it does not. The
body says more for a person reading it: the scheduler lease, the last push, access tokens (their
expiry, never their value), open alerts.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, current_app, jsonify, redirect, url_for
from flask.typing import ResponseReturnValue

from bot.status import Lease, Status, collect

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    status = collect(current_app.extensions["qingfeng"], with_counts=False)
    return jsonify(_body(status)), 200 if status.healthy else 503


def _body(status: Status) -> dict:
    if not status.database_ok:
        return {"status": "error", "database": status.database_error,
                "time": status.now.isoformat()}
    return {
        "status": "ok",
        "database": "ok",
        "time": status.now.isoformat(),
        "schema_version": status.schema_version,
        "scheduler": _scheduler(status.lease),
        "last_push": asdict(status.last_push) if status.last_push else None,
        "tokens": [asdict(token) for token in status.tokens],
        "open_alerts": status.open_alerts,
    }


def _scheduler(lease: Lease) -> dict:
    """Who runs the scheduler. "leader" names a holder only while its heartbeat is fresh: a
    worker killed with -9 keeps its lease row until it expires, and must not be reported as
    running the pushes meanwhile ("leader_state": "unknown", "last_leader" names it)."""
    return {
        "leader": lease.holder if lease.state == "ok" else None,
        "leader_state": lease.state,
        "leader_text": _leader_text(lease),
        "last_leader": lease.holder,
        "heartbeat_age_s": lease.heartbeat_age_s,
        "heartbeat_overdue_after_s": lease.overdue_after_s,
        "held_for_s": lease.held_for_s,
        "lease_expires_in_s": lease.expires_in_s,
    }


def _leader_text(lease: Lease) -> str:
    if lease.state == "none":
        return "无：没有进程持有调度租约（定时推送暂停，直到某个进程接手）"
    age = f"上次心跳 {lease.heartbeat_age_s:g} 秒前"
    if lease.state == "unknown":
        return (f"未知：{lease.holder} {age}，已超过 {lease.overdue_after_s:g} 秒，可能已停止；"
                f"租约 {lease.expires_in_s:g} 秒后到期，届时由其他进程接手")
    return f"{lease.holder}（{age}，已领导 {lease.held_for_s:g} 秒）"


@bp.get("/")
def index() -> ResponseReturnValue:
    if "simulator" in current_app.blueprints:
        return redirect(url_for("simulator.page"))
    return jsonify(service="qingfeng", health=url_for("health.healthz"))
