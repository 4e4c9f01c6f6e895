"""Today's reading (每日纪法): one article a day, stable for the whole day, no repeats until
the rotation is used up, in the configured order."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlite_utils

from bot.config import WEEKDAYS
from bot.store import readings as store_readings
from bot.store.readings import StoredReading


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
    fresh = [r for r in candidates if r.id not in used]
    if not fresh:  # the library is used up: start again from the top
        cycle, fresh = cycle + 1, candidates
    choice = _weekly_choice(fresh, day, settings) or fresh[0]
    db.execute("INSERT INTO reading_log (day, audience, reading_id, cycle) VALUES (?, ?, ?, ?)",
               [day.isoformat(), audience, choice.id, cycle])
    return choice


def ordered(candidates: list[StoredReading], settings: Mapping[str, Any]) -> list[StoredReading]:
    """The rotation in the configured order. A shuffle is keyed by seed and slug, so adding a
    reading slots it in without reshuffling everything else."""
    if settings.get("order") == "shuffle":
        seed = str(settings.get("seed", 0))
        return sorted(candidates, key=lambda r: hashlib.sha256(f"{seed}:{r.slug}".encode()).digest())
    return list(candidates)


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
