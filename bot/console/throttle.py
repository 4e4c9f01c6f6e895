"""Failed-login throttling: a growing delay per failure, then a lockout.

Counted separately for the account name and for the client address, so guessing one account
from many addresses and many accounts from one address are both slowed. Nothing here sleeps:
a refused attempt is answered at once with "try again after T", which is also how the tests,
with a clock they set, see the delay.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from bot.store import admins

MAX_DELAY_S = 60
IP_FACTOR = 3  # one office address is shared by many people: it may fail more before a lockout


@dataclass(frozen=True)
class Policy:
    max_failures: int = 5
    lockout_s: float = 900.0

    def limit_for(self, who: str) -> int:
        return self.max_failures * (IP_FACTOR if who.startswith("ip:") else 1)


def delay_after(failures: int) -> float:
    """Seconds before the next attempt after `failures` consecutive failures: 0, 1, 2, 4, ..."""
    if failures <= 1:
        return 0.0
    return float(min(2 ** (failures - 2), MAX_DELAY_S))


def refused_until(db: sqlite_utils.Database, keys: list[str], now: float) -> float:
    """The moment before which an attempt for these keys is refused (<= now: allowed)."""
    until = 0.0
    for who in keys:
        state = admins.failures_of(db, who)
        slowed = state.last_at + delay_after(state.failures) if state.failures else 0.0
        until = max(until, state.locked_until, slowed)
    return until


def record_failure(db: sqlite_utils.Database, keys: list[str], now: float,
                   policy: Policy) -> None:
    for who in keys:
        state = admins.failures_of(db, who)
        # A quiet spell as long as a lockout forgives the old failures.
        count = 1 if now - state.last_at > policy.lockout_s else state.failures + 1
        locked = now + policy.lockout_s if count >= policy.limit_for(who) else state.locked_until
        admins.put_failures(db, who, admins.Failures(count, now, locked))


def record_success(db: sqlite_utils.Database, keys: list[str]) -> None:
    """Forgive the account's failures, not the address's: one valid login from an address must
    not reset the count of guesses made from it against other accounts."""
    for who in keys:
        if who.startswith("user:"):
            admins.clear_failures(db, who)


def keys_for(name: str, ip: str) -> list[str]:
    return [f"user:{name.strip().lower()}", f"ip:{ip}"]
