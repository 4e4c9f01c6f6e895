"""The delivery benchmark: one broadcast fanned out to a large roster, and how late a job fires.

    python -m bench delivery [--quick] [--members N] [--rounds N]

Part 1, fan-out. One broadcast ({"all": true}, the same text for everyone) to 10,000 members
(--quick: 2,000), in a fresh SQLite store each time, through:
  * wecom:   every member bound to a WeCom userid; message/send takes 1,000 userids per call;
  * mp:      every member bound to an Official Account openid; one customer-service call each;
  * sandbox: no real channel; deliveries land in the store's sandbox inbox.
The real channels talk to tests/fakeapi.py (`python -m tests.fakeapi`), started fresh for each
run as its own process, so its CPU is not counted with ours. Each run is a worker process of
its own (`python -m bench.delivery --worker SPEC`): it builds the services from a config dict
(as tests/conftest.py does), imports the roster (untimed), then times `create_broadcast` (the
expansion into one ledger row per member) and `drain` (the sends), and reports its peak RSS
(VmHWM, reset after the roster import) and CPU. Afterwards: the ledger says every member was
sent exactly once, and the fake's record holds every recipient exactly once and nobody else.
Runs are interleaved (wecom, mp, sandbox, wecom, ...) for the given rounds; medians reported.

Part 2, fire delay. The real SchedulerRunner (APScheduler's background thread) with
scheduler.tick_s = 1, in this process, on a sandbox store: a one-off schedule due a few seconds
ahead (real clock, a random phase against the ticks), then the store is polled every 5 ms until
its broadcast row appears; delay = that moment minus the fire time. The bound for the default
tick_s = 10 is explained, and (full run only) one sample of it is taken.

Writes bench/results/delivery-<time>.md and prints it; the Markdown table and the reading go
into the "Delivery" section of docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench import proc
from bench.proc import code_version, free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"

# "mp-serial" is the Official Account channel as it was before issue 7 (one call at a time, the
# ledger written after each): the before of the side-by-side comparison, in the same run.
CHANNELS = ("wecom", "mp", "mp-serial", "sandbox")
FAKE_KIND = {"wecom": "wecom", "mp": "mp_custom"}  # Delivered.channel in the fake's record
TEXT = ("【清风提醒】节日将至，请严守中央八项规定精神，不收受礼品礼金，不违规吃喝，"
        "不公车私用。廉洁过节，风清气正。")
BROADCAST_KEY = "bench:delivery"
AGENT_ID = 1000002
# Test-only settings for the channels (the fake's DEFAULT_* credentials); never real ones.
WECOM_TOKEN = "qingfeng-bench-token"
AES_KEY = "QingfengBenchAesKey0123456789abcdefghijklmn"  # 43 characters
MP_TOKEN = "qingfeng-bench-mp-token"
WORKER_TIMEOUT_S = 900
POLL_S = 0.005


@dataclass(frozen=True)
class Plan:
    members: int = 10_000
    rounds: int = 3
    channels: tuple[str, ...] = CHANNELS
    delay_runs: int = 5           # fire-delay samples at tick_s = delay_tick_s
    delay_tick_s: int = 1
    default_tick_sample: bool = True  # one sample at the default tick_s (10 s)
    lead_s: float = 2.0           # a schedule is due this long after it is created, plus a phase
    busy_runs: int = 1            # fire-during-a-fan-out samples per variant (each is long)

    @classmethod
    def from_args(cls, quick: bool = False, members: int | None = None,
                  rounds: int | None = None) -> Plan:
        return cls(members=members or (2_000 if quick else 10_000), rounds=rounds or 3,
                   delay_runs=3 if quick else 5, default_tick_sample=not quick,
                   busy_runs=1)


# --- one fan-out (runs in a worker process; the smoke test calls it in-process) -------------------


def external_id(channel: str, index: int) -> str:
    """A member's id on a channel: a WeCom userid (lower case, as stored) or an OA openid."""
    if channel == "wecom":
        return f"dlv{index:06d}"
    return f"oQfBench{index:020d}"  # openids are 28 characters


