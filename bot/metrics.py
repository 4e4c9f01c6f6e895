"""/metrics: the service's state in Prometheus' text format, for an operator's scraper.

Only answered to a scraper on this machine (a loopback address, no proxy header): the counts
are not secret, but they are nobody else's business. The nginx site in deploy/ also refuses the
path from outside.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, current_app, request
from flask.typing import ResponseReturnValue

from bot.status import Status, collect

bp = Blueprint("metrics", __name__)
LOOPBACK = ("127.0.0.1", "::1")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    if request.remote_addr not in LOOPBACK or request.headers.get("X-Forwarded-For"):
        abort(404)
    status = collect(current_app.extensions["qingfeng"])
    return Response(render(status), content_type=CONTENT_TYPE)


def render(status: Status) -> str:
    lines: list[str] = []
    described: set[str] = set()

    def gauge(name: str, help_text: str, value: float, labels: str = "") -> None:
        if name not in described:  # HELP and TYPE once per metric, before its first sample
            described.add(name)
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name}{labels} {_number(value)}")

    gauge("qingfeng_up", "1 when the database answers.", int(status.database_ok))
    if status.database_ok:
        _state(gauge, status)
    return "\n".join(lines) + "\n"


def _state(gauge, status: Status) -> None:  # noqa: ANN001  (the closure above)
    gauge("qingfeng_schema_version", "The database's migration number.", status.schema_version)
    gauge("qingfeng_database_bytes", "Size of the database and its WAL.", status.database_bytes)
    gauge("qingfeng_scheduler_leader", "1 when some process holds the scheduler lease.",
          int(status.lease.holder is not None))
    gauge("qingfeng_members_active", "Active members on the roster.", status.members_active)
    gauge("qingfeng_checkins_today", "Check-ins recorded today.", status.checkins_today)
    gauge("qingfeng_inbound_messages", "Member messages remembered for dedupe.",
          status.inbound_total)
    gauge("qingfeng_open_alerts", "Alerts not yet acknowledged.", status.open_alerts)
    for state, count in status.deliveries.items():
        gauge("qingfeng_deliveries", "Ledger rows by state.", count, f'{{state="{state}"}}')
    if status.last_push is not None:
        gauge("qingfeng_last_push_timestamp_seconds", "When the latest broadcast was due.",
              _timestamp(status.last_push.fire_at))
    for token in status.tokens:
        labels = f'{{token="{token.name}"}}'
        gauge("qingfeng_token_quota_spent", "1 after a 45009 on the token URL.",
              int(token.quota_spent), labels)
        if token.expires_in_s is not None:
            gauge("qingfeng_token_expires_in_seconds", "Seconds until the access token expires.",
                  token.expires_in_s, labels)


def _number(value: float) -> str:
    # Whole numbers as integers (exact for timestamps and byte counts), the rest in full.
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
