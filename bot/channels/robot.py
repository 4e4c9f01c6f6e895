"""The WeCom group robot (群机器人): one message to a branch's group chat, through its webhook.

`POST {api_base_url}webhook/send?key=KEY` with a text or markdown body; no access token, and
the platform allows 20 messages a minute per robot. wechatpy has no support for it: a plain
HTTP POST. A ledger row for a robot is one branch's group message: external_id is
"<msgtype>:<branch>" (see bot.delivery.ROBOT_SUFFIX).

Two guards live in the store, so they hold across processes:
  * the throttle: the sends of the last minute per robot, in kv, reserved in a transaction
    before each POST (ROBOT_PER_MINUTE, under the platform's 20);
  * exactly once: the platform has no dedupe key, so a row is marked "in flight" (and held back
    for IN_FLIGHT_HOLD_S) in the same transaction. A row found still in flight after the hold
    belonged to a process that died between its POST and its record: it is not resent (a
    group would see the message twice) but failed as "unknown", with an alert to check the group.

The key is a secret: it is never logged or written to the ledger (errors name the branch).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import requests

from bot.channels import Outcome, Outgoing, retry_after_for
from bot.clock import Clock
from bot.store import Store, alerts, kv

log = logging.getLogger(__name__)
ROBOT_PER_MINUTE = 18   # the platform allows 20; two spare for clock skew between us and it
SEND_TIMEOUT_S = 5.0
IN_FLIGHT = "robot: in flight"
IN_FLIGHT_HOLD_S = 120.0  # far beyond a send's timeout: still in flight after it means a crash
MSGTYPES = ("text", "markdown")
UNKNOWN = ("unknown: the service stopped while sending this group message; check the group"
           " and send it again if it is missing")
PERMANENT = {93000: "the robot's key is not valid (93000)", 40058: "refused (40058)",
             44004: "empty content (44004)"}


class RobotChannel:
    name = "robot"
    batch_size = 20

    def __init__(self, settings: Mapping[str, Any], store: Store, clock: Clock) -> None:
        self.url = settings["api_base_url"] + "webhook/send"
        self.keys: Mapping[str, str] = settings.get("keys") or {}
        self.store = store
        self.clock = clock
        self.session = requests.Session()

    def send(self, batch: list[Outgoing]) -> list[Outcome]:
        return [self._send_one(item) for item in batch]

    def _send_one(self, item: Outgoing) -> Outcome:
        msgtype, _, branch = item.external_id.partition(":")
        key = self.keys.get(branch)
        if msgtype not in MSGTYPES or not key:
            return Outcome(item.delivery_id, "undeliverable",
                           f"no group robot configured for {branch}")
        held = self._reserve(item.delivery_id, key)
        if held is not None:
            return held
        return self._post(item, msgtype, key, branch)

    def _reserve(self, delivery_id: int, key: str) -> Outcome | None:
        """Take a slot in the robot's minute and mark the row in flight, in one transaction.
        None: go ahead. Otherwise the outcome to record instead of sending."""
        now = self.clock.timestamp()
        slots = f"robot-sends:{_fingerprint(key)}"
        with self.store.transaction() as db:
            row = db.execute("SELECT status, last_error, next_attempt_at FROM deliveries"
                             " WHERE id = ?", [delivery_id]).fetchone()
            if row is None or row[0] != "pending":
                return Outcome(delivery_id, "elsewhere")
            if row[1] == IN_FLIGHT:
                if row[2] > now:  # another drain is sending it right now
                    return Outcome(delivery_id, "elsewhere")
                alerts.raise_alert(db, kind="robot_unknown", channel=f"delivery:{delivery_id}",
                                   detail=f"群机器人消息（投递 {delivery_id}）发送时服务中断，"
                                          "无法确认是否已发到群里：请查看群消息，缺失时重新发送",
                                   at=self.clock.now())
                return Outcome(delivery_id, "failed", UNKNOWN)
            recent = [t for t in json.loads(kv.get(db, slots, now) or "[]") if now - t < 60]
            if len(recent) >= ROBOT_PER_MINUTE:
                return Outcome(delivery_id, "retry", "robot throttle (20 a minute)",
                               60 - (now - min(recent)), throttled=True)
            kv.put(db, slots, json.dumps([*recent, now]), now + 60)
            db.execute("UPDATE deliveries SET last_error = ?, next_attempt_at = ? WHERE id = ?",
                       [IN_FLIGHT, now + IN_FLIGHT_HOLD_S, delivery_id])
        return None

    def _post(self, item: Outgoing, msgtype: str, key: str, branch: str) -> Outcome:
        body = {"msgtype": msgtype, msgtype: {"content": item.text}}
        try:
            response = self.session.post(self.url, params={"key": key}, json=body,
                                         timeout=SEND_TIMEOUT_S)
        except requests.RequestException as exc:
            # Never str(exc): it holds the URL, and the URL holds the key.
            return Outcome(item.delivery_id, "retry", f"network: {type(exc).__name__}", 5.0)
        if response.status_code >= 400:
            return Outcome(item.delivery_id, "retry", f"HTTP {response.status_code}", 5.0)
        try:
            answer = response.json()
            errcode = int(answer.get("errcode", -1))
        except (ValueError, AttributeError, TypeError):
            return Outcome(item.delivery_id, "retry", "robot answer is not JSON", 5.0)
        if errcode == 0:
            return Outcome(item.delivery_id, "sent")
        reason = f"errcode {errcode}: {str(answer.get('errmsg', ''))[:100]}"
        if errcode in PERMANENT:
            log.error("group robot of %s refused a message: %s", branch, PERMANENT[errcode])
            return Outcome(item.delivery_id, "failed", f"{branch}: {PERMANENT[errcode]}")
        if errcode in (-1, 45009, 45011, 45033):
            return Outcome(item.delivery_id, "retry", reason, retry_after_for(errcode))
        return Outcome(item.delivery_id, "failed", reason)


def _fingerprint(key: str) -> str:
    """The throttle's kv key names the robot without storing its secret."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]
