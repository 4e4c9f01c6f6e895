"""/healthz and /metrics: what they report, what they hide, and who may read /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot import create_app, delivery
from bot.store import kv
from schedules import lease
from schedules.runner import SchedulerRunner
from tests.conftest import TEST_NOW

TOKEN_VALUE = "ACCESS-TOKEN-VALUE-never-shown"
SAMPLE = re.compile(r'^(?P<name>[a-z_]+)(?P<labels>\{[^}]*\})? (?P<value>-?[0-9.e+]+)$')


def metrics_of(client) -> dict[str, float]:  # noqa: ANN001
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    samples = {}
    for line in response.get_data(as_text=True).splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) qingfeng_[a-z_]+ ", line), line
            continue
        match = SAMPLE.match(line)
        assert match, line
        samples[match["name"] + (match["labels"] or "")] = float(match["value"])
    return samples


def test_healthz_on_a_fresh_service(client, services):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["schema_version"] == services.store.db.execute("PRAGMA user_version").fetchone()[0]
    assert body["scheduler"]["leader"] is None and body["scheduler"]["leader_state"] == "none"
    assert body["scheduler"]["lease_expires_in_s"] is None
    assert body["scheduler"]["leader_text"].startswith("无")
    assert body["last_push"] is None and body["tokens"] == [] and body["open_alerts"] == 0


def test_healthz_reports_the_lease_the_last_push_and_tokens_but_never_a_token(client, services):
    now = services.clock.timestamp()
    assert lease.try_acquire(services.store, "host:1:abc", now)
    delivery.create_broadcast(services, key="reading:2026-11-23", text="今日纪法条文",
                              audience={"all": True}, fire_at=TEST_NOW)
    with services.store.transaction() as db:
        kv.put(db, "session:wx0123456789abcdef_access_token", json.dumps(TOKEN_VALUE), now + 7000)
        kv.put(db, "quota:ww0123456789abcdef_access_token", "45009", now + 600)
    response = client.get("/healthz")
    assert TOKEN_VALUE not in response.get_data(as_text=True)
    body = response.get_json()
    assert body["scheduler"] == {
        "leader": "host:1:abc", "leader_state": "ok", "last_leader": "host:1:abc",
        "leader_text": "host:1:abc（上次心跳 0 秒前，已领导 0 秒）", "heartbeat_age_s": 0.0,
        "heartbeat_overdue_after_s": 20.0, "held_for_s": 0.0,
        "lease_expires_in_s": lease.LEASE_SECONDS}
    assert body["last_push"]["key"] == "reading:2026-11-23"
    assert body["last_push"]["fire_at"] == TEST_NOW.isoformat()
    assert body["tokens"] == [
        {"name": "ww0123456789abcdef_access_token", "expires_in_s": None, "quota_spent": True},
        {"name": "wx0123456789abcdef_access_token", "expires_in_s": 7000, "quota_spent": False},
    ]


def test_an_expired_lease_and_token_are_not_reported(client, services, clock):
    now = services.clock.timestamp()
    lease.try_acquire(services.store, "host:1:abc", now)
    with services.store.transaction() as db:
        kv.put(db, "session:wx1_access_token", json.dumps(TOKEN_VALUE), now + 60)
    clock.advance(seconds=lease.LEASE_SECONDS + 61)
    body = client.get("/healthz").get_json()
    assert body["scheduler"]["leader"] is None and body["tokens"] == []


def test_a_leader_that_stopped_renewing_is_unknown_until_another_takes_over(make_services,
                                                                            clock):
    """kill -9 of the leading worker: its lease row stays until it expires. /healthz shows the
    heartbeat's age, and once it is overdue (two renewals missed) no longer names the dead
    worker as leader: 「未知」, with leader_state "unknown" for a monitor."""
    services = make_services()
    client = create_app(services=services).test_client()
    dead, other = SchedulerRunner(services), SchedulerRunner(services)  # no jobs: lease only
    assert dead.tick()
    clock.advance(seconds=8)
    assert dead.tick()  # renewed: the lease is 8 s old, its heartbeat fresh
    clock.advance(seconds=5)
    fresh = client.get("/healthz").get_json()["scheduler"]
    assert (fresh["leader"], fresh["leader_state"]) == (dead.holder, "ok")
    assert (fresh["heartbeat_age_s"], fresh["held_for_s"]) == (5.0, 13.0)
    assert "上次心跳 5 秒前" in fresh["leader_text"]

    clock.advance(seconds=16)  # 21 s since the last heartbeat: two renewals (tick_s 10) missed
    assert not other.tick()    # the other worker cannot take it yet
    body = client.get("/healthz")
    assert body.status_code == 200  # members are still served: reported, not judged
    overdue = body.get_json()["scheduler"]
    assert overdue["leader"] is None and overdue["leader_state"] == "unknown"
    assert overdue["last_leader"] == dead.holder
    assert overdue["heartbeat_age_s"] == 21.0 and overdue["heartbeat_overdue_after_s"] == 20.0
    assert overdue["lease_expires_in_s"] == lease.LEASE_SECONDS - 21
    assert overdue["leader_text"].startswith("未知：") and "21 秒前" in overdue["leader_text"]

    clock.advance(seconds=lease.LEASE_SECONDS - 21 + 1)  # the dead lease expires
    assert other.tick()
    taken = client.get("/healthz").get_json()["scheduler"]
    assert (taken["leader"], taken["leader_state"], taken["heartbeat_age_s"]) == (
        other.holder, "ok", 0.0)


def test_the_heartbeat_limit_follows_tick_s(make_services, clock):
    services = make_services(scheduler={"tick_s": 30})
    client = create_app(services=services).test_client()
    assert SchedulerRunner(services).tick()
    clock.advance(seconds=25)  # overdue at 10 s ticks, not at 30 s ones
    scheduler = client.get("/healthz").get_json()["scheduler"]
    assert scheduler["leader_state"] == "ok" and scheduler["heartbeat_overdue_after_s"] == 60.0


def test_a_lease_row_from_before_the_heartbeat_field_still_reads(client, services, clock):
    # Written by the previous release during an upgrade: "since" was its last renewal.
    now = services.clock.timestamp()
    with services.store.transaction() as db:
        kv.put(db, lease.LEASE_KEY, json.dumps({"holder": "old:1:x", "since": now - 25}),
               now + 20)
    scheduler = client.get("/healthz").get_json()["scheduler"]
    assert scheduler["leader_state"] == "unknown" and scheduler["heartbeat_age_s"] == 25.0


def test_healthz_is_503_when_the_database_is_unreadable(make_services):
    services = make_services()
    app = create_app(services=services)
    services.store.close()  # closing checkpoints the WAL: damage the file after that
    Path(services.store.path).write_bytes(b"this is not a database" * 400)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and "not a database" in body["database"]
    failed = app.test_client().get("/metrics")
    assert failed.status_code == 200 and "qingfeng_up 0" in failed.get_data(as_text=True)


def test_metrics_count_what_the_store_holds(client, services):
    from bot.store.checkins import record_checkin

    before = metrics_of(client)
    assert before["qingfeng_up"] == 1
    assert before["qingfeng_members_active"] == 8  # the demo roster
    assert before["qingfeng_checkins_today"] == 0
    assert before['qingfeng_deliveries{state="pending"}'] == 0
    assert "qingfeng_last_push_timestamp_seconds" not in before
    with services.store.transaction() as db:
        member_id = db.execute("SELECT id FROM members ORDER BY id LIMIT 1").fetchone()[0]
        record_checkin(db, member_id=member_id, day=TEST_NOW.date(), note="", at=TEST_NOW,
                       via="sandbox")
    delivery.create_broadcast(services, key="t1", text="通知", audience={"all": True},
                              fire_at=TEST_NOW)
    after = metrics_of(client)
    assert after["qingfeng_checkins_today"] == 1
    assert after['qingfeng_deliveries{state="pending"}'] == 8
    assert after["qingfeng_last_push_timestamp_seconds"] == TEST_NOW.timestamp()
    assert after["qingfeng_database_bytes"] > 0
    delivery.drain(services)
    drained = metrics_of(client)
    assert drained['qingfeng_deliveries{state="sent"}'] == 8
    assert drained['qingfeng_deliveries{state="pending"}'] == 0


def test_metrics_name_tokens_without_their_value(client, services):
    now = services.clock.timestamp()
    with services.store.transaction() as db:
        kv.put(db, "session:wx9_access_token", json.dumps(TOKEN_VALUE), now + 100)
    text = client.get("/metrics").get_data(as_text=True)
    assert TOKEN_VALUE not in text
    assert 'qingfeng_token_expires_in_seconds{token="wx9_access_token"} 100' in text
    assert 'qingfeng_token_quota_spent{token="wx9_access_token"} 0' in text


def test_metrics_refuse_anyone_but_a_local_scraper(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
    # Behind nginx every request comes from 127.0.0.1: a forwarded one is from outside.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_open_alerts_are_counted_until_acknowledged(client, services):
    from bot.store import alerts

    with services.store.transaction() as db:
        first = alerts.raise_alert(db, kind="ip_whitelist", channel="mp", detail="40164",
                                   at=TEST_NOW)
        alerts.raise_alert(db, kind="token_quota", channel="wecom", detail="45009", at=TEST_NOW)
    assert client.get("/healthz").get_json()["open_alerts"] == 2
    assert metrics_of(client)["qingfeng_open_alerts"] == 2
    with services.store.transaction() as db:
        alerts.acknowledge(db, first, actor="admin", at=TEST_NOW)
    assert client.get("/healthz").get_json()["open_alerts"] == 1
