"""The morning peak (issue 7): every member checks in within ten minutes while the 08:30
fan-out to every member runs in the same service.

    python -m bench peak [--quick] [--members N] [--compress F]

One Qingfeng (`python -m bot serve`: gunicorn with config.toml's workers and threads, and the
scheduler with tick_s = 1) on a fresh store with N members bound to WeCom userids (default
10,000), its WeCom channel pointed at the fake API (`python -m tests.fakeapi`, its own process).
A one-off schedule for everyone (`schedule add --at`, the next minute) makes the scheduler fan
out a broadcast to all N members through the fake while a load generator sends every member's
打卡 callback at an even rate. The ten minutes are compressed by F (default 10: 10,000
check-ins in 60 s, 167 a second; --quick: 2,000 members in 20 s); the fire falls about a third
of the way into the window. Latency counts from when each callback was due (queueing included).

Checked: every callback answered 200 with a reply for its sender containing 打卡 within 5 s; one
check-in row per member; the broadcast's ledger all sent, and the fake's record has every member
exactly once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import proc
from bench.delivery import FakeProcess
from bench.loadgen import percentile
from bench.webhook import (
    AES_KEY,
    HOST,
    RESULTS,
    ROOT,
    TOKEN,
    Server,
    build_callbacks,
    free_port,
    load,
    prepare_store,
    repo_server_settings,
)

REPLY_LIMIT_S = 5.0
TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Plan:
    members: int = 10_000
    compress: float = 10.0   # 10 minutes become 600 / compress seconds
    concurrency: int = 32    # client threads, enough that none waits for a free one

    @classmethod
    def from_args(cls, quick: bool = False, members: int | None = None,
                  compress: float | None = None) -> Plan:
        if quick:
            return cls(members=members or 2000, compress=compress or 30.0)
        return cls(members=members or 10_000, compress=compress or 10.0)

    @property
    def window_s(self) -> float:
        return 600.0 / self.compress

    @property
    def rate(self) -> float:
        return self.members / self.window_s


def write_config(directory: Path, port: int, api_base_url: str) -> Path:
    from tests.fakeapi import DEFAULT_CORPID

    server = {"host": HOST, "port": port, **repo_server_settings(), "max_clock_skew_s": 0}
    lines = ["[server]", *[f"{k} = {json.dumps(v)}" for k, v in server.items()],
             "", "[store]", f"path = {json.dumps(str(directory / 'qingfeng.db'))}",
             "", "[content]", f"path = {json.dumps(str(ROOT / 'content'))}",
             "", "[sandbox]", "enabled = false",
             "", "[scheduler]", "tick_s = 1",
             "", "[wecom]", "enabled = true", f"corp_id = {json.dumps(DEFAULT_CORPID)}",
             "agent_id = 1000002", f"api_base_url = {json.dumps(api_base_url)}", ""]
    path = directory / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def peak_env() -> dict[str, str]:
    from tests.fakeapi import DEFAULT_CORPSECRET

    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGFENG_")}
    env.update({"QINGFENG_WECOM_TOKEN": TOKEN, "QINGFENG_WECOM_ENCODING_AES_KEY": AES_KEY,
                "QINGFENG_WECOM_SECRET": DEFAULT_CORPSECRET, "PYTHONUNBUFFERED": "1"})
    return env


def schedule_fan_out(config: Path, log: Path) -> datetime:
    """A one-off schedule for everyone at a whole minute 1-2 minutes away (the server must be
    up and the callbacks built before the window opens)."""
    now = datetime.now(TZ)
    fire = (now + timedelta(seconds=120)).replace(second=0, microsecond=0)
    done = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "schedule",
                           "add", "--at", f"{fire:%Y-%m-%d %H:%M}", "--all", "--text",
                           "【压测】早高峰推送：请于今日完成学习打卡。"],
                          cwd=ROOT, env=peak_env(), capture_output=True, text=True, timeout=120)
    with log.open("a", encoding="utf-8") as handle:
        handle.write(done.stdout + done.stderr)
    if done.returncode:
        raise RuntimeError(f"schedule add failed:\n{done.stderr[-2000:]}")
    return fire


def ledger(db_path: Path) -> dict[str, Any]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        broadcasts = conn.execute("SELECT id, created_at FROM broadcasts").fetchall()
        statuses = dict(conn.execute(
            "SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall())
        last_sent = conn.execute("SELECT MAX(sent_at) FROM deliveries").fetchone()[0]
        checkins = conn.execute("SELECT COUNT(*), COUNT(DISTINCT member_id) FROM checkins"
                                ).fetchone()
    return {"broadcasts": len(broadcasts), "created_at": [b[1] for b in broadcasts],
            "last_sent": last_sent,
            "deliveries": statuses, "checkins": checkins[0], "checkin_members": checkins[1]}


def wait_for_fan_out(fake: FakeProcess, members: int, limit_s: float) -> float | None:
    """Seconds until the fake has received all `members` recipients, or None."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if len(fake.state().get("delivered", [])) >= members:
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def run(plan: Plan) -> int:
    from tests.fakeapi import DEFAULT_CORPID

    machine = proc.machine()
    print(f"morning peak: {plan.members:,} check-ins in {plan.window_s:.0f} s "
          f"({plan.rate:.0f}/s; 10 minutes compressed {plan.compress:g}×) while the fan-out "
          f"to {plan.members:,} runs", flush=True)
    with tempfile.TemporaryDirectory(prefix="qingfeng-peak-") as tmp:
        home = Path(tmp)
        fake = FakeProcess(home / "fakeapi.log").start()
        try:
            port = free_port()
            config = write_config(home, port, fake.base_url)
            setup_s = prepare_store(home, config, plan.members, home / "cli.log")
            workers = int(repo_server_settings().get("workers", 2))
            server = Server("qingfeng", [sys.executable, "-m", "bot", "--config", str(config),
                                         "serve"], port, home / "server.log", workers,
                            env=peak_env())
            senders = [f"bench{i:06d}" for i in range(plan.members)]
            fire = schedule_fan_out(config, home / "cli.log")
            server.start()
            try:
                # Start the load so that the fire falls a third of the way into the window.
                start_at = fire.timestamp() - plan.window_s / 3
                callbacks = build_callbacks(senders, 9_000_000_000, corp_id=DEFAULT_CORPID,
                                            timestamp=int(start_at))
                time.sleep(max(0.0, start_at - time.time()))
                load_started = time.time()
                result = load(server, callbacks, senders, plan.concurrency,
                              home / "spec.json", rate=plan.rate, corp_id=DEFAULT_CORPID)
                wait_for_fan_out(fake, plan.members, 120)  # the checks need it finished
                peak_kb = proc.peak_rss_kb(server.pids)
            finally:
                server.stop()
            state = fake.state()
        finally:
            fake.stop()
        after = ledger(home / "qingfeng.db")
    text = report(plan, machine, result, after, state, fire, load_started, peak_kb,
                  setup_s)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"peak-{datetime.now():%Y%m%d-%H%M%S}.md"
    out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {out.relative_to(ROOT)}")
    return 0 if "- [ ]" not in text else 1


