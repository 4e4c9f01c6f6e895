"""Console accounts: create, reset a password, disable, change role or branch.

Shared by `python -m bot admin ...` and the console's Accounts page, so both validate, hash and
audit the same way. Errors are AccountError with a Chinese message for the person at the screen.
"""

from __future__ import annotations

import re
from datetime import datetime

import sqlite_utils

from bot.console import passwords
from bot.store import admins, audit

NAME_RE = re.compile(r"^[\w.\-@\u4e00-\u9fff]{2,32}$")


class AccountError(ValueError):
    pass


def _check_role(role: str, branch: str | None) -> str | None:
    if role not in admins.ROLES:
        raise AccountError("角色只能是管理员或支部书记")
    branch = (branch or "").strip() or None
    if role == "secretary" and branch is None:
        raise AccountError("支部书记账号必须指定所属支部")
    return branch if role == "secretary" else None


def create(db: sqlite_utils.Database, *, name: str, password: str, role: str,
           branch: str | None, actor: str, at: datetime) -> int:
    name = name.strip()
    if not NAME_RE.match(name):
        raise AccountError("账号名须为 2 到 32 个字符（汉字、字母、数字或 . - _ @）")
    branch = _check_role(role, branch)
    if admins.by_name(db, name) is not None:
        raise AccountError(f"账号 {name} 已存在")
    try:
        digest = passwords.hash_password(password)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc)) from None
    admin_id = admins.create(db, name=name, password_hash=digest, role=role, branch=branch, at=at)
    audit.record(db, actor=actor, action="account.create",
                 detail={"name": name, "role": role, "branch": branch}, at=at)
    return admin_id


def _existing(db: sqlite_utils.Database, name: str) -> admins.Admin:
    account = admins.by_name(db, name)
    if account is None:
        raise AccountError(f"没有名为 {name} 的账号")
    return account


def reset_password(db: sqlite_utils.Database, *, name: str, password: str, actor: str,
                   at: datetime) -> None:
    account = _existing(db, name)
    try:
        digest = passwords.hash_password(password)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc)) from None
    admins.set_password(db, account.id, digest)
    audit.record(db, actor=actor, action="account.password", detail={"name": name},
                 at=at)


def set_active(db: sqlite_utils.Database, *, name: str, active: bool, actor: str,
               at: datetime) -> None:
    account = _existing(db, name)
    if not active and account.is_admin and account.active and admins.count_active_admins(db) <= 1:
        raise AccountError("不能停用最后一个管理员账号")
    admins.set_active(db, account.id, active)
    audit.record(db, actor=actor, action="account.enable" if active else "account.disable",
                 detail={"name": name}, at=at)


def set_role(db: sqlite_utils.Database, *, name: str, role: str, branch: str | None,
             actor: str, at: datetime) -> None:
    account = _existing(db, name)
    branch = _check_role(role, branch)
    if account.is_admin and role != "admin" and account.active \
            and admins.count_active_admins(db) <= 1:
        raise AccountError("不能把最后一个管理员改成支部书记")
    admins.set_role(db, account.id, role, branch)
    audit.record(db, actor=actor, action="account.role",
                 detail={"name": name, "role": role, "branch": branch}, at=at)
