"""Exactly once from the admin's side: 立即发送 on a one-off consumes it (the scheduler does not
send it again at its time, even after a crash between the send and the status change); on a
recurring schedule it is one extra send and the timing stays. What will happen is said before
the admin confirms. A schedule identical to a running one is refused unless asked for anyway
(schedules/admin.py, the CLI, chat 定时). Counted against the delivery ledger and the sandbox
inboxes, with the scheduler's own tick on the settable clock.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.clock import SHANGHAI
from bot.services import Services
from bot.store import members
from bot.store import schedules as store_schedules
from schedules import admin, jobs
from schedules.runner import SchedulerRunner
from tests.paths import CONTENT

EVERYONE = (1, 2, 3, 4, 5, 6, 7, 8)
TEXT = "今晚七点支部学习，请准时参加"
CHEN_JING = 5  # an admin in the demo roster (see tests/test_admin_chat.py)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


def add(services: Services, kind: str = "once", spec: dict | None = None, *,
        text: str = TEXT, audience: dict | None = None, **options) -> int:
    return admin.create(services, kind=kind, spec=spec or {"at": "2026-11-23T10:00"},
                        workdays_only=False, audience=audience or {"all": True},
                        content={"text": text}, actor="test", **options)


def received(services: Services, schedule_id: int) -> Counter[int]:
    """Ledger rows per member over every broadcast of the schedule."""
    return Counter(member for (member,) in services.store.db.execute(
        "SELECT d.member_id FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
        " WHERE b.schedule_id = ?", [schedule_id]))


def inbox_counts(services: Services, text: str = TEXT) -> Counter[str]:
    return Counter(external for (external,) in services.store.db.execute(
        "SELECT external_id FROM sandbox_inbox WHERE text = ?", [text]))


def status_of(services: Services, schedule_id: int) -> str:
    schedule = store_schedules.get(services.store.db, schedule_id)
    assert schedule is not None
    return schedule.status


@pytest.fixture
def runner(services) -> SchedulerRunner:
    return SchedulerRunner(services, jobs=[jobs.fire_admin_schedules, jobs.drain_deliveries])


# --- 立即发送 on a one-off --------------------------------------------------------------------


def test_a_one_off_sent_now_is_done_and_not_sent_again_at_its_time(services, runner, clock):
    sid = add(services)
    admin.send_now(services, sid, actor="test")
    assert status_of(services, sid) == "done"
    runner.tick()                    # 09:00: the send-now drains
    clock.set(at(10, 0, 30))
    runner.tick()                    # its own time: nothing more
    clock.set(at(10, 5))
    runner.tick()
    assert received(services, sid) == Counter({m: 1 for m in EVERYONE})
    assert set(inbox_counts(services).values()) == {1} and len(inbox_counts(services)) == 8


def test_a_crash_before_the_one_off_is_marked_done_still_sends_once(services, runner, clock):
    # send_now made the broadcast, then the process died before the status change: the
    # scheduler at 10:00 finds the broadcast under the fire's own key and adds nothing.
    sid = add(services)
    admin.send_now(services, sid, actor="test")
    with services.store.transaction() as db:
        store_schedules.set_status(db, sid, "active")
        store_schedules.mark_handled(db, sid, at(9))
    clock.set(at(10, 0, 30))
    runner.tick()
    assert received(services, sid) == Counter({m: 1 for m in EVERYONE})
    assert status_of(services, sid) == "done"
    [key] = [k for (k,) in services.store.db.execute(
        "SELECT key FROM broadcasts WHERE schedule_id = ?", [sid])]
    assert key == f"schedule:{sid}:2026-11-23T10:00:00+08:00"


def test_a_one_off_due_but_not_yet_handled_is_consumed_too(services, runner, clock):
    # 10:00:05, the scheduler's tick not yet run: sending now is that very fire.
    sid = add(services)
    clock.set(at(10, 0, 5))
    admin.send_now(services, sid, actor="test")
    runner.tick()
    assert received(services, sid) == Counter({m: 1 for m in EVERYONE})
    assert status_of(services, sid) == "done"


def test_a_paused_one_off_sent_now_is_done(services, runner, clock):
    sid = add(services)
    admin.set_status(services, sid, "paused", actor="test")
    admin.send_now(services, sid, actor="test")
    assert status_of(services, sid) == "done"
    clock.set(at(10, 1))
    runner.tick()
    assert received(services, sid) == Counter({m: 1 for m in EVERYONE})


def test_a_done_one_off_sent_again_is_sent_again(services, runner, clock):
    # An explicit second 立即发送 (the page says members get it again): a new broadcast.
    sid = add(services)
    admin.send_now(services, sid, actor="test")
    clock.advance(minutes=1)
    assert "再收到一次" in admin.send_now_effect(services, store_schedules.get(
        services.store.db, sid))
    admin.send_now(services, sid, actor="test")
    runner.tick()
    assert received(services, sid) == Counter({m: 2 for m in EVERYONE})


def test_a_cancelled_schedule_cannot_be_sent_now(services):
    sid = add(services)
    admin.set_status(services, sid, "cancelled", actor="test")
    with pytest.raises(admin.ScheduleError, match="已取消的定时消息不能再发送"):
        admin.send_now(services, sid, actor="test")
    assert received(services, sid) == Counter()


# --- 立即发送 on a recurring schedule ---------------------------------------------------------


def test_a_recurring_schedule_sent_now_keeps_its_next_regular_fire(services, runner, clock):
    sid = add(services, "daily", {"time": "18:00"})
    admin.send_now(services, sid, actor="test")
    runner.tick()
    assert status_of(services, sid) == "active"
    assert received(services, sid) == Counter({m: 1 for m in EVERYONE})
    clock.set(at(18, 0, 30))
    runner.tick()  # the regular 18:00 fire, as before
    assert received(services, sid) == Counter({m: 2 for m in EVERYONE})
    clock.set(at(18, 10))
    runner.tick()
    assert received(services, sid) == Counter({m: 2 for m in EVERYONE})


# --- what the admin is told before confirming ---------------------------------------------------


def effect(services: Services, schedule_id: int) -> str:
    schedule = store_schedules.get(services.store.db, schedule_id)
    assert schedule is not None
    return admin.send_now_effect(services, schedule)


def test_the_send_now_effect_says_what_will_happen(services):
    one_off = add(services)
    assert effect(services, one_off) == (
        "现在发给全体党员（8 人）。这是一次性消息：发送后即为「已完成」，原定的 2026-11-23 10:00 不会再发。")
    daily = add(services, "daily", {"time": "18:00"})
    assert effect(services, daily) == (
        "现在发给全体党员（8 人）（额外的一次），不影响定时：下一次仍在 2026-11-23 18:00 按时发送。")
    admin.set_status(services, daily, "paused", actor="test")
    assert "仍为「已暂停」" in effect(services, daily)
    admin.set_status(services, daily, "cancelled", actor="test")
    assert effect(services, daily) == "已取消的定时消息不能再发送。"


# --- duplicates -----------------------------------------------------------------------------------


def test_an_identical_schedule_is_refused_unless_asked_for(services):
    first = add(services)
    with pytest.raises(admin.DuplicateSchedule) as refused:
        add(services)
    assert refused.value.existing.id == first
    assert str(refused.value).startswith(f"已有一条相同的定时消息 #{first}（生效中，2026-11-23 10:00")
    assert len(store_schedules.list_all(services.store.db)) == 1
    second = add(services, allow_duplicate=True)
    assert second != first and len(store_schedules.list_all(services.store.db)) == 2


@pytest.mark.parametrize(("kind", "spec", "other_kind", "other_spec", "audience", "other_audience",
                          "text", "other_text", "duplicate"), [
    # the same effect spelled differently is a duplicate
    ("daily", {"time": "08:00"}, "cron", {"cron": "0 8 * * *"}, {"all": True}, {"all": True},
     TEXT, TEXT, True),
    ("once", {"at": "2026-11-23T10:00"}, "once", {"at": "2026-11-23T10:00"},
     {"all": True}, {"branches": ["第一党支部", "第二党支部"]}, TEXT, TEXT, True),
    ("once", {"at": "2026-11-23T10:00"}, "once", {"at": "2026-11-23T10:00"},
     {"all": True}, {"all": True}, TEXT, f"  {TEXT} ", True),
    # any real difference is not
    ("once", {"at": "2026-11-23T10:00"}, "once", {"at": "2026-11-23T10:01"},
     {"all": True}, {"all": True}, TEXT, TEXT, False),
    ("once", {"at": "2026-11-23T10:00"}, "once", {"at": "2026-11-23T10:00"},
     {"all": True}, {"branches": ["第一党支部"]}, TEXT, TEXT, False),
    ("once", {"at": "2026-11-23T10:00"}, "once", {"at": "2026-11-23T10:00"},
     {"all": True}, {"all": True}, TEXT, TEXT + "。", False),
    ("daily", {"time": "08:00"}, "weekly", {"time": "08:00", "weekdays": ["mon"]},
     {"all": True}, {"all": True}, TEXT, TEXT, False),
], ids=["daily-vs-cron", "all-vs-every-branch", "spaces-around-text", "a-minute-later",
        "one-branch", "one-more-character", "daily-vs-weekly"])
def test_what_counts_as_a_duplicate(services, kind, spec, other_kind, other_spec, audience,
                                    other_audience, text, other_text, duplicate):
    add(services, kind, spec, audience=audience, text=text)
    if duplicate:
        with pytest.raises(admin.DuplicateSchedule):
            add(services, other_kind, other_spec, audience=other_audience, text=other_text)
    else:
        add(services, other_kind, other_spec, audience=other_audience, text=other_text)


@pytest.mark.parametrize("status", ["cancelled", "done"])
def test_a_finished_schedule_is_no_duplicate(services, status):
    first = add(services)
    if status == "cancelled":
        admin.set_status(services, first, "cancelled", actor="test")
    else:
        admin.send_now(services, first, actor="test")
    add(services)  # no warning: the first will never send again


def test_a_paused_identical_schedule_is_a_duplicate(services):
    first = add(services)
    admin.set_status(services, first, "paused", actor="test")
    with pytest.raises(admin.DuplicateSchedule, match="已暂停"):
        add(services)


# --- the CLI: schedule add refuses in one line unless --allow-duplicate ---------------------------


def test_cli_schedule_add_refuses_a_duplicate_in_one_line(tmp_path, built):
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "cli.db"}"\n\n[content]\npath = "{CONTENT}"'
                      '\n\n[sandbox]\nenabled = true\n', encoding="utf-8")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, ["--config", str(config), *args])

    assert run("init").exit_code == 0
    add_args = ("schedule", "add", "--at", "2026-11-23 10:00", "--all", "--text", TEXT)
    assert run(*add_args).exit_code == 0
    refused = run(*add_args)
    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1, refused.output
    assert "已有一条相同的定时消息 #1" in lines[0] and "--allow-duplicate" in lines[0]
    allowed = run(*add_args, "--allow-duplicate")
    assert allowed.exit_code == 0 and "已创建定时消息 2" in allowed.output
    listed = run("schedule", "list").output.strip().splitlines()
    assert len(listed) == 2


def test_cli_send_now_of_a_one_off_says_it_is_done(tmp_path, built):
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "cli.db"}"\n\n[content]\npath = "{CONTENT}"'
                      '\n\n[sandbox]\nenabled = true\n', encoding="utf-8")
    runner = CliRunner()
    run = lambda *args: runner.invoke(cli, ["--config", str(config), *args])  # noqa: E731
    run("init")
    run("schedule", "add", "--at", "2026-11-23 10:00", "--all", "--text", TEXT)
    sent = run("schedule", "send-now", "1")
    assert sent.exit_code == 0, sent.output
    assert "这条一次性消息已完成，原定的 2026-11-23 10:00 不会再发。" in sent.output
    assert "已完成" in run("schedule", "list", "--all").output
    run("schedule", "cancel", "1")
    refused = run("schedule", "add", "--daily", "18:00", "--all", "--text", TEXT)
    assert refused.exit_code == 0  # a different timing: no duplicate


# --- chat 定时: the preview says so ---------------------------------------------------------------


def test_chat_preview_warns_about_an_identical_schedule(services):
    from bot.conversation import handle_inbound
    from bot.messages import Inbound

    with services.store.transaction() as db:
        members.bind_identity(db, channel="sandbox", external_id=f"m{CHEN_JING}",
                              member_id=CHEN_JING, now=services.clock.now())

    def say(text: str, n: int) -> str:
        inbound = Inbound(channel="sandbox", user=f"m{CHEN_JING}", kind="text", text=text,
                          dedupe_key=f"sandbox:msg:dup{n}", at=services.clock.now())
        return handle_inbound(services, inbound).text

    first = say(f"定时 今天 10:00 全体 {TEXT}", 1)
    assert "请确认" in first and "注意" not in first
    say("确认", 2)
    again = say(f"定时 今天 10:00 全体 {TEXT}", 3)
    assert "注意：已有一条相同的定时消息 #1" in again and "每人会收到两次" in again
    other = say(f"定时 今天 11:00 全体 {TEXT}", 4)
    assert "注意" not in other

