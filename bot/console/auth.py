"""Log in and log out. A refused attempt says until when; nothing here sleeps."""

from __future__ import annotations

from datetime import datetime

from flask import g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from bot.console import passwords, throttle
from bot.console.base import bp, db, local_target, public, route, services, start_session
from bot.console.sessions import client_ip
from bot.store import admins, audit


def _policy() -> throttle.Policy:
    settings = services().config.section("console")
    return throttle.Policy(max_failures=settings["max_failures"],
                           lockout_s=settings["lockout_minutes"] * 60)


def _safe_next(target: str | None) -> str:
    return local_target(target, url_for("console.dashboard"))


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    if request.method == "GET":
        if g.get("console_user") is not None:
            return redirect(_safe_next(request.args.get("next")))
        expired = session.pop("expired", False)
        return render_template("console/login.html", error=None, name="",
                               notice="长时间未操作，已自动退出，请重新登录。" if expired else None)
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    target = _safe_next(request.args.get("next"))  # checked before the attempt is recorded
    error = _attempt(name, password)
    if error:
        return render_template("console/login.html", error=error, name=name, notice=None)
    return redirect(target)


def _attempt(name: str, password: str) -> str | None:
    """Log in, or return why not (in Chinese)."""
    clock = services().clock
    now = clock.timestamp()
    keys = throttle.keys_for(name, client_ip(bool(services().config.get("console.trust_proxy"))))
    until = throttle.refused_until(db(), keys, now)
    if until > now:
        return f"登录失败次数过多，请在 {_when(until)} 之后再试。"
    if not name or not password:
        return "请输入账号和密码。"
    account = admins.by_name(db(), name)
    ok = passwords.verify(account.password_hash if account else None, password)
    store = services().store
    with store.transaction() as tx:
        if not ok or account is None or not account.active:
            throttle.record_failure(tx, keys, now, _policy())
            audit.record(tx, actor=f"login:{name[:40]}", action="login.failed",
                         detail={"ip": keys[1][3:]}, at=clock.now())
            return "账号或密码不正确，或账号已停用。"
        throttle.record_success(tx, keys)
        admins.touch_login(tx, account.id, clock.now())
        if passwords.needs_rehash(account.password_hash):
            admins.rehash(tx, account.id, passwords.rehash(password))
        audit.record(tx, actor=f"console:{account.name}", action="login",
                     detail={"ip": keys[1][3:]}, at=clock.now())
    start_session(account)
    return None


def _when(timestamp: float) -> str:
    clock = services().clock
    return datetime.fromtimestamp(timestamp, clock.tz).strftime("%H:%M:%S")


@route("/logout", methods=("POST",))
def logout() -> ResponseReturnValue:
    with services().store.transaction() as tx:
        audit.record(tx, actor=f"console:{g.console_user.name}", action="logout", detail={},
                     at=services().clock.now())
        admins.end_sessions(tx, g.console_user.id)  # also on the account's other devices
    session.clear()
    return redirect(url_for("console.login"))
