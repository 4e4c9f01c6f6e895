"""Alerts: things an operator must act on (token quota spent, IP not whitelisted, a token that
cannot be refreshed, a broadcast that ended with failures).

The alerts table (migration 3) has `at`, `kind` and `detail`. An alert's kind is stored as
"<kind>:<channel>" (e.g. "token_quota:wecom"), and there is at most one open alert per stored
kind: a fault that repeats on every call raises one alert, not ten thousand. Acknowledging needs
a state the shipped table lacks, so it is a kv row "alert-ack:<id>" (who and when) plus an audit
record; an acknowledged alert is closed, and the next occurrence opens a new one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from bot.store import Store, StoreBusy, audit, kv

log = logging.getLogger(__name__)
ACK_PREFIX = "alert-ack:"

# kind -> what it means, in Chinese, for the console and the CLI.
KIND_NAMES = {
    "token_quota": "平台调用凭证今日获取次数已用完（45009）",
    "token_refresh": "平台调用凭证多次获取失败",
    "ip_whitelist": "服务器 IP 不在平台白名单（40164）",
    "broadcast_failed": "群发结束时有发送失败",
    "robot_unknown": "群机器人消息发送中断，结果未知",
}

# A channel as the console names it: a channel ("wecom", "mp"), "broadcast:12", "delivery:5", or
# an app id by its prefix (wx… an Official Account, ww… a WeCom corp).
SOURCE_NAMES = {"wecom": "企业微信", "mp": "公众号", "sandbox": "沙箱", "broadcast": "群发",
                "delivery": "投递", "wx": "公众号", "ww": "企业微信"}


@dataclass(frozen=True)
class Alert:
    id: int
    at: str
    kind: str      # e.g. "token_quota"
    channel: str   # e.g. "wecom", "mp", "broadcast:12"
    detail: str
    acked_by: str | None = None
    acked_at: str | None = None

    @property
    def title(self) -> str:
        return KIND_NAMES.get(self.kind, self.kind)

    @property
    def source(self) -> str:
        """Where it happened, in Chinese: 企业微信 ww…, 公众号 wx…, 群发 #12, 投递 #5."""
        what, _, number = self.channel.partition(":")
        if number and what in SOURCE_NAMES:
            return f"{SOURCE_NAMES[what]} #{number}"
        if self.channel in SOURCE_NAMES:
            return SOURCE_NAMES[self.channel]
        app = SOURCE_NAMES.get(self.channel[:2])
        return f"{app} {self.channel}" if app else self.channel


def raise_alert(db: sqlite_utils.Database, *, kind: str, channel: str, detail: str,
                at: datetime) -> int | None:
    """Open an alert unless one is already open for this kind and channel.

    Returns the new alert's id, or None when an open one already covers it. Call inside a
    transaction (`store.transaction()`), so two processes cannot both open one.
    """
    stored = f"{kind}:{channel}"
    if _open_id(db, stored) is not None:
        return None
    cursor = db.execute("INSERT INTO alerts (at, kind, detail) VALUES (?, ?, ?)",
                        [at.isoformat(), stored, detail])
    log.error("ALERT %s: %s", stored, detail)
    return int(cursor.lastrowid)


def _open_id(db: sqlite_utils.Database, stored_kind: str) -> int | None:
    row = db.execute(
        "SELECT id FROM alerts WHERE kind = ? AND NOT EXISTS (SELECT 1 FROM kv WHERE kv.key ="
        " ? || alerts.id) ORDER BY id DESC LIMIT 1", [stored_kind, ACK_PREFIX]).fetchone()
    return None if row is None else int(row[0])


def list_alerts(db: sqlite_utils.Database, *, include_acked: bool = False,
                limit: int = 200) -> list[Alert]:
    """Newest first; open ones only unless include_acked. For the console and the CLI."""
    rows = db.execute(
        "SELECT a.id, a.at, a.kind, a.detail, k.value FROM alerts a"
        " LEFT JOIN kv k ON k.key = ? || a.id"
        " WHERE ? OR k.key IS NULL ORDER BY a.id DESC LIMIT ?",
        [ACK_PREFIX, 1 if include_acked else 0, limit]).fetchall()
    return [_alert(*row) for row in rows]


def open_count(db: sqlite_utils.Database) -> int:
    return db.execute(
        "SELECT count(*) FROM alerts WHERE NOT EXISTS (SELECT 1 FROM kv WHERE kv.key ="
        " ? || alerts.id)", [ACK_PREFIX]).fetchone()[0]


def _alert(alert_id: int, at: str, stored: str, detail: str, ack: str | None) -> Alert:
    kind, _, channel = stored.partition(":")
    acked = json.loads(ack) if ack else {}
    return Alert(alert_id, at, kind, channel, detail, acked.get("by"), acked.get("at"))


class AlertError(ValueError):
    """An acknowledgement that cannot be made; the message says why (Chinese)."""


def acknowledge(db: sqlite_utils.Database, alert_id: int, *, actor: str, at: datetime) -> Alert:
    """Close an open alert. Call inside a transaction. Raises AlertError if there is none."""
    row = db.execute("SELECT id, at, kind, detail FROM alerts WHERE id = ?",
                     [alert_id]).fetchone()
    if row is None:
        raise AlertError(f"没有编号为 {alert_id} 的告警")
    if kv.get(db, f"{ACK_PREFIX}{alert_id}", at.timestamp()) is not None:
        raise AlertError(f"告警 {alert_id} 已经确认过了")
    value = json.dumps({"by": actor, "at": at.isoformat()}, ensure_ascii=False)
    kv.put(db, f"{ACK_PREFIX}{alert_id}", value, None)
    audit.record(db, actor=actor, action="alert ack", detail={"alert": alert_id, "kind": row[2]},
                 at=at)
    return _alert(*row, value)


def raise_in(store: Store, *, kind: str, channel: str, detail: str, at: datetime) -> int | None:
    """raise_alert in a transaction of its own, for code outside one. An alert must never
    break what raised it: a busy store only loses the alert row (the log line stays)."""
    try:
        with store.transaction() as db:
            return raise_alert(db, kind=kind, channel=channel, detail=detail, at=at)
    except StoreBusy:
        log.error("ALERT %s:%s (not stored, database busy): %s", kind, channel, detail)
        return None
