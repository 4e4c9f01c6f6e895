"""The report benchmark: the monthly study report for 5,000 members and 1,000,000 check-ins.

    python -m bench report            # through the benchmark runner (bench/__main__.py)
    python -m bench.report [--quick]  # on its own

A database in a temporary directory is filled (seeded, deterministic) with 5,000 members in 10
branches of 5 groups, 1,000,000 check-ins over the 300 days to the end of November 2026, 12
months of required tasks (6 a month, some for one branch or group only) with ~75% of them
done (so some members are behind several months in a row), and ~500,000 quiz attempts. Then,
side by side in this one process:

1. `month_report(db, "2026-11")`, the data (bulk SQL, one pass over the roster), N times;
2. the same figures the naive way (per member: a query for check-ins, quiz, each task's
   completion and each earlier month), as the baseline the bulk version is measured against;
3. rendering: `report_xlsx` (all sheets) and `report_csv`;
4. peak memory: tracemalloc's peak over one `month_report` + `report_xlsx`, and ru_maxrss of
   the process (which includes building the database).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from bench.content import machine
from bot import report as reports
from bot.clock import SHANGHAI
from bot.store import Store

ROOT = Path(__file__).resolve().parents[1]

MONTH = "2026-11"
SEEN = date(2026, 12, 1)  # the report as read the day after MONTH ended
FIRST_DAY = date(2026, 2, 4)    # 300 days to the end of November
LAST_DAY = date(2026, 11, 30)
MONTHS = ["2025-12"] + [f"2026-{m:02d}" for m in range(1, 12)]


@dataclass(frozen=True)
class Plan:
    members: int = 5000
    checkins: int = 1_000_000
    quiz_share: float = 0.5       # quiz attempts per check-in
    runs: int = 5
    naive_runs: int = 3
    seed: int = 2026

    @classmethod
    def from_args(cls, quick: bool = False, members: int | None = None) -> Plan:
        plan = cls(members=1000, checkins=100_000, runs=3, naive_runs=1) if quick else cls()
        if members:
            plan = cls(members=members, checkins=members * 200, runs=plan.runs,
                       naive_runs=plan.naive_runs)
        return plan


# --- building the database ------------------------------------------------------------------

def build(store: Store, plan: Plan) -> dict[str, int]:
    """Fill the store; returns the row counts."""
    rng = random.Random(plan.seed)
    db = store.db
    joined = datetime(2025, 11, 1, 9, tzinfo=SHANGHAI).isoformat()
    roles = ["secretary"] + ["group_leader"] * 5 + ["member"] * 94
    with store.transaction() as tx:
        tx.conn.executemany(
            "INSERT INTO members (id, name, branch, grp, role, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(i, f"党员{i:05d}", f"第{i % 10 + 1}党支部", f"第{i % 10 + 1}支部第{i // 10 % 5 + 1}党小组",
              roles[i % 100], joined) for i in range(1, plan.members + 1)])
    tasks = _tasks(store)
    # Members differ in diligence, so some are behind month after month.
    diligence = {m: rng.choice((0.2, 0.6, 0.85, 0.95, 1.0, 1.0)) for m in range(1, plan.members + 1)}
    done_rows = [(task_id, m, f"{month}-15", f"{month}-15T10:00:00+08:00", "wecom")
                 for task_id, month, audience in tasks for m in range(1, plan.members + 1)
                 if _in(audience, m) and rng.random() < diligence[m]]
    days = (LAST_DAY - FIRST_DAY).days + 1
    per_member = plan.checkins // plan.members
    checkin_rows, quiz_rows = [], []
    for m in range(1, plan.members + 1):
        for offset in rng.sample(range(days), min(days, per_member)):
            day = (FIRST_DAY + timedelta(days=offset)).isoformat()
            checkin_rows.append((m, day, f"{day}T08:00:00+08:00"))
            if rng.random() < plan.quiz_share:
                quiz_rows.append((m, day, int(rng.random() < 0.8), f"{day}T08:05:00+08:00"))
    with store.transaction() as tx:
        tx.conn.executemany("INSERT INTO task_done (task_id, member_id, day, at, via)"
                            " VALUES (?, ?, ?, ?, ?)", done_rows)
        tx.conn.executemany("INSERT INTO checkins (member_id, day, at, via)"
                            " VALUES (?, ?, ?, 'wecom')", checkin_rows)
        tx.execute("INSERT INTO quiz_questions (id, type, stem, answer, explanation, source,"
                   " version, article_no) VALUES ('bench-q', 'judge', '题', '对', '解析', '来源',"
                   " '2023', '第一条')")
        tx.conn.executemany("INSERT INTO quiz_attempts (member_id, day, question_id, answer,"
                            " correct, at, via) VALUES (?, ?, 'bench-q', '对', ?, ?, 'wecom')",
                            quiz_rows)
    db.execute("ANALYZE")
    return {"members": plan.members, "checkins": len(checkin_rows), "tasks": len(tasks),
            "task_done": len(done_rows), "quiz_attempts": len(quiz_rows)}


def _tasks(store: Store) -> list[tuple[int, str, dict]]:
    now = datetime(2025, 11, 1, 9, tzinfo=SHANGHAI).isoformat()
    made = []
    with store.transaction() as tx:
        for month in MONTHS:
            for position in range(1, 7):
                audience = ({"branches": ["第1党支部", "第2党支部"]} if position == 5 else
                            {"groups": ["第3支部第1党小组"]} if position == 6 else {"all": True})
                cursor = tx.execute(
                    "INSERT INTO tasks (slug, month, position, title, due, audience, origin,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'admin', ?, ?)",
                    [f"{month}-{position}", month, position, f"{month[5:]}月第{position}项学习",
                     f"{month}-28", json.dumps(audience, ensure_ascii=False), now, now])
                made.append((int(cursor.lastrowid), month, audience))
    return made


def _in(audience: dict, member_id: int) -> bool:
    if audience.get("all"):
        return True
    branch = f"第{member_id % 10 + 1}党支部"
    grp = f"第{member_id % 10 + 1}支部第{member_id // 10 % 5 + 1}党小组"
    return branch in audience.get("branches", ()) or grp in audience.get("groups", ())


# --- the naive baseline ---------------------------------------------------------------------

def naive_report(db, month: str) -> list[tuple]:  # noqa: ANN001
    """The same per-member figures with queries per member, task and earlier month (N+1)."""
    start, end = reports.parse_month(month)
    people = reports.load_people(db, active_only=True)
    earliest = db.execute("SELECT min(month) FROM tasks").fetchone()[0]
    tasks_of: dict[str, list[reports.Task]] = {}

    def missing_in(m: str, person: reports.Person) -> list[str]:
        if m not in tasks_of:
            tasks_of[m] = reports.required_tasks(db, m)
        return [t.title for t in tasks_of[m]
                if reports.applies(t, person) and not _done(db, t.id, person.id)]

    rows = []
    for person in people:
        checkins = db.execute("SELECT count(*) FROM checkins WHERE member_id = ? AND day"
                              " BETWEEN ? AND ?", [person.id, start.isoformat(),
                                                   end.isoformat()]).fetchone()[0]
        quiz = db.execute("SELECT count(*), sum(correct) FROM quiz_attempts WHERE member_id = ?"
                          " AND day BETWEEN ? AND ?", [person.id, start.isoformat(),
                                                       end.isoformat()]).fetchone()
        missing = missing_in(month, person)
        streak, current = 0, month
        while earliest is not None and current >= earliest and missing_in(current, person):
            streak, current = streak + 1, reports.previous_month(current)
        rows.append((person.id, checkins, quiz, missing, streak))
    return rows


def _done(db, task_id: int, member_id: int) -> bool:  # noqa: ANN001
    return db.execute("SELECT 1 FROM task_done WHERE task_id = ? AND member_id = ?",
                      [task_id, member_id]).fetchone() is not None


# --- timing ---------------------------------------------------------------------------------

def _times(runs: int, work: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        work()
        times.append(time.perf_counter() - begin)
    return times


@dataclass
class Result:
    counts: dict[str, int]
    build_s: float
    db_mb: float
    data_s: list[float]
    naive_s: list[float]
    xlsx_s: list[float]
    csv_s: list[float]
    traced_peak_mb: float
    rows: int
    behind_3: int
    sheets: int
    cli_s: list[float]
    cli_rss_mb: float


def measure(plan: Plan, directory: Path) -> Result:
    store = Store(directory / "report.db")
    try:
        begin = time.perf_counter()
        counts = build(store, plan)
        build_s = time.perf_counter() - begin
        db = store.db
        report = reports.month_report(db, MONTH, today=SEEN)  # warm the page cache
        data_s = _times(plan.runs, lambda: reports.month_report(db, MONTH, today=SEEN))
        naive_s = _times(plan.naive_runs, lambda: naive_report(db, MONTH))
        xlsx_s = _times(plan.runs, lambda: reports.report_xlsx(report))
        csv_s = _times(plan.runs, lambda: reports.report_csv(report))
        tracemalloc.start()
        reports.report_xlsx(reports.month_report(db, MONTH, today=SEEN))
        traced_peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
        db_mb = (directory / "report.db").stat().st_size / 1024 / 1024
    finally:
        store.close()
    cli_s, cli_rss = measure_cli(directory, plan.runs)
    return Result(counts, build_s, db_mb, data_s, naive_s, xlsx_s, csv_s, traced_peak,
                  len(report.rows), sum(r.months_missed >= 3 for r in report.rows),
                  len(reports.report_sheets(report)), cli_s, cli_rss)


# The child reports its own high-water RSS: ru_maxrss of a child started by fork/vfork + exec
# still carries the parent's (this process holds the whole generated data set).
_CLI = """
import sys
from bot.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="python -m bot", standalone_mode=False)
finally:
    hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")]
    print("VmHWM", hwm[0].split()[1] if hwm else 0, file=sys.stderr)
