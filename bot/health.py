"""/healthz: is the database answering? Operators and load balancers poll it."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, current_app, jsonify, redirect, url_for
from flask.typing import ResponseReturnValue

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    services = current_app.extensions["qingfeng"]
    try:
        services.store.db.execute("SELECT 1").fetchone()
    except sqlite3.Error as exc:
        return jsonify(status="error", database=str(exc)), 503
    return jsonify(status="ok", database="ok", time=services.clock.now().isoformat())


@bp.get("/")
def index() -> ResponseReturnValue:
    if "simulator" in current_app.blueprints:
        return redirect(url_for("simulator.page"))
    return jsonify(service="qingfeng", health=url_for("health.healthz"))
