"""The callback endpoints WeChat and WeCom POST to. A thin adapter: verify, decrypt, parse,
hand the message to `handle_inbound`, and answer in the platform's format.

Official Account modes, told apart by the query string as WeChat sends them:
plaintext (`signature` only), compatible and safe (`encrypt_type=aes&msg_signature=...`; both
answered encrypted). WeCom is always encrypted.

Replays: a captured query string's signature stays valid for the clock-skew window, so each
signed (timestamp, nonce) is remembered with a digest of its body (bot/store/nonces.py). The
same pair and body is WeChat's retry (the remembered reply, as before); the same pair with
another body is refused with 403 before the body is even parsed.

`answer()` is the whole protocol, with no web framework in it. Two doors lead to it: the Flask
views (so the routes are in the URL map like any other), and `FastWebhook`, a plain WSGI route
installed in front of the Flask app that answers GET/HEAD/POST on the two callback paths
itself. Flask's request and response machinery costs about 140 µs per request, a quarter of a
callback's whole CPU budget (docs/benchmarks.md, Webhook); everything else still goes to Flask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState

from bot import wire
from bot.conversation import handle_inbound
from bot.services import Services
from bot.store import nonces
from bot.store.nonces import Replayed, Sighting
from bot.wire import MAX_BODY_BYTES, Keys, Rejected

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)

TEXT = "text/plain; charset=utf-8"
XML = "application/xml; charset=utf-8"
PATHS = {"/wechat/mp": "mp", "/wechat/wecom": "wecom"}
REPLAYED = "timestamp and nonce already used with another body: a replayed query string"
REFUSALS = {400: "bad request", 403: "forbidden", 404: "not found", 413: "too large"}
Answer = tuple[int, str, str]  # status, content type, body


# --- the protocol ------------------------------------------------------------------------------


def answer(services: Services, channel: str, method: str, params: Mapping[str, str],
           body: Callable[[], bytes]) -> Answer:
    """The answer to one callback request; raises Rejected for anything refused.
    `body` is called only for a POST, so a GET is never made to read one."""
    keys = _keys(services, channel)
    if keys is None:
        raise Rejected(404, f"the {channel} channel is not enabled")
    # A missing or stale timestamp is a 403, before all else.
    wire.check_timestamp(params.get("timestamp"), services.clock.timestamp(),
                         services.config.get("server.max_clock_skew_s"))
    if method in ("GET", "HEAD"):
        return _verify_url(services, channel, keys, params)
    timestamp, nonce = wire.require(params, "timestamp", "nonce")
    if channel == "wecom" or params.get("encrypt_type", "raw").lower() == "aes":
        raw = body()
        seen = nonces.sighting(channel, timestamp, nonce, "POST", raw)
        return _encrypted_callback(services, keys, params, wire.parse_xml(raw), seen)
    if services.config.section("mp")["mode"] != "plain":
        # The plaintext `signature` does not cover the body and is logged on every safe-mode
        # callback: with a key configured, only an encrypted (msg_signature) POST is accepted.
        raise Rejected(403, "plaintext POST while an EncodingAESKey is configured: WeChat seems "
                            "to be in 明文模式; switch it to 安全模式 or clear mp.encoding_aes_key")
    # Official Account plaintext mode: the signature does not cover the body, so check it first.
    wire.check_signature(params.get("signature"), keys.token, timestamp, nonce)
    raw = body()
    seen = nonces.sighting(channel, timestamp, nonce, "POST", raw)
    _refuse_replay(services, seen)
    return _reply(services, wire.parse_xml(raw), encrypt_with=None, seen=seen)


def _keys(services: Services, channel: str) -> Keys | None:
    settings = services.config.section(channel)
    if not settings["enabled"]:
        return None
    receive_id = settings["app_id"] if channel == "mp" else settings["corp_id"]
    return Keys(settings["token"], settings["encoding_aes_key"] or "", receive_id)


def _verify_url(services: Services, channel: str, keys: Keys,
                params: Mapping[str, str]) -> Answer:
    if channel == "mp":
        signature, timestamp, nonce, echostr = wire.require(
            params, "signature", "timestamp", "nonce", "echostr")
        wire.check_signature(signature, keys.token, timestamp, nonce)
        answer_text = echostr
    else:
        signature, timestamp, nonce, echostr = wire.require(
            params, "msg_signature", "timestamp", "nonce", "echostr")
        wire.check_signature(signature, keys.token, timestamp, nonce, echostr)
        answer_text = wire.decrypt(keys, echostr)
    if channel == "mp" and services.config.section("mp")["mode"] == "plain":
        # Only there is a URL check's signature also a message's (a plaintext POST's): the
        # pair is remembered so a captured check cannot become one. Elsewhere it stays
        # read-only: nothing it answers depends on an unsigned value but mp's echostr echo.
        _claim_alone(services, nonces.sighting(channel, timestamp, nonce, "GET",
                                               echostr.encode()))
    return 200, TEXT, answer_text


def _claim_alone(services: Services, seen: Sighting) -> None:
    try:
        nonces.claim_alone(services.store, seen, services.clock.timestamp(),
                           nonces.keep_seconds(services.config.get("server.max_clock_skew_s")))
    except Replayed:
        raise Rejected(403, REPLAYED) from None


def _encrypted_callback(services: Services, keys: Keys, params: Mapping[str, str],
                        outer: dict[str, str], seen: Sighting) -> Answer:
    if not keys.encoding_aes_key:
        raise Rejected(403, "encrypted callback but no EncodingAESKey is configured")
    encrypted = outer.get("Encrypt", "")
    if not encrypted:
        raise Rejected(400, "encrypted mode without an <Encrypt> element")
    wire.check_signature(params.get("msg_signature"), keys.token, seen.timestamp, seen.nonce,
                         encrypted)
    _refuse_replay(services, seen)
    inner = wire.parse_xml(wire.decrypt(keys, encrypted))
    return _reply(services, inner, encrypt_with=keys, seen=seen)


def _refuse_replay(services: Services, seen: Sighting) -> None:
    """A signed pair already seen with another body is a replay: refused as soon as the pair
    is authenticated, before the body is parsed or the dedupe record could answer it. Read-only;
    the claim inside handle_inbound's transaction settles a race between two deliveries."""
    if nonces.seen_digest(services.store.db, seen) not in (None, seen.digest):
        raise Rejected(403, REPLAYED)


