"""The first run: a one-time link to create the first admin account in the browser.

While no console account exists, `python -m bot serve` asks `issue` for a fresh random token and
prints the link once, on its own standard output (never through logging). The link carries the
token after "#", which browsers never send, so it is in no access log or proxy log; the setup
page's script copies it into the form, which POSTs it. Only the token's SHA-256 is stored (kv),
so a copy of the database does not hold a working link. Each start replaces the token; the
first account (made here or by `admin create`) ends it for good: `pending` is then False and the
page answers 404.

`create_first_admin` checks the token and that no account exists inside the same write
transaction that creates the account and deletes the token, so two submissions racing with
the same token create one account: the second finds an account and is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import sqlite_utils

from bot.config import Config
from bot.console import accounts
from bot.store import Store, admins, kv

SETUP_KEY = "console-setup-token"
SETUP_PATH = "/admin/setup"
ACTOR = "setup"  # the audit log's actor: 首次设置 (bot/audit_text.py)


class SetupRefused(ValueError):
    """Why a setup submission was refused, in Chinese for the person at the browser."""


WRONG_LINK = ("设置链接不正确或已过期：每次启动服务都会生成新的链接，"
              "请使用最近一次启动时屏幕上显示的完整链接。")
ALREADY_SET_UP = "已经有后台账号了，首次设置链接已失效。请直接登录，或请管理员为你创建账号。"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def accounts_exist(db: sqlite_utils.Database) -> bool:
    return db.execute("SELECT 1 FROM admin_users LIMIT 1").fetchone() is not None


def issue(store: Store) -> str | None:
    """A new token while no account exists (the previous one stops working), else None."""
    with store.transaction() as db:
        if accounts_exist(db):
            kv.delete(db, SETUP_KEY)
            return None
        token = secrets.token_urlsafe(32)
        kv.put(db, SETUP_KEY, _digest(token), None)
    return token


def pending(db: sqlite_utils.Database, now: float) -> bool:
    """The setup page exists: no account yet, and a link was issued."""
    return not accounts_exist(db) and kv.get(db, SETUP_KEY, now) is not None


def _matches(db: sqlite_utils.Database, token: str, now: float) -> bool:
    stored = kv.get(db, SETUP_KEY, now)
    return stored is not None and hmac.compare_digest(stored, _digest(token.strip()))


def create_first_admin(store: Store, *, token: str, name: str, password: str, again: str,
                       at: datetime, now: float) -> admins.Admin:
    """The first admin account, or SetupRefused / accounts.AccountError with nothing written."""
    if password != again:
        raise SetupRefused("两次输入的密码不一致，请重新输入。")
    with store.transaction() as db:
        if accounts_exist(db):
            raise SetupRefused(ALREADY_SET_UP)
        if not _matches(db, token, now):
            raise SetupRefused(WRONG_LINK)
        # The same rules as `admin create`; an AccountError rolls the transaction back.
        admin_id = accounts.create(db, name=name, password=password, role="admin", branch=None,
                                   actor=ACTOR, at=at)
        kv.delete(db, SETUP_KEY)
        account = admins.by_id(db, admin_id)
    assert account is not None
    return account


def base_url(config: Config) -> str:
    """Where a browser on this machine reaches the service (the public address when set)."""
    public = str(config.get("server.public_url") or "").rstrip("/")
    if public:
        return public
    host = str(config.get("server.host"))
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 (displayed only)
    return f"http://{host}:{config.get('server.port')}"


def setup_link(config: Config, token: str) -> str:
    return f"{base_url(config)}{SETUP_PATH}#{token}"
