"""The delivery ledger: every broadcast reaches every recipient exactly once.

A broadcast has a deterministic key (schedule id + fire time, or "reading:<day>"), unique in
the store, so a second run of the same fire creates nothing. Expanding its audience writes one
row per recipient, unique on (broadcast, member), so expanding twice adds nothing. Draining
sends pending rows through their channel and records each outcome; a crash between the send and
the record leaves the row pending, and the resend carries the platform's dedupe key (WeCom's
duplicate check, the template's client_msg_id, the sandbox inbox's unique key).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from bot import audience as audiences
from bot.channels import Channel, Outcome, Outgoing
from bot.services import Services
from bot.store import alerts
from bot.store import members as store_members

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
EXPAND_CHUNK = 1000
CLAIM_LIMIT = 2000

# A text for one recipient: most broadcasts say the same to everyone; reminders carry {branch}.
TextFor = Callable[[audiences.Recipient], str]


@dataclass(frozen=True)
class BroadcastCounts:
    targeted: int
    sent: int
    pending: int
    failed: int
    undeliverable: int
    reasons: dict[str, int]  # failure or undeliverable reason -> how many


def create_broadcast(services: Services, *, key: str, text: str | TextFor,
                     audience: Mapping[str, Any], fire_at: datetime,
                     schedule_id: int | None = None) -> int:
    """Create (or find) the broadcast with this key and expand it; returns its id.

    Safe to call again for the same key: nothing is added twice.
    """
    summary = text if isinstance(text, str) else text(_sample_recipient())
    with services.store.transaction() as db:
        db.execute(
            "INSERT INTO broadcasts (key, schedule_id, fire_at, text, audience, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            [key, schedule_id, fire_at.isoformat(), summary,
             json.dumps(dict(audience), ensure_ascii=False), services.clock.now().isoformat()])
        broadcast_id, status = db.execute("SELECT id, status FROM broadcasts WHERE key = ?",
                                          [key]).fetchone()
    if status == "expanding":
        expand(services, broadcast_id, text, audience)
    return int(broadcast_id)


def _sample_recipient() -> audiences.Recipient:
    return audiences.Recipient(0, "", "本支部", "none", "")


def expand(services: Services, broadcast_id: int, text: str | TextFor,
           audience: Mapping[str, Any]) -> int:
    """One ledger row per recipient, in chunks; idempotent. Returns rows added."""
    key = services.store.db.execute("SELECT key FROM broadcasts WHERE id = ?",
                                    [broadcast_id]).fetchone()[0]
    if ROBOT_SUFFIX in key:
        return _expand_robot(services, broadcast_id, key, text, audience)
    enabled = {name: bool(services.config.get(f"{name}.enabled"))
               for name in ("wecom", "mp", "sandbox")}
    db = services.store.db
    recipients = [audiences.route(db, m, enabled) for m in audiences.members_of(db, audience)]
    added = 0
    for start in range(0, len(recipients), EXPAND_CHUNK):
        with services.store.transaction() as tx:
            for r in recipients[start:start + EXPAND_CHUNK]:
                body = text if isinstance(text, str) else text(r)
                status, error = ("pending", "") if r.channel != "none" else (
                    "undeliverable", "no channel: not bound to WeCom or the Official Account")
                added += tx.execute(
                    "INSERT INTO deliveries (broadcast_id, member_id, channel, external_id, text,"
                    " status, last_error) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (broadcast_id, member_id) DO NOTHING",
                    [broadcast_id, r.member_id, r.channel, r.external_id, body, status, error],
                ).rowcount
    with services.store.transaction() as tx:
        tx.execute("UPDATE broadcasts SET status = 'sending' WHERE id = ? AND status = 'expanding'",
                   [broadcast_id])
    return added


# A broadcast's group-robot companion: key "<broadcast key>#robot:<msgtype>". Its ledger has one
# row per branch with a robot (channel "robot", external_id "<msgtype>:<branch>"); the row's
# member is the branch's first member in the audience (the ledger needs one; the counts then
# read as branch groups). Members still get their own messages through the main broadcast.
ROBOT_SUFFIX = "#robot:"


def create_robot_broadcast(services: Services, *, key: str, text: str | TextFor,
                           audience: Mapping[str, Any], fire_at: datetime, msgtype: str,
                           schedule_id: int | None = None) -> int:
    """The group-robot companion of broadcast `key`: one group message per branch with a
    robot; exactly once like any broadcast (its key is derived from the main one)."""
    return create_broadcast(services, key=f"{key}{ROBOT_SUFFIX}{msgtype}", text=text,
                            audience=audience, fire_at=fire_at, schedule_id=schedule_id)


def _expand_robot(services: Services, broadcast_id: int, key: str, text: str | TextFor,
                  audience: Mapping[str, Any]) -> int:
    msgtype = key.rpartition(ROBOT_SUFFIX)[2]
    robots = services.config.get("robots.keys") if services.config.get("robots.enabled") else {}
    first_of: dict[str, Any] = {}
    for member in audiences.members_of(services.store.db, audience):
        first_of.setdefault(member.branch, member)
    added = 0
    with services.store.transaction() as tx:
        for branch, member in first_of.items():
            if branch not in robots:
                continue  # no group robot: its members have their own messages anyway
            body = text if isinstance(text, str) else text(
                audiences.Recipient(member.id, member.name, branch, "robot", ""))
            added += tx.execute(
                "INSERT INTO deliveries (broadcast_id, member_id, channel, external_id, text)"
                " VALUES (?, ?, 'robot', ?, ?) ON CONFLICT (broadcast_id, member_id) DO NOTHING",
                [broadcast_id, member.id, f"{msgtype}:{branch}", body]).rowcount
        tx.execute("UPDATE broadcasts SET status = 'sending' WHERE id = ? AND status = 'expanding'",
                   [broadcast_id])
    if not added and not first_of.keys() & set(robots):
        log.warning("broadcast %s: no branch in its audience has a group robot", key)
    return added


def resume_expansions(services: Services) -> None:
    """Finish broadcasts a crash left half-expanded. Scheduled fires are re-handled by their
    job with the right text first; what is left (a send-now) resumes with the stored text."""
    rows = services.store.db.execute(
        "SELECT id, audience, text FROM broadcasts WHERE status = 'expanding'").fetchall()
    for broadcast_id, audience, text in rows:
        expand(services, broadcast_id, text, json.loads(audience))


def drain(services: Services, channels: Mapping[str, Channel] | None = None, *,
          max_rounds: int = 1000, budget_s: float | None = None) -> int:
    """Send every due pending delivery; returns how many were settled (sent or given up).

    `budget_s` bounds the time spent: the scheduler drains in slices so that a long fan-out
    (an Official Account sends one call per member) never holds back the next fires; what is
    left stays pending for the next tick.
    """
    channels = channels if channels is not None else channels_of(services)
    deadline = None if budget_s is None else time.monotonic() + budget_s
    settled = 0
    for _ in range(max_rounds):
        if _past(deadline):
            break
        due = _claim_due(services)
        if not due:
            break
        for channel_name, rows in due.items():
            settled += _send_rows(services, channels.get(channel_name), channel_name, rows,
                                  deadline)
    _close_finished(services)
    return settled


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _send_rows(services: Services, channel: Channel | None, channel_name: str,
               rows: list[Outgoing], deadline: float | None) -> int:
    if channel is None:
        return _record(services, [Outcome(r.delivery_id, "undeliverable",
                                          f"channel {channel_name} is not enabled")
                                  for r in rows], {})
    by_id = {r.delivery_id: r for r in rows}
    settled = 0
    for start in range(0, len(rows), channel.batch_size):
        if _past(deadline):
            break
        batch = rows[start:start + channel.batch_size]
        settled += _record(services, channel.send(batch), by_id)
    return settled


def _claim_due(services: Services) -> dict[str, list[Outgoing]]:
    rows = services.store.db.execute(
        "SELECT id, member_id, channel, external_id, text, broadcast_id FROM deliveries"
        " WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        [services.clock.timestamp(), CLAIM_LIMIT]).fetchall()
    due: dict[str, list[Outgoing]] = defaultdict(list)
    for delivery_id, member_id, channel, external_id, text, broadcast_id in rows:
        due[channel].append(Outgoing(delivery_id, member_id, external_id, text,
                                     key=f"qf-b{broadcast_id}-m{member_id}"))
    return due


def _record(services: Services, outcomes: list[Outcome],
            by_id: Mapping[int, Outgoing]) -> int:
    """Write a batch's outcomes in one transaction; returns how many rows are now final."""
    now = services.clock.now()
    # One jitter for the whole batch: rows that failed in one call come due together and go
    # out again as the very same call, which is what WeCom's duplicate check recognises.
    jitter = random.uniform(0.5, 1.5)
    settled = 0
    with services.store.transaction() as db:
        for outcome in outcomes:
            settled += _apply(db, outcome, now, jitter)
            item = by_id.get(outcome.delivery_id)
            if outcome.deactivate and item is not None:
                channel = db.execute("SELECT channel FROM deliveries WHERE id = ?",
                                     [outcome.delivery_id]).fetchone()[0]
                store_members.set_identity_active(db, channel, item.external_id, False)
    return settled


