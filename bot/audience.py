"""Who a broadcast is for, and how each of them is reached.

An audience is a small JSON-able dict: {"all": true}, or any of {"branches": [...]},
{"groups": [...]}, {"members": [ids]}, {"roles": [...]} (their union).

A group belongs to its branch: every branch may have a 「第一党小组」, so a group is written
"支部/党小组" (GROUP_SEPARATOR), e.g. "第一党支部/第一党小组", in stored audiences, on the
command line, in chat, in content/tasks/*.toml and in the console's form values (there as
"group:第一党支部/第一党小组"); pages show it as 「第一党支部 · 第一党小组」 (group_label).
A bare name ("第一党小组") is what older data and files hold: `resolve` turns it into the
qualified form when exactly one branch has a group of that name and refuses it, naming the
candidates, when several do. A bare name still stored (from before the upgrade, and ambiguous
since) keeps its old meaning, every group of that name, and `stored_problems` reports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from bot.store import members as store_members

SELECTORS = ("all", "branches", "groups", "members", "roles")
GROUP_SEPARATOR = "/"
SHOWN_CANDIDATES = 10  # known names listed in an error, at most
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
    """In Chinese, for previews: 全体党员 / 第一党支部、第二党支部 / 第一党支部 · 第一党小组 /
    3 名党员."""
    if audience.get("all"):
        return "全体党员"
    parts = []
    parts += audience.get("branches", [])
    parts += [group_label(str(g)) for g in audience.get("groups", [])]
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
            or in_groups(member, audience.get("groups", ()))
            or member.role in audience.get("roles", ())
            or member.id in {int(i) for i in audience.get("members", ())})


def in_groups(member: store_members.Member, groups: Iterable[str]) -> bool:
    """Whether one of these groups is the member's: "支部/党小组" names exactly theirs; a bare
    name (older data, see the module's docstring) every group of that name."""
    if not member.grp:
        return False
    names = set(groups)
    return group_ref(member.branch, member.grp) in names or member.grp in names


# --- naming a group ----------------------------------------------------------------------------

def group_ref(branch: str, grp: str) -> str:
    """The one spelling of a group: "第一党支部/第一党小组"."""
    return f"{branch}{GROUP_SEPARATOR}{grp}"


def split_group(ref: str) -> tuple[str, str]:
    """("第一党支部", "第一党小组") from "第一党支部/第一党小组"; ("", name) for a bare name.
    Branch names never hold the separator (the roster refuses it); group names may."""
    branch, separator, grp = ref.partition(GROUP_SEPARATOR)
    return (branch, grp) if separator else ("", ref)


def group_label(ref: str) -> str:
    """For pages and messages: 「第一党支部 · 第一党小组」 (a bare name as it is)."""
    branch, grp = split_group(ref)
    return f"{branch} · {grp}" if branch else grp


def member_group(member: store_members.Member) -> str:
    """The member's group as a reference ("" when they are in none)."""
    return group_ref(member.branch, member.grp) if member.grp else ""


def ambiguity(name: str, refs: Sequence[str]) -> str:
    return f"有 {len(refs)} 个党小组叫“{name}”：{'、'.join(refs)}，请写明支部"


def resolve_group(db: sqlite_utils.Database, text: str, *, within: str | None = None,
                  keep_unknown: bool = False) -> str:
    """The qualified reference of a group written "支部/党小组" or by its name alone: unique
    among the groups the writer may address (`within` a secretary's branch, else every
    branch's; active members' groups). AudienceError, in Chinese, when it names several
    (naming them) or none (unless keep_unknown: then it is returned as written). Whether a
    qualified group is inside `within` is the caller's scope check."""
    text = str(text).strip().replace("／", GROUP_SEPARATOR)
    if not text:
        raise AudienceError("党小组名称不能为空")
    branch, grp = split_group(text)
    if branch and store_members.list_groups(db, branch=branch, name=grp):
        return text
    candidates = [group_ref(b, g) for b, g in store_members.list_groups(db, branch=within,
                                                                        name=text)]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise AudienceError(ambiguity(text, candidates))
    if keep_unknown:
        return text
    raise AudienceError(_unknown_group(db, branch or within or "", grp if branch else text))


def _unknown_group(db: sqlite_utils.Database, branch: str, grp: str) -> str:
    in_branch = [g for _b, g in store_members.list_groups(db, branch=branch)] if branch else []
    if in_branch:
        return f"{branch}没有党小组「{grp}」（现有：{_some(in_branch)}）"
    written = group_ref(branch, grp) if branch else grp
    known = [group_ref(b, g) for b, g in store_members.list_groups(db)]
    return f"名册里没有党小组「{written}」（现有：{_some(known)}）"


def _some(names: Sequence[str]) -> str:
    if not names:
        return "无"
    shown = "、".join(names[:SHOWN_CANDIDATES])
    return shown + (f" 等 {len(names)} 个" if len(names) > SHOWN_CANDIDATES else "")


def resolve(db: sqlite_utils.Database, audience: Mapping[str, Any], *,
            within: str | None = None, keep_unknown: bool = False) -> dict[str, Any]:
    """The audience with every group in the qualified form (see resolve_group)."""
    resolved = dict(audience)
    if isinstance(audience.get("groups"), list):
        resolved["groups"] = list(dict.fromkeys(
            resolve_group(db, g, within=within, keep_unknown=keep_unknown)
            for g in audience["groups"]))
    return resolved


def branch_of(audience: Mapping[str, Any]) -> str | None:
    """The one branch an audience is confined to by how it is written: exactly one branch, or
    groups all written "支部/党小组" of that one branch. None otherwise (everyone, several
    branches, a bare group name, members by id, roles: an admin's)."""
    if set(audience) == {"branches"}:
        branches = audience["branches"]
        return str(branches[0]) if isinstance(branches, list) and len(branches) == 1 else None
    if set(audience) == {"groups"} and isinstance(audience["groups"], list):
        owners = {split_group(str(g))[0] for g in audience["groups"]}
        if len(owners) == 1 and "" not in owners:
            return owners.pop()
    return None


def stored_problems(db: sqlite_utils.Database) -> list[str]:
    """What `init` and `config check` warn about in stored audiences (live schedules, tasks not
    removed): a group named by a name several branches have, and an audience nobody is in."""
    stored = _stored_audiences(db)
    return _ambiguous_groups(db, stored) + _unreached(db, stored)


def _unreached(db: sqlite_utils.Database,
               stored: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Audiences that match no active member: a misspelt group or branch, a group that was
    renamed, members who left. They would be sent to no one and count 0/0."""
    if not store_members.count_members(db):
        return []  # no roster yet (a first `init` before the import): nothing can match
    problems = []
    for label, audience in stored:
        if audience and not members_of(db, audience):
            problems.append(f"{label}的对象“{describe(audience)}”在名册中没有在册成员，"
                            f"不会发给任何人：请核对名称{_known_names_hint(db, audience)}")
    return problems


def _known_names_hint(db: sqlite_utils.Database, audience: Mapping[str, Any]) -> str:
    if audience.get("groups"):
        refs = [group_ref(b, g) for b, g in store_members.list_groups(db)]
        return f"（名册中的党小组：{_some(refs)}）"
    if audience.get("branches"):
        branches = [row[0] for row in db.execute(
            "SELECT DISTINCT branch FROM members WHERE active = 1 ORDER BY branch")]
        return f"（名册中的支部：{_some(branches)}）"
    return ""


def _ambiguous_groups(db: sqlite_utils.Database,
                      stored: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Stored audiences that still name a group by a name several branches have: they reach
    every such group until someone writes the branch."""
    problems = []
    for label, audience in stored:
        for name in audience.get("groups", ()):
            name = str(name)
            refs = [group_ref(b, g) for b, g in store_members.list_groups(db, name=name)]
            if GROUP_SEPARATOR not in name and len(refs) > 1:
                problems.append(f"{label}的对象“{name}”不明确，{ambiguity(name, refs)}"
                                "（现在发给所有同名党小组）")
    return problems


def _stored_audiences(db: sqlite_utils.Database) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for schedule_id, text in db.execute(
            "SELECT id, audience FROM schedules WHERE status IN ('active', 'paused') ORDER BY id"):
        found.append((f"定时消息 #{schedule_id} ", _loaded(text)))
    for month, position, title, text in db.execute(
            "SELECT month, position, title, audience FROM tasks WHERE removed = 0"
            " ORDER BY month, position"):
        found.append((f"{month} 第 {position} 项任务「{title}」", _loaded(text)))
    return found


def _loaded(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


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
