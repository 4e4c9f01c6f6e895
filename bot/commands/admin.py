"""`python -m bot admin ...`: console accounts (create, list, passwd, disable, enable).

The password is asked twice at a terminal; scripts and CI (no terminal) pass it on stdin with
--password-stdin or in QINGFENG_ADMIN_PASSWORD. It is never an argument: arguments end up in
shell history and `ps`.
"""

from __future__ import annotations

import os
import sys

import click

from bot.cli import Ctx, pass_ctx
from bot.cli_help import choices_help
from bot.console import accounts
from bot.store import admins

PASSWORD_ENV = "QINGFENG_ADMIN_PASSWORD"  # noqa: S105 (the variable's name)


@click.group("admin")
def group() -> None:
    """管理后台（网页 /admin）的账号。"""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException("标准输入中没有密码")
        return line.rstrip("\r\n")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise click.ClickException(
            f"没有终端可以输入密码：请用 --password-stdin 从标准输入提供，或设置环境变量 {PASSWORD_ENV}")
    return click.prompt("密码", hide_input=True, confirmation_prompt="再输入一次密码")


def _run(ctx: Ctx, change, **kwargs) -> None:  # noqa: ANN001 (an accounts function)
    services = ctx.services
    try:
        with services.store.transaction() as db:
            change(db, actor="cli", at=services.clock.now(), **kwargs)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None


@group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(admins.ROLES), default="admin", show_default=True,
              help="角色（" + choices_help(admins.ROLE_NAMES) + "）。")
@click.option("--branch", help="支部书记管理的支部（--role secretary 时必填）。")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行）。")
@pass_ctx
def create(ctx: Ctx, name: str, role: str, branch: str | None, password_stdin: bool) -> None:
    """新建一个后台账号（密码在终端输入两次，或用 --password-stdin）。"""
    password = _password(password_stdin)
    _run(ctx, accounts.create, name=name, password=password, role=role, branch=branch)
    where = f"，管理 {branch}" if role == "secretary" else ""
    click.echo(f"已创建账号 {name}（{admins.ROLE_NAMES[role]}{where}）。登录地址：/admin")


@group.command("list")
@pass_ctx
def list_accounts(ctx: Ctx) -> None:
    """列出后台账号。"""
    rows = admins.all_admins(ctx.services.store.db)
    if not rows:
        click.echo("还没有账号。用 python -m bot admin create 姓名 创建第一个管理员。")
    for a in rows:
        state = "正常" if a.active else "已停用"
        last = (a.last_login_at or "从未登录")[:16].replace("T", " ")
        click.echo(f"{a.name}  {admins.ROLE_NAMES[a.role]}  {a.branch or '全部支部'}  {state}  "
                   f"最近登录：{last}")


@group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行）。")
@pass_ctx
def passwd(ctx: Ctx, name: str, password_stdin: bool) -> None:
    """设置新密码（该账号已登录的会话随即失效）。"""
    if admins.by_name(ctx.services.store.db, name) is None:
        raise click.ClickException(f"没有名为 {name} 的账号")
    _run(ctx, accounts.reset_password, name=name, password=_password(password_stdin))
    click.echo(f"已为 {name} 设置新密码，已登录的会话需重新登录。")


@group.command("disable")
@click.argument("name")
@pass_ctx
def disable(ctx: Ctx, name: str) -> None:
    """停用一个账号（其已登录的会话随即失效）。"""
    _run(ctx, accounts.set_active, name=name, active=False)
    click.echo(f"已停用账号 {name}。")


@group.command("enable")
@click.argument("name")
@pass_ctx
def enable(ctx: Ctx, name: str) -> None:
    """重新启用一个已停用的账号。"""
    _run(ctx, accounts.set_active, name=name, active=True)
    click.echo(f"已启用账号 {name}。")
