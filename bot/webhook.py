"""The callback endpoints WeChat and WeCom POST to. A thin adapter: verify, decrypt, parse,
hand the message to `handle_inbound`, and answer in the platform's format.

Official Account modes, told apart by the query string as WeChat sends them:
plaintext (`signature` only), compatible and safe (`encrypt_type=aes&msg_signature=...`; both
answered encrypted). WeCom is always encrypted.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from bot import wire
from bot.conversation import handle_inbound
from bot.services import Services
from bot.wire import Keys, Rejected

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)

TEXT = "text/plain; charset=utf-8"
XML = "application/xml; charset=utf-8"


def _services() -> Services:
    return current_app.extensions["qingfeng"]


def _keys(section: str) -> Keys | None:
    settings = _services().config.section(section)
    if not settings["enabled"]:
        return None
    receive_id = settings["app_id"] if section == "mp" else settings["corp_id"]
    return Keys(settings["token"], settings["encoding_aes_key"] or "", receive_id)


def _check_time(timestamp: str | None) -> None:
    services = _services()
    wire.check_timestamp(timestamp, services.clock.timestamp(),
                         services.config.get("server.max_clock_skew_s"))


@bp.errorhandler(Rejected)
def rejected(exc: Rejected) -> Response:
    # Nothing was stored; the reason goes to the log, never to the client.
    log.info("callback rejected (%s) from %s: %s", exc.status, request.remote_addr, exc.reason)
    answers = {400: "bad request", 403: "forbidden", 404: "not found", 413: "too large"}
    return Response(answers.get(exc.status, "rejected"), status=exc.status, mimetype=TEXT)


@bp.route("/wechat/mp", methods=["GET", "POST"])
def official_account() -> Response:
    keys = _keys("mp")
    if keys is None:
        raise Rejected(404, "the Official Account channel is not enabled")
    params = request.args
    _check_time(params.get("timestamp"))  # a missing or stale timestamp is a 403, before all else
    if request.method == "GET":
        signature, timestamp, nonce, echostr = wire.require(
            params, "signature", "timestamp", "nonce", "echostr")
        wire.check_signature(signature, keys.token, timestamp, nonce)
        return Response(echostr, mimetype=TEXT)
    timestamp, nonce = wire.require(params, "timestamp", "nonce")
    if params.get("encrypt_type", "raw").lower() == "aes":
        outer = wire.parse_xml(request.get_data())
        return _encrypted_callback("mp", keys, outer, timestamp, nonce)
    # Plaintext mode: the signature does not cover the body, so check it before parsing.
    wire.check_signature(params.get("signature"), keys.token, timestamp, nonce)
    return _answer("mp", wire.parse_xml(request.get_data()), encrypt_with=None)


@bp.route("/wechat/wecom", methods=["GET", "POST"])
def wecom() -> Response:
    keys = _keys("wecom")
    if keys is None:
        raise Rejected(404, "the WeCom channel is not enabled")
    params = request.args
    _check_time(params.get("timestamp"))
    if request.method == "GET":
        signature, timestamp, nonce, echostr = wire.require(
            params, "msg_signature", "timestamp", "nonce", "echostr")
        wire.check_signature(signature, keys.token, timestamp, nonce, echostr)
        return Response(wire.decrypt(keys, echostr), mimetype=TEXT)
    timestamp, nonce = wire.require(params, "timestamp", "nonce")
    return _encrypted_callback("wecom", keys, wire.parse_xml(request.get_data()), timestamp, nonce)


def _encrypted_callback(channel: str, keys: Keys, outer: dict[str, str], timestamp: str,
                        nonce: str) -> Response:
    if not keys.encoding_aes_key:
        raise Rejected(403, "encrypted callback but no EncodingAESKey is configured")
    encrypted = outer.get("Encrypt", "")
    if not encrypted:
        raise Rejected(400, "encrypted mode without an <Encrypt> element")
    wire.check_signature(request.args.get("msg_signature"), keys.token, timestamp, nonce,
                         encrypted)
    inner = wire.parse_xml(wire.decrypt(keys, encrypted))
    return _answer(channel, inner, encrypt_with=keys)


def _answer(channel: str, fields: dict[str, str], encrypt_with: Keys | None) -> Response:
    services = _services()
    inbound = wire.to_inbound(channel, fields, services.clock.tz)
    reply = handle_inbound(services, inbound)
    if not reply.text:
        return Response("success", mimetype=TEXT)  # "no passive reply", and no retries
    now = services.clock.timestamp()
    xml = wire.render_text_reply(fields, reply.text, now)
    if encrypt_with is not None:
        xml = wire.encrypt_reply(encrypt_with, xml, now)
    return Response(xml, mimetype=XML)
