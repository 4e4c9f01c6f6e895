"""操作日志: the audit table, newest first, filtered by who and what, a page at a time.

Rows keep codes; each is shown as one Chinese sentence from bot/audit_text.py. The filters take
what a person types or picks (张书记, 命令行; an action's Chinese name) while the query string
keeps the codes (?action=roster+import).
"""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from bot import audit_text
from bot.console.base import db, pager, route, services

PAGE_SIZE = 50


def _filters() -> tuple[str, list[str]]:
    where, params = ["1 = 1"], []
    actor = request.args.get("actor", "").strip()[:64]
    action = request.args.get("action", "").strip()[:64]
    if actor:
        where.append("(actor LIKE ? ESCAPE '\\' OR actor = ?)")
        params += ["%" + _escape(actor) + "%", audit_text.actor_code(actor) or ""]
    if action in audit_text.ACTIONS:
        codes = audit_text.codes_named_like(action)
        where.append(f"action IN ({', '.join('?' * len(codes))})")
        params += codes
    elif action:  # a code typed into the address (an operator's prefix search)
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
    rows = db().query(
        f"SELECT at, actor, action, detail FROM audit WHERE {where} ORDER BY id DESC"
        " LIMIT ? OFFSET ?", [*params, page.size, page.offset])
    year = services().clock.today().year
    entries = [audit_text.describe(row, year) for row in rows]
    codes = [r[0] for r in db().execute("SELECT DISTINCT action FROM audit")]
    return render_template("console/audit.html", entries=entries, pager=page,
                           actions=audit_text.action_choices(codes),
                           actor=request.args.get("actor", ""),
                           action=request.args.get("action", ""))
