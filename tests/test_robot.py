"""The WeCom group robot (群机器人): configuration, one group message per branch per broadcast
(exactly once through the ledger), the 20-a-minute throttle shared through SQLite, the
platform's errcodes, and a crash between the send and its record. Against tests/fakeapi.py's
webhook endpoint over real HTTP, with the test clock (the fake's clock too)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from bot import delivery
from bot.channels import Outgoing
from bot.channels import robot as robot_channel
from bot.clock import SettableClock
from bot.config import ConfigError, load_config
from bot.services import Services, build_services
from bot.store import alerts
from schedules import admin, jobs
from tests.fakeapi import FakeWeChatAPI
from tests.test_channels import (
    TRANSIENT_FAULTS,
    add_members,
    fake_api,
    settle,
    short_timeouts,
    wecom_section,
)

KEY_1 = "1a2b3c4d-0000-4000-8000-000000000001"
KEY_2 = "1a2b3c4d-0000-4000-8000-000000000002"
ROBOTS_ENV = {"QINGFENG_ROBOT_1": KEY_1, "QINGFENG_ROBOT_2": KEY_2}
BRANCHES = {"第一党支部": "QINGFENG_ROBOT_1", "第二党支部": "QINGFENG_ROBOT_2"}


@pytest.fixture
def api(clock: SettableClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeChatAPI]:
    short_timeouts(monkeypatch)
    monkeypatch.setattr(robot_channel, "SEND_TIMEOUT_S", 0.2)
    for name, value in ROBOTS_ENV.items():
        monkeypatch.setenv(name, value)
    with fake_api(clock) as fake:
        yield fake


def robots_section(api: FakeWeChatAPI, branches: dict[str, str] | None = None) -> dict:
    return {"enabled": True, "api_base_url": api.base_url, "branches": branches or BRANCHES}


def world(make_services, api) -> tuple[Services, dict]:
    """WeCom members in three branches; the first two branches have a robot each."""
    services = make_services(demo=False, sandbox={"enabled": False}, wecom=wecom_section(api),
                             robots=robots_section(api))
    add_members(services, 3, "wecom", prefix="a", branch="第一党支部")
    add_members(services, 2, "wecom", prefix="b", branch="第二党支部")
    add_members(services, 2, "wecom", prefix="c", branch="第三党支部")
    return services, delivery.build_channels(services)


def schedule(services: Services, *, robot: str = "text", text: str = "本周五下午三点开展主题党日活动",
             audience: dict | None = None) -> int:
    return admin.create(services, kind="once", spec={"at": "2026-11-23T10:00"},
                        workdays_only=False, audience=audience or {"all": True},
                        content={"text": text, "robot": robot}, actor="test")


def robot_rows(services: Services) -> list[tuple]:
    return services.store.db.execute(
        "SELECT d.external_id, d.status, d.attempts, d.last_error FROM deliveries d"
        " WHERE d.channel = 'robot' ORDER BY d.id").fetchall()


def robot_delivered(api: FakeWeChatAPI) -> Counter:
    return Counter((d.to, d.content) for d in api.delivered if d.channel == "robot")


# ---- configuration -----------------------------------------------------------------------------


def config_with(robots: dict, env: dict[str, str]) -> dict:
    return load_config({"sandbox": {"enabled": True}, "robots": robots}, env=env).section("robots")


def test_config_resolves_each_branch_key_from_its_variable() -> None:
    section = config_with({"enabled": True, "branches": BRANCHES}, ROBOTS_ENV)
    assert section["keys"] == {"第一党支部": KEY_1, "第二党支部": KEY_2}
    # The whole webhook address pasted from WeCom works too.
    pasted = {"QINGFENG_ROBOT_1": f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY_1}"}
    section = config_with({"enabled": True, "branches": {"第一党支部": "QINGFENG_ROBOT_1"}}, pasted)
    assert section["keys"] == {"第一党支部": KEY_1}
    assert config_with({}, {})["keys"] == {}  # off by default


@pytest.mark.parametrize("robots, env, message", [
    ({"enabled": True}, {}, "robots.branches is empty"),
    ({"enabled": True, "branches": {"一支部": "QINGFENG_ROBOT_9"}}, {},
     "QINGFENG_ROBOT_9 is not set"),
    ({"enabled": True, "branches": {"一支部": KEY_1}}, {}, "must name an environment variable"),
    ({"enabled": True, "branches": {"一支部": "HOME"}}, {}, "must name an environment variable"),
    ({"enabled": True, "branches": {"一支部": "QINGFENG_ROBOT_1"}},
     {"QINGFENG_ROBOT_1": "not a key!"}, "does not look like a robot key"),
    ({"enabled": True, "branches": {"一支部": 3}}, {}, "must name an environment variable"),
    ({"enabled": True, "branches": "QINGFENG_ROBOT_1"}, {}, "robots.branches must be a table"),
    ({"enabled": True, "keys": {"一支部": KEY_1}}, {}, "unknown key robots.keys"),
])
def test_config_mistakes_are_one_line_and_never_show_the_key(robots, env, message) -> None:
    with pytest.raises(ConfigError) as caught:
        config_with(robots, env)
    text = str(caught.value)
    assert message in text and "\n" not in text
    assert "not a key!" not in text


# ---- exactly once ------------------------------------------------------------------------------


def test_a_schedule_fires_one_group_message_per_branch_with_a_robot(make_services, api,
                                                                    clock) -> None:
    services, channels = world(make_services, api)
    schedule_id = schedule(services)
    clock.advance(hours=1)
    jobs.fire_admin_schedules(services)
    jobs.fire_admin_schedules(services)  # a second tick: nothing twice
    settle(services, channels, clock)
    jobs.fire_admin_schedules(services)
    delivery.drain(services, channels)

    text = "本周五下午三点开展主题党日活动"
    assert robot_delivered(api) == Counter({(KEY_1, text): 1, (KEY_2, text): 1})
    assert robot_rows(services) == [("text:第一党支部", "sent", 1, ""),
                                    ("text:第二党支部", "sent", 1, "")]
    # Every member still gets the message in person, the third branch (no robot) included.
    assert Counter(d.to for d in api.delivered if d.channel == "wecom") == Counter(
        ["a0000", "a0001", "a0002", "b0000", "b0001", "c0000", "c0001"])
    keys = [k for (k,) in services.store.db.execute(
        "SELECT key FROM broadcasts WHERE schedule_id = ? ORDER BY id", [schedule_id])]
    assert keys == ["schedule:1:2026-11-23T10:00:00+08:00",
                    "schedule:1:2026-11-23T10:00:00+08:00#robot:text"]
    body = next(d.body for d in api.delivered if d.channel == "robot")
    assert body == {"msgtype": "text", "text": {"content": text}}


def test_markdown_and_a_branch_audience(make_services, api, clock) -> None:
    services, channels = world(make_services, api)
    schedule_id = schedule(services, robot="markdown", text="**提醒**：请按时交纳党费",
                           audience={"branches": ["第二党支部"]})
    admin.send_now(services, schedule_id, actor="test")
    settle(services, channels, clock)
    assert robot_delivered(api) == Counter({(KEY_2, "**提醒**：请按时交纳党费"): 1})
    assert next(d.body for d in api.delivered if d.channel == "robot")["msgtype"] == "markdown"


@pytest.mark.parametrize("content, audience, message", [
    ({"text": "x", "robot": "html"}, {"all": True}, "text 或 markdown"),
    ({"text": "x", "robot": "text"}, {"branches": ["第三党支部"]}, "都没有配置群机器人"),
    ({"robot": "text"}, {"all": True}, "内容须为"),
])
def test_robot_schedules_that_cannot_be_made_are_refused(make_services, api, content, audience,
                                                         message) -> None:
    services, _ = world(make_services, api)
    with pytest.raises(admin.ScheduleError, match=message):
        admin.create(services, kind="once", spec={"at": "2026-11-23T10:00"}, workdays_only=False,
                     audience=audience, content=content, actor="test")
    assert services.store.db.execute("SELECT count(*) FROM schedules").fetchone()[0] == 0


def test_robot_schedule_without_robots_configured_is_refused(make_services, api) -> None:
    services = make_services(demo=False, wecom=wecom_section(api))
    add_members(services, 1, "wecom")
    with pytest.raises(admin.ScheduleError, match="群机器人未启用"):
        schedule(services)


# ---- the throttle ------------------------------------------------------------------------------


def test_twenty_five_messages_in_a_minute_stay_under_the_limit_across_two_processes(
        make_services, api, clock) -> None:
    services, channels = world(make_services, api)
    # A second process on the same database file: its own Store and channels.
    other = build_services(services.config, clock)
    other_channels = delivery.build_channels(other)
    try:
        schedule_id = schedule(services, audience={"branches": ["第一党支部"]})
        for _ in range(25):
            admin.send_now(services, schedule_id, actor="test")
            clock.advance(seconds=1)  # send-now keys carry the time: 25 distinct broadcasts
        clock.advance(seconds=-25)
        delivery.drain(services, {"robot": channels["robot"]})
        delivery.drain(other, {"robot": other_channels["robot"]})
        sent = [r for r in robot_rows(services) if r[1] == "sent"]
        waiting = [r for r in robot_rows(services) if r[1] == "pending"]
        assert len(sent) == robot_channel.ROBOT_PER_MINUTE
        assert len(waiting) == 25 - robot_channel.ROBOT_PER_MINUTE
        assert {(r[2], r[3]) for r in waiting} == {(0, "robot throttle (20 a minute)")}
        clock.advance(seconds=61)
        delivery.drain(other, {"robot": other_channels["robot"]})
        assert {r[1] for r in robot_rows(services)} == {"sent"}
        assert sum(robot_delivered(api).values()) == 25
        # The platform never had to refuse one: no 45009 from the robot endpoint.
        assert all(c.answer and c.answer["errcode"] == 0 for c in api.calls_to("webhook/send"))
    finally:
        other.store.close()


# ---- errcodes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(TRANSIENT_FAULTS))
def test_transient_faults_are_retried_and_sent_once(make_services, api, clock, kind) -> None:
    services, channels = world(make_services, api)
    api.fail_next("webhook/send", kind, times=2)
    schedule_id = schedule(services)
    admin.send_now(services, schedule_id, actor="test")
    settle(services, channels, clock)
    assert sorted(robot_delivered(api).values()) == [1, 1]
    assert {r[1] for r in robot_rows(services)} == {"sent"}
    # Both branches' first calls failed; each went out on its second attempt.
    assert [r[2] for r in robot_rows(services)] == [2, 2]


def test_a_fault_that_persists_fails_with_its_reason_and_an_alert(make_services, api,
                                                                  clock) -> None:
    services, channels = world(make_services, api)
    api.fail_next("webhook/send", -1, times=1000)
    admin.send_now(services, schedule(services, audience={"branches": ["第一党支部"]}),
                   actor="test")
    settle(services, channels, clock)
    assert robot_rows(services) == [("text:第一党支部", "failed", delivery.MAX_ATTEMPTS,
                                     "errcode -1: system error")]
    assert "broadcast_failed" in {a.kind for a in alerts.list_alerts(services.store.db)}
    assert robot_delivered(api) == Counter()


def test_an_invalid_key_fails_at_once_and_the_key_is_never_recorded(make_services, api,
                                                                    clock) -> None:
    services, channels = world(make_services, api)
    api.valid_robot_keys = {KEY_2}
    admin.send_now(services, schedule(services), actor="test")
    settle(services, channels, clock)
    rows = dict((r[0], r[1:]) for r in robot_rows(services))
    assert rows["text:第一党支部"] == ("failed", 1, "第一党支部: the robot's key is not valid (93000)")
    assert rows["text:第二党支部"][0] == "sent"
    stored = "\n".join(str(row) for row in services.store.db.execute(
        "SELECT * FROM deliveries UNION ALL SELECT id, at, kind, detail, 0, 0, 0, 0, 0, 0, 0"
        " FROM alerts").fetchall())
    stored += "\n".join(str(row) for row in services.store.db.execute("SELECT * FROM kv"))
    assert KEY_1 not in stored and KEY_2 not in stored


def test_too_long_markdown_is_failed_with_the_platforms_reason(make_services, api, clock) -> None:
    services, channels = world(make_services, api)
    bid = delivery.create_robot_broadcast(services, key="long", text="长" * 2000,
                                          audience={"branches": ["第一党支部"]},
                                          fire_at=clock.now(), msgtype="markdown")
    settle(services, channels, clock)
    assert delivery.counts(services.store.db, bid).failed == 1
    assert robot_rows(services)[0][3] == "第一党支部: refused (40058)"


# ---- crash and resume --------------------------------------------------------------------------


def test_a_crash_before_the_send_resumes_and_sends_once(make_services, api, clock) -> None:
    services, channels = world(make_services, api)
    admin.send_now(services, schedule(services), actor="test")  # expanded, nothing sent: "crash"
    services.store.close()
    restarted = build_services(services.config, clock)  # a new process on the same file
    try:
        settle(restarted, delivery.build_channels(restarted), clock)
        assert sorted(robot_delivered(api).values()) == [1, 1]
        assert {r[1] for r in robot_rows(restarted)} == {"sent"}
    finally:
        restarted.store.close()


@pytest.mark.parametrize("posted", [False, True], ids=["before-post", "after-post"])
def test_a_crash_in_flight_is_never_resent_but_failed_as_unknown_with_an_alert(
        make_services, api, clock, posted) -> None:
    services, channels = world(make_services, api)
    bid = delivery.create_robot_broadcast(services, key="crash", text="通知",
                                          audience={"branches": ["第一党支部"]},
                                          fire_at=clock.now(), msgtype="text")
    channel = channels["robot"]
    [row] = services.store.db.execute("SELECT id FROM deliveries WHERE broadcast_id = ?",
                                      [bid]).fetchall()
    # The dying process: marked in flight (and maybe posted), then killed before recording.
    assert channel._reserve(row[0], KEY_1) is None
    if posted:
        channel._post(Outgoing(row[0], 0, "text:第一党支部", "通知", "k"), "text", KEY_1,
                      "第一党支部")
    assert delivery.drain(services, channels) == 0  # held: another drain would not touch it
    clock.advance(seconds=robot_channel.IN_FLIGHT_HOLD_S + 1)
    delivery.drain(services, channels)
    assert robot_rows(services) == [("text:第一党支部", "failed", 1, robot_channel.UNKNOWN)]
    assert sum(robot_delivered(api).values()) == (1 if posted else 0)  # never twice
    [alert] = [a for a in alerts.list_alerts(services.store.db) if a.kind == "robot_unknown"]
    assert "请查看群消息" in alert.detail