def _apply(db: sqlite_utils.Database, outcome: Outcome, now: datetime,
           jitter: float | None = None) -> int:
    row = db.execute("SELECT attempts, status FROM deliveries WHERE id = ?",
                     [outcome.delivery_id]).fetchone()
    if row is None or row[1] != "pending" or outcome.status == "elsewhere":
        return 0  # settled meanwhile, or being sent, by another drain: its record stands
    # Our own throttle deferring a send is not an attempt: only the platform's failures count.
    attempts = row[0] + (0 if outcome.throttled else 1)
    status = outcome.status
    if status == "retry" and attempts >= MAX_ATTEMPTS:
        status = "failed"
    if status == "retry":
        delay = outcome.retry_after if outcome.throttled else max(outcome.retry_after,
                                                                   backoff(attempts, jitter))
        db.execute("UPDATE deliveries SET attempts = ?, last_error = ?, next_attempt_at = ?"
                   " WHERE id = ?",
                   [attempts, outcome.error, now.timestamp() + delay, outcome.delivery_id])
        return 0
    db.execute("UPDATE deliveries SET status = ?, attempts = ?, last_error = ?, sent_at = ?"
               " WHERE id = ?",
               [status, attempts, outcome.error, now.isoformat() if status == "sent" else None,
                outcome.delivery_id])
    return 1


