"""kill -9 in the middle of a 10,000-member WeCom fan-out, then `deliveries drain`: every
member gets the message exactly once, and the database is intact.

The fake WeCom API runs in this process over real HTTP; the fan-out runs in a child process
(`python -m bot schedule send-now`, or tests/crash_driver.py where the test needs to stop it at
an exact point) which the test SIGKILLs. Exactly once is checked on both sides: the ledger (every
member one row, sent) and the platform (`api.delivered`: every userid once). A batch the platform
delivered but the dead process never recorded is resent by the drain with the same recipients
and content, and WeCom's duplicate check (which our sends enable) absorbs it: it shows in
`api.duplicates`, never in `api.delivered`.

The child processes run on the wall clock (they are real processes); the test waits for them by
polling what the fake has recorded, with deadlines, never a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import load_config
from bot.services import Services, build_services
from bot.store import members
from schedules import admin
from tests.fakeapi import DEFAULT_CORPID, DEFAULT_CORPSECRET, FakeWeChatAPI
from tests.paths import CONTENT, ROOT

MEMBERS = 10_000
USERIDS = [f"u{n:05d}" for n in range(MEMBERS)]
TEXT = "【通知】请全体党员于本周五前完成《中国共产党纪律处分条例》第三章的学习。"
SECRETS = {"QINGFENG_WECOM_TOKEN": "crash-test-token",
           "QINGFENG_WECOM_ENCODING_AES_KEY": "a" * 43,
           "QINGFENG_WECOM_SECRET": DEFAULT_CORPSECRET}
PACE_S = 0.1     # the fake answers each send this late, so a kill can land between calls
DEADLINE_S = 20  # for anything we wait on


@dataclass
class World:
    config: Path
    db_path: Path
    api: FakeWeChatAPI
    services: Services  # the test's own view of the database
    logs: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QINGFENG_")}
        return {**env, **SECRETS, "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    with FakeWeChatAPI() as api:  # the wall clock: the children are real processes
        db_path = tmp_path / "crash.db"
        config = tmp_path / "config.toml"
        config.write_text(
            f'[store]\npath = "{db_path}"\n\n[content]\npath = "{CONTENT}"\n\n'
            "[sandbox]\nenabled = false\n\n"
            f'[wecom]\nenabled = true\ncorp_id = "{DEFAULT_CORPID}"\nagent_id = 1000002\n'
            f'api_base_url = "{api.base_url}"\n', encoding="utf-8")
        services = build_services(load_config(config, env=SECRETS))
        seed(services)
        yield World(config, db_path, api, services, tmp_path)
        services.store.close()


def seed(services: Services) -> None:
    """10,000 members in 20 branches, each bound to a WeCom userid: one transaction."""
    now = services.clock.now()
    with services.store.transaction() as db:
        for n, userid in enumerate(USERIDS):
            member_id = members.add_member(db, name=f"党员{n:05d}", branch=f"第{n % 20 + 1}党支部",
                                           grp=f"第{n % 60 + 1}党小组", now=now)
            members.bind_identity(db, channel="wecom", external_id=userid, member_id=member_id,
                                  now=now)


def wait_for(what: str, condition: Callable[[], bool], proc: subprocess.Popen | None = None,
             logs: Path | None = None) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if proc is not None and proc.poll() is not None:
            output = logs.read_text(encoding="utf-8")[-3000:] if logs else ""
            raise AssertionError(f"the child exited ({proc.returncode}) before {what}\n{output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)  # a poll interval, not a wait for time to pass


def start(world: World, args: list[str], park: str = "") -> subprocess.Popen:
    log = world.logs / "child.log"
    env = world.env()
    if park:
        env |= {"QF_PARK": park, "QF_PARK_MARK": str(world.logs / "parked")}
    with log.open("w", encoding="utf-8") as out:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=DEADLINE_S) == -signal.SIGKILL


def ledger(world: World) -> Counter[str]:
    return Counter(status for (status,) in world.services.store.db.execute(
        "SELECT status FROM deliveries"))


def answered(api: FakeWeChatAPI) -> bool:
    """Every request the fake received has been acted on (a dead client's too)."""
    return all(call.answer is not None for call in api.calls)


def finish_and_check(world: World) -> str:
    """`python -m bot deliveries drain`, then exactly once on both sides, and an intact file."""
    wait_for("the fake to finish the dead child's last request", lambda: answered(world.api))
    drained = subprocess.run([sys.executable, "-m", "bot", "--config", str(world.config),
                              "deliveries", "drain"], cwd=ROOT, env=world.env(),
                             capture_output=True, text=True, timeout=DEADLINE_S * 3)
    assert drained.returncode == 0, drained.stderr[-3000:]
    assert drained.stdout.strip().endswith("仍待重试 0 条。"), drained.stdout

    db = world.services.store.db
    [(broadcasts, status)] = db.execute("SELECT count(*), max(status) FROM broadcasts").fetchall()
    assert (broadcasts, status) == (1, "done")
    rows = db.execute("SELECT count(*), count(DISTINCT member_id) FROM deliveries").fetchone()
    assert tuple(rows) == (MEMBERS, MEMBERS)  # every member, one row each
    assert ledger(world) == Counter({"sent": MEMBERS})
    assert db.execute("SELECT count(*) FROM members m WHERE NOT EXISTS (SELECT 1 FROM"
                      " deliveries d WHERE d.member_id = m.id)").fetchone()[0] == 0

    delivered = Counter(d.to for d in world.api.delivered)
    assert set(delivered) == set(USERIDS)
    assert set(delivered.values()) == {1}, delivered.most_common(3)
    assert {d.content for d in world.api.delivered} == {TEXT}
    duplicates = Counter(d.to for d in world.api.duplicates)
    assert set(duplicates) <= set(USERIDS)  # resends the platform recognised, nothing else

    with sqlite3.connect(world.db_path) as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert check.execute("PRAGMA foreign_key_check").fetchall() == []
    return drained.stdout.strip()


# --- killed while sending -----------------------------------------------------------------------


@dataclass(frozen=True)
class KillPoint:
    name: str
    delivered: int  # kill once the platform has delivered at least this many
    park: bool      # stop the child at the exact worst moment (answered, not yet recorded)


SEND_KILL_POINTS = [
    KillPoint("after-the-first-call", 1000, park=False),
    KillPoint("half-way", 5000, park=False),
    KillPoint("delivered-but-not-recorded-9000", 9000, park=True),
]


@pytest.mark.parametrize("point", SEND_KILL_POINTS, ids=lambda p: p.name)
def test_kill_9_while_sending_then_drain_delivers_everyone_exactly_once(world, point):
    began = time.monotonic()
    api = world.api
    if point.park:
        proc = start(world, ["-m", "tests.crash_driver", str(world.config), "crash:park", TEXT],
                     park=f"send:{point.delivered}")
        wait_for("the child to park", (world.logs / "parked").exists, proc, world.logs / "child.log")
    else:
        schedule_id = admin.create(world.services, kind="daily", spec={"time": "08:00"},
                                   workdays_only=False, audience={"all": True},
                                   content={"text": TEXT}, actor="test")
        api.set_delay(PACE_S)
        proc = start(world, ["-m", "bot", "--config", str(world.config), "schedule",
                             "send-now", str(schedule_id)])
        wait_for(f"{point.delivered} deliveries", lambda: len(api.delivered) >= point.delivered,
                 proc, world.logs / "child.log")
    kill(proc)
    api.set_delay(0)

    at_kill = len(api.delivered)
    sent_at_kill = ledger(world)["sent"]
    assert point.delivered <= at_kill < MEMBERS  # some, not all
    assert sent_at_kill < MEMBERS
    if point.park:
        # The ninth call reached everyone in it; the ledger never heard back.
        assert (at_kill, sent_at_kill) == (point.delivered, point.delivered - 1000)

    summary = finish_and_check(world)
    duplicates = len(api.duplicates)
    if point.park:
        assert duplicates == 1000  # the unrecorded call, resent, absorbed by the platform
    # Resends are whole recorded-or-not calls: never more than the one in flight at the kill.
    assert duplicates in (0, 1000), duplicates
    print(f"\n{point.name}: killed at {at_kill} delivered / {sent_at_kill} recorded; "
          f"drain: {summary}; platform duplicates absorbed: {duplicates}; "
          f"{time.monotonic() - began:.1f}s")


# --- killed while writing the ledger rows -------------------------------------------------------


@pytest.mark.parametrize("rows", [1000, 7000], ids=lambda n: f"after-{n}-rows")
def test_kill_9_while_expanding_then_drain_finishes_the_fan_out(world, rows):
    began = time.monotonic()
    proc = start(world, ["-m", "tests.crash_driver", str(world.config), "crash:expand", TEXT],
                 park=f"expand:{rows}")
    wait_for("the child to park", (world.logs / "parked").exists, proc, world.logs / "child.log")
    kill(proc)

    db = world.services.store.db
    assert db.execute("SELECT status FROM broadcasts").fetchall() == [("expanding",)]
    assert ledger(world) == Counter({"pending": rows})  # whole chunks only
    assert world.api.delivered == []

    summary = finish_and_check(world)
    assert summary == f"本次处理 {MEMBERS} 条；仍待重试 0 条。"
    assert world.api.duplicates == []
    print(f"\nexpansion killed after {rows} rows; drain: {summary}; "
          f"{time.monotonic() - began:.1f}s")
