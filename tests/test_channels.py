"""The WeCom and Official Account channels against the fake API server, over real HTTP.

Every test checks both sides: the delivery ledger (what we think happened) and `api.delivered`
(what the fake says reached a phone). The fake's clock is the test clock, so token expiry,
WeCom's duplicate check and the template's client_msg_id window follow `clock.advance`. No test
sleeps: retries are due in the future, so tests advance the clock and drain again; timeout faults
use a 0.2 s client timeout against a 0.3 s late answer.

The helpers at the top are shared with tests/test_delivery.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from bot import delivery
from bot.channels import Outgoing, tokens, wechat
from bot.clock import SettableClock
from bot.services import Services
from bot.store import members
from tests.fakeapi import (
    DEFAULT_APPID,
    DEFAULT_CORPID,
    DEFAULT_CORPSECRET,
    DEFAULT_SECRET,
    FakeWeChatAPI,
)

SHORT_TIMEOUT_S = 0.2
LATE_ANSWER_S = 0.3  # the fake's "timeout" fault answers this late: just past the client's patience
AGENT_ID = 1000002
NO_CHANNEL = "no channel: not bound to WeCom or the Official Account"
INVALID_USER = "invaliduser: not in the app's visible range"
UNSUBSCRIBED = "unsubscribed (43004)"


# ---- shared helpers ----------------------------------------------------------------------------


def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Patch before build_channels: wechatpy clients take their timeout at construction."""
    monkeypatch.setattr(wechat, "SEND_TIMEOUT_S", SHORT_TIMEOUT_S)
    monkeypatch.setattr(tokens, "TOKEN_FETCH_TIMEOUT_S", SHORT_TIMEOUT_S)


def fake_api(clock: SettableClock) -> FakeWeChatAPI:
    return FakeWeChatAPI(clock=clock.timestamp, timeout_delay_s=LATE_ANSWER_S)


def wecom_section(api: FakeWeChatAPI) -> dict[str, Any]:
    return {"enabled": True, "corp_id": DEFAULT_CORPID, "agent_id": AGENT_ID, "token": "t",
            "encoding_aes_key": "a" * 43, "secret": DEFAULT_CORPSECRET,
            "api_base_url": api.base_url}


def mp_section(api: FakeWeChatAPI, template_id: str = "TPL") -> dict[str, Any]:
    return {"enabled": True, "app_id": DEFAULT_APPID, "token": "t", "app_secret": DEFAULT_SECRET,
            "api_base_url": api.base_url, "template_id": template_id}


def wire(make_services: Any, api: FakeWeChatAPI, *, wecom: bool = True, mp: bool = True,
         sandbox: bool = False, template_id: str = "TPL") -> tuple[Services, dict[str, Any]]:
    """Services on a fresh store (no demo roster) and their channels, pointed at the fake."""
    sections: dict[str, dict[str, Any]] = {"sandbox": {"enabled": sandbox}}
    if wecom:
        sections["wecom"] = wecom_section(api)
    if mp:
        sections["mp"] = mp_section(api, template_id)
    services = make_services(demo=False, **sections)
    return services, delivery.build_channels(services)


def add_members(services: Services, count: int, channel: str | None = None, *,
                prefix: str | None = None, branch: str = "第一党支部", grp: str = "第一党小组",
                role: str = "member") -> list[int]:
    """`count` members, each bound to `channel` as <prefix><n> (u0000 for WeCom, o-0000 for OA)."""
    prefix = prefix if prefix is not None else {"wecom": "u", "mp": "o-"}.get(channel or "", "x")
    now = services.clock.now()
    ids = []
    with services.store.transaction() as db:
        start = db.execute("SELECT count(*) FROM members").fetchone()[0]
        for n in range(count):
            member_id = members.add_member(db, name=f"{branch}-{prefix}{start + n}", branch=branch,
                                           grp=grp, role=role, now=now)
            if channel:
                members.bind_identity(db, channel=channel, external_id=f"{prefix}{n:04d}",
                                      member_id=member_id, now=now)
            ids.append(member_id)
    return ids