def backoff(attempts: int, jitter: float | None = None) -> float:
    """Exponential with jitter: 2, 4, 8, ... seconds (capped at 10 min), times 0.5-1.5
    (`jitter`, or a fresh random factor)."""
    factor = random.uniform(0.5, 1.5) if jitter is None else jitter
    return min(600.0, 2.0 ** attempts) * factor


def _close_finished(services: Services) -> None:
    with services.store.transaction() as db:
        finished = [row[0] for row in db.execute(
            "SELECT id FROM broadcasts WHERE status = 'sending' AND NOT EXISTS"
            " (SELECT 1 FROM deliveries d WHERE d.broadcast_id = broadcasts.id"
            " AND d.status = 'pending')").fetchall()]
        for broadcast_id in finished:
            db.execute("UPDATE broadcasts SET status = 'done' WHERE id = ?", [broadcast_id])
            _alert_if_failed(db, broadcast_id, services.clock.now())


def _alert_if_failed(db: sqlite_utils.Database, broadcast_id: int, now: datetime) -> None:
    """A broadcast that ends with platform failures is an operator's business (undeliverable
    rows are members' own state: unbound, unsubscribed; they are in the counts, not alerts)."""
    c = counts(db, broadcast_id)
    if not c.failed:
        return
    key = db.execute("SELECT key FROM broadcasts WHERE id = ?", [broadcast_id]).fetchone()[0]
    failed_reasons = dict(db.execute(
        "SELECT last_error, count(*) FROM deliveries WHERE broadcast_id = ? AND status = 'failed'"
        " GROUP BY last_error ORDER BY count(*) DESC LIMIT 3", [broadcast_id]).fetchall())
    reasons = "；".join(f"{n} 人：{why}" for why, n in failed_reasons.items())
    alerts.raise_alert(db, kind="broadcast_failed", channel=f"broadcast:{broadcast_id}",
                       detail=f"群发 {key} 已结束：应发 {c.targeted}，送达 {c.sent}，"
                              f"失败 {c.failed}（{reasons}）", at=now)


def counts(db: sqlite_utils.Database, broadcast_id: int) -> BroadcastCounts:
    by_status = dict(db.execute(
        "SELECT status, count(*) FROM deliveries WHERE broadcast_id = ? GROUP BY status",
        [broadcast_id]).fetchall())
    reasons = dict(db.execute(
        "SELECT last_error, count(*) FROM deliveries WHERE broadcast_id = ?"
        " AND status IN ('failed', 'undeliverable') GROUP BY last_error", [broadcast_id]).fetchall())
    return BroadcastCounts(
        targeted=sum(by_status.values()), sent=by_status.get("sent", 0),
        pending=by_status.get("pending", 0), failed=by_status.get("failed", 0),
        undeliverable=by_status.get("undeliverable", 0), reasons=reasons)


def channels_of(services: Services) -> dict[str, Channel]:
    """This process's channel adapters, built once."""
    if services.channels is None:
        services.channels = build_channels(services)
    return services.channels


def build_channels(services: Services) -> dict[str, Channel]:
    """The enabled channels, each built once per process."""
    from bot.channels.sandbox import SandboxChannel
    from bot.channels.tokens import SQLiteSessionStorage
    from bot.channels.wechat import OfficialAccountChannel, WeComChannel

    config = services.config
    channels: dict[str, Channel] = {}
    storage = SQLiteSessionStorage(services.store, services.clock)
    if config.get("sandbox.enabled"):
        channels["sandbox"] = SandboxChannel(services.store, services.clock)
    if config.get("wecom.enabled") and config.get("wecom.secret"):
        channels["wecom"] = WeComChannel(config.section("wecom"), storage, services.clock)
    if config.get("mp.enabled") and config.get("mp.app_secret"):
        channels["mp"] = OfficialAccountChannel(config.section("mp"), storage)
    if config.get("robots.enabled"):
        from bot.channels.robot import RobotChannel

        channels["robot"] = RobotChannel(config.section("robots"), services.store, services.clock)
    return channels