def service_config(directory: Path, channel: str, api_base_url: str | None = None,
                   tick_s: int | None = None) -> dict[str, Any]:
    """The config dict for a store in `directory` with only `channel` enabled."""
    from tests.fakeapi import DEFAULT_APPID, DEFAULT_CORPID, DEFAULT_CORPSECRET, DEFAULT_SECRET

    config: dict[str, Any] = {
        "store": {"path": str(directory / "qingfeng.db")},
        "content": {"path": str(ROOT / "content")},
        "sandbox": {"enabled": channel == "sandbox"},
    }
    if channel == "wecom":
        config["wecom"] = {"enabled": True, "corp_id": DEFAULT_CORPID, "agent_id": AGENT_ID,
                           "token": WECOM_TOKEN, "encoding_aes_key": AES_KEY,
                           "secret": DEFAULT_CORPSECRET, "api_base_url": api_base_url}
    elif channel == "mp":
        config["mp"] = {"enabled": True, "app_id": DEFAULT_APPID, "token": MP_TOKEN,
                        "app_secret": DEFAULT_SECRET, "api_base_url": api_base_url}
    if tick_s is not None:
        config["scheduler"] = {"tick_s": tick_s}
    return config


def build(directory: Path, channel: str, api_base_url: str | None = None,
          tick_s: int | None = None):  # -> bot.services.Services
    from bot.clock import Clock
    from bot.config import load_config
    from bot.seed import initialise
    from bot.services import build_services

    # env={}: a QINGFENG_* variable in the caller's environment must not change the bench.
    config = load_config(service_config(directory, channel, api_base_url, tick_s), env={})
    services = build_services(config, Clock(config.tz))
    initialise(services, demo=False)
    return services


def import_roster(services: Any, channel: str, members: int) -> None:
    """`members` active members, bound to `channel` unless it is the sandbox; one transaction."""
    from bot.store import members as store_members

    now = services.clock.now()
    with services.store.transaction() as db:
        for i in range(members):
            member_id = store_members.add_member(
                db, name=f"投递压测{i:06d}", branch=f"压测第{i // 500 + 1}支部",
                grp=f"第{i % 500 // 50 + 1}小组", now=now)
            if channel != "sandbox":
                store_members.bind_identity(db, channel=channel, external_id=external_id(
                    channel, i), member_id=member_id, now=now)


