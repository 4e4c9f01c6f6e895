"""Template filters that show stored codes as the Chinese a secretary reads.

The tables themselves live with their data (one each): member roles in bot.store.members.ROLES,
console account roles in bot.store.admins.ROLE_NAMES, actors in bot.audit_text (schedule kinds:
schedules.admin.KIND_NAMES). These filters only look them up, so a template never prints
`group_leader` or `console:张书记`.
"""

from __future__ import annotations

from bot import audit_text, exports
from bot.console.base import bp
from bot.store import admins
from bot.store import members as store_members


@bp.app_template_filter("role_name")
def role_name(role: str | None) -> str:
    """A member's role (the roster's 角色): 党员, 党小组长, 支部书记, 党务干部."""
    return store_members.ROLES.get(role or "member", "其他")


@bp.app_template_filter("account_role_name")
def account_role_name(role: str | None) -> str:
    """A console account's role: 管理员 or 支部书记."""
    return admins.ROLE_NAMES.get(role or "", "其他")


@bp.app_template_filter("actor_name")
def actor_name(actor: str | None) -> str:
    """Who did something: 张书记 (an account), 命令行, 初始化, 系统定时任务."""
    return audit_text.actor_name(actor or "")


@bp.app_template_filter("channel_names")
def channel_names(channels: str | None) -> str:
    """A member's bound channels, stored codes space-separated (one per identity)."""
    return exports.channel_names((channels or "").split())
