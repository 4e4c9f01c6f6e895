"""帮助 / 菜单: the short menu, also the answer to anything not understood.

The menu is not written here: each command declares its line where it is registered
(`@router.text(..., help=HelpLine(...))`, handlers/router.py), so a new command adds one
argument and the menu cannot list a command that does not exist or miss one that does.
"""

from __future__ import annotations

from bot.context import Context
from bot.messages import Inbound, Reply
from handlers.router import HelpLine, Router, router

MENU_TITLE = "清风学习助手可以帮你："
NOT_UNDERSTOOD = "抱歉，没有听懂这句话。\n"


def menu(*, admin: bool = False, registry: Router = router) -> str:
    """The menu from the registry's help lines (admins also get the admin commands)."""
    return "\n".join([MENU_TITLE, *(line.render() for line in registry.help_lines(admin=admin))])


def _menu_for(ctx: Context) -> str:
    return menu(admin=bool(ctx.member and ctx.member.is_admin))


@router.text("帮助", "菜单", "?", "help", "HELP", "Help", "功能", "怎么用", needs_member=False,
             help=HelpLine(90, "帮助", "「帮助」再看这份菜单"))
def show_menu(inbound: Inbound, ctx: Context) -> Reply:
    return Reply(_menu_for(ctx))


@router.fallback
def not_understood(inbound: Inbound, ctx: Context) -> Reply:
    return Reply(NOT_UNDERSTOOD + _menu_for(ctx))
