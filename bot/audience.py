"""Who a broadcast is for, and how each of them is reached.

An audience is a small JSON-able dict: {"all": true}, or any of {"branches": [...]},
{"groups": [...]}, {"members": [ids]}, {"roles": [...]} (their union).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from bot.store import members as store_members

SELECTORS = ("all", "branches", "groups", "members", "roles")
REAL_CHANNELS = ("wecom", "mp")  # preferred in this order when a member has both


class AudienceError(ValueError):
    """An audience that names nothing, or names something that does not exist."""


@dataclass(frozen=True)
class Recipient:
    member_id: int
    name: str
    branch: str
    channel: str       # "wecom", "mp", "sandbox", or "none" (no way to reach them)
    external_id: str


def validate(audience: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(audience) - set(SELECTORS)
    if unknown or not audience:
        raise AudienceError(f"an audience is one or more of {', '.join(SELECTORS)}")
    if audience.get("all") not in (None, True):
        raise AudienceError('"all" must be true')
    for key in SELECTORS[1:]:
        value = audience.get(key)
        if value is not None and (not isinstance(value, list) or not value):
            raise AudienceError(f"{key} must be a non-empty list")
    return dict(audience)


def describe(audience: Mapping[str, Any]) -> str:
    """In Chinese, for previews: 全体党员 / 第一党支部、第二党支部 / 3 名党员."""
    if audience.get("all"):
        return "全体党员"
    parts = []
    parts += audience.get("branches", [])
    parts += audience.get("groups", [])
    if audience.get("roles"):
        parts += [store_members.ROLES.get(r, r) for r in audience["roles"]]
    if audience.get("members"):
        parts.append(f"{len(audience['members'])} 名指定党员")
    return "、".join(parts)


def includes(audience: Mapping[str, Any], member: store_members.Member) -> bool:
    """Whether the audience names this member (by branch, group, role or id), active or not."""
    if audience.get("all"):
        return True
    return (member.branch in audience.get("branches", ())
            or member.grp in audience.get("groups", ())
            or member.role in audience.get("roles", ())
            or member.id in {int(i) for i in audience.get("members", ())})


def members_of(db: sqlite_utils.Database, audience: Mapping[str, Any]) -> list[store_members.Member]:
    """Active members in the audience, each once."""
    everyone = store_members.list_members(db, active_only=True)
    if audience.get("all"):
        return everyone
    return [m for m in everyone if includes(audience, m)]


def route(db: sqlite_utils.Database, member: store_members.Member,
          enabled: Mapping[str, bool]) -> Recipient:
    """The channel a member is reached on: a real one they are bound to, else the sandbox."""
    identities = {channel: external for channel, external, active
                  in store_members.identities_of(db, member.id) if active}
    for channel in REAL_CHANNELS:
        if enabled.get(channel) and channel in identities:
            return Recipient(member.id, member.name, member.branch, channel, identities[channel])
    if enabled.get("sandbox"):
        return Recipient(member.id, member.name, member.branch, "sandbox", f"m{member.id}")
    return Recipient(member.id, member.name, member.branch, "none", "")
