"""kill -9 at random points, in a loop: the served app during a check-in burst over real HTTP,
a regulation import, a roster import, and a fan-out killed again and again. After each restart
nothing is lost (every check-in that got a reply is stored; every message WeChat re-sends
after getting no reply is stored once), nothing is doubled, and `PRAGMA integrity_check` says ok.

QF_SOAK_CRASH_LOOPS sets the number of kills per test (2 in the suite, more in `make soak`);
QF_CRASH_SEED the random seed (printed, so a failing run can be replayed).

The children are real processes (`python -m bot serve`, gunicorn with two workers, killed as a
process group; `python -m bot content import`, `members import`, `deliveries drain`). They run
on the wall clock; the test waits for them by polling, with deadlines, never a fixed sleep.
"""

from __future__ import annotations

import csv
import http.client
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.config import load_config
from bot.services import build_services
from bot.store import members
from tests.conftest import WECOM_TEST
from tests.paths import CONTENT, REGULATIONS, ROOT
from tests.test_crash_fanout import MEMBERS, TEXT, finish_and_check, kill, ledger, start, wait_for
from tests.test_crash_fanout import world as world  # noqa: PLC0414  (the fixture, re-exported)
from tests.wechat import Platform, reply_text, text_xml, wecom_request

LOOPS = int(os.environ.get("QF_SOAK_CRASH_LOOPS", "2"))
SEED = int(os.environ.get("QF_CRASH_SEED", str(random.randrange(10**6))))
WECOM = Platform(WECOM_TEST["token"], WECOM_TEST["encoding_aes_key"], WECOM_TEST["corp_id"])
SECRETS = {"QINGFENG_WECOM_TOKEN": WECOM_TEST["token"],
           "QINGFENG_WECOM_ENCODING_AES_KEY": WECOM_TEST["encoding_aes_key"]}
DEADLINE_S = 30
BURST = 120  # check-ins per round (each member once a day: a new set of members every round)


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGFENG_")}
    return {**env, **SECRETS, "PYTHONUNBUFFERED": "1"}


def integrity(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(directory: Path, port: int = 8080) -> Path:
    config = directory / "config.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\nworkers = 2\nthreads = 4\n\n'
        f'[store]\npath = "{directory / "crash.db"}"\n\n[content]\npath = "{CONTENT}"\n\n'
        "[sandbox]\nenabled = false\n\n"
        f'[wecom]\nenabled = true\ncorp_id = "{WECOM_TEST["corp_id"]}"\nagent_id = 1000002\n',
        encoding="utf-8")
    return config


def bot(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot", "--config", str(config), *args]


# --- the served app, killed during a check-in burst ----------------------------------------------


class Served:
    """`python -m bot serve --no-scheduler` in its own process group (gunicorn and workers)."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config, self.port, self.log = config, port, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a", encoding="utf-8") as out:
            self.proc = subprocess.Popen(bot(self.config, "serve", "--no-scheduler"), cwd=ROOT,
                                         env=child_env(), stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        wait_for("the server to answer /healthz", self.healthy, self.proc, self.log)

    def healthy(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)  # the master and every worker, at once
        self.proc.wait(timeout=DEADLINE_S)
        wait_for("the port to close", lambda: not self.healthy())


def post(port: int, request: tuple[str, str]) -> str | None:
    """The reply's text, or None when no reply came (a dead server, a cut connection)."""
    query, body = request
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", f"/wechat/wecom?{query}", body=body.encode(),
                     headers={"Content-Type": "text/xml"})
        answer = conn.getresponse()
        text = answer.read().decode()
        return reply_text(WECOM, text) if answer.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None


