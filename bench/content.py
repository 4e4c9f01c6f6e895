"""The content benchmark: importing the real regulation texts, and search over a large library.

    python -m bench content            # through the benchmark runner (bench/__main__.py)
    python -m bench.content [--quick]  # on its own

1. Import: the four real texts in ../shared/data/regulations (parse + write, 327 articles) into
   a fresh, initialised database, 5 times; the median and range of the total, and per file.
2. Search: a library of 5,000 articles (the default library, the four real texts, and synthetic
   regulations whose articles recombine the real articles' sentences, imported through the same
   importer), then 2,000 queries (seeded): half two-character terms, half longer phrases (the
   known terms of the chat and 3-8 character pieces of real sentences). Each `bot.search.search`
   call (limit 3, as the chat asks) is timed on its own: p50, p99, max.
3. Peak memory: ru_maxrss of this process (resource.getrusage) at the end.

Everything runs in one process on real SQLite files in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot import search
from bot.clock import SHANGHAI, SettableClock
from bot.config import load_config
from bot.library_sync import import_regulation, parse_file
from bot.regulations import int_to_chinese_numeral
from bot.seed import initialise
from bot.services import Services, build_services
from bot.store import readings as store_readings
from handlers.readings import KNOWN_TERMS

ROOT = Path(__file__).resolve().parents[1]
REGULATIONS = ROOT.parent / "shared" / "data" / "regulations"
# file name -> the --version an admin would give (None: the text names its own)
REAL_TEXTS = {
    "中国共产党纪律处分条例_2023.md": None,
    "中国共产党廉洁自律准则.md": "2015",
    "中国共产党问责条例.md": None,
    "监察法(2024-12-25).md": None,
}
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
ARTICLES_PER_SYNTHETIC_TEXT = 250
LONG_PHRASES = ("违规收送礼品礼金", "中央八项规定精神", "公款吃喝", "违规发放津贴补贴",
                "婚丧喜庆事宜", "公车私用", "形式主义官僚主义", "收受礼品礼金", "私人会所",
                "领导干部配偶子女")


@dataclass(frozen=True)
class Plan:
    import_runs: int = 5
    articles: int = 5000
    queries: int = 2000
    seed: int = 2026

    @classmethod
    def from_args(cls, quick: bool = False) -> Plan:
        return cls(import_runs=3, articles=1500, queries=500) if quick else cls()


def _services(directory: Path) -> Services:
    config = load_config({"store": {"path": str(directory / "qingfeng.db")},
                          "content": {"path": str(ROOT / "content")}})
    services = build_services(config, SettableClock(NOW))
    initialise(services, demo=False)
    return services


def _import(services: Services, path: Path, version: str | None, source: str | None = None) -> int:
    report = import_regulation(services.store, path, parse_file(path), source=source,
                               version=version, actor="bench", now=NOW)
    return report.articles


@contextmanager
def _fresh_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="qingfeng-content-") as tmp:
        yield Path(tmp)


# --- 1. import ------------------------------------------------------------------------------


def time_imports(plan: Plan) -> dict[str, list[float]]:
    """Seconds per file and in total, one entry per run, each run into a fresh database."""
    times: dict[str, list[float]] = {name: [] for name in REAL_TEXTS}
    times["total"] = []
    for _ in range(plan.import_runs):
        with _fresh_directory() as directory:
            services = _services(directory)  # schema and default library: not timed
            try:
                total = 0.0
                for name, version in REAL_TEXTS.items():
                    start = time.perf_counter()
                    _import(services, REGULATIONS / name, version)
                    elapsed = time.perf_counter() - start
                    times[name].append(elapsed)
                    total += elapsed
                times["total"].append(total)
                imported = store_readings.count(services.store.db)
                assert imported == 73 + 158 + 8 + 13 + 78, imported
            finally:
                services.store.close()
    return times


# --- 2. search ------------------------------------------------------------------------------


def real_sentences(services: Services) -> list[str]:
    """Sentences (split at 。；) of every article in the store: the synthetic library's bricks."""
    sentences = []
    for (body,) in services.store.db.execute("SELECT body FROM readings"):
        for piece in re.split(r"(?<=[。；])", body.replace("\n", "")):
            if len(piece) >= 8:
                sentences.append(piece)
    return sentences


