"""党员政治生日 through the real scheduler job and the delivery ledger, on a real SQLite file with
the settable clock: October 2026 (a greeting inside the 国庆 break, the secretaries' list on the
first working day after it, 10-08), January 2026 (the first working day is the 调休 Sunday 01-04),
29 February in a common year (2027: the 28th) and a leap year (2028), the switch off (nothing,
and no backlog when it is turned on), inactive members and members without a date (nothing),
re-runs, a second process, a missed day and platform retries (once), and bad config values.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from bot import political_birthday
from bot.clock import SHANGHAI, SettableClock
from bot.config import OATH, ConfigError, load_config
from bot.seed import initialise
from bot.services import Services, build_services
from bot.store import Store, kv, members, party_dates
from schedules import jobs
from tests.conftest import test_config as config_for
from tests.fakeapi import FakeWeChatAPI
from tests.paths import CONTENT
from tests.test_channels import fake_api, settle, short_timeouts, wecom_section

ONE, TWO = "第一党支部", "第二党支部"
ON = {"enabled": True, "send_time": "09:00"}
# name: (branch, group, role, 入党日期, 转正日期, active)
ROSTER = {
    "王书记": (ONE, "综合处党小组", "secretary", "1995-10-20", "1996-10-20", True),
    "李干部": (ONE, "综合处党小组", "admin", None, None, True),
    "刘芳": (ONE, "财务处党小组", "member", "2003-10-03", "2004-10-03", True),
    "陈静": (ONE, "财务处党小组", "member", "2004-02-29", "2005-03-01", True),
    "何军": (ONE, "财务处党小组", "member", "2000-01-02", None, True),
    "赵磊": (ONE, "综合处党小组", "member", None, None, True),
    "孙悦": (ONE, "综合处党小组", "member", "2010-10-05", None, False),
    "周书记": (TWO, "人事处党小组", "secretary", "2012-05-04", None, True),
    "吴敏": (TWO, "人事处党小组", "member", "2015-10-08", "2016-10-08", True),
    "郑新": (TWO, "人事处党小组", "member", "2025-10-09", None, True),
    "冯立": (TWO, "人事处党小组", "member", "2026-10-06", None, True),
}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def services(make_services) -> Services:
    return make_services(demo=False, birthday=ON)


def seed(services: Services, roster: dict = ROSTER) -> dict[str, int]:
    now = services.clock.now()
    ids = {}
    with services.store.transaction() as db:
        for name, (branch, grp, role, joined, confirmed, active) in roster.items():
            ids[name] = members.add_member(db, name=name, branch=branch, grp=grp, role=role,
                                           now=now)
            party_dates.set_dates(db, ids[name],
                                  joined=date.fromisoformat(joined) if joined else None,
                                  confirmed=date.fromisoformat(confirmed) if confirmed else None)
            if not active:
                members.deactivate(db, ids[name])
    return ids


def tick(services: Services) -> None:
    jobs.fire_political_birthdays(services)
    jobs.drain_deliveries(services)


def simulate(services: Services, clock: SettableClock, start: date, end: date) -> None:
    """Each day: a tick at 08:00 (nothing due yet), 09:01 (just after send_time) and 18:00."""
    day = start
    while day <= end:
        for hour, minute in ((8, 0), (9, 1), (18, 0)):
            clock.set(at(day, hour, minute))
            tick(services)
        day += timedelta(days=1)


def inbox(services: Services, member_id: int) -> list[tuple[str, str]]:
    """(day delivered, text) of what the member's sandbox inbox got, in order."""
    rows = services.store.db.execute(
        "SELECT at, text FROM sandbox_inbox WHERE external_id = ? ORDER BY id",
        [f"m{member_id}"]).fetchall()
    return [(datetime.fromisoformat(sent).astimezone(SHANGHAI).date().isoformat(), text)
            for sent, text in rows]


def texts(services: Services, member_id: int) -> list[str]:
    return [text for (text,) in services.store.db.execute(
        "SELECT text FROM sandbox_inbox WHERE external_id = ? ORDER BY id", [f"m{member_id}"])]


