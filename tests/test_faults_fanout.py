"""A fan-out while the platforms misbehave: the fake API answers 30% of the message calls with
45009, -1, HTTP 500, a late answer (a timeout) or a dropped connection, and every token is
expired once in the middle. Every delivery ends sent exactly once (the fake's own record: no
recipient got the message twice) or failed with its reason after MAX_ATTEMPTS, and the token
fetches stay bounded: one at the start and one after the expiry, per app.

Half the members are on WeCom (1,000 per call), half on the Official Account (one call each,
four at a time). QF_SOAK_MEMBERS sets the size: 2,000 in the suite, 10,000 in `make soak`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest

from bot import delivery
from bot.channels import tokens, wechat
from bot.clock import SettableClock
from bot.store import alerts
from tests.fakeapi import DEFAULT_RATE_KINDS, FakeWeChatAPI
from tests.test_channels import (
    TRANSIENT_FAULTS,
    add_members,
    broadcast,
    ledger,
    settle,
    wire,
)

CLIENT_TIMEOUT_S = 1.0
MEMBERS = int(os.environ.get("QF_SOAK_MEMBERS", "2000"))
SEND_PATHS = {"/cgi-bin/message/send": "wecom", "/cgi-bin/message/custom/send": "mp"}
TEXT = "【通知】本周五下午三点在三楼会议室开展主题党日活动，请准时参加。"


@pytest.fixture
def api(clock: SettableClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeChatAPI]:
    # Timeouts long enough that an ordinary answer on a loaded machine is never mistaken for
    # one (that would be a real lost answer: the platform delivered, we resend, and the
    # Official Account, with no dedupe key, delivers twice), short enough to keep the test
    # quick; the fake's "timeout" fault answers just after.
    monkeypatch.setattr(wechat, "SEND_TIMEOUT_S", CLIENT_TIMEOUT_S)
    monkeypatch.setattr(tokens, "TOKEN_FETCH_TIMEOUT_S", CLIENT_TIMEOUT_S)
    with FakeWeChatAPI(clock=clock.timestamp, timeout_delay_s=CLIENT_TIMEOUT_S + 0.3) as fake:
        yield fake


def test_30_percent_faults_every_delivery_sent_once_or_failed_with_its_reason(
        make_services, api, clock) -> None:
    services, channels = wire(make_services, api)
    wecom_ids = add_members(services, MEMBERS // 2, "wecom", branch="第一党支部")
    mp_ids = add_members(services, MEMBERS - MEMBERS // 2, "mp", branch="第二党支部")
    api.fail_rate(0.3, kinds=DEFAULT_RATE_KINDS, seed=7)
    bid = broadcast(services, "faults", TEXT)

    delivery.drain(services, channels)
    api.expire_tokens()  # mid-way: every app must refresh once, not once per call or thread
    expired_at = len(api.calls)
    drains = 1 + settle(services, channels, clock)

    rows = ledger(services, bid)
    assert sorted(rows) == sorted(wecom_ids + mp_ids)  # one row per member, none lost
    statuses = Counter(r.status for r in rows.values())
    assert set(statuses) <= {"sent", "failed"} and statuses["sent"] > 0.95 * MEMBERS
    for row in rows.values():
        if row.status == "failed":  # only after every attempt, with the platform's reason
            assert row.attempts == delivery.MAX_ATTEMPTS
            assert row.last_error in TRANSIENT_FAULTS.values()
        else:
            assert 1 <= row.attempts <= delivery.MAX_ATTEMPTS
    # The platform's own record: nobody got it twice, and exactly the "sent" rows got it.
    got = Counter((d.channel, d.to) for d in api.delivered if d.content == TEXT)
    assert set(got.values()) == {1}
    sent = {("wecom" if r.channel == "wecom" else "mp_custom", r.external_id)
            for r in rows.values() if r.status == "sent"}
    assert set(got) == sent
    faults = Counter(c.fault for c in api.calls if c.fault)
    assert set(faults) == set(TRANSIENT_FAULTS)  # every kind happened
    assert {r.last_error for r in rows.values() if r.status == "failed"} <= set(
        TRANSIENT_FAULTS.values())
    # Per app: the first token, and one refresh if it called the platform after the expiry.
    apps_after = {SEND_PATHS[c.path] for c in api.calls[expired_at:] if c.path in SEND_PATHS}
    assert "mp" in apps_after  # the OA half is still sending after the expiry
    assert api.token_fetches() == 2 + len(apps_after)
    assert 2 <= drains <= delivery.MAX_ATTEMPTS + 1
    counts = delivery.counts(services.store.db, bid)
    assert (counts.targeted, counts.pending) == (MEMBERS, 0)
    failed = statuses["failed"]
    open_kinds = {a.kind for a in alerts.list_alerts(services.store.db)}
    assert ("broadcast_failed" in open_kinds) == (failed > 0)