def test_kill_9_during_a_checkin_burst_loses_and_doubles_nothing(tmp_path) -> None:
    rng = random.Random(SEED)
    port = free_port()
    config = write_config(tmp_path, port)
    services = build_services(load_config(config, env=SECRETS))
    now = services.clock.now()
    with services.store.transaction() as db:
        for n in range(BURST * LOOPS):
            member_id = members.add_member(db, name=f"党员{n:04d}", branch="第一党支部", now=now)
            members.bind_identity(db, channel="wecom", external_id=f"u{n:04d}",
                                  member_id=member_id, now=now)
    served = Served(config, port, tmp_path / "serve.log")
    first_reply: dict[int, str] = {}  # member -> the first reply it got
    kills = []
    for round_ in range(LOOPS):
        ts = int(time.time())
        batch = {n: wecom_request(WECOM, text_xml(f"u{n:04d}", "打卡", 900_000 + n, ts), ts)
                 for n in range(round_ * BURST, (round_ + 1) * BURST)}
        served.start()
        kill_after = rng.randrange(5, BURST - 5)
        replied = threading.Semaphore(0)

        def send(n: int, batch=batch, replied=replied) -> tuple[int, str | None]:
            reply = post(port, batch[n])
            if reply is not None:
                replied.release()
            return n, reply

        def killer(kill_after=kill_after, replied=replied) -> None:
            for _ in range(kill_after):
                replied.acquire(timeout=DEADLINE_S)
            served.kill()

        stopper = threading.Thread(target=killer)
        stopper.start()
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = dict(pool.map(send, batch))
        stopper.join(DEADLINE_S)
        got = {n: r for n, r in answers.items() if r is not None}
        kills.append((kill_after, len(got)))
        assert len(got) >= kill_after and len(got) < BURST  # killed mid-burst
        for n, reply in got.items():
            assert reply.startswith(f"打卡成功！党员{n:04d}"), reply
        first_reply |= got

        # Restarted: WeChat re-sends what got no reply; a few that did are re-sent too.
        served.start()
        again = [n for n in batch if n not in got] + rng.sample(sorted(got), min(10, len(got)))
        with ThreadPoolExecutor(max_workers=8) as pool:
            resent = dict(pool.map(lambda n, batch=batch: (n, post(port, batch[n])), again))
        served.kill()
        for n, reply in resent.items():
            assert reply is not None, f"no reply to u{n:04d} after the restart"
            if n in first_reply:
                assert reply == first_reply[n]  # the remembered answer, not a second check-in
            else:
                # Either it had been stored before the kill (the remembered reply) or not
                # (stored now): a first check-in either way, never "already checked in".
                assert reply.startswith(f"打卡成功！党员{n:04d}"), reply
                first_reply[n] = reply

    path = tmp_path / "crash.db"
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT member_id FROM checkins").fetchall()
        inbound = conn.execute("SELECT count(*), count(DISTINCT dedupe_key) FROM inbound"
                               " WHERE dedupe_key LIKE 'wecom:msg:%'").fetchone()
    assert len(rows) == BURST * LOOPS == len({r for (r,) in rows})  # each member once
    assert tuple(inbound) == (BURST * LOOPS, BURST * LOOPS)
    integrity(path)
    services.store.close()
    print(f"\nseed {SEED}: killed after (replies wanted, got) {kills}")


# --- imports, killed at a random moment ---------------------------------------------------------


