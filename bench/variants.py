"""Experiments: `python -m bot` with a candidate change applied in memory, to measure a fix
before anyone writes it. The bot code on disk is not touched.

    python -m bench webhook --variant write-mutex     # the benchmark against the variant
    python -m bench.variants write-mutex --config CONFIG serve

Variants (join several with commas: write-mutex,threads-4):
  write-mutex   threads of one worker queue on a process-wide lock for the store's write
                transaction, instead of all calling BEGIN IMMEDIATE and polling SQLite's busy
                handler (which sleeps 1, 2, 5, 10, ... 100 ms between tries).
  threads-N     gunicorn threads per worker = N instead of config.toml's (e.g. threads-4).
  workers-N     gunicorn worker processes = N instead of config.toml's (e.g. workers-4).
  no-accesslog  gunicorn without its access log (one formatted line per request on stdout).
  no-replay-memory  the webhook without its replay memory (bot/store/nonces.py): no read of
                the callback's (timestamp, nonce) before the lock, no claim inside it; to
                measure what the memory costs (docs/benchmarks.md, Webhook: replay memory).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def write_mutex() -> None:
    from bot.store import Store

    original = Store.transaction
    lock = threading.Lock()  # created before gunicorn forks: each worker gets its own, unlocked

    @contextmanager
    def transaction(self: Any) -> Iterator[Any]:
        with lock, original(self) as db:
            yield db

    Store.transaction = transaction  # type: ignore[method-assign]


def no_replay_memory() -> None:
    from bot import conversation
    from bot.store import nonces

    nonces.seen_digest = lambda *_args: None  # type: ignore[assignment]  (webhook's read)
    conversation.claim = lambda *_args: None  # type: ignore[assignment]  (the claim)
    conversation._claimed = lambda *_args: True  # type: ignore[assignment]  (retries' read)


def _gunicorn(**overrides: Any) -> None:
    from bot import server

    original = server.gunicorn_options

    def options(config: Any) -> dict[str, Any]:
        return {**original(config), **overrides}

    server.gunicorn_options = options


def _threads(n: int) -> Callable[[], None]:
    return lambda: _gunicorn(threads=n)


def _workers(n: int) -> Callable[[], None]:
    return lambda: _gunicorn(workers=n)


VARIANTS: dict[str, Callable[[], None]] = {
    "write-mutex": write_mutex,
    "threads-1": _threads(1), "threads-2": _threads(2), "threads-4": _threads(4),
    "threads-16": _threads(16),
    "workers-1": _workers(1), "workers-3": _workers(3), "workers-4": _workers(4),
    "no-accesslog": lambda: _gunicorn(accesslog=None),
    "no-replay-memory": no_replay_memory,
}


def known(spec: str) -> bool:
    """Whether every comma-separated part of `spec` is a variant."""
    return all(part in VARIANTS for part in spec.split(","))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or not known(argv[0]):
        sys.exit(f"usage: python -m bench.variants {{{','.join(VARIANTS)}}}[,...] "
                 "[python -m bot arguments]")
    for part in argv[0].split(","):
        VARIANTS[part]()
    from bot.cli import cli

    cli.main(args=argv[1:], prog_name="python -m bot")


if __name__ == "__main__":
    main()
