"""A process for tests/test_crash_fanout.py to SIGKILL: one broadcast to everyone, created
(expanded into the ledger) and drained, exactly as the scheduler's jobs do it.

    python -m tests.crash_driver CONFIG KEY TEXT

QF_PARK=<phase>:<n> parks the process at an exact point, for the test to kill it there:
    expand:<n>  after the expansion chunk that brings the ledger to n rows has committed;
    send:<n>    after the platform has answered the call that brings the sends to n, and before
                the ledger records that answer (the worst moment to die).
Parking writes QF_PARK_MARK (a file path) and then waits to be killed; nothing else is
changed, so the process dies with a transaction-free, consistent database as any crash would.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot import delivery
from bot.config import load_config
from bot.services import Services, build_services


def park() -> None:
    Path(os.environ["QF_PARK_MARK"]).write_text("parked", encoding="utf-8")
    threading.Event().wait()  # until SIGKILL


def park_after_expanding(services: Services, rows: int) -> None:
    store = services.store
    transaction = store.transaction

    @contextmanager
    def watched() -> Iterator:
        with transaction() as db:
            yield db
        written = store.db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
        if written >= rows:
            park()

    store.transaction = watched  # type: ignore[method-assign]


def park_after_sending(services: Services, sends: int) -> None:
    channel = delivery.channels_of(services)["wecom"]
    send = channel.send
    done = 0

    def watched(batch):
        nonlocal done
        outcomes = send(batch)
        done += len(batch)
        if done >= sends:
            park()
        return outcomes

    channel.send = watched


def main(config_path: str, key: str, text: str) -> None:
    services = build_services(load_config(config_path))
    phase, _, count = os.environ.get("QF_PARK", "").partition(":")
    if phase == "expand":
        park_after_expanding(services, int(count))
    elif phase == "send":
        park_after_sending(services, int(count))
    delivery.create_broadcast(services, key=key, text=text, audience={"all": True},
                              fire_at=services.clock.now())
    delivery.drain(services)


if __name__ == "__main__":
    main(*sys.argv[1:4])
