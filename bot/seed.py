"""`python -m bot init`: the schema, the default content and, on an empty roster, demo members."""

from __future__ import annotations

from dataclasses import dataclass

from bot.library import Library, load_library
from bot.library_sync import SyncReport, sync_library
from bot.services import Services
from bot.store import audit, members

# Clearly marked demo data (members.demo = 1), so the sandbox has someone to chat as. A real
# roster import does not touch these rows; `members list` shows them tagged 演示.
DEMO_ROSTER: tuple[tuple[str, str, str, str, str], ...] = (
    # name, branch, group, phone, role
    ("王建国", "第一党支部", "综合处党小组", "13800000001", "secretary"),
    ("李红梅", "第一党支部", "综合处党小组", "13800000002", "member"),
    ("张伟", "第一党支部", "财务处党小组", "13800000003", "group_leader"),
    ("刘芳", "第一党支部", "财务处党小组", "13800000004", "member"),
    ("陈静", "第二党支部", "业务一处党小组", "13800000005", "admin"),
    ("杨帆", "第二党支部", "业务一处党小组", "13800000006", "member"),
    ("赵磊", "第二党支部", "业务二处党小组", "13800000007", "member"),
    ("孙悦", "第二党支部", "业务二处党小组", "13800000008", "member"),
)


@dataclass(frozen=True)
class InitReport:
    schema_version: int
    demo_members_added: int
    content: SyncReport


def initialise(services: Services, *, demo: bool = True,
               library: Library | None = None) -> InitReport:
    """Idempotent: safe to run before every start (`make run` does). `library`: the content
    already loaded (the CLI loads it before opening the database), else it is loaded here.

    Raises ContentError naming the file, entry and field when content/ does not validate.
    """
    db = services.store.db
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if library is None:
        library = load_library(services.config.content_path)
    content = sync_library(services.store, library, services.clock.now())
    added = add_demo_roster(services) if demo else 0
    return InitReport(schema_version=version, demo_members_added=added, content=content)


def add_demo_roster(services: Services) -> int:
    now = services.clock.now()
    with services.store.transaction() as db:
        if members.count_members(db):
            return 0
        for name, branch, grp, phone, role in DEMO_ROSTER:
            members.add_member(db, name=name, branch=branch, grp=grp, phone=phone, role=role,
                               demo=True, now=now)
        audit.record(db, actor="init", action="demo roster",
                     detail={"members": len(DEMO_ROSTER)}, at=now)
    return len(DEMO_ROSTER)