@dataclass(frozen=True)
class Row:
    member_id: int
    channel: str
    external_id: str
    status: str
    attempts: int
    last_error: str
    next_attempt_at: float


def ledger(services: Services, broadcast_id: int) -> dict[int, Row]:
    """The broadcast's deliveries by member id."""
    rows = services.store.db.execute(
        "SELECT member_id, channel, external_id, status, attempts, last_error, next_attempt_at"
        " FROM deliveries WHERE broadcast_id = ? ORDER BY id", [broadcast_id]).fetchall()
    return {row[0]: Row(*row) for row in rows}


def statuses(services: Services, broadcast_id: int) -> Counter[str]:
    return Counter(row.status for row in ledger(services, broadcast_id).values())


def broadcast(services: Services, key: str, text: str,
              audience: Mapping[str, Any] | None = None) -> int:
    return delivery.create_broadcast(services, key=key, text=text,
                                     audience=audience or {"all": True},
                                     fire_at=services.clock.now())


def settle(services: Services, channels: Mapping[str, Any], clock: SettableClock, *,
           step_s: float = 700, rounds: int = 30) -> int:
    """Drain, advance the clock past every retry, drain again, until nothing is pending.
    Returns the number of drains it took."""
    for drains in range(1, rounds + 1):
        delivery.drain(services, channels)
        pending = services.store.db.execute(
            "SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()[0]
        if not pending:
            return drains
        clock.advance(seconds=step_s)
    raise AssertionError(f"still {pending} pending after {rounds} drains")


def delivered_to(api: FakeWeChatAPI, channel: str | None = None) -> Counter[str]:
    """Recipient -> how many times the fake delivered to it."""
    return Counter(d.to for d in api.delivered if channel in (None, d.channel))


def identity_active(services: Services, channel: str, external_id: str) -> bool:
    row = services.store.db.execute(
        "SELECT active FROM identities WHERE channel = ? AND external_id = ?",
        [channel, external_id]).fetchone()
    assert row is not None, f"no identity {channel}:{external_id}"
    return bool(row[0])


# ---- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def api(clock: SettableClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeChatAPI]:
    short_timeouts(monkeypatch)
    with fake_api(clock) as fake:
        yield fake


# ---- WeCom -------------------------------------------------------------------------------------


def test_wecom_2500_members_go_out_in_three_calls_with_the_duplicate_check(
        make_services, api, clock) -> None:
    services, channels = wire(make_services, api, mp=False)
    ids = add_members(services, 2500, "wecom")
    bid = broadcast(services, "wecom-2500", "今日学习：党章第一章")

    assert delivery.drain(services, channels) == 2500

    sends = api.calls_to("message/send")
    assert [len(c.body["touser"].split("|")) for c in sends] == [1000, 1000, 500]
    for call in sends:
        assert call.body["agentid"] == AGENT_ID
        assert call.body["enable_duplicate_check"] == 1
        assert call.body["duplicate_check_interval"] == wechat.DUPLICATE_CHECK_S
        assert call.body["text"] == {"content": "今日学习：党章第一章"}
    got = delivered_to(api, "wecom")
    assert len(got) == 2500 and set(got.values()) == {1}
    assert set(got) == {f"u{n:04d}" for n in range(2500)}
    rows = ledger(services, bid)
    assert set(rows) == set(ids)
    assert {r.status for r in rows.values()} == {"sent"}
    assert {r.attempts for r in rows.values()} == {1}
    assert api.token_fetches() == 1
    assert services.store.db.execute("SELECT status FROM broadcasts WHERE id = ?",
                                     [bid]).fetchone()[0] == "done"


def test_wecom_invalid_users_become_undeliverable_and_their_identity_inactive(
        make_services, api, clock) -> None:
    services, channels = wire(make_services, api, mp=False)
    ids = add_members(services, 5, "wecom")
    api.valid_wecom_users = {"u0000", "u0002", "u0004"}
    bid = broadcast(services, "invalid-users", "通知")

    delivery.drain(services, channels)

    rows = ledger(services, bid)
    assert {m: r.status for m, r in rows.items()} == {
        ids[0]: "sent", ids[1]: "undeliverable", ids[2]: "sent", ids[3]: "undeliverable",
        ids[4]: "sent"}
    assert rows[ids[1]].last_error == rows[ids[3]].last_error == INVALID_USER
    assert delivered_to(api) == Counter({"u0000": 1, "u0002": 1, "u0004": 1})
    assert [identity_active(services, "wecom", f"u{n:04d}") for n in range(5)] == [
        True, False, True, False, True]
    # The next broadcast no longer routes them to WeCom (and there is no other channel).
    later = broadcast(services, "invalid-users-2", "再通知")
    assert ledger(services, later)[ids[1]].status == "undeliverable"
    assert ledger(services, later)[ids[1]].last_error == NO_CHANNEL
    delivery.drain(services, channels)
    assert len(api.calls_to("message/send")) == 2
    assert api.calls_to("message/send")[-1].body["touser"] == "u0000|u0002|u0004"


def test_wecom_81013_makes_every_recipient_undeliverable(make_services, api, clock) -> None:
    services, channels = wire(make_services, api, mp=False)
    ids = add_members(services, 3, "wecom")
    api.valid_wecom_users = set()
    bid = broadcast(services, "all-invalid", "通知")

    assert delivery.drain(services, channels) == 3

    [call] = api.calls_to("message/send")
    assert call.answer["errcode"] == 81013
    rows = ledger(services, bid)
    assert {r.status for r in rows.values()} == {"undeliverable"}
    assert all("81013" in r.last_error for r in rows.values())
    assert api.delivered == []
    assert not any(identity_active(services, "wecom", f"u{n:04d}") for n in range(3))
    assert set(rows) == set(ids)


# The kinds the fake can inject and the reason the ledger should keep when they persist.
TRANSIENT_FAULTS = {
    "45009": "errcode 45009: api freq out of limit",
    "-1": "errcode -1: system error",
    "500": "HTTP 500",
    "timeout": "network: ReadTimeout",
    "drop": "network: ConnectionError",
}


@pytest.mark.parametrize("kind", list(TRANSIENT_FAULTS))
def test_wecom_transient_fault_is_retried_and_sent_exactly_once(
        make_services, api, clock, kind) -> None:
    services, channels = wire(make_services, api, mp=False)
    ids = add_members(services, 3, "wecom")
    bid = broadcast(services, f"transient-{kind}", "通知")
    api.fail_next("message/send", kind)

    assert delivery.drain(services, channels) == 0
    rows = ledger(services, bid)
    assert {r.status for r in rows.values()} == {"pending"}
    assert {r.attempts for r in rows.values()} == {1}
    assert {r.last_error for r in rows.values()} == {TRANSIENT_FAULTS[kind]}
    now = clock.timestamp()
    floor = 60 if kind == "45009" else 1  # a frequency limit waits at least a minute
    assert all(r.next_attempt_at >= now + floor for r in rows.values())
    assert api.delivered == []
    # Not due yet: a drain right away sends nothing.
    assert delivery.drain(services, channels) == 0
    assert len(api.calls_to("message/send")) == 1

    settle(services, channels, clock)

    rows = ledger(services, bid)
    assert {r.status for r in rows.values()} == {"sent"}
    assert {r.attempts for r in rows.values()} == {2}
    assert delivered_to(api) == Counter({"u0000": 1, "u0001": 1, "u0002": 1})
    assert [c.fault for c in api.calls_to("message/send")] == [kind, None]
    assert set(rows) == set(ids)


@pytest.mark.parametrize("kind", list(TRANSIENT_FAULTS))
def test_wecom_persistent_fault_fails_with_its_reason_after_max_attempts(
        make_services, api, clock, kind) -> None:
    services, channels = wire(make_services, api, mp=False)
    add_members(services, 2, "wecom")
    bid = broadcast(services, f"persistent-{kind}", "通知")
    api.fail_next("message/send", kind, times=100)

    assert settle(services, channels, clock) == delivery.MAX_ATTEMPTS

    rows = ledger(services, bid)
    assert {r.status for r in rows.values()} == {"failed"}
    assert {r.attempts for r in rows.values()} == {delivery.MAX_ATTEMPTS}
    assert {r.last_error for r in rows.values()} == {TRANSIENT_FAULTS[kind]}
    assert len(api.calls_to("message/send")) == delivery.MAX_ATTEMPTS
    assert api.delivered == []
    assert api.token_fetches() == 1
    assert delivery.counts(services.store.db, bid).reasons == {TRANSIENT_FAULTS[kind]: 2}


def test_wecom_lost_answer_is_not_doubled_thanks_to_the_duplicate_check(
        make_services, api, clock) -> None:
    """The send lands but its answer is lost. The retry must repeat the very same call (same
    userids, same text) for WeCom to recognise it, even when a scheduler drains every few
    seconds: the rows of one failed call must come due together, not one by one as per-row
    jitter would have them (after a first failure, their backoffs spread over seconds)."""
    services, channels = wire(make_services, api, mp=False)
    add_members(services, 12, "wecom")
    everyone = Counter({f"u{n:04d}": 1 for n in range(12)})
    bid = broadcast(services, "lost-answer", "请于周五前交党费")
    api.fail_next("message/send", "500", times=2)  # attempts 1-2: refused, nothing delivered
    api.fail_next("message/send", "lost_answer")   # attempt 3: delivered, answer lost

    for _ in range(400):  # a drain every second, like the scheduler's loop
        delivery.drain(services, channels)
        if not statuses(services, bid)["pending"]:
            break
        clock.advance(seconds=1)

    assert statuses(services, bid) == Counter({"sent": 12})
    sends = api.calls_to("message/send")
    assert [c.fault for c in sends] == ["500", "500", "lost_answer", None]
    assert len({c.body["touser"] for c in sends}) == 1  # the same call each time
    assert delivered_to(api) == everyone
    assert Counter(d.to for d in api.duplicates) == everyone  # the repeat was caught


# ---- Official Account --------------------------------------------------------------------------


def test_mp_customer_service_send(make_services, api, clock) -> None:
    services, channels = wire(make_services, api, wecom=False)
    ids = add_members(services, 3, "mp")
    bid = broadcast(services, "mp-custom", "学习提醒：今天学习第一课")

    assert delivery.drain(services, channels) == 3

    assert delivered_to(api, "mp_custom") == Counter({"o-0000": 1, "o-0001": 1, "o-0002": 1})
    assert len(api.delivered) == 3
    # The calls run a few at a time, so in no fixed order: each body, by its recipient.
    bodies = sorted((call.body for call in api.calls_to("message/custom/send")),
                    key=lambda body: body["touser"])
    assert bodies == [{"touser": f"o-000{n}", "msgtype": "text",
                       "text": {"content": "学习提醒：今天学习第一课"}} for n in range(3)]
    rows = ledger(services, bid)
    assert set(rows) == set(ids) and {r.status for r in rows.values()} == {"sent"}
    assert api.calls_to("message/template/send") == []
    assert api.token_fetches() == 1


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_mp_closed_window_falls_back_to_a_template_with_client_msg_id(
        make_services, api, clock, errcode) -> None:
    services, channels = wire(make_services, api, wecom=False)
    channels["mp"].concurrency = 1  # fail_next hits the first call: keep the calls in order
    ids = add_members(services, 2, "mp")
    if errcode == 45015:
        api.window_closed("o-0000")
    else:
        api.fail_next("message/custom/send", errcode)
    bid = broadcast(services, f"mp-window-{errcode}", "学习提醒")

    delivery.drain(services, channels)

    rows = ledger(services, bid)
    assert {r.status for r in rows.values()} == {"sent"}
    [template] = api.delivered_to("o-0000")
    assert template.channel == "mp_template"
    assert template.body["template_id"] == "TPL"
    assert template.body["client_msg_id"] == f"qf-b{bid}-m{ids[0]}"
    assert template.content == "content: 学习提醒"
    assert [d.channel for d in api.delivered_to("o-0001")] == ["mp_custom"]

    # A crash between the send and its record: the resend carries the same client_msg_id and
    # the platform drops it.
    with services.store.transaction() as db:
        db.execute("UPDATE deliveries SET status = 'pending' WHERE member_id = ? AND"
                   " broadcast_id = ?", [ids[0], bid])
    if errcode == 45047:
        api.fail_next("message/custom/send", errcode)
    clock.advance(seconds=60)
    delivery.drain(services, channels)
    assert ledger(services, bid)[ids[0]].status == "sent"
    assert len(api.delivered_to("o-0000")) == 1
    assert [(d.channel, d.to) for d in api.duplicates] == [("mp_template", "o-0000")]


def test_mp_closed_window_without_a_template_is_undeliverable(make_services, api, clock) -> None:
    services, channels = wire(make_services, api, wecom=False, template_id="")
    ids = add_members(services, 2, "mp")
    api.window_closed("o-0001")
    bid = broadcast(services, "mp-no-template", "学习提醒")

    assert delivery.drain(services, channels) == 2

    rows = ledger(services, bid)
    assert rows[ids[0]].status == "sent"
    assert rows[ids[1]].status == "undeliverable"
    assert rows[ids[1]].last_error.startswith("outside the 48 h window and no template configured")
    assert "45015" in rows[ids[1]].last_error
    assert delivered_to(api) == Counter({"o-0000": 1})
    assert api.calls_to("message/template/send") == []
    assert identity_active(services, "mp", "o-0001")  # still subscribed: only the window closed


def test_mp_unsubscribed_is_undeliverable_and_the_identity_inactive(
        make_services, api, clock) -> None:
    services, channels = wire(make_services, api, wecom=False)
    ids = add_members(services, 2, "mp")
    api.unsubscribed("o-0000")
    bid = broadcast(services, "mp-gone", "学习提醒")

    delivery.drain(services, channels)

    rows = ledger(services, bid)
    assert (rows[ids[0]].status, rows[ids[0]].last_error) == ("undeliverable", UNSUBSCRIBED)
    assert rows[ids[1]].status == "sent"
    assert delivered_to(api) == Counter({"o-0001": 1})
    assert not identity_active(services, "mp", "o-0000")
    assert identity_active(services, "mp", "o-0001")
    later = broadcast(services, "mp-gone-2", "再提醒")
    assert ledger(services, later)[ids[0]].last_error == NO_CHANNEL


def test_member_on_both_channels_is_reached_on_wecom_only(make_services, api, clock) -> None:
    services, channels = wire(make_services, api)
    [member_id] = add_members(services, 1, "wecom")
    with services.store.transaction() as db:
        members.bind_identity(db, channel="mp", external_id="o-both", member_id=member_id,
                              now=clock.now())
    bid = broadcast(services, "both", "通知")
    delivery.drain(services, channels)
    assert ledger(services, bid)[member_id].channel == "wecom"
    assert [(d.channel, d.to) for d in api.delivered] == [("wecom", "u0000")]


# ---- tokens ------------------------------------------------------------------------------------


SEND_PATH = {"wecom": "message/send", "mp": "message/custom/send"}
TOKEN_PATH = {"wecom": "gettoken", "mp": "token"}


def one_channel(make_services, api, channel: str) -> tuple[Services, dict[str, Any], list[int]]:
    services, channels = wire(make_services, api, wecom=channel == "wecom", mp=channel == "mp")
    return services, channels, add_members(services, 1, channel)


@pytest.mark.parametrize("channel", ["wecom", "mp"])
def test_expired_token_means_one_refresh_and_one_retry(make_services, api, clock, channel) -> None:
    services, channels, [member_id] = one_channel(make_services, api, channel)
    first = broadcast(services, "token-1", "第一条")
    delivery.drain(services, channels)
    assert api.token_fetches() == 1

    api.expire_tokens()
    second = broadcast(services, "token-2", "第二条")
    assert delivery.drain(services, channels) == 1

    assert api.token_fetches() == 2
    answers = [c.answer["errcode"] for c in api.calls_to(SEND_PATH[channel])]
    assert answers == [0, 42001, 0]
    assert ledger(services, first)[member_id].status == "sent"
    assert ledger(services, second)[member_id].status == "sent"
    assert ledger(services, second)[member_id].attempts == 1
    assert [d.content for d in api.delivered] == ["第一条", "第二条"]


@pytest.mark.parametrize("channel", ["wecom", "mp"])
def test_40001_on_every_send_never_loops(make_services, api, clock, channel) -> None:
    services, channels, [member_id] = one_channel(make_services, api, channel)
    bid = broadcast(services, "token-loop", "通知")
    api.fail_next(SEND_PATH[channel], 40001, times=1000)

    delivery.drain(services, channels)
    # One initial fetch, one refresh, two sends: then the ledger waits.
    assert api.token_fetches() == 2
    assert len(api.calls_to(SEND_PATH[channel])) == 2
    row = ledger(services, bid)[member_id]
    assert (row.status, row.attempts) == ("pending", 1)
    assert "40001" in row.last_error

    assert settle(services, channels, clock) == delivery.MAX_ATTEMPTS
    row = ledger(services, bid)[member_id]
    assert (row.status, row.attempts) == ("failed", delivery.MAX_ATTEMPTS)
    assert "40001" in row.last_error
    assert api.token_fetches() == 1 + delivery.MAX_ATTEMPTS
    assert len(api.calls_to(SEND_PATH[channel])) == 2 * delivery.MAX_ATTEMPTS
    assert api.delivered == []


@pytest.mark.parametrize("channel", ["wecom", "mp"])
def test_40001_once_is_refreshed_and_sent(make_services, api, clock, channel) -> None:
    services, channels, [member_id] = one_channel(make_services, api, channel)
    bid = broadcast(services, "token-once", "通知")
    api.fail_next(SEND_PATH[channel], 40001)
    assert delivery.drain(services, channels) == 1
    assert api.token_fetches() == 2
    assert ledger(services, bid)[member_id].status == "sent"
    assert len(api.delivered) == 1


@pytest.mark.parametrize("fault", ["500", "-1", "timeout"])
@pytest.mark.parametrize("channel", ["wecom", "mp"])
def test_a_token_endpoint_that_keeps_failing_does_not_loop(
        make_services, api, clock, channel, fault) -> None:
    services, channels, [member_id] = one_channel(make_services, api, channel)
    bid = broadcast(services, "token-down", "通知")
    api.fail_next(TOKEN_PATH[channel], fault, times=1000)

    delivery.drain(services, channels)
    assert api.token_fetches() == 1
    row = ledger(services, bid)[member_id]
    assert (row.status, row.attempts) == ("pending", 1)

    settle(services, channels, clock)
    row = ledger(services, bid)[member_id]
    assert (row.status, row.attempts) == ("failed", delivery.MAX_ATTEMPTS)
    assert "token" in row.last_error
    assert api.token_fetches() == delivery.MAX_ATTEMPTS
    assert api.calls_to(SEND_PATH[channel]) == []
    assert api.delivered == []


@pytest.mark.parametrize("channel", ["wecom", "mp"])
def test_token_quota_spent_alerts_once_and_keeps_the_deliveries(
        make_services, api, clock, caplog, channel) -> None:
    services, channels = wire(make_services, api, wecom=channel == "wecom", mp=channel == "mp")
    ids = add_members(services, 3, channel)
    bid = broadcast(services, "quota", "通知")
    api.token_daily_quota = 0  # every fetch today answers 45009

    with caplog.at_level(logging.WARNING):
        assert delivery.drain(services, channels) == 0
    alerts = [r for r in caplog.records if "ALERT" in r.getMessage()]
    assert len(alerts) == 1 and alerts[0].levelno >= logging.ERROR
    assert "quota" in alerts[0].getMessage()
    assert api.token_fetches() == 1  # not one per member: the others learn from the first
    rows = ledger(services, bid)
    assert {r.status for r in rows.values()} == {"pending"}
    assert {r.attempts for r in rows.values()} == {1}
    assert all("quota" in r.last_error for r in rows.values())
    # Not fetched again in a loop: a new broadcast within the cool-down asks nothing.
    clock.advance(seconds=120)
    later = broadcast(services, "quota-2", "再通知")
    delivery.drain(services, channels)
    assert api.token_fetches() == 1
    assert {r.status for r in ledger(services, later).values()} == {"pending"}
    assert len([r for r in caplog.records if "ALERT" in r.getMessage()]) == 1
    assert api.calls_to(SEND_PATH[channel]) == []
    assert api.delivered == []

    api.token_daily_quota = None  # the quota is reset (next day, or by the admin)
    settle(services, channels, clock)
    assert {r.status for r in ledger(services, bid).values()} == {"sent"}
    assert api.token_fetches() == 2
    assert {r.status for r in ledger(services, later).values()} == {"sent"}
    expected = sorted(r.external_id for r in ledger(services, bid).values())
    assert sorted(d.to for d in api.delivered if d.content == "通知") == expected
    assert sorted(d.to for d in api.delivered if d.content == "再通知") == expected
    assert set(ledger(services, bid)) == set(ids)


@pytest.mark.parametrize("channel", ["wecom", "mp"])
def test_two_processes_share_one_token(make_services, api, clock, channel) -> None:
    first, first_channels, [member_id] = one_channel(make_services, api, channel)
    # A second process: its own Store (own SQLite connections) on the same file.
    second = make_services(demo=False, **{"sandbox": {"enabled": False},
                                          channel: (wecom_section(api) if channel == "wecom"
                                                    else mp_section(api))})
    assert second.store is not first.store and second.store.path == first.store.path
    second_channels = delivery.build_channels(second)

    one = broadcast(first, "proc-1", "第一条")
    delivery.drain(first, first_channels)
    two = broadcast(second, "proc-2", "第二条")
    delivery.drain(second, second_channels)

    assert api.token_fetches() == 1
    assert ledger(first, one)[member_id].status == "sent"
    assert ledger(second, two)[member_id].status == "sent"
    assert [d.content for d in api.delivered] == ["第一条", "第二条"]
    tokens_used = {c.params["access_token"] for c in api.calls_to(SEND_PATH[channel])}
    assert len(tokens_used) == 1


@pytest.mark.parametrize("channel", ["wecom", "mp"])
def test_two_processes_refreshing_at_once_fetch_one_token(
        make_services, api, clock, monkeypatch, channel) -> None:
    first, first_channels, [member_id] = one_channel(make_services, api, channel)
    second = make_services(demo=False, **{"sandbox": {"enabled": False},
                                          channel: (wecom_section(api) if channel == "wecom"
                                                    else mp_section(api))})
    second_channels = delivery.build_channels(second)
    bid = broadcast(first, "proc-warm", "预热")
    delivery.drain(first, first_channels)
    assert api.token_fetches() == 1
    external_id = ledger(first, bid)[member_id].external_id

    # Both processes meet an expired token at once; the fetch is slow, so they overlap.
    real_fetch = wechat.http_get_json

    def slow_fetch(url: str, params: dict[str, str]) -> dict:
        time.sleep(0.3)
        return real_fetch(url, params)

    monkeypatch.setattr(wechat, "http_get_json", slow_fetch)
    api.expire_tokens()
    results: dict[str, list[Any]] = {}

    def run(name: str, channels: dict[str, Any], text: str) -> None:
        results[name] = channels[channel].send(
            [Outgoing(0, member_id, external_id, text, f"key-{name}")])

    threads = [threading.Thread(target=run, args=("a", first_channels, "甲")),
               threading.Thread(target=run, args=("b", second_channels, "乙"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert [o.status for o in results["a"] + results["b"]] == ["sent", "sent"]
    answers = Counter(c.answer["errcode"] for c in api.calls_to(SEND_PATH[channel])[1:])
    assert answers == Counter({42001: 2, 0: 2})  # both were refused, both retried once
    assert api.token_fetches() == 2  # and only one of them fetched
    assert sorted(d.content for d in api.delivered) == sorted(["预热", "甲", "乙"])