class CountingChannel:
    """A channel adapter with its send() calls and items counted."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.batch_size = inner.batch_size
        self.calls = 0
        self.items = 0

    def send(self, batch: list) -> list:
        self.calls += 1
        self.items += len(batch)
        return self.inner.send(batch)


def _status_kb(key: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def base_channel(channel: str) -> str:
    """The service channel a bench variant runs on ("mp-serial" is "mp", sent serially)."""
    return "mp" if channel == "mp-serial" else channel


def make_serial(channels: Mapping[str, Any]) -> None:
    """The Official Account channel as before: one call per batch, one batch at a time."""
    if "mp" in channels:
        channels["mp"].batch_size = 1
        channels["mp"].concurrency = 1


def broadcast_once(directory: Path, channel: str, members: int, api_base_url: str | None = None,
                   *, own_process: bool = True, serial: bool = False) -> dict[str, Any]:
    """Import a roster, then time one broadcast's expansion and drain. `own_process`: this
    process does nothing else, so its peak RSS may be reset and read (else it is not reported)."""
    from bot import delivery

    started = time.perf_counter()
    services = build(directory, channel, api_base_url)
    try:
        import_roster(services, channel, members)
        setup_s = time.perf_counter() - started
        gc.collect()
        rss_before_kb = _status_kb("VmRSS")
        peak_reset = own_process and proc.reset_peak_rss([os.getpid()])
        built = delivery.build_channels(services)
        if serial:
            make_serial(built)
        channels = {name: CountingChannel(c) for name, c in built.items()}

        cpu0, t0 = _cpu_s(), time.perf_counter()
        broadcast_id = delivery.create_broadcast(services, key=BROADCAST_KEY, text=TEXT,
                                                 audience={"all": True},
                                                 fire_at=services.clock.now())
        t1, cpu1 = time.perf_counter(), _cpu_s()
        settled = delivery.drain(services, channels)
        t2, cpu2 = time.perf_counter(), _cpu_s()

        peak_kb = _status_kb("VmHWM") if peak_reset else 0
        db = services.store.db
        ledger = delivery.counts(db, broadcast_id)
        status = db.execute("SELECT status FROM broadcasts WHERE id = ?",
                            [broadcast_id]).fetchone()[0]
        inbox_rows, inbox_members, inbox_keys = db.execute(
            "SELECT count(*), count(DISTINCT member_id), count(DISTINCT delivery_key)"
            " FROM sandbox_inbox").fetchone()
        ledger_channels = dict(db.execute(
            "SELECT channel, count(*) FROM deliveries WHERE broadcast_id = ? GROUP BY channel",
            [broadcast_id]).fetchall())
    finally:
        services.store.close()
    return {
        "channel": channel, "members": members, "setup_s": setup_s,
        "expand_s": t1 - t0, "drain_s": t2 - t1, "expand_cpu_s": cpu1 - cpu0,
        "drain_cpu_s": cpu2 - cpu1, "settled": settled,
        "send_calls": sum(c.calls for c in channels.values()),
        "send_items": sum(c.items for c in channels.values()),
        "rss_before_kb": rss_before_kb, "peak_rss_kb": peak_kb,
        "ledger": {"targeted": ledger.targeted, "sent": ledger.sent, "pending": ledger.pending,
                   "failed": ledger.failed, "undeliverable": ledger.undeliverable,
                   "reasons": ledger.reasons, "status": status, "channels": ledger_channels},
        "inbox": {"rows": inbox_rows, "members": inbox_members, "keys": inbox_keys},
    }


def worker_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    result = broadcast_once(Path(spec["directory"]), spec["channel"], spec["members"],
                            spec.get("api_base_url"), serial=spec.get("serial", False))
    result["ru_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result, ensure_ascii=False))
    return 0


# --- checks (pure) ---------------------------------------------------------------------------------


def check_run(result: Mapping[str, Any], fake_state: Mapping[str, Any] | None) -> list[tuple[str, bool]]:
    """What must hold after a fan-out: the ledger, and the fake's record (or the sandbox inbox)."""
    n = result["members"]
    channel = result["channel"]
    ledger = result["ledger"]
    checks = [
        (f"ledger: {ledger['sent']:,} sent of {ledger['targeted']:,} targeted, "
         f"{ledger['pending']} pending, {ledger['failed']} failed, "
         f"{ledger['undeliverable']} undeliverable, broadcast {ledger['status']}",
         ledger["targeted"] == ledger["sent"] == n and ledger["status"] == "done"
         and ledger["channels"] == {channel: n}),
    ]
    if channel == "sandbox":
        inbox = result["inbox"]
        checks.append((f"sandbox inbox: {inbox['rows']:,} rows, {inbox['members']:,} distinct "
                       f"members, {inbox['keys']:,} distinct delivery keys",
                       inbox["rows"] == inbox["members"] == inbox["keys"] == n))
        return checks
    delivered = list((fake_state or {}).get("delivered", []))
    to = Counter(d["to"] for d in delivered if d["channel"] == FAKE_KIND[channel])
    others = len(delivered) - sum(to.values())
    twice = sum(1 for count in to.values() if count > 1)
    expected = {external_id(channel, i) for i in range(n)}
    checks.append((f"fake's record: {len(to):,} distinct recipients, {twice} received twice, "
                   f"{len(set(to) - expected)} unexpected, {others} on another channel",
                   len(to) == n and twice == 0 and set(to) == expected and others == 0))
    return checks