def snapshot(source: Path, target: Path) -> Path:
    """A consistent copy of a database file (SQLite's backup API), WAL included."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def copy_of(reference: Path, directory: Path, *, before_import: Path) -> Path:
    """A second installation holding the initialised database (saves a second `init`)."""
    directory.mkdir()
    snapshot(before_import, directory / "crash.db")
    return write_config(directory)


def timed_run(args: list[str], env: dict[str, str]) -> float:
    began = time.monotonic()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=DEADLINE_S * 4)
    assert done.returncode == 0, done.stderr[-2000:]
    return time.monotonic() - began


def killed_at_random(args: list[str], env: dict[str, str], within_s: float,
                     rng: random.Random, log: Path) -> bool:
    """Start, SIGKILL after a random share of `within_s`; True if it was still running."""
    with log.open("a", encoding="utf-8") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + rng.uniform(0.05, 1.0) * within_s
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)  # a poll interval, not a wait for time to pass
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=DEADLINE_S)
    return True


def readings_of(path: Path) -> tuple[list[tuple], int, int]:
    """The library as a member sees it: every reading, the search index, the import record."""
    with sqlite3.connect(path) as conn:
        readings = conn.execute(
            "SELECT slug, source, version, article_no, superseded, in_rotation, content_hash"
            " FROM readings ORDER BY slug").fetchall()
        indexed = conn.execute("SELECT count(*) FROM search_index").fetchone()[0]
        imports = conn.execute("SELECT count(*) FROM imports").fetchone()[0]
    return readings, indexed, imports


def test_kill_9_during_a_regulation_import_then_again_gives_the_clean_result(tmp_path) -> None:
    rng = random.Random(SEED + 1)
    regulation = REGULATIONS / "中国共产党纪律处分条例_2023.md"
    reference = tmp_path / "reference"
    reference.mkdir()
    ref_config = write_config(reference)
    env = child_env()
    timed_run(bot(ref_config, "init", "--no-demo"), env)
    reference_copy = snapshot(reference / "crash.db", tmp_path / "initialised.db")
    before = readings_of(reference / "crash.db")
    took = timed_run(bot(ref_config, "content", "import", str(regulation)), env)
    expected = readings_of(reference / "crash.db")
    assert len(expected[0]) > len(before[0]) + 100 and expected[2] == before[2] + 1

    crashed = tmp_path / "crashed"
    config = copy_of(reference, crashed, before_import=reference_copy)
    kills = 0
    for _ in range(LOOPS):
        kills += killed_at_random(bot(config, "content", "import", str(regulation)), env,
                                  took, rng, tmp_path / "import.log")
        integrity(crashed / "crash.db")
        # All or nothing: the regulation is either absent or complete.
        assert readings_of(crashed / "crash.db") in (before, expected)
    timed_run(bot(config, "content", "import", str(regulation)), env)
    assert readings_of(crashed / "crash.db") == expected
    integrity(crashed / "crash.db")
    print(f"\nseed {SEED}: regulation import killed {kills} of {LOOPS} times ({took:.2f} s each)")


def roster(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["姓名", "支部", "党小组", "企业微信账号", "角色"])
        for n in range(count):
            writer.writerow([f"成员{n:05d}", f"第{n % 12 + 1}党支部", f"第{n % 40 + 1}党小组",
                             f"user{n:05d}", "党员"])
    return path


def member_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT m.name, m.branch, m.grp, i.external_id FROM members m"
                            " JOIN identities i ON i.member_id = m.id ORDER BY m.name").fetchall()


def test_kill_9_during_a_roster_import_is_all_or_nothing(tmp_path) -> None:
    rng = random.Random(SEED + 2)
    env = child_env()
    file = roster(tmp_path / "roster.csv", 1500)
    reference = tmp_path / "reference"
    reference.mkdir()
    ref_config = write_config(reference)
    timed_run(bot(ref_config, "init", "--no-demo"), env)
    reference_copy = snapshot(reference / "crash.db", tmp_path / "initialised.db")
    took = timed_run(bot(ref_config, "members", "import", str(file)), env)
    expected = member_rows(reference / "crash.db")
    assert len(expected) == 1500

    crashed = tmp_path / "crashed"
    config = copy_of(reference, crashed, before_import=reference_copy)
    kills = 0
    for _ in range(LOOPS):
        kills += killed_at_random(bot(config, "members", "import", str(file)), env, took, rng,
                                  tmp_path / "import.log")
        integrity(crashed / "crash.db")
        assert member_rows(crashed / "crash.db") in ([], expected)
    timed_run(bot(config, "members", "import", str(file)), env)
    assert member_rows(crashed / "crash.db") == expected  # again: nobody twice
    integrity(crashed / "crash.db")
    print(f"\nseed {SEED}: roster import killed {kills} of {LOOPS} times ({took:.2f} s each)")


# --- a fan-out killed again and again ------------------------------------------------------------


def test_a_fan_out_killed_again_and_again_still_reaches_everyone_once(world) -> None:
    rng = random.Random(SEED + 3)
    api = world.api
    api.set_delay(0.05)  # so a kill can land between calls
    proc = start(world, ["-m", "tests.crash_driver", str(world.config), "crash:loop", TEXT])
    points = []
    for _ in range(LOOPS):
        target = min(MEMBERS - 1000, len(api.delivered) + rng.randrange(1, 3000))
        wait_for(f"{target} deliveries", lambda t=target, p=proc: len(api.delivered) >= t or
                 p.poll() is not None, proc, world.logs / "child.log")
        if proc.poll() is not None:
            break
        kill(proc)
        points.append((len(api.delivered), ledger(world)["sent"]))
        # Restarted: finish what the dead one left, to be killed again in the next round.
        proc = start(world, ["-m", "bot", "--config", str(world.config), "deliveries", "drain"])
    wait_for("the last drain", lambda: proc.poll() is not None)
    api.set_delay(0)
    summary = finish_and_check(world)
    assert points and all(delivered < MEMBERS for delivered, _sent in points)
    duplicates = Counter(d.to for d in api.duplicates)
    assert set(duplicates.values()) <= {1}  # a resent call at most once per kill
    print(f"\nseed {SEED}: killed at (delivered, recorded) {points}; drain: {summary}")
