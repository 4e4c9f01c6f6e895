"""The delivery ledger: keyed broadcasts, one row per recipient, audiences, routing, the sandbox,
counts, and exactly-once under a fake platform that fails 30% of the time.

Channels run against tests/fakeapi.py over real HTTP; see tests/test_channels.py for the helpers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest

from bot import delivery
from bot.channels import Outgoing
from bot.channels.sandbox import SandboxChannel
from bot.clock import SettableClock
from bot.store import members
from tests.fakeapi import FakeWeChatAPI
from tests.test_channels import (
    INVALID_USER,
    NO_CHANNEL,
    TRANSIENT_FAULTS,
    UNSUBSCRIBED,
    add_members,
    broadcast,
    delivered_to,
    fake_api,
    ledger,
    settle,
    short_timeouts,
    statuses,
    wire,
)


@pytest.fixture
def api(clock: SettableClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeChatAPI]:
    short_timeouts(monkeypatch)
    with fake_api(clock) as fake:
        yield fake


def count_broadcasts(services) -> int:
    return services.store.db.execute("SELECT count(*) FROM broadcasts").fetchone()[0]


# ---- keys and expansion ------------------------------------------------------------------------


def test_same_key_twice_and_expanded_twice_gives_one_row_per_member(
        make_services, api, clock) -> None:
    services, channels = wire(make_services, api, mp=False)
    ids = add_members(services, 5, "wecom")
    audience = {"all": True}

    first = delivery.create_broadcast(services, key="sched:7@2026-11-23T09:00", text="学习提醒",
                                      audience=audience, fire_at=clock.now(), schedule_id=None)
    again = delivery.create_broadcast(services, key="sched:7@2026-11-23T09:00", text="别的文字",
                                      audience=audience, fire_at=clock.now())
    assert again == first
    assert delivery.expand(services, first, "学习提醒", audience) == 0  # a second expansion
    assert count_broadcasts(services) == 1
    rows = ledger(services, first)
    assert sorted(rows) == sorted(ids)
    assert {r.status for r in rows.values()} == {"pending"}

    assert delivery.drain(services, channels) == 5
    # The same fire once more after it was sent: nothing new, nothing resent.
    assert delivery.create_broadcast(services, key="sched:7@2026-11-23T09:00", text="学习提醒",
                                     audience=audience, fire_at=clock.now()) == first
    delivery.expand(services, first, "学习提醒", audience)
    assert delivery.drain(services, channels) == 0

    assert len(ledger(services, first)) == 5
    assert statuses(services, first) == Counter({"sent": 5})
    assert delivered_to(api) == Counter({f"u{n:04d}": 1 for n in range(5)})
    assert {d.content for d in api.delivered} == {"学习提醒"}
    assert len(api.calls_to("message/send")) == 1
    assert services.store.db.execute("SELECT status FROM broadcasts WHERE id = ?",
                                     [first]).fetchone()[0] == "done"


def test_a_crash_mid_expansion_resumes_without_doubling(make_services, api, clock) -> None:
    services, channels = wire(make_services, api, mp=False)
    ids = add_members(services, 4, "wecom")
    bid = broadcast(services, "resume", "通知")
    # Roll back to "half expanded": two rows gone, status back to expanding.
    with services.store.transaction() as db:
        db.execute("DELETE FROM deliveries WHERE member_id IN (?, ?)", ids[2:])
        db.execute("UPDATE broadcasts SET status = 'expanding' WHERE id = ?", [bid])
    delivery.resume_expansions(services)
    delivery.resume_expansions(services)
    assert sorted(ledger(services, bid)) == sorted(ids)
    delivery.drain(services, channels)
    assert delivered_to(api) == Counter({f"u{n:04d}": 1 for n in range(4)})


@pytest.fixture
def roster(make_services, api):
    """Two branches, three groups, four roles, one inactive member; all on WeCom."""
    services, channels = wire(make_services, api, mp=False)
    people = {
        "a1": ("第一党支部", "第一党小组", "member"),
        "a2": ("第一党支部", "第一党小组", "group_leader"),
        "a3": ("第一党支部", "第二党小组", "secretary"),
        "b1": ("第二党支部", "第三党小组", "member"),
        "b2": ("第二党支部", "第三党小组", "admin"),
        "gone": ("第二党支部", "第三党小组", "admin"),
    }
    now = services.clock.now()
    ids = {}
    with services.store.transaction() as db:
        for name, (branch, grp, role) in people.items():
            ids[name] = members.add_member(db, name=name, branch=branch, grp=grp, role=role,
                                           now=now)
            members.bind_identity(db, channel="wecom", external_id=name, member_id=ids[name],
                                  now=now)
        members.deactivate(db, ids["gone"])
    return services, channels, ids


AUDIENCES = [
    ({"all": True}, {"a1", "a2", "a3", "b1", "b2"}),
    ({"branches": ["第一党支部"]}, {"a1", "a2", "a3"}),
    ({"branches": ["第二党支部"]}, {"b1", "b2"}),
    ({"groups": ["第一党小组"]}, {"a1", "a2"}),
    ({"groups": ["第二党小组", "第三党小组"]}, {"a3", "b1", "b2"}),
    ({"roles": ["admin", "secretary"]}, {"a3", "b2"}),
    ({"roles": ["group_leader"]}, {"a2"}),
    ({"members": ["a1", "b1"]}, {"a1", "b1"}),
    ({"members": ["gone", "a2"]}, {"a2"}),  # inactive members are skipped even when named
    ({"branches": ["第一党支部"], "roles": ["admin"]}, {"a1", "a2", "a3", "b2"}),  # a union
    ({"branches": ["无此支部"]}, set()),
]


@pytest.mark.parametrize(("audience", "expected"), AUDIENCES,
                         ids=[json.dumps(a, ensure_ascii=False) for a, _ in AUDIENCES])
def test_audiences_select_the_right_members(roster, api, audience, expected) -> None:
    services, channels, ids = roster
    if "members" in audience:
        audience = {**audience, "members": [ids[name] for name in audience["members"]]}
    bid = broadcast(services, f"aud-{json.dumps(audience)}", "通知", audience)

    names = {member_id: name for name, member_id in ids.items()}
    assert {names[m] for m in ledger(services, bid)} == expected
    delivery.drain(services, channels)
    assert statuses(services, bid) == Counter({"sent": len(expected)} if expected else {})
    assert delivered_to(api) == Counter({name: 1 for name in expected})


def test_inactive_member_is_skipped_and_inactive_identity_is_not_used(
        make_services, api, clock) -> None:
    services, channels = wire(make_services, api, mp=False, sandbox=True)
    ids = add_members(services, 3, "wecom")
    with services.store.transaction() as db:
        members.deactivate(db, ids[0])
        members.set_identity_active(db, "wecom", "u0001", False)
    bid = broadcast(services, "inactive", "通知")

    rows = ledger(services, bid)
    assert sorted(rows) == ids[1:]
    assert (rows[ids[1]].channel, rows[ids[1]].external_id) == ("sandbox", f"m{ids[1]}")
    assert (rows[ids[2]].channel, rows[ids[2]].external_id) == ("wecom", "u0002")
    delivery.drain(services, channels)
    assert statuses(services, bid) == Counter({"sent": 2})
    assert delivered_to(api) == Counter({"u0002": 1})
    inbox = services.store.db.execute("SELECT member_id FROM sandbox_inbox").fetchall()
    assert inbox == [(ids[1],)]


def test_member_with_no_channel_is_undeliverable_with_a_reason(make_services, api, clock) -> None:
    services, channels = wire(make_services, api, mp=False, sandbox=False)
    [bound] = add_members(services, 1, "wecom")
    [unbound] = add_members(services, 1, None)
    bid = broadcast(services, "no-channel", "通知")

    rows = ledger(services, bid)
    assert (rows[unbound].status, rows[unbound].channel) == ("undeliverable", "none")
    assert rows[unbound].last_error == NO_CHANNEL
    assert delivery.drain(services, channels) == 1
    assert ledger(services, bid)[unbound].status == "undeliverable"
    assert ledger(services, bid)[bound].status == "sent"
    assert delivered_to(api) == Counter({"u0000": 1})
    assert api.calls_to("message/send")[0].body["touser"] == "u0000"
    counts = delivery.counts(services.store.db, bid)
    assert (counts.targeted, counts.sent, counts.undeliverable) == (2, 1, 1)
    assert counts.reasons == {NO_CHANNEL: 1}


def test_a_channel_switched_off_after_expansion_makes_its_rows_undeliverable(
        make_services, api, clock) -> None:
    services, channels = wire(make_services, api)
    add_members(services, 2, "mp")
    bid = broadcast(services, "switched-off", "通知")
    without_mp = {name: c for name, c in channels.items() if name != "mp"}
    assert delivery.drain(services, without_mp) == 2
    assert {r.last_error for r in ledger(services, bid).values()} == {"channel mp is not enabled"}
    assert api.delivered == []


# ---- sandbox -----------------------------------------------------------------------------------


def test_sandbox_lands_once_even_when_the_same_batch_is_sent_twice(make_services, clock) -> None:
    services = make_services(demo=False, sandbox={"enabled": True})
    ids = add_members(services, 3)
    bid = broadcast(services, "sandbox", "沙盒通知")
    rows = ledger(services, bid)
    assert {r.channel for r in rows.values()} == {"sandbox"}

    channel = SandboxChannel(services.store, services.clock)
    batch = [Outgoing(i + 1, m, f"m{m}", "沙盒通知", f"qf-b{bid}-m{m}") for i, m in enumerate(ids)]
    assert [o.status for o in channel.send(batch)] == ["sent"] * 3
    assert [o.status for o in channel.send(batch)] == ["sent"] * 3

    def inbox() -> list[tuple]:
        return services.store.db.execute(
            "SELECT member_id, external_id, text, delivery_key FROM sandbox_inbox"
            " ORDER BY id").fetchall()

    assert inbox() == [(m, f"m{m}", "沙盒通知", f"qf-b{bid}-m{m}") for m in ids]

    # Through the ledger: sent, then a crash "forgot" the record, then drained again.
    assert delivery.drain(services) == 3
    with services.store.transaction() as db:
        db.execute("UPDATE deliveries SET status = 'pending' WHERE broadcast_id = ?", [bid])
    assert delivery.drain(services) == 3
    assert statuses(services, bid) == Counter({"sent": 3})
    assert len(inbox()) == 3


# ---- counts ------------------------------------------------------------------------------------


def test_counts_after_a_mixed_run(make_services, api, clock) -> None:
    services, channels = wire(make_services, api)
    channels["mp"].concurrency = 1  # fail_next hits the first calls: keep them in member order
    wecom_ids = add_members(services, 4, "wecom")
    mp_ids = add_members(services, 4, "mp")
    unbound = add_members(services, 2, None)
    api.valid_wecom_users = {"u0000", "u0001", "u0002"}      # u0003: invaliduser
    api.fail_next("message/custom/send", 45009)              # o-0000: rate limited, retried
    api.fail_next("message/custom/send", 40003)              # o-0001: refused for good
    api.unsubscribed("o-0002")                               # o-0002: gone
    bid = broadcast(services, "mixed", "通知")

    delivery.drain(services, channels)

    counts = delivery.counts(services.store.db, bid)
    assert counts == delivery.BroadcastCounts(
        targeted=10, sent=4, pending=1, failed=1, undeliverable=4,
        reasons={INVALID_USER: 1, "errcode 40003: invalid openid": 1, UNSUBSCRIBED: 1,
                 NO_CHANNEL: 2})
    rows = ledger(services, bid)
    assert rows[mp_ids[0]].last_error == TRANSIENT_FAULTS["45009"]
    assert [rows[m].status for m in wecom_ids] == ["sent", "sent", "sent", "undeliverable"]
    assert [rows[m].status for m in unbound] == ["undeliverable"] * 2
    assert delivered_to(api) == Counter({"u0000": 1, "u0001": 1, "u0002": 1, "o-0003": 1})
    assert services.store.db.execute("SELECT status FROM broadcasts WHERE id = ?",
                                     [bid]).fetchone()[0] == "sending"

    settle(services, channels, clock)

    counts = delivery.counts(services.store.db, bid)
    assert (counts.targeted, counts.sent, counts.pending, counts.failed,
            counts.undeliverable) == (10, 5, 0, 1, 4)
    assert delivered_to(api) == Counter(
        {"u0000": 1, "u0001": 1, "u0002": 1, "o-0003": 1, "o-0000": 1})
    assert services.store.db.execute("SELECT status FROM broadcasts WHERE id = ?",
                                     [bid]).fetchone()[0] == "done"


# ---- chaos -------------------------------------------------------------------------------------


def test_300_members_under_30_percent_faults_each_sent_once_or_failed_with_reason(
        make_services, api, clock) -> None:
    services, channels = wire(make_services, api)
    wecom_ids = add_members(services, 150, "wecom", branch="第二党支部")
    mp_ids = add_members(services, 150, "mp", branch="第一党支部")
    api.fail_rate(0.3, seed=20261123)  # 45009, -1, HTTP 500, timeout, dropped connection
    first = broadcast(services, "chaos-1", "第一次通知")
    # A second broadcast to the WeCom half, in flight at the same time with other text.
    second = broadcast(services, "chaos-2", "第二次通知", {"branches": ["第二党支部"]})

    drains = settle(services, channels, clock)

    assert 2 <= drains <= delivery.MAX_ATTEMPTS
    faults = Counter(c.fault for c in api.calls if c.fault)
    assert set(faults) == set(TRANSIENT_FAULTS)  # every kind happened
    assert sum(faults.values()) >= 50
    assert set(Counter((d.content, d.to) for d in api.delivered).values()) == {1}
    for bid, text, targeted in ((first, "第一次通知", wecom_ids + mp_ids),
                                (second, "第二次通知", wecom_ids)):
        rows = ledger(services, bid)
        assert sorted(rows) == sorted(targeted)
        sent = {r.external_id for r in rows.values() if r.status == "sent"}
        failed = [r for r in rows.values() if r.status == "failed"]
        assert len(sent) + len(failed) == len(targeted)  # nothing pending, nothing lost
        assert {d.to for d in api.delivered if d.content == text} == sent
        for row in failed:
            assert row.attempts == delivery.MAX_ATTEMPTS
            assert row.last_error in TRANSIENT_FAULTS.values()
        counts = delivery.counts(services.store.db, bid)
        assert (counts.targeted, counts.sent, counts.failed, counts.pending) == (
            len(targeted), len(sent), len(failed), 0)
        assert len(sent) >= len(targeted) - 5
    # One token per app: the clock never ran past a token's life, and no fault touched one.
    assert api.token_fetches() == 2


# ---- our own throttle is not an attempt --------------------------------------------------------


def test_throttled_sends_do_not_count_toward_max_attempts(make_services, api, clock) -> None:
    from bot.channels import wechat

    services, channels = wire(make_services, api, mp=False)
    [member_id] = add_members(services, 1, "wecom")
    limit = wechat.PER_MEMBER_PER_MINUTE
    # More messages to one member in one minute than the per-member throttle lets through.
    bids = [broadcast(services, f"burst-{n}", f"第{n}条") for n in range(limit + 5)]
    delivery.drain(services, channels)
    rows = [ledger(services, bid)[member_id] for bid in bids]
    assert [r.status for r in rows].count("sent") == limit
    deferred = [r for r in rows if r.status == "pending"]
    assert len(deferred) == 5
    assert {(r.attempts, r.last_error) for r in deferred} == {(0, "per-member throttle")}
    # Deferred again and again (more drains than MAX_ATTEMPTS inside the minute): still not
    # failed, and still no attempt counted.
    for _ in range(delivery.MAX_ATTEMPTS + 2):
        clock.advance(seconds=1)
        for bid in bids:
            services.store.db.execute(
                "UPDATE deliveries SET next_attempt_at = 0 WHERE broadcast_id = ?"
                " AND status = 'pending'", [bid])
        delivery.drain(services, channels)
    rows = [ledger(services, bid)[member_id] for bid in bids]
    assert [r.status for r in rows].count("pending") == 5
    assert {r.attempts for r in rows if r.status == "pending"} == {0}

    clock.advance(seconds=61)
    settle(services, channels, clock)
    rows = [ledger(services, bid)[member_id] for bid in bids]
    assert {r.status for r in rows} == {"sent"}
    assert {r.attempts for r in rows} == {1}
    assert delivered_to(api) == Counter({"u0000": limit + 5})
    assert len({d.content for d in api.delivered}) == limit + 5


# ---- draining in slices, Official Account calls in parallel -------------------------------------


def test_a_drain_with_a_budget_stops_early_and_the_next_one_finishes(
        make_services, api, clock) -> None:
    services, channels = wire(make_services, api, wecom=False)
    ids = add_members(services, 60, "mp")
    bid = broadcast(services, "slices", "通知")
    api.set_delay(0.05)  # every call waits 50 ms: 60 calls take well over the 0.2 s budget
    first = delivery.drain(services, channels, budget_s=0.2)
    assert 0 < first < 60
    assert statuses(services, bid) == Counter({"sent": first, "pending": 60 - first})
    # What was cut short is untouched: no attempt counted, due now, for the next slice.
    pending = [r for r in ledger(services, bid).values() if r.status == "pending"]
    assert {(r.attempts, r.last_error) for r in pending} == {(0, "")}
    slices = 1
    while delivery.drain(services, channels, budget_s=0.2):
        slices += 1
    assert slices >= 2
    assert statuses(services, bid) == Counter({"sent": 60})
    assert sorted(ledger(services, bid)) == sorted(ids)
    assert delivered_to(api) == Counter({f"o-{n:04d}": 1 for n in range(60)})


def test_official_account_calls_run_a_few_at_a_time_never_more(make_services, api, clock) -> None:
    from bot.channels.wechat import OfficialAccountChannel

    services, channels = wire(make_services, api, wecom=False)
    add_members(services, 40, "mp")
    bid = broadcast(services, "parallel", "通知")
    api.set_delay(0.05)
    assert delivery.drain(services, channels) == 40
    assert 1 < api.max_in_flight <= OfficialAccountChannel.concurrency
    assert statuses(services, bid) == Counter({"sent": 40})
    assert delivered_to(api) == Counter({f"o-{n:04d}": 1 for n in range(40)})
    assert api.token_fetches() == 1  # four threads, one token