def _reply(services: Services, fields: dict[str, str], encrypt_with: Keys | None,
           seen: Sighting) -> Answer:
    inbound = wire.to_inbound(seen.channel, fields, services.clock.tz)
    try:
        reply = handle_inbound(services, inbound, seen)
    except Replayed:
        raise Rejected(403, REPLAYED) from None
    if not reply.text:
        return 200, TEXT, "success"  # "no passive reply", and no retries
    now = services.clock.timestamp()
    xml = wire.render_text_reply(fields, reply.text, now)
    if encrypt_with is not None:
        xml = wire.encrypt_reply(encrypt_with, xml, now)
    return 200, XML, xml


def refusal(exc: Rejected, remote: str | None) -> Answer:
    # Nothing was stored; the reason goes to the log, never to the client.
    log.info("callback rejected (%s) from %s: %s", exc.status, remote, exc.reason)
    return exc.status, TEXT, REFUSALS.get(exc.status, "rejected")


# --- door 1: Flask (tests' test client without the fast route, and the URL map) -----------------


@bp.errorhandler(Rejected)
def rejected(exc: Rejected) -> Response:
    status, mimetype, text = refusal(exc, request.remote_addr)
    return Response(text, status=status, mimetype=mimetype)


@bp.route("/wechat/mp", methods=["GET", "POST"])
def official_account() -> Response:
    return _flask_answer("mp")


@bp.route("/wechat/wecom", methods=["GET", "POST"])
def wecom() -> Response:
    return _flask_answer("wecom")


def _flask_answer(channel: str) -> Response:
    services: Services = current_app.extensions["qingfeng"]
    status, mimetype, text = answer(services, channel, request.method, request.args,
                                    request.get_data)
    return Response(text, status=status, mimetype=mimetype)


# --- door 2: the thin WSGI route on the hot path ---------------------------------------------------


class FastWebhook:
    """WSGI middleware: GET/HEAD/POST on /wechat/mp and /wechat/wecom go straight to `answer`;
    every other request (and other methods on those paths) goes on to the Flask app."""

    def __init__(self, app: Callable[..., Iterable[bytes]], services: Services) -> None:
        self.app = app
        self.services = services

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        channel = PATHS.get(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD", "")
        if channel is None or method not in ("GET", "HEAD", "POST"):
            return self.app(environ, start_response)
        try:
            status, mimetype, text = answer(self.services, channel, method,
                                            _query(environ), lambda: _body(environ))
        except Rejected as exc:
            status, mimetype, text = refusal(exc, environ.get("REMOTE_ADDR"))
        except Exception:
            log.exception("callback failed on %s", environ.get("PATH_INFO"))
            status, mimetype, text = 500, TEXT, "internal error"
        data = text.encode()
        start_response(f"{status} {_REASONS.get(status, 'Error')}",
                       [("Content-Type", mimetype), ("Content-Length", str(len(data)))])
        return [b""] if method == "HEAD" else [data]


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            413: "Request Entity Too Large", 500: "Internal Server Error"}


def _query(environ: Mapping[str, Any]) -> dict[str, str]:
    # WSGI hands the raw query as latin-1 text: back to bytes, then percent-decoded as UTF-8
    # (errors replaced) as werkzeug does; the first value of a repeated name wins, as in Flask.
    raw = environ.get("QUERY_STRING", "").encode("latin-1", "replace").decode("utf-8", "replace")
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True, errors="replace"):
        params.setdefault(name, value)
    return params


def _body(environ: Mapping[str, Any]) -> bytes:
    """The request body, at most MAX_BODY_BYTES (413 beyond, without reading it all)."""
    stream = environ["wsgi.input"]
    length_text = environ.get("CONTENT_LENGTH") or ""
    if not length_text:
        # No length: a chunked body the server has de-chunked, or none at all (as werkzeug).
        if not environ.get("wsgi.input_terminated"):
            return b""
        data = stream.read(MAX_BODY_BYTES + 1)
    else:
        if not length_text.isascii() or not length_text.isdigit():
            raise Rejected(400, "malformed Content-Length")
        if int(length_text) > MAX_BODY_BYTES:
            raise Rejected(413, "body too large")
        data = stream.read(int(length_text))
    if len(data) > MAX_BODY_BYTES:
        raise Rejected(413, "body too large")
    return data


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    app: Flask = state.app
    app.wsgi_app = FastWebhook(app.wsgi_app, app.extensions["qingfeng"])  # type: ignore[method-assign]
