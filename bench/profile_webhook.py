"""Where a WeCom check-in callback's time goes, in one process (no gunicorn, no sockets).

    python -m bench.profile_webhook [--requests 2000] [--threads 16]

1. cProfile: the Flask app through its test client, one request after another, on a fresh
   store with a roster bound to WeCom; CPU time per message split into the webhook's stages.
2. The SQLite write lock under concurrency: the same callbacks from N threads at once, with
   the store's transaction timed from outside (waiting for BEGIN IMMEDIATE vs holding the lock).
   Then the same again with the threads' transactions queued on a process-wide mutex, to show
   what the busy-wait costs. Only this script's copy of `Store.transaction` is instrumented; the
   bot code is not changed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.webhook import AES_KEY, AGENT_ID, CORP_ID, TOKEN, build_callbacks, userid

STAGES = {  # (file fragment, function) -> stage; cumulative times, so nested ones overlap
    ("bot/webhook.py", "wecom"): "whole view (webhook.wecom)",
    ("bot/wire.py", "parse_xml"): "XML parse (defusedxml), outer + inner",
    ("bot/wire.py", "decrypt"): "AES decrypt",
    ("bot/wire.py", "encrypt_reply"): "AES encrypt + sign reply",
    ("bot/conversation.py", "handle_inbound"): "handle_inbound (transaction)",
    ("handlers/checkin.py", "check_in"): "  check_in handler",
    ("bot/store/checkins.py", "stats_for"): "    stats_for (streak query)",
    ("bot/store/members.py", "find_by_identity"): "  find_by_identity",
    ("bot/store/inbound.py", "remembered_reply"): "  dedupe lookup",
    ("bot/store/inbound.py", "remember_reply"): "  dedupe insert",
    ("handlers/router.py", "route_for"): "  route_for (regex)",
}


def build(directory: Path, members: int) -> Any:
    from bot import create_app, roster
    from bot.config import load_config
    from bot.seed import initialise
    from bot.services import build_services

    config = load_config({
        "store": {"path": str(directory / "qingfeng.db")},
        "sandbox": {"enabled": True},
        "wecom": {"enabled": True, "corp_id": CORP_ID, "agent_id": AGENT_ID, "token": TOKEN,
                  "encoding_aes_key": AES_KEY},
    })
    services = build_services(config)
    initialise(services, demo=False)
    rows = [{"name": f"压测成员{i:06d}", "branch": f"压测第{i // 500 + 1}支部", "wecom": userid(i)}
            for i in range(members)]
    roster.import_rows(services.store, roster.check_rows(rows, services.store), actor="bench",
                       now=services.clock.now())
    app = create_app(services=services)
    return app, services


def send(client: Any, callbacks: list[dict[str, str]]) -> None:
    for callback in callbacks:
        answer = client.post(callback["path"], data=callback["body"])
        if answer.status_code != 200 or b"Encrypt" not in answer.data:
            raise RuntimeError(f"unexpected answer {answer.status_code}: {answer.data[:200]!r}")


def profile(requests: int) -> str:
    with tempfile.TemporaryDirectory(prefix="qingfeng-profile-") as tmp:
        app, services = build(Path(tmp), requests + 100)
        client = app.test_client()
        send(client, build_callbacks([userid(i) for i in range(100)], 1))  # warm-up
        callbacks = build_callbacks([userid(100 + i) for i in range(requests)], 1000)
        profiler = cProfile.Profile()
        started = time.process_time()
        profiler.enable()
        send(client, callbacks)
        profiler.disable()
        cpu = time.process_time() - started
        services.store.close()
    stats = pstats.Stats(profiler)
    per_msg_us = {}
    for (filename, _line, function), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():
        for (fragment, name), stage in STAGES.items():
            if function == name and filename.endswith(fragment):
                per_msg_us[stage] = per_msg_us.get(stage, 0.0) + cumulative / requests * 1e6
    lines = [f"cProfile, {requests} sequential callbacks through the test client: "
             f"{cpu / requests * 1000:.2f} ms CPU per message (with profiler overhead)", "",
             "| stage | µs per message (cumulative, profiled) |", "|---|---:|"]
    for stage in STAGES.values():
        if stage in per_msg_us:
            lines.append(f"| {stage} | {per_msg_us[stage]:.0f} |")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    lines += ["", "Top functions by own time:", "```", _trim(out.getvalue()), "```"]
    return "\n".join(lines)


def cpu_per_message(requests: int) -> dict[str, float]:
    """CPU ms per message without a profiler: the echo anchor and Qingfeng, same callbacks."""
    from bench.echo_app import create_echo_app

    result = {}
    with tempfile.TemporaryDirectory(prefix="qingfeng-profile-") as tmp:
        app, services = build(Path(tmp), requests + 100)
        echo = create_echo_app(TOKEN, AES_KEY, CORP_ID)
        for name, flask_app in (("anchor", echo), ("qingfeng", app)):
            client = flask_app.test_client()
            send(client, build_callbacks([userid(i) for i in range(100)], 1 + len(result) * 100))
            callbacks = build_callbacks([userid(100 + i) for i in range(requests)],
                                        1_000_000 * (len(result) + 1))
            started = time.process_time()
            send(client, callbacks)
            result[name] = (time.process_time() - started) / requests * 1000
        services.store.close()
    return result


def sql_times(requests: int) -> list[tuple[str, int, float]]:
    """Each kind of SQL statement a check-in runs: calls per message and µs per call."""
    import sqlite_utils

    spent: dict[str, list[float]] = {}
    original = sqlite_utils.Database.execute

    def timed(self: Any, sql: str, parameters: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return original(self, sql, parameters)
        finally:
            key = " ".join(sql.split())[:60]
            spent.setdefault(key, []).append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory(prefix="qingfeng-profile-") as tmp:
        app, services = build(Path(tmp), requests + 100)
        client = app.test_client()
        send(client, build_callbacks([userid(i) for i in range(100)], 1))
        callbacks = build_callbacks([userid(100 + i) for i in range(requests)], 1000)
        sqlite_utils.Database.execute = timed  # type: ignore[method-assign]
        try:
            send(client, callbacks)
        finally:
            sqlite_utils.Database.execute = original  # type: ignore[method-assign]
            services.store.close()
    rows = [(sql, len(times) // requests, statistics.mean(times) * 1e6)
            for sql, times in spent.items()]
    return sorted(rows, key=lambda row: -row[1] * row[2])


def _trim(text: str) -> str:
    keep, started = [], False
    for line in text.splitlines():
        if line.strip().startswith("ncalls"):
            started = True
        if started and line.strip():
            keep.append(line.replace(str(Path.cwd()) + "/", "")[:150])
    return "\n".join(keep)


def contention(requests: int, threads: int, serialise: bool) -> dict[str, float]:
    """Send from `threads` threads at once; time BEGIN IMMEDIATE waits and lock holds."""
    from bot import store as store_module

    waits: list[float] = []
    holds: list[float] = []
    mutex = threading.Lock()
    original = store_module.Store.transaction

    @contextmanager
    def timed(self: Any) -> Iterator[Any]:
        # Same statements as Store.transaction, with clocks around them.
        db = self.db
        asked = time.perf_counter()  # the wait includes queueing on the mutex
        if serialise:
            mutex.acquire()
        try:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise store_module.StoreBusy(str(exc)) from exc
            got = time.perf_counter()
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.conn.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                waits.append(got - asked)
                holds.append(time.perf_counter() - got)
        finally:
            if serialise:
                mutex.release()

    with tempfile.TemporaryDirectory(prefix="qingfeng-profile-") as tmp:
        app, services = build(Path(tmp), requests + 100)
        send(app.test_client(), build_callbacks([userid(i) for i in range(100)], 1))
        callbacks = build_callbacks([userid(100 + i) for i in range(requests)], 10_000)
        store_module.Store.transaction = timed  # type: ignore[method-assign]
        try:
            shares = [callbacks[i::threads] for i in range(threads)]
            workers = [threading.Thread(target=send, args=(app.test_client(), share))
                       for share in shares]
            started = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            elapsed = time.perf_counter() - started
        finally:
            store_module.Store.transaction = original  # type: ignore[method-assign]
            services.store.close()
    waits.sort()
    holds.sort()
    return {"msg_per_s": requests / elapsed, "wait_p50_ms": statistics.median(waits) * 1000,
            "wait_p99_ms": waits[int(len(waits) * 0.99) - 1] * 1000,
            "hold_p50_ms": statistics.median(holds) * 1000,
            "hold_p99_ms": holds[int(len(holds) * 0.99) - 1] * 1000,
            "wait_share": sum(waits) / (elapsed * threads)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    print(profile(args.requests))
    print()
    cpu = cpu_per_message(args.requests)
    print(f"CPU per message without the profiler, test client, one thread: anchor "
          f"{cpu['anchor']:.2f} ms, Qingfeng {cpu['qingfeng']:.2f} ms "
          f"({cpu['qingfeng'] / cpu['anchor']:.2f}×)")
    print()
    print("| SQL statement (per check-in) | calls | µs per call |")
    print("|---|---:|---:|")
    for sql, calls, micros in sql_times(args.requests):
        print(f"| `{sql}` | {calls} | {micros:.0f} |")
    print()
    print(f"SQLite write lock, {args.requests} callbacks from {args.threads} threads in one process:")
    print()
    print("| transactions | msg/s | wait for BEGIN IMMEDIATE p50 / p99 ms "
          "| lock held p50 / p99 ms | threads' time spent waiting |")
    print("|---|---:|---:|---:|---:|")
    for serialise in (False, True, False, True):
        r = contention(args.requests, args.threads, serialise)
        label = "queued on a process mutex" if serialise else "as today (SQLite busy handler)"
        print(f"| {label} | {r['msg_per_s']:,.0f} | {r['wait_p50_ms']:.2f} / {r['wait_p99_ms']:.1f} "
              f"| {r['hold_p50_ms']:.2f} / {r['hold_p99_ms']:.1f} | {r['wait_share']:.0%} |",
              flush=True)


if __name__ == "__main__":
    main()