def birthday_broadcasts(services: Services) -> list[tuple[str, str, str]]:
    """(key, fire day, status) of every 政治生日 broadcast, by key."""
    return [(key, fire[:10], status) for key, fire, status in services.store.db.execute(
        "SELECT key, fire_at, status FROM broadcasts WHERE key LIKE 'political-%' ORDER BY key")]


def test_october_greetings_in_the_national_day_break_and_the_list_on_10_08(
        services, clock) -> None:
    ids = seed(services)
    simulate(services, clock, date(2026, 9, 30), date(2026, 10, 12))

    # 刘芳: 入党 2003-10-03, a Saturday inside the 国庆 break: greeted on the day at 09:00.
    [(day, text)] = inbox(services, ids["刘芳"])
    assert day == "2026-10-03"
    assert text.startswith("刘芳同志：\n今天是您的政治生日！2003年10月3日，您光荣地加入了中国共产党，"
                           "到今天已经整整23年。")
    assert "您的党龄（自2004年10月3日转正起算）已满22年。" in text
    assert f"“{OATH}”" in text and text.endswith("——第一党支部")
    # 吴敏 on 10-08 (a working day) and 郑新 a year after joining, on 10-09.
    [(day, text)] = inbox(services, ids["吴敏"])
    assert day == "2026-10-08" and "整整11年" in text and "已满10年" in text
    [(day, text)] = inbox(services, ids["郑新"])
    assert day == "2026-10-09" and "整整1年" in text and "党龄" not in text  # 转正 not known
    # Inactive (孙悦, 10-05), joined this very month (冯立: no anniversary yet), no date (赵磊),
    # and the others whose birthday is another month: nothing.
    for name in ("孙悦", "冯立", "赵磊", "陈静", "何军"):
        assert inbox(services, ids[name]) == [], name

    # The list: on the first working day of October, 10-08 (10-01..10-07 are the break), once.
    [(day, text)] = inbox(services, ids["王书记"])
    assert day == "2026-10-08"
    assert text == (
        "您好！本月（10月）本支部有2名党员过政治生日：\n"
        "1. 刘芳（财务处党小组）：10月3日，2003年入党，入党23周年\n"
        "2. 王书记（综合处党小组）：10月20日，1995年入党，入党31周年\n"
        "可结合本月主题党日组织过政治生日活动（重温入党誓词、赠送政治生日贺卡等）。"
        "政治生日当天，党员本人会收到祝福消息。\n——第一党支部")
    [(day, text)] = inbox(services, ids["周书记"])
    assert day == "2026-10-08" and "本支部有2名" in text
    assert "吴敏（人事处党小组）：10月8日" in text and "郑新（人事处党小组）：10月9日" in text
    assert "刘芳" not in text and "冯立" not in text
    # The admin (党务干部) gets every branch in one message.
    [(day, text)] = inbox(services, ids["李干部"])
    assert day == "2026-10-08" and text.startswith("您好！本月（10月）共有4名党员过政治生日")
    assert "【第一党支部】2人" in text and "【第二党支部】2人" in text
    assert "孙悦" not in text

    assert birthday_broadcasts(services) == sorted([
        (f"political-birthday:2026:{ids['刘芳']}", "2026-10-03", "done"),
        (f"political-birthday:2026:{ids['吴敏']}", "2026-10-08", "done"),
        (f"political-birthday:2026:{ids['郑新']}", "2026-10-09", "done"),
        ("political-birthdays:2026-10:all", "2026-10-08", "done"),
        (f"political-birthdays:2026-10:branch:{ONE}", "2026-10-08", "done"),
        (f"political-birthdays:2026-10:branch:{TWO}", "2026-10-08", "done"),
    ])


def test_january_list_goes_out_on_the_make_up_sunday(services, clock) -> None:
    ids = seed(services)
    simulate(services, clock, date(2025, 12, 31), date(2026, 1, 6))
    # 01-01..01-03 are 元旦; Sunday 01-04 is a make-up working day (调休): the list goes then.
    [(day, text)] = inbox(services, ids["王书记"])
    assert day == "2026-01-04" and "何军（财务处党小组）：1月2日，2000年入党，入党26周年" in text
    # 何军's own greeting came on his day, a holiday.
    [(day, text)] = inbox(services, ids["何军"])
    assert day == "2026-01-02" and "整整26年" in text
    # 第二党支部 has no January birthday: its secretary gets nothing.
    assert inbox(services, ids["周书记"]) == []
    assert inbox(services, ids["李干部"])[0][0] == "2026-01-04"


