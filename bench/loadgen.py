"""The load generator, run as its own process: `python -m bench.loadgen SPEC.json`.

SPEC (written by bench.webhook) holds the server's address, the concurrency, the server's
gunicorn master pid, and the pre-built requests (path with query, body). The generator opens
one keep-alive connection per thread, waits until every thread is connected, then sends the
requests as fast as the server answers, each thread taking the next unsent one. Only that
window is timed; the server's CPU time (/proc) is read at its two ends.

With "rate" in SPEC (requests per second; bench.peak), request i is due at i / rate seconds
after the start instead of as soon as a thread is free, and its latency counts from when it was
due, so time spent queueing behind slow answers is counted too (no coordinated omission); the
result then also lists each request's due offset and latency ("timeline").

After the window, every answer is checked: HTTP status, reply signature, decryption, and the
expected word in the reply's Content. Prints one JSON object on stdout.
"""

from __future__ import annotations

import http.client
import itertools
import json
import resource
import sys
import threading
import time
import xml.etree.ElementTree as ET  # noqa: S405 (parses our own server's replies)
from collections import Counter
from typing import Any

from bench import proc


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, concurrency = spec["host"], spec["port"], spec["concurrency"]
    requests = [(r["path"], r["body"].encode()) for r in spec["requests"]]
    total = len(requests)
    headers = {"Content-Type": "text/xml; charset=utf-8", "Connection": "keep-alive"}
    statuses: list[int] = [0] * total       # 0: no answer (connection error)
    latencies: list[float] = [0.0] * total
    bodies: list[bytes] = [b""] * total
    errors: Counter[str] = Counter()
    next_index = itertools.count()          # next() on a count is atomic under the GIL
    snapshot: dict[str, Any] = {}
    server_pids = proc.tree(spec["server_pid"]) if spec.get("server_pid") else []
    rate = float(spec.get("rate") or 0)
    sent_at: list[float] = [0.0] * total    # due offset from t0 (rate mode)

    def start_clock() -> None:              # runs once, when the last thread has connected
        snapshot["cpu"] = proc.cpu_seconds(server_pids)
        snapshot["client_cpu"] = _client_cpu()
        snapshot["machine"] = proc.machine_busy_seconds()
        snapshot["t0"] = time.perf_counter()

    barrier = threading.Barrier(concurrency, action=start_clock)
    finished: list[float] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.connect()
        except OSError as exc:
            errors[f"connect: {type(exc).__name__}"] += 1
        barrier.wait()
        while True:
            i = next(next_index)
            if i >= total:
                break
            path, body = requests[i]
            started = time.perf_counter()
            if rate:
                due = snapshot["t0"] + i / rate
                if due > started:
                    time.sleep(due - started)
                started = due
                sent_at[i] = i / rate
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                data = response.read()
                latencies[i] = time.perf_counter() - started
                statuses[i], bodies[i] = response.status, data
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                latencies[i] = time.perf_counter() - started
                errors[type(exc).__name__] += 1
                conn.close()  # http.client reconnects on the next request
        finished.append(time.perf_counter())
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    t1 = max(finished, default=time.perf_counter())
    cpu_after = proc.cpu_seconds(server_pids)
    machine_busy = proc.machine_busy_seconds() - snapshot["machine"]
    client_cpu = _client_cpu() - snapshot["client_cpu"]
    elapsed = t1 - snapshot["t0"]

    answered = sorted(lat for lat, status in zip(latencies, statuses, strict=True) if status)
    check = verify(spec.get("verify"), bodies, statuses, spec.get("senders"))
    extra = {"timeline": [[round(t, 4), round(lat, 5)] for t, lat in zip(sent_at, latencies,
                                                                          strict=True)]} \
        if rate else {}
    return {
        **extra,
        "requests": total,
        "concurrency": concurrency,
        "elapsed_s": elapsed,
        "throughput": total / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(answered, 50) * 1000,
        "p99_ms": percentile(answered, 99) * 1000,
        "max_ms": (answered[-1] if answered else 0.0) * 1000,
        "statuses": {str(k): v for k, v in sorted(Counter(statuses).items())},
        "errors": dict(errors),
        "server_pids": server_pids,
        "server_cpu_s": proc.cpu_delta(snapshot["cpu"], cpu_after),
        "client_cpu_s": client_cpu,
        "machine_busy_s": machine_busy,
        "verify": check,
    }


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100)
    return ordered[int(rank) - 1]


def verify(settings: dict[str, str] | None, bodies: list[bytes], statuses: list[int],
           senders: list[str] | None = None) -> dict[str, Any]:
    """Decrypt every 200 answer with wechatpy, check its signature, its addressee and that its
    Content holds the expected word. Counts, with the first few failures described."""
    result: dict[str, Any] = {"checked": 0, "ok": 0, "bad": 0, "samples": [], "contents": {}}
    if not settings:
        return result
    from wechatpy.enterprise.crypto import WeChatCrypto

    crypto = WeChatCrypto(settings["token"], settings["encoding_aes_key"], settings["corp_id"])
    expect = settings["expect"]
    kinds: Counter[str] = Counter()
    for i, (status, body) in enumerate(zip(statuses, bodies, strict=True)):
        if status != 200:
            continue
        result["checked"] += 1
        try:
            outer = {child.tag: child.text or "" for child in ET.fromstring(body)}  # noqa: S314
            inner = crypto.decrypt_message(body, outer["MsgSignature"], outer["TimeStamp"],
                                           outer["Nonce"])
            fields = {child.tag: child.text or "" for child in ET.fromstring(inner)}  # noqa: S314
            content = fields.get("Content", "")
            if expect not in content:
                raise ValueError(f"reply without {expect!r}: {content[:60]!r}")
            if senders and fields.get("ToUserName", "").lower() != senders[i].lower():
                raise ValueError(f"reply to {fields.get('ToUserName')!r}, not {senders[i]!r}")
            kinds[_kind(content)] += 1
            result["ok"] += 1
        except Exception as exc:  # any failure to open or match is a finding, not a crash
            result["bad"] += 1
            if len(result["samples"]) < 3:
                result["samples"].append(f"#{i}: {type(exc).__name__}: {exc}"[:200])
    result["contents"] = dict(kinds)
    return result


def _kind(content: str) -> str:
    """A short label for a reply, to show which path the server took."""
    for label in ("打卡成功", "今天已打卡"):
        if content.startswith(label):
            return label
    return content[:12]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: python -m bench.loadgen SPEC.json")
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    json.dump(run(spec), sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
