"""What a handler may use: the open transaction, the clock, the settings, the sender."""

from __future__ import annotations

from dataclasses import dataclass
from re import Match

import sqlite_utils

from bot.clock import Clock
from bot.config import Config
from bot.store.members import Member


@dataclass
class Context:
    db: sqlite_utils.Database  # inside the message's transaction: effects commit with the reply
    clock: Clock
    config: Config
    member: Member | None      # None until the sender is bound to a roster member
    channel: str
    user: str
    match: Match[str] | None = None  # the route's regex match, when it matched by pattern
