"""Today's reading (每日纪法): one article a day, stable for the whole day, no repeats until
the rotation is used up, in the configured order."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

import sqlite_utils

from bot.config import WEEKDAYS
from bot.store import readings as store_readings
from bot.store.readings import StoredReading

T = TypeVar("T")


def reading_for(db: sqlite_utils.Database, day: date, settings: Mapping[str, Any],
                audience: str = "all") -> StoredReading | None:
    """The reading of `day` for `audience`; picked (and logged) on first ask, then stable.

    Must run inside a transaction when it may pick: the log row makes the choice stick.
    """
    logged = db.execute("SELECT reading_id FROM reading_log WHERE day = ? AND audience = ?",
                        [day.isoformat(), audience]).fetchone()
    if logged is not None:
        return store_readings.get_reading(db, logged[0])
    candidates = ordered(store_readings.rotation(db), settings)
    if not candidates:
        return None
    cycle = _current_cycle(db, audience)
    used = {rid for (rid,) in db.execute(
        "SELECT reading_id FROM reading_log WHERE audience = ? AND cycle = ?", [audience, cycle])}
    fresh, cycle = fresh_in_cycle(candidates, used, cycle, key=lambda r: r.id)
    choice = _weekly_choice(fresh, day, settings) or fresh[0]
    db.execute("INSERT INTO reading_log (day, audience, reading_id, cycle) VALUES (?, ?, ?, ?)",
               [day.isoformat(), audience, choice.id, cycle])
    return choice


def ordered(candidates: list[StoredReading], settings: Mapping[str, Any]) -> list[StoredReading]:
    """The rotation in the configured order. A shuffle is keyed by seed and slug, so adding a
    reading slots it in without reshuffling everything else."""
    if settings.get("order") == "shuffle":
        return seeded_order(candidates, str(settings.get("seed", 0)), key=lambda r: r.slug)
    return list(candidates)


def seeded_order(items: Sequence[T], seed: str, key: Callable[[T], str]) -> list[T]:
    """A fixed shuffle keyed by seed and each item's own key (shared with the daily quiz)."""
    return sorted(items, key=lambda item: hashlib.sha256(f"{seed}:{key(item)}".encode()).digest())


def fresh_in_cycle(candidates: Sequence[T], used: Collection[Any], cycle: int,
                   key: Callable[[T], Any]) -> tuple[list[T], int]:
    """The candidates not yet used in `cycle`, in order; once the pool is used up, all of them
    again in cycle + 1. The no-repeat rule of the daily reading and the daily quiz."""
    fresh = [item for item in candidates if key(item) not in used]
    return (fresh, cycle) if fresh else (list(candidates), cycle + 1)


def _weekly_choice(fresh: list[StoredReading], day: date,
                   settings: Mapping[str, Any]) -> StoredReading | None:
    if settings.get("order") != "weekly":
        return None
    tag = settings.get("weekly_plan", {}).get(WEEKDAYS[day.weekday()])
    return next((r for r in fresh if tag in r.tags), None) if tag else None


def _current_cycle(db: sqlite_utils.Database, audience: str) -> int:
    row = db.execute("SELECT max(cycle) FROM reading_log WHERE audience = ?", [audience]).fetchone()
    return row[0] or 0


def format_reading(reading: StoredReading, day: date | None = None) -> str:
    """The message a member sees: source, version and article number always shown."""
    header = f"【每日纪法】{day:%Y年%-m月%-d日}\n" if day else ""
    marker = "（要点）" if reading.is_summary else ""
    lines = [
        f"{header}《{reading.source}》（{reading.version}年版）{reading.article_no}"
        f"　{reading.title}{marker}",
        reading.body,
    ]
    if reading.gloss:
        lines.append(f"💡 {reading.gloss}")
    return "\n".join(lines)
