"""What the meeting chat tests share: the demo roster's ids, a 2026 moment, a member's sandbox
inbox, and the demo members bound as sandbox users m<id>."""

from __future__ import annotations

from datetime import datetime

from bot.clock import SHANGHAI
from bot.store import members

WANG, LI, ZHANG, LIU, CHEN, YANG = 1, 2, 3, 4, 5, 6


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def inbox(services, member_id: int) -> list[str]:
    return [row[0] for row in services.store.db.execute(
        "SELECT text FROM sandbox_inbox WHERE external_id = ? ORDER BY id", [f"m{member_id}"])]


def bound(services):
    """The demo members bound as sandbox users m<id> (each file's services fixture)."""
    with services.store.transaction() as db:
        for member_id in range(1, 9):
            members.bind_identity(db, channel="sandbox", external_id=f"m{member_id}",
                                  member_id=member_id, now=services.clock.now())
    return services