def write_synthetic_texts(directory: Path, sentences: list[str], articles: int,
                          rng: random.Random) -> list[Path]:
    """Regulation texts of ARTICLES_PER_SYNTHETIC_TEXT articles, each 2-6 real sentences."""
    paths = []
    for number in range(0, articles, ARTICLES_PER_SYNTHETIC_TEXT):
        count = min(ARTICLES_PER_SYNTHETIC_TEXT, articles - number)
        index = number // ARTICLES_PER_SYNTHETIC_TEXT + 1
        lines = [f"清风合成规定{index:03}", "（2025年1月1日印发）", ""]
        for article in range(1, count + 1):
            body = "".join(rng.sample(sentences, rng.randint(2, 6)))
            lines.append(f"第{int_to_chinese_numeral(article)}条　{body}")
        path = directory / f"synthetic_{index:03}.md"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def queries(sentences: list[str], count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, query): half two-character terms, half longer phrases."""
    two = [t for t in KNOWN_TERMS if len(t) == 2]
    longer = [t for t in KNOWN_TERMS if len(t) > 2] + list(LONG_PHRASES)
    cjk = re.compile(r"[\u4e00-\u9fff]+")
    drawn: list[tuple[str, str]] = []
    while len(drawn) < count:
        if len(drawn) % 2 == 0:
            if rng.random() < 0.5:
                drawn.append(("2 chars", rng.choice(two)))
            else:  # a two-character word from a real sentence
                run = max(cjk.findall(rng.choice(sentences)), key=len)
                at = rng.randrange(max(1, len(run) - 1))
                drawn.append(("2 chars", run[at:at + 2]))
        elif rng.random() < 0.5:
            drawn.append(("phrase", rng.choice(longer)))
        else:  # a 3-8 character piece of a real sentence
            run = max(cjk.findall(rng.choice(sentences)), key=len)
            size = rng.randint(3, 8)
            at = rng.randrange(max(1, len(run) - size))
            drawn.append(("phrase", run[at:at + size]))
    return drawn


@dataclass(frozen=True)
class SearchResult:
    articles: int
    build_s: float
    latencies_ms: dict[str, list[float]]
    no_hit: dict[str, int]
    db_mb: float


def time_search(plan: Plan) -> SearchResult:
    rng = random.Random(plan.seed)
    with _fresh_directory() as directory:
        services = _services(directory)
        try:
            start = time.perf_counter()
            for name, version in REAL_TEXTS.items():
                _import(services, REGULATIONS / name, version)
            sentences = real_sentences(services)
            synthetic = plan.articles - store_readings.count(services.store.db)
            for path in write_synthetic_texts(directory, sentences, synthetic, rng):
                _import(services, path, None, source=f"清风合成规定{path.stem[-3:]}")
            build_s = time.perf_counter() - start
            db = services.store.db
            articles = store_readings.count(db)
            assert articles == plan.articles, articles
            latencies: dict[str, list[float]] = {"2 chars": [], "phrase": []}
            no_hit = {"2 chars": 0, "phrase": 0}
            for query in ("四风", "违规收送礼品礼金"):  # warm the page cache
                search.search(db, query)
            for kind, query in queries(sentences, plan.queries, rng):
                begin = time.perf_counter()
                hits = search.search(db, query, limit=3)
                latencies[kind].append((time.perf_counter() - begin) * 1000)
                no_hit[kind] += not hits
            db_mb = (directory / "qingfeng.db").stat().st_size / 1024 / 1024
        finally:
            services.store.close()
    return SearchResult(articles, build_s, latencies, no_hit, db_mb)


# --- report ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, Linux {platform.release()}; load average at the"
            f" end {load} (other work on the machine shows up in p99 and max)")


def report(plan: Plan, imports: dict[str, list[float]], result: SearchResult,
           peak_mb: float) -> str:
    def ms(values: list[float]) -> str:
        return (f"{statistics.median(values) * 1000:.0f} ms "
                f"({min(values) * 1000:.0f}–{max(values) * 1000:.0f})")

    per_file = ", ".join(f"{name.split('.')[0]} {ms(times)}" for name, times in imports.items()
                         if name != "total")
    everything = [v for values in result.latencies_ms.values() for v in values]
    rows = [("all", everything), *result.latencies_ms.items()]
    lines = [
        f"Run {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} on {machine()}.",
        "",
        f"- Import of the four real texts (327 articles), median of {plan.import_runs} runs into"
        f" fresh databases: **{ms(imports['total'])}** in total (range in brackets); "
        f"{per_file}.",
        f"- Search over {result.articles:,} articles (library built in {result.build_s:.1f} s,"
        f" database {result.db_mb:.1f} MB), {len(everything):,} queries, `search(limit=3)`:",
        "",
        "| queries | n | p50 ms | p99 ms | max ms | no hit |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, values in rows:
        missed = (sum(result.no_hit.values()) if label == "all" else result.no_hit[label])
        lines.append(f"| {label} | {len(values):,} | {percentile(values, 50):.2f} | "
                     f"{percentile(values, 99):.2f} | {max(values):.2f} | {missed:,} |")
    lines += ["", f"- Peak memory (ru_maxrss of the benchmark process): **{peak_mb:.0f} MB**."]
    return "\n".join(lines)


def run(plan: Plan) -> int:
    if not REGULATIONS.is_dir():
        print(f"content benchmark: {REGULATIONS} not found", file=sys.stderr)
        return 1
    print(f"content benchmark: import x{plan.import_runs}, search over {plan.articles:,} "
          f"articles with {plan.queries:,} queries", flush=True)
    imports = time_imports(plan)
    result = time_search(plan)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(report(plan, imports, result, peak_mb))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.content", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 import runs, 1,500 articles, 500 queries")
    args = parser.parse_args(argv)
    return run(Plan.from_args(quick=args.quick))


if __name__ == "__main__":
    sys.exit(main())