def test_29_february_in_a_common_year_and_in_a_leap_year(services, clock) -> None:
    ids = seed(services)
    simulate(services, clock, date(2027, 1, 31), date(2027, 3, 2))
    # 2027 is a common year: 陈静 (入党 2004-02-29) is greeted on Sunday 02-28, once.
    [(day, text)] = inbox(services, ids["陈静"])
    assert day == "2027-02-28"
    assert "2004年2月29日" in text and "整整23年" in text
    assert "今年的2月没有29日，我们在2月28日为您送上祝福。" in text
    assert "已满21年" in text  # 转正 2005-03-01: not yet 22 years on 02-28
    # February's list (first working day 2027-02-01, before the 春节 break) says the 28th.
    [(day, text)] = inbox(services, ids["王书记"])
    assert day == "2027-02-01"
    assert "陈静（财务处党小组）：2月28日，2004年入党，入党23周年（2月29日入党，今年在2月28日）" in text

    simulate(services, clock, date(2028, 2, 26), date(2028, 3, 1))
    # 2028 is a leap year: on the 29th itself, not on the 28th.
    days = [day for day, _text in inbox(services, ids["陈静"])]
    assert days == ["2027-02-28", "2028-02-29"]
    last = texts(services, ids["陈静"])[-1]
    assert "整整24年" in last and "没有29日" not in last


def test_switch_off_sends_nothing_and_turning_it_on_sends_no_backlog(
        make_services, tmp_path, clock) -> None:
    off = make_services(demo=False)  # birthday.enabled is false by default
    assert off.config.get("birthday.enabled") is False
    ids = seed(off)
    simulate(off, clock, date(2026, 10, 2), date(2026, 10, 4))
    assert birthday_broadcasts(off) == []
    assert texts(off, ids["刘芳"]) == []

    # The secretary has it turned on (config.toml) on the evening of 10-04: 刘芳's 10-03 is
    # not sent late; the list on 10-08 and 吴敏's greeting are.
    on = build_services(load_config(config_for(tmp_path, birthday=ON)), clock)
    try:
        clock.set(at(date(2026, 10, 4), 20))
        tick(on)
        assert birthday_broadcasts(on) == []
        simulate(on, clock, date(2026, 10, 5), date(2026, 10, 8))
        assert texts(on, ids["刘芳"]) == []
        assert [k for k, _d, _s in birthday_broadcasts(on)] == sorted([
            f"political-birthday:2026:{ids['吴敏']}", "political-birthdays:2026-10:all",
            f"political-birthdays:2026-10:branch:{ONE}", f"political-birthdays:2026-10:branch:{TWO}"])
    finally:
        on.store.close()


def test_reruns_a_crash_before_the_mark_and_a_second_process_send_once(
        services, make_services, tmp_path, clock) -> None:
    ids = seed(services)
    simulate(services, clock, date(2026, 10, 7), date(2026, 10, 8))
    assert len(texts(services, ids["吴敏"])) == 1 and len(texts(services, ids["王书记"])) == 1

    # A crash after the broadcasts but before the fire was marked handled: the next run
    # handles 10-08 09:00 again; the keys make that a no-op.
    with services.store.transaction() as db:
        kv.put(db, "builtin:birthdays:handled", at(date(2026, 10, 8), 8).isoformat(), None)
    tick(services)
    # Another process (a second gunicorn worker that briefly believed it led) runs it too.
    other = build_services(load_config(config_for(tmp_path, birthday=ON)), clock)
    try:
        with other.store.transaction() as db:
            kv.put(db, "builtin:birthdays:handled", at(date(2026, 10, 8), 8).isoformat(), None)
        tick(other)
    finally:
        other.store.close()
    # And a date corrected after the greeting (re-import) does not greet again that year.
    with services.store.transaction() as db:
        party_dates.set_dates(db, ids["吴敏"], joined=date(2015, 10, 9), confirmed=None)
    simulate(services, clock, date(2026, 10, 9), date(2026, 10, 9))

    for name in ("吴敏", "王书记", "周书记", "李干部"):
        assert len(texts(services, ids[name])) == 1, name
    assert services.store.db.execute(
        "SELECT count(*) FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
        " WHERE b.key LIKE 'political-%'").fetchone()[0] == 5  # 吴敏, 郑新's 10-09, 3 lists


