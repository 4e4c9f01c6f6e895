"""The daily quiz in conversation: 答题 / 每日一题, answers in one message or two, one graded
attempt a day, bare answers captured only after asking, the next day's question, a question
deactivated mid-day, and 我的's monthly accuracy as the clock moves; then end to end through
the simulator API and the WeCom webhook."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.clock import SHANGHAI
from bot.config import load_config
from bot.conversation import handle_inbound
from bot.library import load_quiz
from bot.messages import Inbound
from bot.seed import add_demo_roster
from bot.services import Services, build_services
from bot.store import members
from bot.store import quiz as store_quiz
from bot.store.quiz import StoredQuestion
from handlers.help import menu
from tests.conftest import WECOM_TEST
from tests.conftest import test_config as config_for
from tests.paths import CONTENT
from tests.wechat import Platform, reply_text, text_xml, wecom_request

BANK = load_quiz(CONTENT / "quiz.toml")
LI_ID, ZHANG_ID = 2, 3  # demo roster: 李红梅, 张伟
LI, ZHANG = "sb-li", "sb-zhang"
WECOM = Platform(WECOM_TEST["token"], WECOM_TEST["encoding_aes_key"], WECOM_TEST["corp_id"])

_keys = itertools.count(1)


@pytest.fixture
def services(tmp_path, clock):
    """The demo roster and the quiz bank only: syncing the whole library is not needed here."""
    built = build_services(load_config(config_for(tmp_path), env={}), clock)
    add_demo_roster(built)
    with built.store.transaction() as db:
        store_quiz.sync_bank(db, BANK, clock.now())
        for user, member in ((LI, LI_ID), (ZHANG, ZHANG_ID)):
            members.bind_identity(db, channel="sandbox", external_id=user, member_id=member,
                                  now=clock.now())
    yield built
    built.store.close()


@pytest.fixture
def say(services: Services, clock):
    def send(text: str, user: str = LI, key: str | None = None) -> str:
        inbound = Inbound(channel="sandbox", user=user, kind="text", text=text,
                          dedupe_key=key or f"quiz-{next(_keys)}", at=clock.now())
        return handle_inbound(services, inbound).text
    return send


def todays(services: Services, clock) -> StoredQuestion:
    question_id = store_quiz.day_question(services.store.db, clock.today())
    assert question_id is not None, "nobody asked for today's question yet"
    return store_quiz.get_question(services.store.db, question_id)


def right(q: StoredQuestion) -> str:
    return q.answer


def wrong(q: StoredQuestion) -> str:
    if q.type == "judge":
        return "错" if q.answer == "对" else "对"
    if q.type == "single":
        return next(letter for letter in "ABCDE"[:len(q.options)] if letter != q.answer)
    return "AB" if q.answer != "AB" else "AC"


def attempts(services: Services) -> list[tuple]:
    return services.store.db.execute(
        "SELECT member_id, day, question_id, answer, correct, via FROM quiz_attempts"
        " ORDER BY day, member_id").fetchall()


def set_day(clock, day: date, hour: int = 9) -> None:
    clock.set(datetime(day.year, day.month, day.day, hour, 0, tzinfo=SHANGHAI))


# ---- asking ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["答题", "每日一题", "今日一题", "每日答题", "今日答题", " 答题 "])
def test_asking_shows_todays_question_with_its_options(services, say, clock, text):
    reply = say(text)
    q = todays(services, clock)
    assert reply.startswith("【每日一题】2026年11月23日")
    assert q.stem in reply
    for letter, option in zip("ABCDE", q.options, strict=False):
        assert f"{letter}. {option}" in reply
    assert ("请回复「对」或「错」" in reply) == (q.type == "judge")
    assert attempts(services) == []


def test_everyone_gets_the_same_question_all_day(services, say, clock):
    first = say("答题")
    clock.set(clock.now() + timedelta(hours=10))  # 19:00, same day
    assert say("每日一题", user=ZHANG) == first
    assert services.store.db.execute("SELECT count(*) FROM quiz_days").fetchone()[0] == 1


# ---- answering ------------------------------------------------------------------------------


def test_a_right_answer_is_graded_explained_and_recorded(services, say, clock):
    say("答题")
    q = todays(services, clock)
    reply = say(right(q))
    assert reply.startswith("回答正确 ✓")
    assert f"解析：{q.explanation}" in reply
    assert f"出处：《{q.source}》（{q.version}年版）{q.article_no}" in reply
    assert "本月答题：1 题，答对 1 题（100%）" in reply
    assert attempts(services) == [(LI_ID, "2026-11-23", q.id, q.answer, 1, "sandbox")]


def test_a_wrong_answer_shows_the_right_one(services, say, clock):
    say("答题")
    q = todays(services, clock)
    reply = say(wrong(q))
    assert reply.startswith("回答错误 ✗ 正确答案：" + q.answer)
    assert f"解析：{q.explanation}" in reply and q.article_no in reply
    assert "本月答题：1 题，答对 0 题（0%）" in reply
    assert attempts(services) == [(LI_ID, "2026-11-23", q.id, wrong(q), 0, "sandbox")]


def test_question_and_answer_in_one_message(services, say, clock):
    say("答题", user=ZHANG)  # someone else picks today's question
    q = todays(services, clock)
    reply = say(f"答题 {right(q)}")  # 李 never asked: the explicit form is still an answer
    assert reply.startswith("回答正确")
    assert attempts(services)[0][:2] == (LI_ID, "2026-11-23")


def test_one_graded_attempt_a_day(services, say, clock):
    say("答题")
    q = todays(services, clock)
    say(wrong(q))
    before = attempts(services)
    for again in (right(q), f"答题 {right(q)}", "答题", wrong(q)):
        reply = say(again)
        assert reply.startswith(f"今天的每日一题你已经答过了：你的答案「{wrong(q)}」，回答错误"), reply
        assert f"正确答案：{q.answer}" in reply
    assert attempts(services) == before


def test_a_wrong_shape_gets_a_hint_and_the_question_stays_open(services, say, clock):
    say("答题")
    q = todays(services, clock)
    odd = "A" if q.type == "judge" else "对"
    reply = say(odd)
    kind = {"single": "单选题", "multiple": "多选题", "judge": "判断题"}[q.type]
    assert reply.startswith(f"这是{kind}"), reply
    assert attempts(services) == []
    assert say(right(q)).startswith("回答正确")


def test_a_retried_answer_message_is_graded_once(services, say, clock):
    say("答题")
    q = todays(services, clock)
    first = say(wrong(q), key="retry-1")
    assert say(wrong(q), key="retry-1") == first  # WeChat's retry: the remembered reply
    assert len(attempts(services)) == 1


def test_the_quiz_day_is_shanghais(services, say, clock):
    clock.set(datetime(2026, 11, 23, 15, 30, tzinfo=UTC))  # 23:30 on the 23rd in Shanghai
    say("答题")
    late = todays(services, clock)
    say(right(late))
    clock.set(datetime(2026, 11, 23, 16, 30, tzinfo=UTC))  # 00:30 on the 24th in Shanghai
    reply = say("答题")
    assert reply.startswith("【每日一题】2026年11月24日")
    assert todays(services, clock).id != late.id
    assert [row[1] for row in attempts(services)] == ["2026-11-23"]


def test_members_asking_at_once_get_one_question(services, clock):
    """Several members' first 答题 of the day in parallel threads: one pick, one quiz_days row."""
    users = [f"sb-{n}" for n in range(6)]
    with services.store.transaction() as db:
        for n, user in enumerate(users):
            members.bind_identity(db, channel="sandbox", external_id=user,
                                  member_id=1 + n % 8, now=clock.now())
    barrier = threading.Barrier(len(users))

    def ask(user: str) -> str:
        barrier.wait()
        inbound = Inbound(channel="sandbox", user=user, kind="text", text="答题",
                          dedupe_key=f"race-{user}", at=clock.now())
        return handle_inbound(services, inbound).text

    with ThreadPoolExecutor(len(users)) as pool:
        replies = list(pool.map(ask, users))
    assert len(set(replies)) == 1 and replies[0].startswith("【每日一题】")
    assert services.store.db.execute("SELECT count(*) FROM quiz_days").fetchone()[0] == 1