def expected_http_sends(channel: str, members: int) -> int:
    if channel == "wecom":
        return -(-members // 1000)
    return members if channel == "mp" else 0


# --- the fake API, as a process of its own ---------------------------------------------------------


class FakeProcess:
    """`python -m tests.fakeapi --port P --quiet`, started and stopped (terminate, then kill)."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/cgi-bin/"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 20.0) -> FakeProcess:
        self._log_handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakeapi", "--host", HOST, "--port", str(self.port),
             "--quiet"], cwd=ROOT, stdout=self._log_handle, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the fake API exited with {self.process.returncode}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            with suppress(OSError):
                self.state()
                return self
            time.sleep(0.05)
        raise RuntimeError(f"the fake API did not answer on port {self.port} in {timeout:.0f} s")

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/_fake/state", timeout=30) as r:
            return json.loads(r.read().decode("utf-8"))

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None


def run_worker(home: Path, channel: str, members: int, api_base_url: str | None) -> dict[str, Any]:
    spec = {"directory": str(home), "channel": base_channel(channel), "members": members,
            "api_base_url": api_base_url, "serial": channel == "mp-serial"}
    spec_path = home / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGFENG_")}
    done = subprocess.run([sys.executable, "-m", "bench.delivery", "--worker", str(spec_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=WORKER_TIMEOUT_S)
    if done.returncode:
        raise RuntimeError(f"delivery worker ({channel}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass
class Run:
    channel: str
    round: int
    result: dict[str, Any]
    http_sends: int = 0          # message calls the fake saw (0 for the sandbox)
    token_fetches: int = 0
    fake_cpu_s: float = 0.0
    other_load: float = 0.0      # cores busy with anything but the worker and the fake (noise)
    checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def sends_per_s(self) -> float:
        drain = self.result["drain_s"]
        return self.result["ledger"]["sent"] / drain if drain else 0.0

    @property
    def ok(self) -> bool:
        return all(ok for _text, ok in self.checks)


def _measured(work: Callable[[], dict[str, Any]],
              pids: list[int]) -> tuple[dict[str, Any], float]:
    """work()'s result, and the cores the rest of the machine kept busy meanwhile: all busy
    CPU time minus the worker's (a child of this process) and `pids`', over the wall time."""
    busy0, cpu0 = proc.machine_busy_seconds(), proc.cpu_seconds(pids)
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = work()
    wall = time.perf_counter() - t0
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker = (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)
    ours = worker + proc.cpu_delta(cpu0, proc.cpu_seconds(pids))
    return result, max(0.0, proc.machine_busy_seconds() - busy0 - ours) / wall if wall else 0.0


def fan_out(channel: str, members: int, home: Path, number: int) -> Run:
    """One run: a fresh store (and a fresh fake for a real channel), the worker, the checks."""
    home.mkdir(parents=True)
    if channel == "sandbox":
        result, other = _measured(lambda: run_worker(home, channel, members, None), [])
        run = Run(channel, number, result, other_load=other)
        run.checks = check_run(result, None)
        return run
    fake = FakeProcess(home / "fakeapi.log")
    try:
        fake.start()
        cpu_before = proc.cpu_seconds([fake.pid])
        result, other = _measured(lambda: run_worker(home, channel, members, fake.base_url),
                                  [fake.pid])
        fake_cpu = proc.cpu_delta(cpu_before, proc.cpu_seconds([fake.pid]))
        state = fake.state()
    finally:
        fake.stop()
    run = Run(channel, number, result, http_sends=state["calls"] - state["token_fetches"],
              token_fetches=state["token_fetches"], fake_cpu_s=fake_cpu, other_load=other)
    expected = expected_http_sends(base_channel(channel), members)
    run.checks = check_run(result, state) + [
        (f"HTTP calls: {run.http_sends:,} message calls (expected {expected:,}), "
         f"{run.token_fetches} token fetch(es)", run.http_sends == expected)]
    return run


# --- fire delay (in this process: the real SchedulerRunner and its APScheduler thread) -----------


def _observed_runner_class():  # defined lazily: importing schedules pulls in the whole bot
    from schedules.runner import SchedulerRunner

    @dataclass
    class ObservedRunner(SchedulerRunner):
        """The real runner; each tick's wall-clock start and end are recorded, and stop()
        waits for a tick in flight so the store is not closed under it."""

        ticks: list[tuple[float, float]] = field(default_factory=list)
        _busy: threading.Lock = field(default_factory=threading.Lock)

        def tick(self) -> bool:
            with self._busy:
                begun = time.time()
                try:
                    return super().tick()
                finally:
                    self.ticks.append((begun, time.time()))

        def stop(self) -> None:
            super().stop()
            with self._busy:
                pass

    return ObservedRunner


@dataclass
class Fire:
    tick_s: int
    delay_s: float          # broadcast row seen (polled) - fire time
    created_delay_s: float  # broadcast.created_at (written by the job) - fire time
    done_delay_s: float     # broadcast status 'done' (every delivery sent) seen - fire time
    tick_started_after_s: float  # first tick begun at or after the fire time - fire time
    schedule_status: str    # the once-schedule's status afterwards
    tick_ms: float = 0.0    # the runner's ticks so far, median duration (lease + jobs)


def measure_fire_delays(directory: Path, tick_s: int, runs: int, *, lead_s: float = 2.0,
                        members: int = 200, seed: int = 7) -> list[Fire]:
    from schedules import admin
    from schedules.runner import default_jobs

    directory.mkdir(parents=True, exist_ok=True)
    services = build(directory, "sandbox", tick_s=tick_s)
    rng = random.Random(seed)
    fires: list[Fire] = []
    runner = _observed_runner_class()(services, jobs=default_jobs())
    try:
        import_roster(services, "sandbox", members)
        runner.start()
        for number in range(runs):
            # A random phase against the ticks, so the samples cover the whole interval.
            due = services.clock.now() + timedelta(seconds=lead_s + rng.uniform(0, tick_s))
            schedule_id = admin.create(
                services, kind="once", spec={"at": due.isoformat()}, workdays_only=False,
                audience={"all": True}, content={"text": f"{TEXT}（{number + 1}）"},
                actor="bench")
            fires.append(_wait_for_fire(services, runner, schedule_id, due, tick_s))
    finally:
        runner.stop()
        services.store.close()
    return fires


def _wait_for_fire(services: Any, runner: Any, schedule_id: int, due: datetime,
                   tick_s: int) -> Fire:
    db = services.store.db
    fire_ts = due.timestamp()
    deadline = fire_ts + tick_s + 30
    seen = done = None
    created_at = None
    while time.time() < deadline:
        row = db.execute("SELECT created_at, status FROM broadcasts WHERE schedule_id = ?",
                         [schedule_id]).fetchone()
        now = time.time()
        if row is not None and seen is None:
            seen, created_at = now, datetime.fromisoformat(row[0]).timestamp()
        if row is not None and row[1] == "done":
            done = now
            break
        time.sleep(POLL_S)
    if seen is None or done is None or created_at is None:
        raise RuntimeError(f"schedule {schedule_id} due {due.isoformat()} did not fire in time")
    after = [begun for begun, _end in list(runner.ticks) if begun >= fire_ts]
    status = db.execute("SELECT status FROM schedules WHERE id = ?", [schedule_id]).fetchone()[0]
    tick_ms = statistics.median(1000 * (end - begun) for begun, end in list(runner.ticks))
    return Fire(tick_s, seen - fire_ts, created_at - fire_ts, done - fire_ts,
                (after[0] - fire_ts) if after else float("nan"), status, tick_ms)


# --- fire delay while an Official Account fan-out drains (issue 7: draining must not block) ----


@dataclass
class BusyFire:
    variant: str            # "sliced" (now) or "serial" (before: one unbounded drain per tick)
    members: int
    delay_s: float          # the schedule's broadcast row seen - its fire time
    pending_at_fire: int    # fan-out rows still pending when it was seen: the drain was running
    longest_tick_s: float   # the runner's longest tick so far


def measure_fire_while_draining(directory: Path, members: int, *, sliced: bool, tick_s: int = 2,
                                seed: int = 11) -> BusyFire:
    """A `members` OA broadcast is pending; the real runner drains it; a one-off schedule to one
    member falls due while it does. Before: each tick drained everything, serially."""
    from bot import delivery
    from schedules import admin, jobs
    from schedules.runner import default_jobs

    directory.mkdir(parents=True, exist_ok=True)
    fake = FakeProcess(directory / "fakeapi.log")
    fake.start()
    services = build(directory, "mp", fake.base_url, tick_s=tick_s)
    original_slice = jobs.drain_slice_s
    runner = _observed_runner_class()(services, jobs=default_jobs())
    try:
        import_roster(services, "mp", members)
        if not sliced:
            jobs.drain_slice_s = lambda _services: None  # type: ignore[assignment]
            make_serial(delivery.channels_of(services))
        delivery.create_broadcast(services, key=BROADCAST_KEY, text=TEXT, audience={"all": True},
                                  fire_at=services.clock.now())
        db = services.store.db
        runner.start()
        _poll(lambda: db.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'")
              .fetchone()[0] > 0, 60)  # the fan-out is under way
        due = services.clock.now() + timedelta(seconds=1 + random.Random(seed).uniform(0, tick_s))
        first = db.execute("SELECT min(id) FROM members").fetchone()[0]
        schedule_id = admin.create(services, kind="once", spec={"at": due.isoformat()},
                                   workdays_only=False, audience={"members": [first]},
                                   content={"text": "主题党日改到周五下午三点"}, actor="bench")
        # Before, the fire waits for the whole fan-out: minutes on a busy machine.
        _poll(lambda: db.execute("SELECT 1 FROM broadcasts WHERE schedule_id = ?",
                                 [schedule_id]).fetchone() is not None, 1800)
        seen = time.time()
        pending = db.execute("SELECT count(*) FROM deliveries d JOIN broadcasts b"
                             " ON b.id = d.broadcast_id WHERE b.key = ? AND d.status = 'pending'",
                             [BROADCAST_KEY]).fetchone()[0]
    finally:
        runner.stop()
        jobs.drain_slice_s = original_slice
        services.store.close()
        fake.stop()
    longest = max((end - begun for begun, end in list(runner.ticks)), default=0.0)
    return BusyFire("sliced" if sliced else "serial", members, seen - due.timestamp(), pending,
                    longest)


def _poll(condition: Callable[[], bool], limit_s: float) -> None:
    deadline = time.time() + limit_s
    while not condition():
        if time.time() > deadline:
            raise RuntimeError("the benchmark waited too long")
        time.sleep(POLL_S)


def format_busy_fires(fires: Sequence[BusyFire]) -> str:
    lines = ["| drain | members pending | samples | fire delay median s | max s "
             "| fan-out rows still pending at the fire | longest tick s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for variant in ("serial", "sliced"):
        group = [f for f in fires if f.variant == variant]
        if not group:
            continue
        label = {"serial": "before: all of it in one tick, 1 call at a time",
                 "sliced": "now: ≤ tick_s/2 per tick, 4 calls at a time"}[variant]
        med = statistics.median
        lines.append(f"| {label} | {group[0].members:,} | {len(group)} "
                     f"| {med(f.delay_s for f in group):.2f} | {max(f.delay_s for f in group):.2f} "
                     f"| {med(f.pending_at_fire for f in group):,.0f} "
                     f"| {max(f.longest_tick_s for f in group):.2f} |")
    return "\n".join(lines)


# --- results (pure) --------------------------------------------------------------------------------


@dataclass
class Summary:
    channel: str
    members: int
    runs: int
    expand_s: float
    drain_s: float
    drain_range: tuple[float, float]
    sends_per_s: float
    peak_rss_mb: float
    rss_before_mb: float
    send_calls: float
    http_sends: float
    token_fetches: float
    worker_cpu_s: float
    fake_cpu_s: float
    ok: bool


def summarise(runs: Sequence[Run]) -> list[Summary]:
    """Medians per channel over the rounds; peak RSS is the largest seen."""
    summaries = []
    for channel in dict.fromkeys(r.channel for r in runs):
        group = [r for r in runs if r.channel == channel]
        drains = [r.result["drain_s"] for r in group]
        med = statistics.median
        summaries.append(Summary(
            channel=channel, members=group[0].result["members"], runs=len(group),
            expand_s=med(r.result["expand_s"] for r in group), drain_s=med(drains),
            drain_range=(min(drains), max(drains)),
            sends_per_s=med(r.sends_per_s for r in group),
            peak_rss_mb=max(r.result["peak_rss_kb"] for r in group) / 1024,
            rss_before_mb=med(r.result["rss_before_kb"] for r in group) / 1024,
            send_calls=med(r.result["send_calls"] for r in group),
            http_sends=med(r.http_sends for r in group),
            token_fetches=med(r.token_fetches for r in group),
            worker_cpu_s=med(r.result["expand_cpu_s"] + r.result["drain_cpu_s"] for r in group),
            fake_cpu_s=med(r.fake_cpu_s for r in group),
            ok=all(r.ok for r in group)))
    return summaries


CHANNEL_LABELS = {"wecom": "WeCom (1,000 per call)",
                  "mp": "Official Account (1 per call, 4 at once, ledger per 8)",
                  "mp-serial": "Official Account, serial (before: 1 at a time)",
                  "sandbox": "sandbox (SQLite inbox)"}


def format_table(summaries: Sequence[Summary]) -> str:
    lines = ["| channel | members | expand s | drain s (range) | sends/s | send() calls "
             "| HTTP calls (+ token) | peak RSS MB (before) | CPU s ours / fake | checks |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in summaries:
        low, high = s.drain_range
        http = (f"{s.http_sends:,.0f} (+{s.token_fetches:.0f})" if s.channel != "sandbox"
                else "–")
        fake = f"{s.fake_cpu_s:.2f}" if s.channel != "sandbox" else "–"
        lines.append(f"| {CHANNEL_LABELS.get(s.channel, s.channel)} | {s.members:,} "
                     f"| {s.expand_s:.2f} | {s.drain_s:.2f} ({low:.2f}–{high:.2f}) "
                     f"| {s.sends_per_s:,.0f} | {s.send_calls:,.0f} | {http} "
                     f"| {s.peak_rss_mb:.0f} ({s.rss_before_mb:.0f}) "
                     f"| {s.worker_cpu_s:.2f} / {fake} | {'ok' if s.ok else 'FAILED'} |")
    return "\n".join(lines)


def format_runs(runs: Sequence[Run]) -> str:
    lines = ["| # | channel | round | expand s | drain s | sends/s | expand CPU s | drain CPU s "
             "| fake CPU s | other load (cores) | peak RSS MB | ru_maxrss MB | setup s | checks |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for number, r in enumerate(runs, start=1):
        res = r.result
        lines.append(f"| {number} | {r.channel} | {r.round} | {res['expand_s']:.2f} "
                     f"| {res['drain_s']:.2f} | {r.sends_per_s:,.0f} | {res['expand_cpu_s']:.2f} "
                     f"| {res['drain_cpu_s']:.2f} | {r.fake_cpu_s:.2f} | {r.other_load:.2f} "
                     f"| {res['peak_rss_kb'] / 1024:.0f} | {res.get('ru_maxrss_kb', 0) / 1024:.0f} "
                     f"| {res['setup_s']:.2f} | {'ok' if r.ok else 'FAILED'} |")
    return "\n".join(lines)


def format_fires(fires: Sequence[Fire]) -> str:
    lines = ["| tick_s | samples | delay median s | delay max s | created_at − fire, median s "
             "| all sent, median s | first tick after the fire, median s | a tick, median ms |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for tick_s in sorted({f.tick_s for f in fires}):
        group = [f for f in fires if f.tick_s == tick_s]
        med = statistics.median
        lines.append(f"| {tick_s} | {len(group)} | {med(f.delay_s for f in group):.3f} "
                     f"| {max(f.delay_s for f in group):.3f} "
                     f"| {med(f.created_delay_s for f in group):.3f} "
                     f"| {med(f.done_delay_s for f in group):.3f} "
                     f"| {med(f.tick_started_after_s for f in group):.3f} "
                     f"| {med(f.tick_ms for f in group):.1f} |")
    return "\n".join(lines)


def format_fire_samples(fires: Sequence[Fire]) -> str:
    return "; ".join(f"tick {f.tick_s} s: {f.delay_s:.3f} s" for f in fires)


# --- the benchmark ---------------------------------------------------------------------------------


def report(plan: Plan, runs: Sequence[Run], fires: Sequence[Fire],
           machine: Mapping[str, str], busy: Sequence[BusyFire] = ()) -> str:
    summaries = summarise(runs)
    checks = [(f"{r.channel} round {r.round}: {text}", ok) for r in runs for text, ok in r.checks]
    statuses = Counter(f.schedule_status for f in fires)
    lines = [
        f"# Delivery benchmark, {machine['date']}",
        "",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['ram']} RAM, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}, Linux {machine['kernel']}.",
        f"Code: {code_version()}.",
        f"Plan: one broadcast to {plan.members:,} members per run, fresh store (and fresh fake "
        f"API process) each run, {plan.rounds} rounds interleaved "
        f"({', '.join(plan.channels)}, again); medians.",
        "",
        "expand = `create_broadcast` (audience, routing, one ledger row per member); drain = "
        "`drain` (claim, send, record; includes the one token fetch). sends/s = sent / drain "
        "time. Peak RSS = the worker's VmHWM over expand + drain, reset after the roster "
        "import (in brackets: its RSS before the broadcast). CPU = the worker's utime + stime "
        "over expand + drain / the fake API process's over the whole run. \"Other load\" (per run, "
        "below) is the CPU the rest of the machine used during the run, in cores: the noise.",
        "",
        format_table(summaries),
        "",
        "Scheduler fire delay (real SchedulerRunner, APScheduler thread, sandbox store, "
        "polled every 5 ms): delay = broadcast row visible − fire time.",
        "",
        format_fires(fires),
        "",
        f"Samples: {format_fire_samples(fires)}.",
        f"One-off schedules' status after firing: {dict(statuses)}.",
        "",
        "Fire delay while an Official Account fan-out drains (the real runner, tick_s = 2, "
        "a one-off schedule to one member due during the drain; the same run, before and now):",
        "",
        format_busy_fires(busy),
        "",
        "Checks:",
        *[f"- [{'x' if ok else ' '}] {text}" for text, ok in checks],
        "",
        "Every run:",
        "",
        format_runs(runs),
        "",
    ]
    return "\n".join(lines)


def run(plan: Plan) -> int:
    """The whole benchmark; 0 when every check passed."""
    machine = proc.machine()
    print(f"delivery benchmark: {plan.members:,} members, {plan.rounds} rounds of "
          f"{', '.join(plan.channels)}; fire delay at tick_s={plan.delay_tick_s} "
          f"×{plan.delay_runs}", flush=True)
    runs: list[Run] = []
    fires: list[Fire] = []
    with tempfile.TemporaryDirectory(prefix="qingfeng-bench-delivery-") as tmp:
        directory = Path(tmp)
        for number in range(1, plan.rounds + 1):
            for channel in plan.channels:
                r = fan_out(channel, plan.members, directory / f"{channel}-{number}", number)
                runs.append(r)
                res = r.result
                print(f"  {channel:<8} round {number}: expand {res['expand_s']:6.2f} s  "
                      f"drain {res['drain_s']:6.2f} s  {r.sends_per_s:8,.0f} sends/s  "
                      f"peak RSS {res['peak_rss_kb'] / 1024:5.0f} MB  "
                      f"other load {r.other_load:4.2f}  "
                      f"{'ok' if r.ok else 'FAILED: ' + '; '.join(t for t, ok in r.checks if not ok)}",
                      flush=True)
        print(f"  fire delay, tick_s={plan.delay_tick_s}: {plan.delay_runs} schedules ...",
              flush=True)
        fires += measure_fire_delays(directory / "fires-1", plan.delay_tick_s, plan.delay_runs,
                                     lead_s=plan.lead_s)
        if plan.default_tick_sample:
            print("  fire delay, tick_s=10 (default): one sample ...", flush=True)
            fires += measure_fire_delays(directory / "fires-10", 10, 1, lead_s=plan.lead_s)
        for f in fires:
            print(f"    tick_s={f.tick_s}: delay {f.delay_s:.3f} s (all sent after "
                  f"{f.done_delay_s:.3f} s)", flush=True)
        busy: list[BusyFire] = []
        for number in range(plan.busy_runs):
            for sliced in (False, True):
                b = measure_fire_while_draining(
                    directory / f"busy-{number}-{sliced}", plan.members, sliced=sliced,
                    seed=11 + number)
                busy.append(b)
                print(f"  fire during an OA fan-out ({b.variant}): delay {b.delay_s:.2f} s, "
                      f"{b.pending_at_fire:,} still pending", flush=True)
    text = report(plan, runs, fires, machine, busy)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"delivery-{datetime.now():%Y%m%d-%H%M%S}.md"
    out.write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"written to {out.relative_to(ROOT)}")
    return 0 if all(r.ok for r in runs) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery")
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.worker:
        return worker_main(args.worker)
    from bench.__main__ import main as bench_main

    return bench_main(["delivery", *rest])


if __name__ == "__main__":
    sys.exit(main())
