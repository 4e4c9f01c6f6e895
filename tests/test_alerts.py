"""Alerts: written when the platforms need an operator (token quota, IP whitelist, a token that
cannot be fetched, a broadcast ending with failures), one open alert per kind and channel, and
acknowledged with `python -m bot alerts ack ID`. Against the fake API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from bot import delivery
from bot.channels import tokens
from bot.clock import SettableClock
from bot.store import alerts
from tests.fakeapi import DEFAULT_APPID, DEFAULT_CORPID, FakeWeChatAPI
from tests.test_channels import (
    SEND_PATH,
    TOKEN_PATH,
    add_members,
    broadcast,
    fake_api,
    ledger,
    settle,
    short_timeouts,
    wire,
)

APP = {"wecom": DEFAULT_CORPID, "mp": DEFAULT_APPID}


@pytest.fixture
def api(clock: SettableClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeChatAPI]:
    short_timeouts(monkeypatch)
    with fake_api(clock) as fake:
        yield fake


def open_alerts(services) -> list[alerts.Alert]:
    return alerts.list_alerts(services.store.db)


def all_rows(services) -> int:
    return services.store.db.execute("SELECT count(*) FROM alerts").fetchone()[0]


@pytest.mark.parametrize("channel", ["wecom", "mp"])
def test_token_quota_raises_one_alert_until_acknowledged(make_services, api, clock,
                                                         channel) -> None:
    services, channels = wire(make_services, api, wecom=channel == "wecom", mp=channel == "mp")
    add_members(services, 4, channel)
    api.token_daily_quota = 0
    broadcast(services, "q1", "通知")
    for _ in range(3):  # past the cool-down each time: every drain asks once more
        delivery.drain(services, channels)
        clock.advance(seconds=tokens.QUOTA_COOLDOWN_S + 1)
    assert api.token_fetches() == 3
    [alert] = open_alerts(services)
    assert (alert.kind, alert.channel) == ("token_quota", APP[channel])
    assert "45009" in alert.detail and alert.title.startswith("平台调用凭证")
    assert all_rows(services) == 1

    with services.store.transaction() as db:
        alerts.acknowledge(db, alert.id, actor="tester", at=clock.now())
    assert open_alerts(services) == []
    delivery.drain(services, channels)  # it happens again: a new alert opens
    [again] = open_alerts(services)
    assert again.id != alert.id and again.kind == "token_quota"
    [acked] = [a for a in alerts.list_alerts(services.store.db, include_acked=True)
               if a.id == alert.id]
    assert acked.acked_by == "tester"


@pytest.mark.parametrize("channel", ["wecom", "mp"])
def test_40164_on_sends_is_one_alert_and_the_rows_wait(make_services, api, clock,
                                                       channel) -> None:
    services, channels = wire(make_services, api, wecom=channel == "wecom", mp=channel == "mp")
    add_members(services, 5, channel)
    api.fail_next(SEND_PATH[channel], 40164, times=1000)
    bid = broadcast(services, "ip", "通知")
    assert delivery.drain(services, channels) == 0
    [alert] = open_alerts(services)
    assert (alert.kind, alert.channel) == ("ip_whitelist", APP[channel])
    assert "白名单" in alert.detail
    rows = ledger(services, bid).values()
    assert {r.status for r in rows} == {"pending"}
    assert all("40164" in r.last_error for r in rows)
    # Retried slowly (an operator may fix the list), never in a tight loop.
    assert min(r.next_attempt_at for r in rows) >= clock.timestamp() + tokens.QUOTA_COOLDOWN_S
    assert api.delivered == []


def test_40164_on_the_token_url_is_an_alert(make_services, api, clock) -> None:
    services, channels = wire(make_services, api, wecom=False, mp=True)
    add_members(services, 2, "mp")
    api.fail_next(TOKEN_PATH["mp"], 40164, times=1)
    bid = broadcast(services, "ip-token", "通知")
    delivery.drain(services, channels)
    assert [a.kind for a in open_alerts(services)] == ["ip_whitelist"]
    settle(services, channels, clock)  # the list was fixed: the next try works
    assert {r.status for r in ledger(services, bid).values()} == {"sent"}


def test_a_token_url_failing_again_and_again_alerts_once(make_services, api, clock) -> None:
    services, channels = wire(make_services, api, wecom=True, mp=False)
    add_members(services, 1, "wecom")
    api.fail_next(TOKEN_PATH["wecom"], "500", times=1000)
    broadcast(services, "down", "通知")
    delivery.drain(services, channels)
    delivery.drain(services, channels)  # not due yet: no new fetch, no alert
    assert open_alerts(services) == []
    clock.advance(seconds=700)
    delivery.drain(services, channels)
    assert open_alerts(services) == []  # two failures: not yet
    clock.advance(seconds=700)
    delivery.drain(services, channels)
    [alert] = open_alerts(services)
    assert (alert.kind, alert.channel) == ("token_refresh", DEFAULT_CORPID)
    assert "3 次" in alert.detail and "HTTP 500" in alert.detail
    settle(services, channels, clock)
    assert len(open_alerts(services)) == 2  # the same refresh alert, plus the broadcast's
    assert sorted(a.kind for a in open_alerts(services)) == ["broadcast_failed", "token_refresh"]


def test_a_success_resets_the_failure_count(make_services, api, clock) -> None:
    services, channels = wire(make_services, api, wecom=True, mp=False)
    add_members(services, 1, "wecom")
    for n in range(4):  # two failures, a success, two failures: never three in a row
        api.fail_next(TOKEN_PATH["wecom"], "500", times=2)
        broadcast(services, f"flaky-{n}", "通知")
        settle(services, channels, clock)
        api.expire_tokens()
    assert [a.kind for a in open_alerts(services)] == []


def test_a_broadcast_with_failures_alerts_and_a_clean_one_does_not(make_services, api,
                                                                   clock) -> None:
    services, channels = wire(make_services, api, wecom=True, mp=False)
    add_members(services, 3, "wecom")
    clean = broadcast(services, "clean", "第一条")
    settle(services, channels, clock)
    assert open_alerts(services) == []
    api.fail_next(SEND_PATH["wecom"], 40058, times=1)  # a permanent refusal
    bad = broadcast(services, "bad", "第二条")
    settle(services, channels, clock)
    [alert] = open_alerts(services)
    assert (alert.kind, alert.channel) == ("broadcast_failed", f"broadcast:{bad}")
    assert "失败 3" in alert.detail and "40058" in alert.detail and "bad" in alert.detail
    delivery.drain(services, channels)  # closing again raises nothing new
    assert all_rows(services) == 1
    assert clean != bad


def test_raise_alert_dedupes_per_kind_and_channel(make_services, clock) -> None:
    services = make_services(demo=False)
    with services.store.transaction() as db:
        first = alerts.raise_alert(db, kind="ip_whitelist", channel="mp", detail="a",
                                   at=clock.now())
        assert alerts.raise_alert(db, kind="ip_whitelist", channel="mp", detail="b",
                                  at=clock.now()) is None
        other = alerts.raise_alert(db, kind="ip_whitelist", channel="wecom", detail="c",
                                   at=clock.now())
    assert first and other and first != other
    assert alerts.open_count(services.store.db) == 2


# ---- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli_run(tmp_path, built):
    from bot.cli import cli
    from tests.test_schedule_cli import write_config

    config = write_config(tmp_path / "config.toml")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, ["--config", str(config), *args])

    assert run("init", "--no-demo").exit_code == 0
    return run, built


def test_cli_lists_and_acknowledges(cli_run, clock) -> None:
    run, made = cli_run
    assert "没有未处理的告警" in run("alerts", "list").output
    with made[0].store.transaction() as db:
        alert_id = alerts.raise_alert(db, kind="token_quota", channel="wx1",
                                      detail="今日次数已用完", at=clock.now())
    listed = run("alerts", "list")
    assert listed.exit_code == 0
    assert f"{alert_id}" in listed.output and "今日次数已用完" in listed.output
    assert "未处理" in listed.output and "[wx1]" in listed.output

    acked = run("alerts", "ack", str(alert_id))
    assert acked.exit_code == 0 and f"已确认告警 {alert_id}" in acked.output
    assert "没有未处理的告警" in run("alerts", "list").output
    assert "已确认（命令行" in run("alerts", "list", "--all").output
    audit = made[0].store.db.execute(
        "SELECT action, detail FROM audit WHERE action = 'alert ack'").fetchall()
    assert audit == [("alert ack", f'{{"alert": {alert_id}, "kind": "token_quota:wx1"}}')]


@pytest.mark.parametrize("args, message", [
    (("alerts", "ack", "999"), "没有编号为 999 的告警"),
    (("alerts", "ack", "abc"), "is not a valid integer"),
])
def test_cli_ack_bad_input(cli_run, args, message) -> None:
    run, made = cli_run
    result = run(*args)
    assert result.exit_code != 0 and message in result.output
    assert made[0].store.db.execute("SELECT count(*) FROM audit").fetchone()[0] == 0


def test_cli_ack_twice_is_refused(cli_run, clock) -> None:
    run, made = cli_run
    with made[0].store.transaction() as db:
        alert_id = alerts.raise_alert(db, kind="ip_whitelist", channel="mp", detail="x",
                                      at=clock.now())
    assert run("alerts", "ack", str(alert_id)).exit_code == 0
    again = run("alerts", "ack", str(alert_id))
    assert again.exit_code == 1 and "已经确认过了" in again.output
