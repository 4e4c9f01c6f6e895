"""`python -m bench [NAME ...] [--quick] [--requests N]`: run the benchmarks (all by default).

    python -m bench                   # every benchmark, full size (what `make bench` runs)
    python -m bench webhook --quick   # the webhook benchmark, short

See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

from bench import capacity, content, delivery, peak, webhook
from bench import report as report_bench
from bench.variants import VARIANTS, known


def _webhook(args: argparse.Namespace) -> int:
    plan = webhook.Plan.from_args(quick=args.quick, requests=args.requests,
                                  concurrency=args.concurrency, rounds=args.rounds,
                                  members=args.members,
                                  variants=tuple(args.variant or ()),
                                  baseline=args.baseline)
    return webhook.run(plan)


def _delivery(args: argparse.Namespace) -> int:
    plan = delivery.Plan.from_args(quick=args.quick, members=args.members, rounds=args.rounds)
    return delivery.run(plan)


def _peak(args: argparse.Namespace) -> int:
    return peak.run(peak.Plan.from_args(quick=args.quick, members=args.members))


def _capacity(args: argparse.Namespace) -> int:
    return capacity.run(capacity.Plan.from_args(quick=args.quick))


def _content(args: argparse.Namespace) -> int:
    return content.run(content.Plan.from_args(quick=args.quick))


def _report(args: argparse.Namespace) -> int:
    return report_bench.run(report_bench.Plan.from_args(quick=args.quick, members=args.members))


BENCHMARKS: dict[str, Callable[[argparse.Namespace], int]] = {
    "webhook": _webhook,
    "delivery": _delivery,
    "content": _content,
    "report": _report,
    "peak": _peak,
    "capacity": _capacity,
}


def _levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of numbers, e.g. 16,64") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("at least one concurrency, each 1 or more")
    return levels


def _variant(text: str) -> str:
    if not known(text):
        raise argparse.ArgumentTypeError(f"unknown variant (known: {', '.join(VARIANTS)})")
    return text


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Qingfeng's benchmarks.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true",
                        help="a short run: 600 requests per run instead of 4,000, 3 rounds")
    parser.add_argument("--requests", type=_positive, help="timed requests per run")
    parser.add_argument("--concurrency", type=_levels, help="levels to run (default 16,64)")
    parser.add_argument("--rounds", type=_positive, help="runs per server per level (default 5; --quick: 3)")
    parser.add_argument("--members", type=_positive,
                        help="roster size (default: one member per Qingfeng callback)")
    parser.add_argument("--variant", action="append", type=_variant, metavar="NAME[,NAME]",
                        help="webhook: also run Qingfeng with an experimental change, side by "
                             f"side (repeatable; bench/variants.py: {', '.join(VARIANTS)})")
    parser.add_argument("--baseline", metavar="COMMIT",
                        help="webhook: also run Qingfeng as it was at COMMIT (git archive), side "
                             "by side, for a before/after in one run")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    return args


def _terminated(signum: int, _frame: object) -> None:
    # `kill` or a CI timeout: unwind like Ctrl-C so every `finally` stops its processes.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    status = 0
    try:
        for name in args.names or list(BENCHMARKS):
            status |= BENCHMARKS[name](args)
    except KeyboardInterrupt:
        print("\ninterrupted: servers and load generators stopped", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
