"""Channel adapters: how a message reaches a member's phone. The rest of the code says
`channel.send(batch)` and reads back one Outcome per message; wechatpy stays in here.

Adapters never raise for a platform's answer: every errcode, 5xx, timeout or dropped
connection becomes an Outcome the delivery ledger records (sent, retry, failed, undeliverable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    member_id: int
    external_id: str
    text: str
    key: str  # idempotency key, stable across retries: the platform's dedupe id where it has one


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    # "sent" | "retry" | "failed" | "undeliverable", or "elsewhere": another drain is sending
    # (or has settled) this row, so this one records nothing
    status: str
    error: str = ""         # the platform's errcode and message, or the network error
    retry_after: float = 0  # seconds; at least 60 for the platforms' per-minute limits
    deactivate: bool = False  # the member's account on this channel is gone (unsubscribed, invalid)
    # Our own throttle deferred the send: nothing reached the platform, so it is not an attempt
    # (MAX_ATTEMPTS counts real platform failures only).
    throttled: bool = False


class Channel(Protocol):
    name: str
    batch_size: int  # how many messages one send() call takes at most

    def send(self, batch: list[Outgoing]) -> list[Outcome]: ...


RETRYABLE_ERRCODES = {-1, 45009, 45011, 45033}   # busy, rate limits, concurrency
IP_NOT_WHITELISTED = 40164                        # "invalid ip, not in whitelist": an operator's job
TOKEN_ERRCODES = {40001, 40014, 42001}           # invalid, overwritten or expired token
MINUTE_LIMIT_BACKOFF = 60.0


def retry_after_for(errcode: int | None) -> float:
    """Rate limits are per minute: waiting less only earns another refusal."""
    return MINUTE_LIMIT_BACKOFF if errcode in (45009, 45011, 45033) else 5.0