def test_a_day_missed_beyond_the_grace_period_is_recorded_not_sent_late(
        services, clock) -> None:
    ids = seed(services)
    simulate(services, clock, date(2026, 10, 2), date(2026, 10, 2))
    # The server is down from the evening of 10-02 until 10-04 noon (grace: one hour).
    clock.set(at(date(2026, 10, 4), 12))
    tick(services)
    assert texts(services, ids["刘芳"]) == []
    assert (f"political-birthday:2026:{ids['刘芳']}", "2026-10-03", "missed") in \
        birthday_broadcasts(services)


@pytest.fixture
def api(clock: SettableClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeChatAPI]:
    short_timeouts(monkeypatch)
    with fake_api(clock) as fake:
        yield fake


@pytest.mark.parametrize("fault", ["-1", "500", "lost_answer"])
def test_platform_retries_deliver_the_greeting_once(make_services, api, clock, fault) -> None:
    from bot import delivery

    services = make_services(demo=False, sandbox={"enabled": False}, wecom=wecom_section(api),
                             birthday=ON)
    ids = seed(services, {"刘芳": ROSTER["刘芳"]})
    with services.store.transaction() as db:
        members.bind_identity(db, channel="wecom", external_id="liufang", member_id=ids["刘芳"],
                              now=clock.now())
    clock.set(at(date(2026, 10, 3), 8))
    tick(services)
    api.fail_next("message/send", fault)
    clock.set(at(date(2026, 10, 3), 9, 1))
    tick(services)  # the first attempt fails
    assert api.delivered_to("liufang") == [] or fault == "lost_answer"
    settle(services, delivery.build_channels(services), clock)
    tick(services)
    [message] = api.delivered_to("liufang")
    assert "整整23年" in message.content
    assert services.store.db.execute(
        "SELECT status, attempts FROM deliveries").fetchall() == [("sent", 2)]


def test_plan_day_reads_only_and_knows_the_list_day(services) -> None:
    seed(services)
    from bot.reminders import holiday_calendar

    calendar = holiday_calendar(services)
    assert [d.day for d in (date(2026, 10, 8), date(2026, 1, 4), date(2026, 5, 6))
            if political_birthday.is_list_day(d, calendar)] == [8, 4, 6]
    assert not political_birthday.is_list_day(date(2026, 10, 1), calendar)
    assert not political_birthday.is_list_day(date(2026, 10, 9), calendar)
    messages = political_birthday.plan_day(services.store.db, date(2026, 10, 3), calendar, OATH)
    assert [m.label for m in messages] == ["（政治生日祝福）"]
    assert services.store.db.execute("SELECT count(*) FROM broadcasts").fetchone()[0] == 0


@pytest.mark.parametrize(("section", "message"), [
    ({"send_time": "9:00"}, "birthday.send_time must look like 09:00, got '9:00'"),
    ({"send_time": "24:00"}, "birthday.send_time must look like 09:00"),
    ({"oath": "   "}, "birthday.oath must be the oath's text (1 to 500 characters)"),
    ({"oath": "誓" * 501}, "got 501 characters"),
    ({"enabled": "yes"}, "birthday.enabled must be true or false"),
])
def test_bad_birthday_config_is_one_clear_line(section, message) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config({"birthday": section}, env={})


def test_a_configured_oath_and_time_are_used(make_services, clock) -> None:
    services = make_services(demo=False, birthday={"enabled": True, "send_time": "07:30",
                                                   "oath": "  我志愿加入中国共产党……  "})
    ids = seed(services, {"刘芳": ROSTER["刘芳"]})
    clock.set(at(date(2026, 10, 3), 7, 0))
    tick(services)
    assert texts(services, ids["刘芳"]) == []
    clock.set(at(date(2026, 10, 3), 7, 31))
    tick(services)
    [text] = texts(services, ids["刘芳"])
    assert "“我志愿加入中国共产党……”" in text


# --- the CLI -------------------------------------------------------------------------------

