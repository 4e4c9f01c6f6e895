"""The one entry point for a member's message, whatever carried it (webhook or simulator).

Exactly once: the dedupe check, the handler's effects and the remembered reply share one
transaction, so a redelivered message changes nothing and gets the same answer, even across
workers, processes and restarts.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3

from bot.context import Context
from bot.messages import Inbound, Reply
from bot.services import Services
from bot.store import StoreBusy, is_transient
from bot.store.inbound import remember_reply, remembered_reply
from bot.store.members import find_by_identity
from bot.store.nonces import (
    Replayed,
    Sighting,
    claim,
    claim_alone,
    keep_seconds,
    seen_digest,
)

log = logging.getLogger(__name__)

BUSY_REPLY = Reply("系统繁忙，请稍后再试。")
ERROR_REPLY = Reply("抱歉，处理这条消息时出了点问题，请稍后再试。")


def handle_inbound(services: Services, inbound: Inbound, sighting: Sighting | None = None) -> Reply:
    """The reply to one message. `sighting` (a callback's timestamp and nonce) is claimed
    first in the same transaction: Replayed propagates, with nothing written."""
    try:
        # Read-only lookups before the write lock, so the locked section stays short: a
        # redelivery is answered without taking it at all, and the member is found meanwhile.
        cached = remembered_reply(services.store.db, inbound.dedupe_key)
        if cached is not None and _claimed(services, sighting):
            return Reply(cached)
        member = find_by_identity(services.store.db, inbound.channel, inbound.user)
        with services.store.transaction() as db:
            if sighting is not None:  # before the dedupe record: a replay must not read it
                claim(db, sighting, services.clock.timestamp(),
                      keep_seconds(services.config.get("server.max_clock_skew_s")))
            # The authoritative check: a concurrent delivery of the same message may have
            # committed between the lookup above and this lock.
            cached = remembered_reply(db, inbound.dedupe_key)
            if cached is not None:
                return Reply(cached)
            ctx = Context(db=db, clock=services.clock, config=services.config, member=member,
                          channel=inbound.channel, user=inbound.user)
            reply = services.router.dispatch(inbound, ctx)
            remember_reply(db, dedupe_key=inbound.dedupe_key, channel=inbound.channel,
                           reply=reply.text if reply.remember is None else reply.remember,
                           at=services.clock.now())
            return reply
    except Replayed:
        raise  # the webhook refuses it (403); rolled back
    except StoreBusy as exc:
        # Nothing was committed; the member (or WeChat's retry) can send again.
        log.warning("store busy for %s: %s", inbound.dedupe_key, exc)
        return BUSY_REPLY
    except sqlite3.OperationalError as exc:
        if not is_transient(exc):  # the lookups before the lock: a lock or disk error is busy
            log.exception("handler failed for %s (%s)", inbound.dedupe_key, inbound.kind)
            return ERROR_REPLY
        log.warning("store busy for %s: %s", inbound.dedupe_key, exc)
        return BUSY_REPLY
    except Exception:
        # Rolled back; never show an exception's text to a member.
        log.exception("handler failed for %s (%s)", inbound.dedupe_key, inbound.kind)
        _claim_after_failure(services, sighting)
        return ERROR_REPLY


def _claim_after_failure(services: Services, sighting: Sighting | None) -> None:
    """The claim was rolled back with the failed handler: remember the pair on its own, so its
    (logged) query string cannot carry another body meanwhile; a retry of this very body still
    runs the handler again. Best effort: a store that cannot write was reported already."""
    if sighting is None:
        return
    with contextlib.suppress(Replayed, StoreBusy, sqlite3.Error):
        claim_alone(services.store, sighting, services.clock.timestamp(),
                    keep_seconds(services.config.get("server.max_clock_skew_s")))


def _claimed(services: Services, sighting: Sighting | None) -> bool:
    """Whether the callback's pair is already remembered with this body (a platform retry):
    a known message under a new pair still goes through the transaction, to claim it."""
    return sighting is None or seen_digest(services.store.db, sighting) == sighting.digest
