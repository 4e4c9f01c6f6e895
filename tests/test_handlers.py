"""The conversation, called directly: bot.conversation.handle_inbound(services, Inbound(...)).

Check-in phrasings and the Shanghai day, once a day, streaks, 我的, the menu, binding (name and
phone tail, one-time code, the pause after wrong tries), WeCom strangers, subscribe and
unsubscribe, and a failing handler that leaves nothing behind.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.clock import SHANGHAI
from bot.config import load_config
from bot.conversation import ERROR_REPLY, handle_inbound
from bot.messages import Inbound
from bot.seed import add_demo_roster
from bot.services import Services, build_services
from bot.store import checkins, members
from handlers.bind import HOW_TO_BIND
from handlers.help import menu
from handlers.router import router
from tests.conftest import MP_TEST, WECOM_TEST
from tests.conftest import test_config as config_for

# Demo roster (bot.seed.DEMO_ROSTER): 2 = 李红梅 13800000002, 3 = 张伟 13800000003.
LI_ID, ZHANG_ID = 2, 3
LI = "sb-li"

_keys = itertools.count(1)


def inbound(text: str = "", *, user: str = LI, channel: str = "sandbox", kind: str = "text",
            event: str = "", event_key: str = "", key: str | None = None,
            at: datetime | None = None) -> Inbound:
    return Inbound(channel=channel, user=user, kind=kind, text=text,
                   dedupe_key=key or f"msg-{next(_keys)}",
                   at=at or datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI),
                   event=event, event_key=event_key)


@pytest.fixture
def services(tmp_path, clock):
    """conftest's `services` (all channels, demo roster) without syncing the reading library,
    which these tests never touch: a third of the set-up time."""
    config = load_config(config_for(tmp_path, mp=MP_TEST, wecom=WECOM_TEST), env={})
    built = build_services(config, clock)
    add_demo_roster(built)
    yield built
    built.store.close()


@pytest.fixture
def say(services: Services):
    """say("打卡") -> the reply text, from the bound sandbox user unless told otherwise."""
    def send(text: str, **kwargs) -> str:
        return handle_inbound(services, inbound(text, **kwargs)).text
    return send


@pytest.fixture(autouse=True)
def bound(services: Services, clock) -> None:
    with services.store.transaction() as db:
        members.bind_identity(db, channel="sandbox", external_id=LI, member_id=LI_ID,
                              now=clock.now())


def stored(services: Services, member_id: int = LI_ID) -> list[dict]:
    return list(services.store.db.query(
        "SELECT day, note, at, via FROM checkins WHERE member_id = ? ORDER BY day", [member_id]))


def count(services: Services, table: str) -> int:
    return services.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def check_in_on(say, clock, day: date, hour: int = 9) -> str:
    clock.set(datetime(day.year, day.month, day.day, hour, 0, tzinfo=SHANGHAI))
    return say("打卡")


# --- check-in ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, note", [
    ("打卡", ""),
    ("签到", ""),
    ("今天学习了", ""),
    ("已学习", ""),
    ("学习打卡", ""),
    ("打卡了", ""),
    ("签到了", ""),
    ("今日打卡", ""),
    ("我今天已经学习了", ""),
    ("  打卡  ", ""),
    ("打卡 学习了第三章", "学习了第三章"),
    ("打卡：读完党章", "读完党章"),
    ("打卡　学习", "学习"),
    ("学习完了，读了第二章", "读了第二章"),
    ("已学习   廉洁自律准则 第二条", "廉洁自律准则 第二条"),
])
def test_every_phrasing_records_todays_checkin(services, say, text, note):
    reply = say(text)
    assert reply.startswith("打卡成功！李红梅"), reply
    assert "连续学习的第 1 天" in reply and "本月已打卡 1 天" in reply
    assert (f"学习内容：{note}" in reply) == bool(note)
    assert stored(services) == [{"day": "2026-11-23", "note": note,
                                 "at": "2026-11-23T09:00:00+08:00", "via": "sandbox"}]


@pytest.mark.parametrize("text", ["打卡记录", "打卡吗", "我想打卡", "签", "学习", "明天打卡"])
def test_lookalikes_do_not_check_in(services, say, text):
    say(text)
    assert stored(services) == []


def test_the_day_is_shanghais_not_utcs(services, say, clock):
    clock.set(datetime(2026, 11, 23, 15, 30, tzinfo=UTC))  # 23:30 on the 23rd in Shanghai
    assert say("打卡").startswith("打卡成功")
    clock.set(datetime(2026, 11, 23, 16, 30, tzinfo=UTC))  # 00:30 on the 24th in Shanghai
    reply = say("打卡")
    assert reply.startswith("打卡成功") and "第 2 天" in reply
    assert [(row["day"], row["at"]) for row in stored(services)] == [
        ("2026-11-23", "2026-11-23T23:30:00+08:00"),
        ("2026-11-24", "2026-11-24T00:30:00+08:00"),
    ]


def test_second_checkin_the_same_day_stores_nothing_new(services, say, clock):
    clock.set(datetime(2026, 11, 23, 7, 5, tzinfo=SHANGHAI))
    assert say("打卡 读党章").startswith("打卡成功")
    clock.set(datetime(2026, 11, 23, 23, 59, tzinfo=SHANGHAI))
    reply = say("签到 又读了一遍")
    assert reply.startswith("今天已打卡（07:05）"), reply
    assert "已连续 1 天，本月共 1 天" in reply
    assert stored(services) == [{"day": "2026-11-23", "note": "读党章",
                                 "at": "2026-11-23T07:05:00+08:00", "via": "sandbox"}]


def test_the_same_message_delivered_twice_changes_nothing(services, clock):
    message = inbound("打卡", key="wx-msg-42")
    first = handle_inbound(services, message).text
    clock.advance(seconds=5)
    again = handle_inbound(services, message).text
    assert first.startswith("打卡成功") and again == first
    assert len(stored(services)) == 1
    assert count(services, "inbound") == 1


# --- streaks and 我的 ----------------------------------------------------------------------


def test_three_consecutive_days(services, say, clock):
    assert "第 1 天" in check_in_on(say, clock, date(2026, 11, 20))
    assert "第 2 天" in check_in_on(say, clock, date(2026, 11, 21))
    reply = check_in_on(say, clock, date(2026, 11, 22))
    assert "连续学习的第 3 天" in reply and "本月已打卡 3 天" in reply
    stats = say("我的")
    assert "当前连续：3 天" in stats and "最长连续：3 天" in stats


def test_current_streak_counts_while_today_is_still_open(services, say, clock):
    for day in (20, 21, 22):
        check_in_on(say, clock, date(2026, 11, day))
    clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI))
    stats = say("我的")
    assert "当前连续：3 天" in stats
    assert "今天还没打卡" in stats
    assert "第 4 天" in say("打卡")
    assert "今天已打卡 ✓" in say("我的")


def test_a_gap_resets_the_current_streak_but_keeps_the_longest(services, say, clock):
    for day in (18, 19, 20):
        check_in_on(say, clock, date(2026, 11, day))
    # Nothing on the 21st.
    clock.set(datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI))
    assert "当前连续：0 天" in say("我的")
    reply = say("打卡")
    assert "连续学习的第 1 天" in reply and "本月已打卡 4 天" in reply
    stats = say("统计")
    assert "当前连续：1 天" in stats and "最长连续：3 天" in stats
    assert "本月打卡：4 天" in stats


@pytest.mark.parametrize("word", ["我的", "进度", "统计"])
def test_my_progress_shows_month_count_and_streaks(services, say, clock, word):
    # Oct 29 - Nov 1 is the longest run (4 days, across the month end); then Nov 22 - 23.
    for day in (date(2026, 10, 29), date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 1),
                date(2026, 11, 22), date(2026, 11, 23)):
        check_in_on(say, clock, day)
    reply = say(word)
    assert reply.startswith("李红梅的学习进度（2026年11月）"), reply
    assert "本月打卡：3 天" in reply
    assert "当前连续：2 天" in reply
    assert "最长连续：4 天" in reply
    assert "今天已打卡 ✓" in reply


def test_my_progress_before_any_checkin(services, say):
    reply = say("进度")
    assert "本月打卡：0 天" in reply and "当前连续：0 天" in reply and "最长连续：0 天" in reply
    assert "今天还没打卡，发送「打卡」即可" in reply
    assert stored(services) == []


def test_month_count_starts_again_in_a_new_month(services, say, clock):
    for day in (28, 29, 30):
        check_in_on(say, clock, date(2026, 11, day))
    reply = check_in_on(say, clock, date(2026, 12, 1))
    assert "连续学习的第 4 天" in reply and "本月已打卡 1 天" in reply
    assert "（2026年12月）" in say("我的")


# --- the menu ------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["帮助", "菜单", "?", "？", " 帮助 ", "help"])
@pytest.mark.parametrize("user", [LI, "sb-stranger"])
def test_help_shows_the_menu_bound_or_not(say, word, user):
    assert say(word, user=user) == menu()


@pytest.mark.parametrize("text", ["今天天气不错", "asdfgh", "？？", "打卡吗"])
def test_gibberish_gets_the_menu_with_not_understood(services, say, text):
    reply = say(text)
    assert reply.startswith("抱歉，没有听懂这句话。")
    assert reply.endswith(menu())
    assert stored(services) == []


def test_gibberish_from_a_stranger_also_gets_the_menu(say):
    assert "没有听懂" in say("你好呀", user="sb-stranger")


# --- binding -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["打卡", "我的", "签到 学习了"])
def test_an_unbound_sandbox_user_is_told_how_to_bind(services, say, text):
    assert say(text, user="sb-stranger") == HOW_TO_BIND
    assert count(services, "checkins") == 0


def test_bind_with_name_and_phone_tail(services, say):
    reply = say("绑定 李红梅 0002", user="sb-new")
    assert reply.startswith("绑定成功！欢迎你，第一党支部 李红梅"), reply
    found = members.find_by_identity(services.store.db, "sandbox", "sb-new")
    assert found is not None and found.id == LI_ID
    assert say("打卡", user="sb-new").startswith("打卡成功！李红梅")
    assert "无需重复绑定" in say("绑定 张伟 0003", user="sb-new")
    assert members.find_by_identity(services.store.db, "sandbox", "sb-new").id == LI_ID


def test_bind_with_full_width_spaces_and_digits(services, say):
    assert say("绑定　张伟　０００３", user="sb-fw").startswith("绑定成功")
    assert members.find_by_identity(services.store.db, "sandbox", "sb-fw").id == ZHANG_ID


@pytest.mark.parametrize("text", ["绑定 李红梅 0003", "绑定 李红 0002", "绑定 李红梅 002",
                                  "绑定 李红梅 00O2", "绑定 李红梅 0002 多余"])
def test_bind_with_wrong_details_fails_and_counts(services, say, text):
    reply = say(text, user="sb-new")
    assert "没有找到匹配的党员信息" in reply and "还可尝试 4 次" in reply
    assert members.find_by_identity(services.store.db, "sandbox", "sb-new") is None


def test_bind_without_details_explains_and_does_not_count(services, say):
    for _ in range(6):
        assert say("绑定", user="sb-new") == HOW_TO_BIND
    assert count(services, "bind_attempts") == 0
    assert say("绑定 李红梅 0002", user="sb-new").startswith("绑定成功")


def test_bind_with_a_one_time_code_works_once(services, say):
    with services.store.transaction() as db:
        code = members.new_bind_code(db, ZHANG_ID)
    assert len(code) == 8
    reply = say(f"绑定 {code.lower()}", user="sb-first")
    assert reply.startswith("绑定成功！欢迎你，第一党支部 张伟"), reply
    assert members.find_by_identity(services.store.db, "sandbox", "sb-first").id == ZHANG_ID
    second = say(f"绑定 {code}", user="sb-second")
    assert "没有找到匹配" in second
    assert members.find_by_identity(services.store.db, "sandbox", "sb-second") is None


def test_a_new_code_replaces_the_old_one(services, say):
    with services.store.transaction() as db:
        old = members.new_bind_code(db, ZHANG_ID)
        new = members.new_bind_code(db, ZHANG_ID)
    assert old != new
    assert "没有找到匹配" in say(f"绑定 {old}", user="sb-x")
    assert say(f"绑定 {new}", user="sb-x").startswith("绑定成功")


def test_five_wrong_tries_start_a_fifteen_minute_pause(services, say, clock):
    start = clock.now()
    for left in (4, 3, 2, 1):
        assert f"还可尝试 {left} 次" in say("绑定 李红梅 9999", user="sb-guess")
        clock.advance(seconds=10)
    fifth_at = clock.now()
    assert "尝试次数过多，请 15 分钟后再试" in say("绑定 李红梅 9999", user="sb-guess")
    until = fifth_at + timedelta(minutes=15)

    # The sixth try is refused even when it is right, and so is a valid code.
    sixth = say("绑定 李红梅 0002", user="sb-guess")
    assert sixth.startswith(f"尝试次数过多，请在 {until:%H:%M} 之后再试"), sixth
    with services.store.transaction() as db:
        code = members.new_bind_code(db, ZHANG_ID)
    clock.set(until - timedelta(seconds=1))
    assert "尝试次数过多" in say(f"绑定 {code}", user="sb-guess")
    assert members.find_by_identity(services.store.db, "sandbox", "sb-guess") is None
    assert clock.now() - start < timedelta(minutes=16)

    # Someone else is not held up by it.
    assert say("绑定 张伟 0003", user="sb-other").startswith("绑定成功")

    clock.set(until + timedelta(seconds=1))
    assert say("绑定 李红梅 0002", user="sb-guess").startswith("绑定成功")
    assert members.find_by_identity(services.store.db, "sandbox", "sb-guess").id == LI_ID
    assert count(services, "bind_attempts") == 0  # a success clears the count


def test_the_count_starts_again_after_a_pause(services, say, clock):
    for _ in range(5):
        say("绑定 李红梅 9999", user="sb-guess")
    clock.advance(minutes=15, seconds=1)
    assert "还可尝试 4 次" in say("绑定 李红梅 9999", user="sb-guess")


def test_a_wecom_user_not_in_the_roster_is_told_to_contact_the_admin(services, say):
    for text in ("打卡", "我的", "绑定 李红梅 0002"):
        reply = say(text, channel="wecom", user="NoSuchUser")
        assert reply == "你的企业微信账号还不在支部名册中，请联系党务干部添加后再试。", text
    assert members.find_by_identity(services.store.db, "wecom", "nosuchuser") is None
    assert count(services, "checkins") == 0
    assert count(services, "bind_attempts") == 0


def test_a_roster_wecom_user_is_recognised_whatever_the_case(services, say, clock):
    with services.store.transaction() as db:
        members.bind_identity(db, channel="wecom", external_id="ZhangWei", member_id=ZHANG_ID,
                              now=clock.now())
    assert say("打卡", channel="wecom", user="zhangwei").startswith("打卡成功！张伟")
    assert [row["via"] for row in stored(services, ZHANG_ID)] == ["wecom"]


# --- events --------------------------------------------------------------------------------


def event(services: Services, name: str, user: str = LI, event_key: str = "") -> str:
    return handle_inbound(services, inbound(user=user, kind="event", event=name,
                                            event_key=event_key)).text


def test_subscribe_and_unsubscribe(services):
    db = services.store.db
    assert event(services, "unsubscribe") == ""
    assert members.identities_of(db, LI_ID) == [("sandbox", LI, False)]
    reply = event(services, "subscribe")
    assert reply.startswith("欢迎关注清风") and "欢迎回来，李红梅" in reply
    assert members.identities_of(db, LI_ID) == [("sandbox", LI, True)]


def test_a_stranger_subscribing_is_told_how_to_bind(services):
    reply = event(services, "subscribe", user="sb-stranger")
    assert reply.startswith("欢迎关注清风") and HOW_TO_BIND in reply
    assert event(services, "unsubscribe", user="sb-stranger") == ""
    assert count(services, "identities") == 1  # only the fixture's binding


def test_a_menu_click_checks_in(services):
    assert event(services, "click", event_key="CHECKIN").startswith("打卡成功")
    assert len(stored(services)) == 1
    assert "本月打卡：1 天" in event(services, "click", event_key="STATS")


def test_every_menu_key_answers_like_its_words(services, say):
    from handlers.events import MENU_KEYS

    for key, words in MENU_KEYS.items():
        if key != "CHECKIN":  # checking in twice answers differently; tested above
            assert event(services, "click", event_key=key) == say(words), key
    assert "帮助" in event(services, "click", event_key="NO_SUCH_KEY")


# --- a failing handler --------------------------------------------------------------------


def test_a_handler_that_raises_rolls_back_and_a_retry_succeeds(services, monkeypatch, caplog):
    (index,) = [i for i, route in enumerate(router.text_routes) if route.name == "check_in"]
    original = router.text_routes[index]

    def boom(message, ctx):
        checkins.record_checkin(ctx.db, member_id=ctx.member.id, day=ctx.clock.today(),
                                note="half-done", at=ctx.clock.now(), via=ctx.channel)
        members.bind_identity(ctx.db, channel="sandbox", external_id="sb-ghost",
                              member_id=ctx.member.id, now=ctx.clock.now())
        raise RuntimeError("database exploded: secret detail")

    patched = list(router.text_routes)
    patched[index] = replace(original, handler=boom)
    monkeypatch.setattr(router, "text_routes", patched)
    message = inbound("打卡", key="wx-retry-1")
    reply = handle_inbound(services, message)
    assert reply == ERROR_REPLY
    assert "secret detail" not in reply.text
    assert "handler failed" in caplog.text
    assert stored(services) == []
    assert members.find_by_identity(services.store.db, "sandbox", "sb-ghost") is None
    assert count(services, "inbound") == 0  # no dedupe record: the retry is not swallowed

    monkeypatch.undo()
    assert router.text_routes[index] is original
    retry = handle_inbound(services, message)
    assert retry.text.startswith("打卡成功"), retry.text
    assert len(stored(services)) == 1 and stored(services)[0]["note"] == ""
    assert count(services, "inbound") == 1