@pytest.fixture
def cli_config(tmp_path, clock, monkeypatch):
    import bot.cli

    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "cli.db"}"\n\n[content]\npath = "{CONTENT}"\n',
                      encoding="utf-8")
    made: list[Services] = []

    def build(config_, clock_=None):
        made.append(build_services(config_, clock))
        return made[-1]

    monkeypatch.setattr(bot.cli, "build_services", build)
    services = build(load_config(config))
    initialise(services, demo=False)
    seed(services)
    yield config
    for s in made:
        s.store.close()


def run_cli(config, *args: str):
    from click.testing import CliRunner

    from bot.cli import cli
    return CliRunner().invoke(cli, ["--config", str(config), "birthdays", *args])


def test_cli_list_and_preview_send_nothing(cli_config):
    listed = run_cli(cli_config, "list", "--month", "2026-10")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        "2026年10月政治生日：4 人。",
        "2026-10-03  第一党支部  财务处党小组  刘芳  2003-10-03 入党，23 周年",
        "2026-10-08  第二党支部  人事处党小组  吴敏  2015-10-08 入党，11 周年",
        "2026-10-09  第二党支部  人事处党小组  郑新  2025-10-09 入党，1 周年",
        "2026-10-20  第一党支部  综合处党小组  王书记  1995-10-20 入党，31 周年"]
    one = run_cli(cli_config, "list", "--month", "2027-02", "--branch", ONE)
    assert "2027-02-28  第一党支部  财务处党小组  陈静  2004-02-29 入党，23 周年" in one.output

    shown = run_cli(cli_config, "preview", "--date", "2026-10-08")
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("2026-10-08：4 条消息，政治生日推送未开启（在管理后台「党员政治生日」"
                                   "页开启，或 config.toml 中 [birthday] enabled = true 后才会发送），"
                                   "发送时间 09:00。")
    assert "（政治生日祝福） 发给：吴敏" in shown.output
    assert "（本月政治生日名单） 发给：王书记（political-birthdays:2026-10:branch:第一党支部）" in shown.output
    assert "（本月政治生日名单） 发给：李干部（political-birthdays:2026-10:all）" in shown.output
    store = Store(load_config(cli_config).store_path)
    try:
        assert store.db.execute("SELECT count(*) FROM broadcasts").fetchone()[0] == 0
    finally:
        store.close()


@pytest.mark.parametrize(("args", "message"), [
    (("list", "--month", "2026-13"), "月份应写作 2026-10，收到 '2026-13'"),
    (("list", "--month", "十月"), "月份应写作 2026-10"),
    (("preview", "--date", "2026/10/08"), "日期应写作 2026-10-08，收到 '2026/10/08'"),
])
def test_cli_bad_month_or_date_is_one_clear_line(cli_config, args, message):
    result = run_cli(cli_config, *args)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_config_check_warns_when_on_without_any_date(make_services, tmp_path, clock) -> None:
    from bot.checks import birthday_problems

    services = make_services(demo=False, birthday=ON)
    on = load_config(config_for(tmp_path, birthday=ON))
    off = load_config(config_for(tmp_path))
    with services.store.transaction() as db:
        member_id = members.add_member(db, name="刘芳", branch=ONE, now=clock.now())
    [warning] = birthday_problems(on)
    assert "没有任何在册党员填写了入党时间" in warning
    assert birthday_problems(off) == []
    with services.store.transaction() as db:
        party_dates.set_dates(db, member_id, joined=date(2003, 10, 3), confirmed=None)
    assert birthday_problems(on) == []
    with services.store.transaction() as db:
        members.deactivate(db, member_id)  # only an inactive member has one: nothing will go out
    assert len(birthday_problems(on)) == 1


def test_cli_preview_uses_the_consoles_setting_once_changed(cli_config, clock) -> None:
    from schedules import birthday_push

    services = build_services(load_config(cli_config), clock)
    try:
        birthday_push.change(services, enabled=True, time="07:45", oath="重温誓词的文本。",
                             actor="console:张书记")
    finally:
        services.store.close()
    shown = run_cli(cli_config, "preview", "--date", "2026-10-08")
    assert shown.output.startswith("2026-10-08：4 条消息，政治生日推送已开启，发送时间 07:45。")
    assert "“重温誓词的文本。”" in shown.output and OATH not in shown.output