# ---- bare answers are captured only after asking --------------------------------------------


@pytest.mark.parametrize("text", ["A", "对", "AC", "错"])
def test_a_bare_answer_without_asking_is_not_captured(services, say, text):
    assert say(text) == "抱歉，没有听懂这句话。\n" + menu()
    assert attempts(services) == []


def test_asking_yesterday_does_not_open_today(services, say, clock):
    say("答题")
    set_day(clock, date(2026, 11, 24))
    assert say("A") == "抱歉，没有听懂这句话。\n" + menu()
    assert attempts(services) == []


def test_other_messages_still_work_while_a_question_is_open(services, say, clock):
    say("答题")
    assert say("打卡").startswith("打卡成功")
    assert say("好的").startswith("抱歉，没有听懂")
    assert attempts(services) == []


# ---- days, cycles, and the bank changing ----------------------------------------------------


def test_the_next_day_brings_a_new_question(services, say, clock):
    seen = []
    for offset in range(5):
        set_day(clock, date(2026, 11, 23) + timedelta(days=offset))
        say("答题")
        q = todays(services, clock)
        seen.append(q.id)
        assert say(right(q)).startswith("回答正确")
    assert len(set(seen)) == 5
    assert len(attempts(services)) == 5


def test_a_question_deactivated_mid_day_still_holds_for_that_day(services, say, clock):
    say("答题")
    q = todays(services, clock)
    with services.store.transaction() as db:  # the admin drops it from the file at noon
        store_quiz.sync_bank(db, [b for b in BANK if b.id != q.id], clock.now())
    assert not store_quiz.get_question(services.store.db, q.id).active
    assert q.stem in say("答题", user=ZHANG)
    assert say(right(q)).startswith("回答正确")
    assert attempts(services)[0][2] == q.id
    set_day(clock, date(2026, 11, 24))
    say("答题")
    assert todays(services, clock).id != q.id


