"""The webhook load benchmark: Qingfeng's WeCom callback against a wechatpy + Flask echo anchor.

    python -m bench webhook [--quick] [--requests N] [--concurrency 16,64] [--rounds 5]
                            [--members N] [--variant NAME[,NAME]]

Starts, each as its own process on 127.0.0.1:
  * Qingfeng, `python -m bot --config <tmp>/config.toml serve`, on a fresh SQLite store in a
    temporary directory, after `init` and `members import` of a generated roster whose members
    are bound to WeCom userids, with the workers and threads of the repository's config.toml;
  * the anchor, bench/echo_app.py, on the same gunicorn options;
  * per run, a load generator (bench/loadgen.py) with pre-built, signed and encrypted
    safe-mode WeCom "打卡" callbacks: distinct MsgIds, and by default a distinct member for
    every callback Qingfeng receives, so each one is a first check-in of the day (dedupe
    record + check-in + streak query + reply, all stored).

At each concurrency: a warm-up of each server, then anchor and Qingfeng runs alternated
(A B A B ...) for the given rounds; with --variant, each variant of Qingfeng (bench/variants.py)
runs too, on its own store, in the same rotation (A B C A B C ...). Reports medians, the per-run numbers, and the checks made
after the runs (check-in rows, dedupe rows, no 5xx, every reply decrypted and about 打卡).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import proc
from bench.proc import code_version, free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"
PATH = "/wechat/wecom"

# Test credentials only (never real ones): handed to both servers through the environment.
TOKEN = "qingfeng-bench-token"
AES_KEY = "QingfengBenchAesKey0123456789abcdefghijklmn"  # 43 characters, as the platform issues
CORP_ID = "wwbench0123456789"
AGENT_ID = 1000002
CREDENTIAL_ENV = {
    "QINGFENG_WECOM_TOKEN": TOKEN,
    "QINGFENG_WECOM_ENCODING_AES_KEY": AES_KEY,
    "QINGFENG_WECOM_SECRET": "bench-secret-never-used",
}

ROSTER_CHUNK = 10_000          # rows per `members import` file (the importer takes up to 20,000)
P99_TARGET_MS = 50.0           # at concurrency 16 (issue 2)
P99_TARGET_WEROBOT_MS = 20.0   # at concurrency 16 (issue 7)
WEROBOT_TARGET = 2.0           # Qingfeng's msg/s over the WeRoBot anchor's (issue 7)
TARGET_CONCURRENCY = 16


@dataclass(frozen=True)
class Plan:
    requests: int = 4000                     # timed requests per run
    concurrency: tuple[int, ...] = (16, 64)
    rounds: int = 5                          # runs of each server at each concurrency
    warmup: int = 400                        # untimed requests per server per concurrency
    members: int | None = None               # None: one per Qingfeng callback (all distinct)
    variants: tuple[str, ...] = ()           # experiments from bench/variants.py, side by side
    baseline: str | None = None              # a commit whose Qingfeng runs side by side too

    @classmethod
    def from_args(cls, quick: bool = False, requests: int | None = None,
                  concurrency: Sequence[int] | None = None, rounds: int | None = None,
                  members: int | None = None, variants: Sequence[str] = (),
                  baseline: str | None = None) -> Plan:
        n = requests or (600 if quick else 4000)
        return cls(requests=n, concurrency=tuple(concurrency or (16, 64)),
                   rounds=rounds or (3 if quick else 5), warmup=max(100, n // 10),
                   members=members, variants=tuple(variants), baseline=baseline)

    @property
    def qingfeng_callbacks(self) -> int:
        return len(self.concurrency) * (self.warmup + self.rounds * self.requests)  # per server

    @property
    def roster_size(self) -> int:
        return self.members or self.qingfeng_callbacks


# --- building callbacks (pure; tests/test_bench_smoke.py runs these) ----------------------------


def userid(index: int) -> str:
    return f"bench{index:06d}"


def text_xml(sender: str, content: str, msg_id: int, created: int, corp_id: str = CORP_ID) -> str:
    """The decrypted body of a WeCom text message callback."""
    return (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>"
            f"<AgentID>{AGENT_ID}</AgentID></xml>")


def _sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 (protocol)


def build_callbacks(senders: Sequence[str], first_msg_id: int, *, timestamp: int | None = None,
                    token: str = TOKEN, aes_key: str = AES_KEY, corp_id: str = CORP_ID,
                    content: str = "打卡", official_account: bool = False) -> list[dict[str, str]]:
    """Safe-mode WeCom callbacks as WeCom sends them, one per sender, MsgIds counting up from
    `first_msg_id`: {"path": "/wechat/wecom?msg_signature=...&timestamp=...&nonce=...",
    "body": "<xml>...<Encrypt>...</Encrypt></xml>"}. Encrypted with wechatpy's PrpCrypto."""
    from wechatpy.enterprise.crypto import PrpCrypto

    crypto = PrpCrypto(base64.b64decode(aes_key + "="))
    ts = str(timestamp if timestamp is not None else int(time.time()))
    built = []
    for offset, sender in enumerate(senders):
        inner = text_xml(sender, content, first_msg_id + offset, int(ts), corp_id)
        encrypted = crypto.encrypt(inner, corp_id).decode()
        nonce = str(secrets.randbelow(10**10))
        if official_account:  # safe mode, as the WeRoBot anchor takes it
            query = urlencode({"signature": _sign(token, ts, nonce), "timestamp": ts,
                               "nonce": nonce, "encrypt_type": "aes",
                               "msg_signature": _sign(token, ts, nonce, encrypted)})
            body = (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
            built.append({"path": f"/wechat/mp?{query}", "body": body})
            continue
        query = urlencode({"msg_signature": _sign(token, ts, nonce, encrypted),
                           "timestamp": ts, "nonce": nonce})
        body = (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
                f"<AgentID>{AGENT_ID}</AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        built.append({"path": f"{PATH}?{query}", "body": body})
    return built


def roster_rows(start: int, count: int) -> list[list[str]]:
    """Rows of a roster CSV (header first) for members start .. start+count-1."""
    rows = [["姓名", "支部", "党小组", "手机", "企业微信账号", "角色"]]
    for i in range(start, start + count):
        rows.append([f"压测成员{i:06d}", f"压测第{i // 500 + 1}支部", f"第{i % 500 // 50 + 1}小组",
                     "", userid(i), "党员"])
    return rows


# --- results (pure) --------------------------------------------------------------------------------


ANCHOR = "anchor"
WEROBOT = "werobot"
ANCHORS = (ANCHOR, WEROBOT)
QINGFENG = "qingfeng"
BASELINE = "qingfeng@"  # + a commit: Qingfeng as it was, for before/after in one run


def label(server: str) -> str:
    """"anchor", "werobot", "qingfeng", "qingfeng+VARIANT" or "qingfeng@COMMIT" as the
    tables name them."""
    if server == ANCHOR:
        return "anchor (wechatpy echo)"
    if server == WEROBOT:
        return "anchor (WeRoBot echo)"
    if server == QINGFENG:
        return "Qingfeng"
    if server.startswith(BASELINE):
        return "Qingfeng at " + server[len(BASELINE):]
    return "Qingfeng + " + server.partition("+")[2]


@dataclass
class Run:
    server: str            # "anchor", "qingfeng" or "qingfeng+VARIANT"
    concurrency: int
    round: int
    result: dict[str, Any]
    peak_rss_kb: int = 0

    @property
    def cpu_ms_per_msg(self) -> float:
        return 1000 * self.result["server_cpu_s"] / max(1, self.result["requests"])

    @property
    def client_cpu_ms_per_msg(self) -> float:
        return 1000 * self.result["client_cpu_s"] / max(1, self.result["requests"])

    @property
    def other_load(self) -> float:
        """Cores kept busy by everything else on the machine during the run (the noise)."""
        elapsed = self.result["elapsed_s"]
        if not elapsed or "machine_busy_s" not in self.result:
            return 0.0
        ours = self.result["server_cpu_s"] + self.result["client_cpu_s"]
        return max(0.0, self.result["machine_busy_s"] - ours) / elapsed

    @property
    def five_xx(self) -> int:
        return sum(n for status, n in self.result["statuses"].items() if status.startswith("5"))

    @property
    def failed(self) -> int:
        """Answers that were not 200, plus 200s whose reply did not check out."""
        not_ok = sum(n for status, n in self.result["statuses"].items() if status != "200")
        return not_ok + self.result["verify"]["bad"]


@dataclass
class Summary:
    server: str
    concurrency: int
    throughput: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_msg: float
    peak_rss_mb: float
    client_cpu_ms_per_msg: float
    runs: int
    throughput_range: tuple[float, float] = (0.0, 0.0)
    paired_ratio: float | None = None  # median over rounds of this run's msg/s / the anchor's


def _servers(runs: Sequence[Run]) -> list[str]:
    names = list(dict.fromkeys(r.server for r in runs))  # in the order they ran
    return sorted(names, key=lambda name: (name != ANCHOR, name != WEROBOT, name != QINGFENG))


def summarise(runs: Sequence[Run]) -> list[Summary]:
    """Medians per (concurrency, server) over the rounds; peak memory is the largest seen."""
    summaries = []
    for level in sorted({r.concurrency for r in runs}):
        anchors = {r.round: r for r in runs if r.concurrency == level and r.server == ANCHOR}
        for server in _servers(runs):
            group = [r for r in runs if r.concurrency == level and r.server == server]
            if not group:
                continue
            rates = [r.result["throughput"] for r in group]
            pairs = [r.result["throughput"] / anchors[r.round].result["throughput"]
                     for r in group if r.round in anchors and anchors[r.round].result["throughput"]]
            summaries.append(Summary(
                server=server, concurrency=level,
                throughput=statistics.median(rates),
                p50_ms=statistics.median(r.result["p50_ms"] for r in group),
                p99_ms=statistics.median(r.result["p99_ms"] for r in group),
                cpu_ms_per_msg=statistics.median(r.cpu_ms_per_msg for r in group),
                peak_rss_mb=max(r.peak_rss_kb for r in group) / 1024,
                client_cpu_ms_per_msg=statistics.median(r.client_cpu_ms_per_msg for r in group),
                runs=len(group), throughput_range=(min(rates), max(rates)),
                paired_ratio=statistics.median(pairs) if pairs and server not in ANCHORS else None,
            ))
    return summaries


def format_table(summaries: Sequence[Summary]) -> str:
    """The Markdown table: one row per server per concurrency, each Qingfeng also / anchor."""
    lines = ["| concurrency | server | msg/s | p50 ms | p99 ms | server CPU ms/msg "
             "| peak RSS MB (sum) | runs |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for level in sorted({s.concurrency for s in summaries}):
        rows = [s for s in summaries if s.concurrency == level]
        for s in rows:
            low, high = s.throughput_range
            lines.append(f"| {level} | {label(s.server)} | {s.throughput:,.0f} "
                         f"({low:,.0f}–{high:,.0f}) | {s.p50_ms:.1f} | {s.p99_ms:.1f} "
                         f"| {s.cpu_ms_per_msg:.2f} | {s.peak_rss_mb:.0f} | {s.runs} |")
        for anchor in [s for s in rows if s.server in ANCHORS]:
            name = "anchor" if anchor.server == ANCHOR else "WeRoBot"
            for q in rows:
                if q.server in ANCHORS:
                    continue
                lines.append(f"| {level} | **{label(q.server)} / {name}** "
                             f"| **{_ratio(q.throughput, anchor.throughput)}** "
                             f"| {_ratio(q.p50_ms, anchor.p50_ms)} "
                             f"| {_ratio(q.p99_ms, anchor.p99_ms)} "
                             f"| {_ratio(q.cpu_ms_per_msg, anchor.cpu_ms_per_msg)} "
                             f"| {_ratio(q.peak_rss_mb, anchor.peak_rss_mb)} | |")
        lines += _against_variants(level, rows)
    return "\n".join(lines)


def _against_variants(level: int, rows: Sequence[Summary]) -> list[str]:
    """Qingfeng / each variant at one concurrency: what the change a variant undoes costs
    (e.g. no-replay-memory), side by side in the same run."""
    ours = next((s for s in rows if s.server == QINGFENG), None)
    if ours is None:
        return []
    return [f"| {level} | **{label(QINGFENG)} / {label(v.server)}** "
            f"| **{_ratio(ours.throughput, v.throughput)}** | {_ratio(ours.p50_ms, v.p50_ms)} "
            f"| {_ratio(ours.p99_ms, v.p99_ms)} | {_ratio(ours.cpu_ms_per_msg, v.cpu_ms_per_msg)} "
            f"| {_ratio(ours.peak_rss_mb, v.peak_rss_mb)} | |"
            for v in rows if v.server.startswith(QINGFENG + "+")]


def format_runs(runs: Sequence[Run]) -> str:
    """Every timed run in the order it ran, to show the noise behind the medians."""
    lines = ["| # | concurrency | server | msg/s | p50 ms | p99 ms | max ms | server CPU ms/msg "
             "| client CPU ms/msg | other load (cores) | peak RSS MB | statuses | replies ok |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for number, r in enumerate(runs, start=1):
        res = r.result
        statuses = " ".join(f"{k}×{v}" for k, v in res["statuses"].items())
        lines.append(f"| {number} | {r.concurrency} | {label(r.server)} | {res['throughput']:,.0f} "
                     f"| {res['p50_ms']:.1f} | {res['p99_ms']:.1f} | {res['max_ms']:.0f} "
                     f"| {r.cpu_ms_per_msg:.2f} | {r.client_cpu_ms_per_msg:.2f} "
                     f"| {r.other_load:.2f} | {r.peak_rss_kb / 1024:.0f} | {statuses} "
                     f"| {res['verify']['ok']}/{res['requests']} |")
    return "\n".join(lines)


def verdict(summaries: Sequence[Summary]) -> list[str]:
    """The target, line by line: at least the anchor's throughput, p99 < 50 ms at 16."""
    lines = []
    for level in sorted({s.concurrency for s in summaries}):
        rows = [s for s in summaries if s.concurrency == level]
        anchor = next((s for s in rows if s.server == ANCHOR), None)
        robot = next((s for s in rows if s.server == WEROBOT), None)
        for q in rows:
            if q.server in ANCHORS:
                continue
            if anchor is not None and anchor.throughput:
                ratio = q.throughput / anchor.throughput
                paired = (f"; paired per round: {q.paired_ratio:.2f}×"
                          if q.paired_ratio is not None else "")
                lines.append(f"- throughput at concurrency {level}: {label(q.server)} is "
                             f"{ratio:.2f}× the anchor{paired} → "
                             f"{'meets' if ratio >= 1 else 'misses'} the target (≥ 1.00×)")
            if robot is not None and robot.throughput:
                ratio = q.throughput / robot.throughput
                lines.append(f"- throughput at concurrency {level}: {label(q.server)} is "
                             f"{ratio:.2f}× the WeRoBot anchor → "
                             f"{'meets' if ratio >= WEROBOT_TARGET else 'misses'} issue 7's "
                             f"target (≥ {WEROBOT_TARGET:.2f}×)")
            if level == TARGET_CONCURRENCY:
                lines.append(f"- p99 at concurrency {level}: {label(q.server)} {q.p99_ms:.1f} ms → "
                             f"{'meets' if q.p99_ms < P99_TARGET_MS else 'misses'} issue 2's target "
                             f"(< {P99_TARGET_MS:.0f} ms), "
                             f"{'meets' if q.p99_ms < P99_TARGET_WEROBOT_MS else 'misses'} "
                             f"issue 7's (< {P99_TARGET_WEROBOT_MS:.0f} ms)")
    return lines


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


# --- processes -------------------------------------------------------------------------------------


def server_env() -> dict[str, str]:
    """This environment without any QINGFENG_* setting, plus the bench's test credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGFENG_")}
    env.update(CREDENTIAL_ENV)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def repo_server_settings() -> dict[str, Any]:
    """workers, threads, timezone and clock skew as the repository's config.toml sets them."""
    with (ROOT / "config.toml").open("rb") as handle:
        server = tomllib.load(handle).get("server", {})
    return {key: server[key] for key in ("workers", "threads", "timezone", "max_clock_skew_s")
            if key in server}


def write_config(directory: Path, port: int, source: Path = ROOT) -> Path:
    server = {"host": HOST, "port": port, **repo_server_settings()}
    lines = ["[server]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in server.items()]
    lines += ["", "[store]", f"path = {json.dumps(str(directory / 'qingfeng.db'))}",
              "", "[content]", f"path = {json.dumps(str(source / 'content'))}",
              "", "[sandbox]", "enabled = true",
              "", "[wecom]", "enabled = true", f"corp_id = {json.dumps(CORP_ID)}",
              f"agent_id = {AGENT_ID}", ""]
    path = directory / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_cli(config: Path, *args: str, log: Path, cwd: Path = ROOT) -> str:
    done = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), *args],
                          cwd=cwd, env=server_env(), capture_output=True, text=True, timeout=600)
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"$ python -m bot {' '.join(args)}\n{done.stdout}{done.stderr}\n")
    if done.returncode:
        raise RuntimeError(f"`python -m bot {' '.join(args)}` failed:\n{done.stderr[-2000:]}")
    return done.stdout


def prepare_store(directory: Path, config: Path, members: int, log: Path,
                  cwd: Path = ROOT) -> float:
    """init, then import the roster in chunks; returns the seconds it took."""
    started = time.perf_counter()
    run_cli(config, "init", "--no-demo", log=log, cwd=cwd)
    for start in range(0, members, ROSTER_CHUNK):
        path = directory / f"roster-{start // ROSTER_CHUNK + 1}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(roster_rows(start, min(ROSTER_CHUNK, members - start)))
        run_cli(config, "members", "import", str(path), log=log, cwd=cwd)
    return time.perf_counter() - started


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    log: Path
    workers: int
    cwd: Path = ROOT
    env: dict[str, str] | None = None  # default: server_env()
    healthy_status: int = 200   # what GET /healthz answers once up (WeRoBot: 403, unsigned)
    process: subprocess.Popen[bytes] | None = None
    _log_handle: Any = field(default=None, repr=False)

    def start(self, timeout: float = 60.0) -> None:
        self._log_handle = self.log.open("ab")
        # A session of its own: Ctrl-C in the terminal reaches only the bench, which then stops
        # the server in order (TERM, then KILL of its whole process group).
        self.process = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env or server_env(),
                                        stdout=self._log_handle, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            if len(proc.children(self.process.pid)) >= self.workers and self._healthy():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready in {timeout:.0f} s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        import http.client

        conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == self.healthy_status
        except OSError:
            return False
        finally:
            conn.close()

    @property
    def pids(self) -> list[int]:
        return proc.tree(self.process.pid) if self.process else []

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()  # gunicorn: graceful stop of the workers
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
        if process is not None:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # stragglers (workers) in its group
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def running(*servers: Server) -> Iterator[None]:
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in reversed(servers):
            server.stop()


def load(server: Server, callbacks: list[dict[str, str]], senders: list[str], concurrency: int,
         spec_path: Path, *, rate: float | None = None, corp_id: str = CORP_ID) -> dict[str, Any]:
    """One load-generator process against `server`; its JSON result. With `rate`, requests go
    out at that many a second (bench.loadgen), else as fast as the server answers."""
    assert server.process is not None
    spec = {"host": HOST, "port": server.port, "concurrency": concurrency,
            "server_pid": server.process.pid, "requests": callbacks, "senders": senders,
            "rate": rate,
            "verify": {"token": TOKEN, "encoding_aes_key": AES_KEY, "corp_id": corp_id,
                       "expect": "打卡"}}
    spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "bench.loadgen", str(spec_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise RuntimeError(f"load generator failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


# --- the benchmark ---------------------------------------------------------------------------------


class Bench:
    """Hands out members and MsgIds so that no two callbacks repeat either, and keeps the runs."""

    def __init__(self, plan: Plan, directory: Path) -> None:
        self.plan = plan
        self.directory = directory
        self.next_msg_id = 7_000_000_000_000_000_000
        self.next_member: dict[str, int] = {}
        self.sent_members: dict[str, set[str]] = {}
        self.sent: dict[str, int] = {}
        self.runs: list[Run] = []
        self.warmups: list[Run] = []

    def callbacks(self, server: str, count: int) -> tuple[list[dict[str, str]], list[str]]:
        start = self.next_member.get(server, 0)
        senders = [userid((start + i) % self.plan.roster_size) for i in range(count)]
        self.next_member[server] = start + count
        built = build_callbacks(senders, self.next_msg_id, official_account=server == WEROBOT)
        self.next_msg_id += count
        self.sent_members.setdefault(server, set()).update(senders)
        self.sent[server] = self.sent.get(server, 0) + count
        return built, senders

    def run(self, server: Server, concurrency: int, count: int, number: int,
            warmup: bool = False) -> Run:
        callbacks, senders = self.callbacks(server.name, count)  # built before the clock starts
        proc.reset_peak_rss(server.pids)
        result = load(server, callbacks, senders, concurrency,
                      self.directory / f"spec-{server.name}.json")
        run = Run(server.name, concurrency, number, result, proc.peak_rss_kb(server.pids))
        (self.warmups if warmup else self.runs).append(run)
        when = "warm-up" if warmup else f"round {number}"
        print(f"  c={concurrency:<3} {server.name:<20} {when:<8} "
              f"{result['throughput']:8,.0f} msg/s  p50 {result['p50_ms']:6.1f} ms  "
              f"p99 {result['p99_ms']:6.1f} ms  cpu {run.cpu_ms_per_msg:5.2f} ms/msg  "
              f"other load {run.other_load:4.2f}  failed {run.failed}", flush=True)
        return run


def check_store(db_path: Path, server: str, bench: Bench) -> list[tuple[str, bool]]:
    """After a Qingfeng server's runs: one check-in row per distinct member sent and one dedupe
    row per callback, in its SQLite file."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        checkins, checkin_members = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT member_id) FROM checkins WHERE via = 'wecom'").fetchone()
        dedupe = conn.execute("SELECT COUNT(*) FROM inbound WHERE channel = 'wecom'").fetchone()[0]
    distinct = len(bench.sent_members.get(server, ()))
    sent = bench.sent.get(server, 0)
    return [
        (f"{label(server)}: check-in rows = distinct members sent: {checkins:,} rows "
         f"({checkin_members:,} members) for {distinct:,} members",
         checkins == distinct == checkin_members),
        (f"{label(server)}: dedupe rows = callbacks sent (distinct MsgIds): {dedupe:,} "
         f"for {sent:,}", dedupe == sent),
    ]


def check_answers(server: str, bench: Bench) -> list[tuple[str, bool]]:
    """What the load generators saw, warm-ups included: no 5xx (nor any non-200), and every
    reply signed, decrypted, addressed to its sender and about 打卡."""
    runs = [r for r in bench.warmups + bench.runs if r.server == server]
    total = sum(r.result["requests"] for r in runs)
    five = sum(r.five_xx for r in runs)
    other = sum(n for r in runs for s, n in r.result["statuses"].items() if s != "200")
    errors = sum(sum(r.result["errors"].values()) for r in runs)
    ok = sum(r.result["verify"]["ok"] for r in runs)
    samples = [s for r in runs for s in r.result["verify"]["samples"]][:2]
    checks = [
        (f"{label(server)}: no 5xx ({five} 5xx, {other} non-200 or unanswered, {errors} "
         f"connection errors, in {total:,} requests)", other == 0 and errors == 0),
        (f"{label(server)}: replies signed, decrypted, addressed to the sender and containing "
         f"打卡: {ok:,}/{total:,}" + (f" (e.g. {'; '.join(samples)})" if samples else ""),
         ok == total),
    ]
    if server not in ANCHORS:
        kinds: dict[str, int] = {}
        for r in runs:
            for kind, n in r.result["verify"]["contents"].items():
                kinds[kind] = kinds.get(kind, 0) + n
        checks.append((f"{label(server)}: reply kinds "
                       + ", ".join(f"{k} ×{v:,}" for k, v in kinds.items()), True))
    return checks


def export_commit(commit: str, target: Path) -> Path:
    """The tree of `commit` (bot/, handlers/, schedules/, content/, ...) in `target`."""
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True,
                             timeout=120, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, timeout=120, check=True)
    return target


def report(plan: Plan, bench: Bench, summaries: list[Summary], checks: list[tuple[str, bool]],
           machine: dict[str, str], setup_s: float) -> str:
    workers = repo_server_settings()
    lines = [
        f"# Webhook benchmark, {machine['date']}"
        + (f" (with Qingfeng variants {', '.join(plan.variants)})" if plan.variants else ""),
        "",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['ram']} RAM, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}, Linux {machine['kernel']}.",
        f"Code: {code_version()}.",
        f"Servers: gunicorn gthread, {workers.get('workers')} workers × {workers.get('threads')} "
        "threads (config.toml), same options for both; load generator: a separate Python "
        "process, one keep-alive http.client connection per thread.",
        f"Plan: {plan.requests:,} timed requests per run, concurrency "
        f"{', '.join(map(str, plan.concurrency))}, {plan.rounds} rounds per server, the servers "
        f"alternated ({' '.join(label(n) for n in _servers(bench.runs))}, again), "
        f"{plan.warmup:,} warm-up requests per server per concurrency; "
        f"{plan.roster_size:,} members imported per Qingfeng store (ready in {setup_s:.1f} s).",
        "",
        "Medians over the rounds (msg/s: median, with the range in brackets). Server CPU is "
        "utime + stime of the gunicorn master and workers over the timed window. Peak RSS is "
        "VmHWM summed over the gunicorn master and workers (an upper bound: forked workers "
        "share pages). \"Other load\" in the per-run table is the CPU the rest of the machine "
        "used meanwhile, in cores: the noise.",
        "",
        format_table(summaries),
        "",
        "Target:",
        *verdict(summaries),
        "",
        "Checks:",
        *[f"- [{'x' if ok else ' '}] {text}" for text, ok in checks],
        "",
        "Every run:",
        "",
        format_runs(bench.runs),
        "",
    ]
    return "\n".join(lines)


def run(plan: Plan) -> int:
    """The whole benchmark; 0 when every check passed (missing the target is not a failure)."""
    machine = proc.machine()
    print(f"webhook benchmark{' with variants ' + ', '.join(plan.variants) if plan.variants else ''}: "
          f"{plan.requests:,} requests/run, concurrency "
          f"{','.join(map(str, plan.concurrency))}, {plan.rounds} rounds, "
          f"{plan.roster_size:,} members", flush=True)
    workers = int(repo_server_settings().get("workers", 2))
    names = [QINGFENG] + [f"{QINGFENG}+{variant}" for variant in plan.variants]
    if plan.baseline:
        names.append(BASELINE + plan.baseline)
    with tempfile.TemporaryDirectory(prefix="qingfeng-bench-") as tmp:
        directory = Path(tmp)
        servers: list[Server] = []
        setup_s = 0.0
        for name in names:  # each Qingfeng on its own store and port
            home = directory / name.replace("+", "-").replace(",", "-").replace("@", "-")
            home.mkdir()
            source = export_commit(name[len(BASELINE):], home / "src") \
                if name.startswith(BASELINE) else ROOT
            port = free_port()
            config = write_config(home, port, source)
            print(f"  preparing the store in {home} ...", flush=True)
            setup_s = prepare_store(home, config, plan.roster_size, home / "cli.log", cwd=source)
            variant = name.partition("+")[2]
            command = ["-m", "bench.variants", variant] if variant else ["-m", "bot"]
            servers.append(Server(name, [sys.executable, *command, "--config", str(config),
                                         "serve"], port, home / "server.log", workers,
                                  cwd=source))
        anchors = []
        for name, module in ((ANCHOR, "bench.echo_app"), (WEROBOT, "bench.werobot_app")):
            port = free_port()
            anchors.append(Server(name, [sys.executable, "-m", module, "--config",
                                         str(directory / QINGFENG / "config.toml"),
                                         "--port", str(port)],
                                  port, directory / f"{name}.log", workers,
                                  healthy_status=403 if name == WEROBOT else 200))
        order = [*anchors, *servers]  # A W B (C) A W B (C) ...
        bench = Bench(plan, directory)
        with running(*order):
            for level in plan.concurrency:
                for server in order:
                    bench.run(server, level, plan.warmup, 0, warmup=True)
                for number in range(1, plan.rounds + 1):
                    for server in order:
                        bench.run(server, level, plan.requests, number)
        checks = []
        for server in servers:
            checks += check_store(Path(server.log).parent / "qingfeng.db", server.name, bench)
        for server in [*servers, *anchors]:
            checks += check_answers(server.name, bench)
    summaries = summarise(bench.runs)
    text = report(plan, bench, summaries, checks, machine, setup_s)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-variants" if plan.variants else ""
    out = RESULTS / f"webhook-{datetime.now():%Y%m%d-%H%M%S}{suffix}.md"
    out.write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"written to {out.relative_to(ROOT)}")
    return 0 if all(ok for _text, ok in checks) else 1
