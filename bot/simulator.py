"""/sim: chat as a member through the sandbox channel, with no WeChat account at all.

Messages go through `handle_inbound`, the same entry point the webhook uses, so what works
here works on the phone. Pushes to the member (the sandbox inbox) appear as they arrive.
Only registered when [sandbox] is enabled: it lets anyone act as any member.
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from bot.conversation import handle_inbound
from bot.messages import Inbound
from bot.services import Services
from bot.store import members, sandbox

bp = Blueprint("simulator", __name__, url_prefix="/sim")
MAX_TEXT = 2000  # WeChat's own limit on a text message is 2,048 bytes
# A roster member ("m" + id) or a visitor from /api/visitor ("v" + hex); ASCII only, since
# str.isdigit() also accepts "²" and "١", which int() or SQLite then reject.
USER_RE = re.compile(r"m[0-9]{1,9}|v[0-9A-Za-z]{1,31}")
MAX_AFTER_DIGITS = 18  # an inbox row id; more digits would overflow SQLite's 64-bit integer


def _services() -> Services:
    return current_app.extensions["qingfeng"]


def sandbox_id(member_id: int) -> str:
    """The sandbox identity of a member: also where sandbox deliveries are addressed."""
    return f"m{member_id}"


@bp.get("")
def page() -> ResponseReturnValue:
    roster = members.list_members(_services().store.db, active_only=True)[:500]
    return render_template("sim.html", members=roster, roles=members.ROLES)


@bp.post("/api/visitor")
def new_visitor() -> ResponseReturnValue:
    """An unbound WeChat user, to try the binding flow."""
    return jsonify(user=f"v{secrets.token_hex(4)}", name="未绑定的访客")


@bp.post("/api/send")
def send() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="请求格式不对：需要 JSON"), 400
    user, text, kind = body.get("user"), body.get("text", ""), body.get("kind", "text")
    if not isinstance(user, str) or not _valid_user(user):
        return jsonify(error="请先选择一位成员"), 400
    if kind not in ("text", "subscribe") or not isinstance(text, str):
        return jsonify(error="不支持的消息类型"), 400
    text = text.strip()
    if kind == "text" and not text:
        return jsonify(error="消息不能为空"), 400
    if len(text) > MAX_TEXT:
        return jsonify(error=f"消息太长（最多 {MAX_TEXT} 字）"), 400
    services = _services()
    if not _bind_member_identity(services, user):
        return jsonify(error="名册中没有这位成员（或已停用），请刷新页面后重新选择"), 400
    now = services.clock.now()
    inbound = Inbound(
        channel="sandbox", user=user, kind="text" if kind == "text" else "event",
        event="" if kind == "text" else "subscribe", text=text if kind == "text" else "",
        dedupe_key=f"sandbox:{secrets.token_hex(12)}", at=now,
    )
    reply = handle_inbound(services, inbound)
    return jsonify(reply=reply.text, at=now.isoformat())


@bp.get("/api/inbox")
def inbox() -> ResponseReturnValue:
    user = request.args.get("user", "")
    after = request.args.get("after", "0")
    if not _valid_user(user):
        return jsonify(error="请先选择一位成员"), 400
    if not (after.isascii() and after.isdigit() and len(after) <= MAX_AFTER_DIGITS):
        return jsonify(error="参数 after 应为消息编号"), 400
    rows = sandbox.messages_for(_services().store.db, user, int(after))
    return jsonify(messages=rows)


def _valid_user(user: str) -> bool:
    return USER_RE.fullmatch(user) is not None


def _bind_member_identity(services: Services, user: str) -> bool:
    """Acting as roster member N binds the sandbox identity mN to that member (idempotent).

    False (and nothing stored) if there is no active member N; visitors pass through."""
    if not user.startswith("m"):
        return True
    member_id = int(user[1:])
    db = services.store.db
    member = members.get_member(db, member_id)
    if member is None or not member.active:
        return False
    if members.find_by_identity(db, "sandbox", user) is not None:
        return True
    with services.store.transaction() as tx:
        members.bind_identity(tx, channel="sandbox", external_id=user, member_id=member_id,
                              now=services.clock.now())
    return True
