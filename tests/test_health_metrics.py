"""/healthz and /metrics: what they report, what they hide, and who may read /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot import create_app, delivery
from bot.store import kv
from schedules import lease
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
    assert body["scheduler"] == {"leader": None, "lease_expires_in_s": None}
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
    assert body["scheduler"] == {"leader": "host:1:abc", "lease_expires_in_s": lease.LEASE_SECONDS}
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
