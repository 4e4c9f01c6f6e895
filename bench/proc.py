"""What a process tree costs, read from /proc (Linux): CPU seconds and peak resident memory.

A gunicorn server is its master plus the workers it forked; `tree(master)` finds them.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may contain spaces: split after the last ")".
    return text[text.rindex(")") + 2:].split()


def children(pid: int) -> list[int]:
    """Direct children of `pid` (fields after the name: state, ppid, ...)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry))[1]) == pid:
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not readable
    return sorted(found)


def tree(pid: int) -> list[int]:
    """`pid` and its children (a gunicorn master and its workers)."""
    return [pid, *children(pid)]


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime + stime of each process still alive, in seconds."""
    result = {}
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        # utime and stime are fields 14 and 15 of /proc/<pid>/stat; fields[0] is field 3.
        result[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return result


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots by processes alive at both."""
    return sum(after[pid] - before[pid] for pid in before if pid in after)


def machine_busy_seconds() -> float:
    """CPU seconds all processors have spent not idle since boot (first line of /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    values = [int(v) for v in fields[:8]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kb(pids: list[int]) -> int:
    """VmHWM (peak resident set) summed over the processes. Forked workers share pages with
    their master, so the sum overstates the memory actually used: read it as an upper bound."""
    return sum(_status_kb(pid, "VmHWM") for pid in pids)


def reset_peak_rss(pids: list[int]) -> bool:
    """Restart VmHWM from the current RSS (writing 5 to clear_refs); False where not allowed."""
    ok = True
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


def machine() -> dict[str, str]:
    """The facts a reader needs to compare numbers across machines."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = _meminfo_kb("MemTotal")
    try:
        sqlite = subprocess.run([sys.executable, "-c", "import sqlite3; print(sqlite3.sqlite_version)"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sqlite = "?"
    return {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB" if mem_kb else "unknown",
        "python": platform.python_version(),
        "sqlite": sqlite,
        "kernel": platform.release(),
    }


def _meminfo_kb(key: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port() -> int:
    """A TCP port on HOST that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def code_version() -> str:
    """The commit measured, and whether the service's code had uncommitted changes."""
    if os.environ.get("BENCH_CODE_VERSION"):
        return os.environ["BENCH_CODE_VERSION"]
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "bot",
                                "handlers", "schedules", "config.toml"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"commit {head}" + (" with uncommitted changes to the service" if dirty else "")
