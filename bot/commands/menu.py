"""`python -m bot menu show|push`: the custom menu under the chat box."""

from __future__ import annotations

import json

import click

from bot.cli import Ctx, pass_ctx
from bot.menu import menu_data

CHANNEL_NAMES = {"mp": "公众号", "wecom": "企业微信应用"}


@click.group("menu")
def group() -> None:
    """对话框下方的自定义菜单。"""


@group.command("show")
def show() -> None:
    """显示菜单的 JSON（可粘贴到平台后台，或用来查看）。"""
    click.echo(json.dumps(menu_data(), ensure_ascii=False, indent=2))


@group.command("push")
@click.option("--channel", type=click.Choice(["mp", "wecom"]), multiple=True,
              help="设置哪个平台（mp 公众号、wecom 企业微信应用；默认为所有已启用且配置了 secret 的）。")
@pass_ctx
def push(ctx: Ctx, channel: tuple[str, ...]) -> None:
    """通过平台接口设置菜单（替换平台上现有的菜单）。"""
    from bot.channels.menu import MenuPushFailed
    from bot.channels.menu import push as push_menu
    from bot.delivery import channels_of

    available = channels_of(ctx.services)
    wanted = channel or tuple(name for name in CHANNEL_NAMES if name in available)
    if not wanted:
        raise click.ClickException("没有可用的渠道：请启用 [mp] 或 [wecom] 并设置其 secret 环境变量")
    failed = False
    for name in wanted:
        if name not in available:
            click.echo(f"{CHANNEL_NAMES[name]}：未启用或缺少 secret，跳过", err=True)
            failed = True
            continue
        try:
            push_menu(available[name], menu_data())
        except MenuPushFailed as exc:
            click.echo(f"{CHANNEL_NAMES[name]}：设置菜单失败（{exc}）", err=True)
            failed = True
        else:
            click.echo(f"{CHANNEL_NAMES[name]}：菜单已设置，成员重新进入对话后可见")
    if failed:
        raise click.ClickException("部分渠道的菜单没有设置成功，见上")