def test_a_question_edited_mid_day_is_graded_by_its_new_key(services, say, clock):
    say("答题")
    q = todays(services, clock)
    fixed = [replace(b, explanation="更正后的解析。") if b.id == q.id else b for b in BANK]
    with services.store.transaction() as db:
        store_quiz.sync_bank(db, fixed, clock.now())
    assert "解析：更正后的解析。" in say(right(q))


def test_an_empty_bank_says_so(services, say):
    with services.store.transaction() as db:
        store_quiz.sync_bank(db, [], datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
    assert say("答题") == "每日一题的题库还是空的，请联系党务干部导入题目。"
    assert services.store.db.execute("SELECT count(*) FROM quiz_days").fetchone()[0] == 0


def test_an_unbound_sender_is_asked_to_bind_and_nothing_is_stored(services, say):
    reply = say("答题", user="sb-stranger")
    assert "绑定" in reply
    assert services.store.db.execute("SELECT count(*) FROM quiz_asked").fetchone()[0] == 0


# ---- 我的: the month's accuracy -------------------------------------------------------------


def test_my_progress_shows_the_months_accuracy(services, say, clock):
    assert "本月答题：还没有记录" in say("我的")
    # November: 6 answers, 5 right, on days spread over the month.
    days = [date(2026, 11, d) for d in (23, 24, 25, 27, 28, 30)]
    for n, day in enumerate(days):
        set_day(clock, day, hour=20)
        say("答题")
        q = todays(services, clock)
        say(wrong(q) if n == 2 else right(q))
    reply = say("我的")
    assert "本月打卡：0 天\n本月答题：6 题，答对 5 题（83%）" in reply
    assert say("我的", user=ZHANG).count("还没有记录") == 1  # 张伟 answered nothing
    # December starts afresh; November's answers stay November's.
    set_day(clock, date(2026, 12, 1))
    assert "本月答题：还没有记录" in say("我的")
    say("答题")
    say(wrong(todays(services, clock)))
    assert "本月答题：1 题，答对 0 题（0%）" in say("我的")
    assert store_quiz.month_accuracy(services.store.db, LI_ID, "2026-11").percent == 83


# ---- end to end -----------------------------------------------------------------------------


def test_through_the_simulator_api(make_services, clock):
    """Full init (content/ synced by `sync_library`), then the /sim JSON API."""
    from bot import create_app
    full = make_services()
    client = create_app(services=full).test_client()
    user = f"m{LI_ID}"
    asked = client.post("/sim/api/send", json={"user": user, "text": "每日一题"})
    assert asked.status_code == 200 and "【每日一题】" in asked.get_json()["reply"]
    assert store_quiz.list_questions(full.store.db)[0].id == BANK[0].id
    q = store_quiz.get_question(full.store.db, store_quiz.day_question(full.store.db,
                                                                         clock.today()))
    graded = client.post("/sim/api/send", json={"user": user, "text": right(q).lower()})
    assert graded.get_json()["reply"].startswith("回答正确")
    mine = client.post("/sim/api/send", json={"user": user, "text": "我的"})
    assert "本月答题：1 题，答对 1 题（100%）" in mine.get_json()["reply"]


def test_through_the_wecom_webhook(make_services, clock):
    from bot import create_app
    full = make_services(wecom=WECOM_TEST)
    with full.store.transaction() as db:
        members.bind_identity(db, channel="wecom", external_id="LiHongMei", member_id=LI_ID,
                              now=clock.now())
    client = create_app(services=full).test_client()
    ts = int(clock.timestamp())

    def send(text: str, msg_id: int) -> str:
        query, body = wecom_request(WECOM, text_xml("LiHongMei", text, msg_id, ts), ts)
        answer = client.post(f"/wechat/wecom?{query}", data=body)
        assert answer.status_code == 200
        return reply_text(WECOM, answer.get_data(as_text=True))

    assert "【每日一题】" in send("答题", 5001)
    q = store_quiz.get_question(full.store.db, store_quiz.day_question(full.store.db,
                                                                         clock.today()))
    assert send("ＡＣ" if q.answer == "AC" else q.answer, 5002).startswith("回答正确")
    assert send(q.answer, 5003).startswith("今天的每日一题你已经答过了")
    rows = full.store.db.execute("SELECT via, correct FROM quiz_attempts").fetchall()
    assert rows == [("wecom", 1)]