"""


def measure_cli(directory: Path, runs: int) -> tuple[list[float], float]:
    """`python -m bot report month ... --format xlsx --out FILE` as the secretary runs it, in
    a child process: wall times, and the child's peak RSS (VmHWM), the largest of the runs."""
    config = directory / "bench.toml"
    config.write_text(f'[store]\npath = "{directory / "report.db"}"\n', encoding="utf-8")
    command = [sys.executable, "-c", _CLI, "--config", str(config), "report", "month", MONTH,
               "--format", "xlsx", "--out", str(directory / "report.xlsx")]
    times, peak_kb = [], 0
    for _ in range(runs):
        begin = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - begin)
        for line in done.stderr.splitlines():
            if line.startswith("VmHWM "):
                peak_kb = max(peak_kb, int(line.split()[1]))
    return times, peak_kb / 1024


def summary(plan: Plan, result: Result, maxrss_mb: float) -> str:
    def ms(values: list[float]) -> str:
        return (f"{statistics.median(values) * 1000:.0f} ms "
                f"({min(values) * 1000:.0f}–{max(values) * 1000:.0f})")

    c = result.counts
    ratio = statistics.median(result.naive_s) / statistics.median(result.data_s)
    total = statistics.median(result.data_s) + statistics.median(result.xlsx_s)
    return "\n".join([
        f"Run {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} on {machine()}.",
        "",
        f"Data: {c['members']:,} members, {c['checkins']:,} check-ins, {c['tasks']} tasks over"
        f" 12 months, {c['task_done']:,} completions, {c['quiz_attempts']:,} quiz attempts"
        f" (database {result.db_mb:.0f} MB, built in {result.build_s:.0f} s). Report for"
        f" {MONTH}: {result.rows:,} rows, {result.behind_3:,} members 3+ months behind.",
        "",
        "| step | median (range) | runs |",
        "|---|---:|---:|",
        f"| `month_report` (bulk SQL, one pass) | {ms(result.data_s)} | {len(result.data_s)} |",
        f"| naive: the same figures, queries per member, task and month |"
        f" {ms(result.naive_s)} |"
        f" {len(result.naive_s)} |",
        f"| `report_xlsx` ({result.sheets} sheets) | {ms(result.xlsx_s)} | {len(result.xlsx_s)} |",
        f"| `report_csv` | {ms(result.csv_s)} | {len(result.csv_s)} |",
        f"| CLI `report month {MONTH} --format xlsx --out F` (a new process) |"
        f" {ms(result.cli_s)} | {len(result.cli_s)} |",
        "",
        f"- Bulk vs naive, side by side in this run: **{ratio:.1f}x** faster.",
        f"- Data + XLSX in process: ~{total:.1f} s; the CLI's peak RSS (VmHWM of the child"
        f" process): **{result.cli_rss_mb:.0f} MB**.",
        f"- Peak memory: tracemalloc peak over one `month_report` + `report_xlsx`"
        f" **{result.traced_peak_mb:.0f} MB** (Python objects; SQLite's page cache is not"
        f" traced); ru_maxrss of the whole process (building the database included)"
        f" {maxrss_mb:.0f} MB.",
    ])


def run(plan: Plan) -> int:
    print(f"report benchmark: {plan.members:,} members, {plan.checkins:,} check-ins",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="qingfeng-bench-report-") as directory:
        result = measure(plan, Path(directory))
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(summary(plan, result, maxrss_mb))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 members, 100,000 check-ins")
    parser.add_argument("--members", type=int, help="roster size (check-ins: 200 each)")
    args = parser.parse_args(argv)
    return run(Plan.from_args(quick=args.quick, members=args.members))


if __name__ == "__main__":
    sys.exit(main())
