"""操作日志: the audit table, newest first, filtered by who and what, a page at a time."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from bot.console.base import db, pager, route

PAGE_SIZE = 50


def _filters() -> tuple[str, list[str]]:
    where, params = ["1 = 1"], []
    actor = request.args.get("actor", "").strip()[:64]
    action = request.args.get("action", "").strip()[:64]
    if actor:
        where.append("actor LIKE ? ESCAPE '\\'")
        params.append("%" + _escape(actor) + "%")
    if action:
        where.append("action LIKE ? ESCAPE '\\'")
        params.append(_escape(action) + "%")
    return " AND ".join(where), params


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@route("/audit", admin_only=True)
def audit() -> ResponseReturnValue:
    where, params = _filters()
    total = db().execute(f"SELECT count(*) FROM audit WHERE {where}", params).fetchone()[0]
    page = pager(total, PAGE_SIZE)
    rows = list(db().query(
        f"SELECT at, actor, action, detail FROM audit WHERE {where} ORDER BY id DESC"
        " LIMIT ? OFFSET ?", [*params, page.size, page.offset]))
    actions = [r[0] for r in db().execute("SELECT DISTINCT action FROM audit ORDER BY action")]
    return render_template("console/audit.html", rows=rows, pager=page, actions=actions,
                           actor=request.args.get("actor", ""),
                           action=request.args.get("action", ""))
