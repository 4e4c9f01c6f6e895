"""/healthz: is the service able to serve members, and what state is it in?

Load balancers and monitors poll it: 200 while the database answers, 503 when it does not. The
body says more for a person reading it: the scheduler lease, the last push, access tokens (their
expiry, never their value), open alerts.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, current_app, jsonify, redirect, url_for
from flask.typing import ResponseReturnValue

from bot.status import Status, collect

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
        "scheduler": {"leader": status.lease.holder,
                      "lease_expires_in_s": status.lease.expires_in_s},
        "last_push": asdict(status.last_push) if status.last_push else None,
        "tokens": [asdict(token) for token in status.tokens],
        "open_alerts": status.open_alerts,
    }


@bp.get("/")
def index() -> ResponseReturnValue:
    if "simulator" in current_app.blueprints:
        return redirect(url_for("simulator.page"))
    return jsonify(service="qingfeng", health=url_for("health.healthz"))
