"""Capacity (issue 7): what grows with members, check-ins and readings, in time and memory.

    python -m bench capacity [--quick] [--full]

Each size runs in a fresh process (`python -m bench.capacity --worker SPEC`) on a fresh store,
so its peak memory (VmHWM) is its own:

  * members: 1k, 10k, 100k, each with a history of check-ins (a year, 365 days, at 1k and 10k;
    36 days at 100k unless --full, which takes long and needs about 4 GB of disk); each member
    checked in on a seeded random 80% of the days. The roster and the history are written with
    plain INSERTs (the importer's speed is not what this measures).
  * readings: the library as shipped plus the four real regulation texts (1x), and 10x and 100x
    as many articles, the extra ones recombining real sentences (bench.content's generator)
    through the real importer.

Timed on each: a member's first 打卡 of the day and 「我的」, both through
`conversation.handle_inbound` (the whole transaction, as the webhook runs it), 300 each; the
month's check-in export (`checkins_between`); 「搜 X」 (`search.search`, 200 seeded queries).
--quick: 200 and 2,000 members with 30 days, readings 1x and 10x.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import proc
from bench.loadgen import percentile
from bench.webhook import RESULTS, ROOT

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
SAMPLES = 300


@dataclass(frozen=True)
class Size:
    kind: str          # "members" or "readings"
    members: int
    days: int          # check-in history per member
    readings: int = 1  # library multiple


@dataclass(frozen=True)
class Plan:
    sizes: tuple[Size, ...]

    @classmethod
    def from_args(cls, quick: bool = False, full: bool = False) -> Plan:
        if quick:
            return cls((Size("members", 200, 30), Size("members", 2000, 30),
                        Size("readings", 200, 0, 1), Size("readings", 200, 0, 10)))
        return cls((Size("members", 1000, 365), Size("members", 10_000, 365),
                    Size("members", 100_000, 365 if full else 36),
                    Size("readings", 1000, 0, 1), Size("readings", 1000, 0, 10),
                    Size("readings", 1000, 0, 100)))


# --- the worker: one size, one process ----------------------------------------------------------


def _services(directory: Path) -> Any:
    from bot.clock import SettableClock
    from bot.config import load_config
    from bot.seed import initialise
    from bot.services import build_services

    config = load_config({"store": {"path": str(directory / "qingfeng.db")},
                          "content": {"path": str(ROOT / "content")}}, env={})
    services = build_services(config, SettableClock(NOW))
    initialise(services, demo=False)
    return services


def fill_members(services: Any, members: int, days: int, seed: int = 2026) -> int:
    """Members bound to sandbox ids, and `days` of history before today (80% of days each)."""
    rng = random.Random(seed)
    created = NOW.isoformat()
    today = NOW.date()
    rows = 0
    with services.store.transaction() as db:
        db.conn.executemany(
            "INSERT INTO members (id, name, branch, grp, role, created_at) VALUES (?, ?, ?, ?,"
            " 'member', ?)", ((i + 1, f"容量{i:06d}", f"第{i // 500 + 1}支部",
                               f"第{i % 500 // 50 + 1}小组", created) for i in range(members)))
        db.conn.executemany(
            "INSERT INTO identities (channel, external_id, member_id, active, bound_at)"
            " VALUES ('sandbox', ?, ?, 1, ?)",
            ((f"cap{i:06d}", i + 1, created) for i in range(members)))
    for start in range(0, members, 1000):  # one transaction per 1,000 members
        batch = []
        for member in range(start + 1, min(members, start + 1000) + 1):
            for back in range(days, 0, -1):
                if rng.random() < 0.8:
                    day = today - timedelta(days=back)
                    at = datetime(day.year, day.month, day.day, 8, 30, tzinfo=TZ).isoformat()
                    batch.append((member, day.isoformat(), "", at, "sandbox"))
        with services.store.transaction() as db:
            db.conn.executemany("INSERT INTO checkins (member_id, day, note, at, via)"
                                " VALUES (?, ?, ?, ?, ?)", batch)
        rows += len(batch)
    return rows


def fill_readings(services: Any, directory: Path, multiple: int) -> int:
    """The four real texts, then synthetic articles up to `multiple` times that library."""
    from bench.content import (
        REAL_TEXTS,
        REGULATIONS,
        _import,
        real_sentences,
        write_synthetic_texts,
    )
    from bot.store import readings as store_readings

    for name, version in REAL_TEXTS.items():
        _import(services, REGULATIONS / name, version)
    base = store_readings.count(services.store.db)
    extra = base * (multiple - 1)
    if extra:
        texts = directory / "texts"
        texts.mkdir()
        sentences = real_sentences(services)
        for path in write_synthetic_texts(texts, sentences, extra, random.Random(7)):
            _import(services, path, None, source=f"清风合成规定{path.stem[-3:]}")
    return store_readings.count(services.store.db)


def _timed(calls: Sequence[Any]) -> list[float]:
    out = []
    for call in calls:
        begin = time.perf_counter()
        call()
        out.append((time.perf_counter() - begin) * 1000)
    return sorted(out)


def _stats(ms: list[float]) -> dict[str, float]:
    return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "n": len(ms)}


def measure(size: Size, directory: Path) -> dict[str, Any]:
    from bench.content import queries, real_sentences
    from bot import search
    from bot.conversation import handle_inbound
    from bot.messages import Inbound
    from bot.store.checkins import checkins_between

    services = _services(directory)
    started = time.perf_counter()
    if size.kind == "members":
        rows = fill_members(services, size.members, size.days)
    else:
        fill_members(services, size.members, 0)
        rows = fill_readings(services, directory, size.readings)
    setup_s = time.perf_counter() - started
    rng = random.Random(11)
    picked = rng.sample(range(size.members), min(SAMPLES, size.members))

    def message(i: int, text: str, tag: str) -> Any:
        inbound = Inbound(channel="sandbox", user=f"cap{i:06d}", kind="text", text=text,
                          dedupe_key=f"sandbox:cap:{tag}:{i}", at=NOW)
        return lambda: _expect(handle_inbound(services, inbound).text, text)

    result: dict[str, Any] = {"size": asdict(size), "rows": rows, "setup_s": setup_s,
                              "checkin": _stats(_timed([message(i, "打卡", "c") for i in picked])),
                              "stats": _stats(_timed([message(i, "我的", "s") for i in picked]))}
    month = NOW.date().replace(day=1)
    result["export_ms"] = _timed([lambda: checkins_between(services.store.db, month, NOW.date())])[0]
    if size.kind == "readings":
        sentences = real_sentences(services)
        asked = [q for _kind, q in queries(sentences, 200, random.Random(3))]
        result["search"] = _stats(_timed([lambda q=q: search.search(services.store.db, q, limit=3)
                                          for q in asked]))
    services.store.close()
    result["db_mb"] = sum(p.stat().st_size for p in directory.glob("qingfeng.db*")) / 2**20
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _expect(reply: str, asked: str) -> None:
    # A reply that is not the check-in's or the stats' means the bench measured something else.
    wanted = "打卡成功" if asked == "打卡" else "本月"
    if wanted not in reply:
        raise RuntimeError(f"unexpected reply to {asked}: {reply[:80]}")


def worker_main(spec_path: str) -> int:
    size = Size(**json.loads(Path(spec_path).read_text(encoding="utf-8")))
    with tempfile.TemporaryDirectory(prefix="qingfeng-capacity-") as tmp:
        print(json.dumps(measure(size, Path(tmp)), ensure_ascii=False))
    return 0


# --- the driver ------------------------------------------------------------------------------------


def run_size(size: Size) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qingfeng-capacity-spec-") as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps(asdict(size)), encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "bench.capacity", "--worker", str(spec)],
                              cwd=ROOT, capture_output=True, text=True, timeout=7200)
    if done.returncode:
        raise RuntimeError(f"capacity worker failed for {size}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def format_table(results: Sequence[dict[str, Any]]) -> str:
    lines = ["| what | members | check-ins stored | readings | DB MB | 打卡 p50 / p99 ms "
             "| 我的 p50 / p99 ms | month export ms | 搜 p50 / p99 ms | peak RSS MB | setup s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        size = r["size"]
        search = r.get("search")
        found = f"{search['p50']:.2f} / {search['p99']:.2f}" if search else "–"
        what = (f"{size['members']:,} members × {size['days']} days" if size["kind"] == "members"
                else f"library {size['readings']}×")
        lines.append(
            f"| {what} | {size['members']:,} | {r['rows'] if size['kind'] == 'members' else 0:,} "
            f"| {r['rows'] if size['kind'] == 'readings' else '(library)'} | {r['db_mb']:.0f} "
            f"| {r['checkin']['p50']:.2f} / {r['checkin']['p99']:.2f} "
            f"| {r['stats']['p50']:.2f} / {r['stats']['p99']:.2f} | {r['export_ms']:.0f} "
            f"| {found} "
            f"| {r['peak_rss_mb']:.0f} | {r['setup_s']:.0f} |")
    return "\n".join(lines)


def run(plan: Plan) -> int:
    machine = proc.machine()
    results = []
    for size in plan.sizes:
        print(f"  capacity: {size} ...", flush=True)
        results.append(run_size(size))
    text = "\n".join([
        f"# Capacity, {machine['date']}", "",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['ram']} RAM, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}.", "",
        f"Each row: a fresh process and store; {SAMPLES} timed 打卡 (first of the day) and "
        "我的 through handle_inbound, the month's export, and (readings rows) 200 searches.", "",
        format_table(results), ""])
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"capacity-{datetime.now():%Y%m%d-%H%M%S}.md"
    out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {out.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", metavar="SPEC")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true", help="a year of check-ins at 100k too")
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    return run(Plan.from_args(quick=args.quick, full=args.full))


if __name__ == "__main__":
    sys.exit(main())

