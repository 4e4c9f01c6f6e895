"""账号: console accounts, for admins only: create, reset a password, disable, role and branch.

The rules (names, password policy, the last admin) live in accounts.py, shared with the CLI.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot.console import accounts
from bot.console.base import actor, db, route, services
from bot.store import admins


def branches() -> list[str]:
    return [r[0] for r in db().execute("SELECT DISTINCT branch FROM members ORDER BY branch")]


@route("/accounts", admin_only=True, endpoint="accounts")
def accounts_page() -> ResponseReturnValue:
    return render_template("console/accounts.html", accounts=admins.all_admins(db()),
                           branches=branches(), roles=admins.ROLES)


def _change(change, done: str, **kwargs) -> ResponseReturnValue:  # noqa: ANN001
    store = services().store
    try:
        with store.transaction() as tx:
            change(tx, actor=actor(), at=services().clock.now(), **kwargs)
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.accounts")), 303
    flash(done, "ok")
    return redirect(url_for("console.accounts")), 303


@route("/accounts", methods=("POST",), admin_only=True, endpoint="accounts_create")
def accounts_create() -> ResponseReturnValue:
    form = request.form
    return _change(accounts.create, f"已创建账号 {form.get('name', '').strip()}",
                   name=form.get("name", ""), password=form.get("password", ""),
                   role=form.get("role", ""), branch=form.get("branch"))


@route("/accounts/<name>/password", methods=("POST",), admin_only=True,
       endpoint="accounts_password")
def accounts_password(name: str) -> ResponseReturnValue:
    return _change(accounts.reset_password, f"已为 {name} 设置新密码（其已登录的会话已失效）",
                   name=name, password=request.form.get("password", ""))


@route("/accounts/<name>/active", methods=("POST",), admin_only=True,
       endpoint="accounts_active")
def accounts_active(name: str) -> ResponseReturnValue:
    active = request.form.get("active") == "1"
    return _change(accounts.set_active, f"已{'启用' if active else '停用'}账号 {name}",
                   name=name, active=active)


@route("/accounts/<name>/role", methods=("POST",), admin_only=True,
       endpoint="accounts_role")
def accounts_role(name: str) -> ResponseReturnValue:
    return _change(accounts.set_role, f"已修改 {name} 的角色和支部", name=name,
                   role=request.form.get("role", ""), branch=request.form.get("branch"))