def report(plan: Plan, machine: dict[str, str], result: dict[str, Any], after: dict[str, Any],
           state: dict[str, Any], fire: datetime, load_started: float,
           peak_kb: int, setup_s: float) -> str:
    timeline = result.get("timeline", [])
    fire_offset = fire.timestamp() - load_started
    near = [lat for t, lat in timeline if fire_offset - 1 <= t <= fire_offset + 10]
    latencies = sorted(lat for _t, lat in timeline)
    over = sum(1 for lat in latencies if lat >= REPLY_LIMIT_S)
    delivered = [d.get("to") for d in state.get("delivered", [])]
    recipients: list[str] = []
    for to in delivered:
        recipients += to.split("|") if isinstance(to, str) else list(to or [])
    statuses = result["statuses"]
    checks = [
        (f"every callback answered 200: {statuses}", statuses == {"200": plan.members}),
        (f"every reply under {REPLY_LIMIT_S:.0f} s: {over} at or over", over == 0),
        (f"replies signed, for their sender, about 打卡: {result['verify']['ok']:,}/"
         f"{plan.members:,}", result["verify"]["ok"] == plan.members),
        (f"one check-in per member: {after['checkins']:,} rows, {after['checkin_members']:,} "
         f"members", after["checkins"] == after["checkin_members"] == plan.members),
        (f"one broadcast, ledger all sent: {after['broadcasts']} broadcast(s), "
         f"{after['deliveries']}",
         after["broadcasts"] == 1 and after["deliveries"] == {"sent": plan.members}),
        (f"the fake received {len(recipients):,} recipients, {len(set(recipients)):,} distinct",
         len(recipients) == len(set(recipients)) == plan.members),
    ]

    def pct(p: float) -> float:
        return percentile(latencies, p) * 1000

    lines = [
        f"# Morning peak, {machine['date']}",
        "",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['ram']} RAM, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}.",
        f"Plan: {plan.members:,} members, each checking in once over {plan.window_s:.0f} s "
        f"({plan.rate:.0f}/s: ten minutes compressed {plan.compress:g}×), {plan.concurrency} "
        f"client threads; a broadcast to all {plan.members:,} (WeCom, via the fake API) fired "
        f"by the service's scheduler {fire_offset:.1f} s into the window. Store ready in "
        f"{setup_s:.0f} s.",
        "",
        "| replies | p50 ms | p99 ms | p99.9 ms | max ms | max ms, fire −1 s to +10 s "
        "| ≥ 5 s | fan-out done after the fire, s | server CPU s | peak RSS MB (sum) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(latencies):,} | {pct(50):.1f} | {pct(99):.1f} | {pct(99.9):.1f} "
        f"| {latencies[-1] * 1000 if latencies else 0:.0f} "
        f"| {max(near) * 1000 if near else 0:.0f} | {over} "
        f"| {_fan_out_after_fire(after, fire)} "
        f"| {result['server_cpu_s']:.1f} | {peak_kb / 1024:.0f} |",
        "",
        "Checks:",
        *[f"- [{'x' if ok else ' '}] {text}" for text, ok in checks],
        "",
    ]
    return "\n".join(lines)


def _fan_out_after_fire(after: dict[str, Any], fire: datetime) -> str:
    """When the last delivery was recorded sent, in seconds after the fire time."""
    if not after.get("last_sent"):
        return "not done"
    last = datetime.fromisoformat(after["last_sent"])
    if last.tzinfo is None:
        last = last.replace(tzinfo=TZ)
    return f"{(last - fire).total_seconds():.1f}"
