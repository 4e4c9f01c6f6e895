"""The console's cookie session: a stable signing key, and cookie flags decided per request.

Flask's signed cookie session is used as is; what this module adds:
- the key: QINGFENG_SERVER_SECRET_KEY (server.secret_key) when set, else one random key made
  once and kept in the database (kv), so every gunicorn worker and every restart signs alike;
- Secure when the request came over HTTPS (X-Forwarded-Proto only if console.trust_proxy);
- HttpOnly and SameSite=Lax on the cookie (set in `configure`);
- no cookie at all in the response of a session-read-only view (base.route's
  `session_readonly`: the live preview), whatever the view did to the session.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin

from bot.services import Services
from bot.store import kv

SECRET_KV_KEY = "console:secret_key"  # noqa: S105 (the kv row name, not a secret)


def secret_key(services: Services) -> str:
    configured = services.config.get("server.secret_key")
    if configured:
        return configured
    store = services.store
    with store.transaction() as db:
        # INSERT OR IGNORE inside BEGIN IMMEDIATE: two workers starting at once agree on one key.
        db.execute("INSERT OR IGNORE INTO kv (key, value, expires_at) VALUES (?, ?, NULL)",
                   [SECRET_KV_KEY, secrets.token_hex(32)])
    value = kv.get(store.db, SECRET_KV_KEY, 0)
    assert value, "the session key was just stored"
    return value


def is_https(trust_proxy: bool) -> bool:
    if request.is_secure:
        return True
    if trust_proxy:
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
        return forwarded.lower() == "https"
    return False


def client_ip(trust_proxy: bool) -> str:
    if trust_proxy:
        # The proxy appends the address it saw: the last entry is the one we can believe.
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1]
    return request.remote_addr or "unknown"


class ConsoleSessionInterface(SecureCookieSessionInterface):
    def __init__(self, trust_proxy: bool) -> None:
        self.trust_proxy = trust_proxy

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or is_https(self.trust_proxy)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if g.get("console_session_readonly"):
            return  # the cookie the browser holds stays exactly as it is
        super().save_session(app, session, response)


def configure(app: Flask, services: Services) -> None:
    app.config["SECRET_KEY"] = secret_key(services)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "qingfeng_console"
    app.session_interface = ConsoleSessionInterface(bool(services.config.get("console.trust_proxy")))
