"""推荐评选 in chat and in bot/votes.py: the ballot sent once at opening through the ledger,
「投票 3」 「投票 1 4」 「推荐 张伟」 「我的投票」, names as the roster spells them (a question back
for two 张伟), one vote per member whatever the retries, and every refusal (after the close,
outside the list, outside the audience, too many, twice) answered in Chinese with nothing
written. The secret ballot is tried in tests/test_votes_secrecy.py.
"""

from __future__ import annotations

import itertools
import sqlite3
from datetime import datetime, timedelta

import pytest

from bot import delivery, votes
from bot.clock import SHANGHAI
from bot.config import load_config
from bot.conversation import handle_inbound
from bot.messages import Inbound
from bot.seed import add_demo_roster
from bot.services import Services, build_services
from bot.store import members
from bot.store import votes as store_votes
from handlers.help import menu
from handlers.votes import REMEMBERED
from schedules.jobs import fire_votes
from tests.conftest import test_config as config_for

# Demo roster: 1 王建国, 2 李红梅, 3 张伟, 4 刘芳 (第一党支部); 5 陈静 .. 8 孙悦 (第二党支部).
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
_keys = itertools.count(1)


@pytest.fixture
def services(tmp_path, clock):
    built = build_services(load_config(config_for(tmp_path), env={}), clock)
    add_demo_roster(built)
    with built.store.transaction() as db:
        for member_id in range(1, 9):
            members.bind_identity(db, channel="sandbox", external_id=f"u{member_id}",
                                  member_id=member_id, now=clock.now())
    yield built
    built.store.close()


def say(services: Services, member_id: int, text: str, key: str | None = None) -> str:
    inbound = Inbound(channel="sandbox", user=f"u{member_id}", kind="text", text=text,
                      dedupe_key=key or f"vote-msg-{next(_keys)}", at=NOW)
    return handle_inbound(services, inbound).text


def open_vote(services: Services, *, candidates=("张伟", "李红梅", "刘芳", "王建国"),
              choices: int = 1, changeable: bool = False, audience=None,
              hours: int = 48, starts_in: int = 0, scope: str | None = None) -> int:
    now = services.clock.now()
    return votes.open_vote(services, votes.Opening(
        title="第四季度共产党员先锋岗", audience=audience or {"branches": ["第一党支部"]},
        candidates=list(candidates), choices=choices,
        opens_at=now + timedelta(hours=starts_in), closes_at=now + timedelta(hours=hours),
        changeable=changeable), actor="test", scope=scope)


def table_counts(services: Services) -> tuple[int, int]:
    db = services.store.db
    return (db.execute("SELECT count(*) FROM vote_voters").fetchone()[0],
            db.execute("SELECT count(*) FROM vote_ballots").fetchone()[0])


def tally_of(services: Services, vote_id: int) -> dict[str, int]:
    counts, _ = store_votes.tally(services.store.db, vote_id)
    return {members.get_member(services.store.db, i).name: n for i, n in counts.items()}


# --- the ballot at opening --------------------------------------------------------------------


def test_the_ballot_goes_to_the_audience_once_at_opening(services, clock):
    vote_id = open_vote(services, starts_in=1)
    fire_votes(services)
    assert services.store.db.execute("SELECT count(*) FROM broadcasts").fetchone()[0] == 0
    clock.advance(hours=1)
    fire_votes(services)
    fire_votes(services)  # a second tick, a second process: the key makes it one broadcast
    rows = services.store.db.execute(
        "SELECT d.member_id, d.text FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
        " WHERE b.key = ?", [f"vote:{vote_id}:ballot"]).fetchall()
    assert sorted(r[0] for r in rows) == [1, 2, 3, 4]  # 第一党支部 only
    text = rows[0][1]
    assert "1. 张伟（第一党支部）" in text and "4. 王建国（第一党支部）" in text
    assert "「投票 1」" in text and "无记名投票" in text
    delivery.drain(services)
    assert delivery.counts(services.store.db, services.store.db.execute(
        "SELECT id FROM broadcasts").fetchone()[0]).sent == 4


# --- voting -----------------------------------------------------------------------------------


def test_vote_by_number_and_see_it(services):
    vote_id = open_vote(services)
    assert say(services, 2, "投票 3") == "已投票（第四季度共产党员先锋岗）：刘芳（第一党支部）。"
    assert "你的选择：刘芳（第一党支部）" in say(services, 2, "我的投票")
    assert tally_of(services, vote_id) == {"刘芳": 1}


def test_two_choices_and_a_name(services):
    vote_id = open_vote(services, choices=2)
    assert "张伟（第一党支部）、王建国（第一党支部）" in say(services, 2, "投票 1 4")
    assert "已投票" in say(services, 3, "推荐 李红梅")
    assert "已投票" in say(services, 4, "投票 第1号，2")  # numerals and commas
    assert "刘芳（第一党支部）、王建国（第一党支部）" in say(services, 1, "投票 三、四")
    assert tally_of(services, vote_id) == {"张伟": 2, "王建国": 2, "李红梅": 2, "刘芳": 1}


def test_too_many_choices_and_repeats_change_nothing(services):
    open_vote(services, choices=2)
    assert say(services, 2, "投票 1 2 3") == \
        "这项评选每人最多选 2 人，你写了 3 人"
    assert say(services, 2, "投票 1 张伟") == "不能重复选择同一人（张伟）"
    assert table_counts(services) == (0, 0)


def test_one_vote_per_member_whatever_the_retries(services):
    vote_id = open_vote(services)
    first = say(services, 2, "投票 1", key="same-msg")
    assert first.startswith("已投票")
    assert say(services, 2, "投票 1", key="same-msg") == REMEMBERED  # WeChat's redelivery
    again = say(services, 2, "投票 2")                                # a new message
    assert "已经投过" in again and "不能更改" in again
    assert table_counts(services) == (1, 1)
    assert tally_of(services, vote_id) == {"张伟": 1}


def test_the_store_refuses_a_second_voter_row(services):
    vote_id = open_vote(services)
    say(services, 2, "投票 1")
    with pytest.raises(sqlite3.IntegrityError), services.store.transaction() as db:
        store_votes.cast(db, vote_id, 2, "another-token", [3])
    assert table_counts(services) == (1, 1)  # rolled back: not even the ballot row


def test_a_changeable_vote_is_changed_in_place(services):
    vote_id = open_vote(services, changeable=True)
    assert "截止前可以重新投票更改" in say(services, 2, "投票 1")
    assert say(services, 2, "投票 2") == "已改为（第四季度共产党员先锋岗）：李红梅（第一党支部）。"
    assert table_counts(services) == (1, 1)
    assert tally_of(services, vote_id) == {"李红梅": 1}
    assert "你的选择：李红梅" in say(services, 2, "我的投票")


def test_after_the_close_nothing_changes(services, clock):
    vote_id = open_vote(services, changeable=True, hours=2)
    say(services, 2, "投票 1")
    clock.advance(hours=2)
    reply = say(services, 2, "投票 2")
    assert reply == "「第四季度共产党员先锋岗」已于 11月23日 11:00 截止，这次投票没有记录。"
    assert say(services, 3, "投票 2") == reply
    assert table_counts(services) == (1, 1)
    assert tally_of(services, vote_id) == {"张伟": 1}


def test_before_the_opening(services):
    open_vote(services, starts_in=3)
    assert say(services, 2, "投票 1") == \
        "「第四季度共产党员先锋岗」11月23日 12:00 才开始投票，这次没有记录。"
    assert table_counts(services) == (0, 0)


def test_outside_the_list(services):
    open_vote(services)
    assert say(services, 2, "投票 9") == "没有 9 号候选人（编号 1 到 4）。发送「投票」查看候选人。"
    assert say(services, 2, "推荐 陈静") == \
        "“陈静”不是「第四季度共产党员先锋岗」的候选人。发送「投票」查看候选人。"
    assert say(services, 2, "推荐 张 伟") .startswith("“张”不是")  # the roster's spelling only
    assert table_counts(services) == (0, 0)


def test_outside_the_audience(services):
    vote_id = open_vote(services)
    reply = say(services, 6, f"投票 #{vote_id} 1")  # 杨帆, 第二党支部
    assert reply == ("你不在「第四季度共产党员先锋岗」的投票范围（第一党支部）内，"
                     "这次投票没有记录。")
    assert say(services, 6, "投票 1") == "现在没有你可以参加的评选投票。"
    assert table_counts(services) == (0, 0)


def test_a_deactivated_member_cannot_vote(services):
    open_vote(services)
    with services.store.transaction() as db:
        db.execute("UPDATE members SET active = 0 WHERE id = 2")
    assert "投票" in say(services, 2, "投票 1")
    assert table_counts(services) == (0, 0)


def test_two_members_share_a_name(services, clock):
    with services.store.transaction() as db:
        members.add_member(db, name="张伟", branch="第二党支部", grp="业务一处党小组",
                           now=clock.now())  # id 9
        members.bind_identity(db, channel="sandbox", external_id="u9", member_id=9,
                              now=clock.now())
    vote_id = votes.open_vote(services, votes.Opening(
        "身边好党员", {"all": True}, ["张伟（第一党支部）", "张伟（第二党支部）", "刘芳"], 1,
        clock.now(), clock.now() + timedelta(days=1), False), actor="test")
    question = say(services, 2, "推荐 张伟")
    assert question == ("有 2 位候选人叫“张伟”：1 号（第一党支部）、2 号（第二党支部），"
                        "你选的是哪一位？请回复编号，如「投票 1」。")
    assert table_counts(services) == (0, 0)
    assert "张伟（第二党支部）" in say(services, 2, "推荐 张伟（第二党支部）")
    assert "张伟（第一党支部）" in say(services, 3, "投票 1")
    counts, _ = store_votes.tally(services.store.db, vote_id)
    assert counts == {9: 1, 3: 1}


def test_opening_with_a_shared_name_asks_which(services, clock):
    with services.store.transaction() as db:
        members.add_member(db, name="张伟", branch="第二党支部", now=clock.now())
    with pytest.raises(votes.VoteError, match="有 2 位“张伟”.*请写明支部，如「张伟（第一党支部）」"):
        open_vote(services, audience={"all": True})
    assert services.store.db.execute("SELECT count(*) FROM votes").fetchone()[0] == 0


def test_free_nomination_of_anyone_in_the_audience(services, clock):
    vote_id = open_vote(services, candidates=(), choices=2)
    assert "请推荐第一党支部中的党员" in say(services, 2, "投票")
    assert say(services, 2, "推荐 3") == "这项评选是自由推荐，没有编号，请写名字，如「推荐 张伟」。"
    assert say(services, 2, "推荐 陈静").startswith("“陈静”不在「第四季度共产党员先锋岗」的推荐范围")
    assert "张伟（第一党支部）、刘芳（第一党支部）" in say(services, 2, "推荐 张伟、刘芳")
    assert "已投票" in say(services, 3, "推荐张伟")
    assert tally_of(services, vote_id) == {"张伟": 2, "刘芳": 1}


def test_several_open_votes_need_their_number(services):
    first = open_vote(services)
    second = open_vote(services, candidates=("陈静", "杨帆"), audience={"all": True})
    reply = say(services, 2, "投票 1")
    assert reply == (f"现在有 2 项评选：#{first}「第四季度共产党员先锋岗」、#{second}「第四季度共产党员先锋岗」。"
                     f"请写明是哪一项，如「投票 #{first} …」。")
    assert "陈静（第二党支部）" in say(services, 2, f"投票 #{second} 1")
    assert say(services, 2, "投票 #99 1").startswith("没有编号为 #99 的评选")
    assert say(services, 2, f"投票 #{second}").startswith(f"【推荐评选 #{second}】")
    assert "投票范围" in say(services, 6, f"投票 #{first}")  # 杨帆 is not in the first's
    assert table_counts(services) == (1, 1)


def test_my_vote_without_any(services):
    assert say(services, 2, "我的投票") == "你还没有参加过评选投票。"
    open_vote(services)
    assert "你还没有投票" in say(services, 2, "我的投票")
    assert "投票记录" not in say(services, 2, "投票记录")  # 「投票记录」 is 我的投票, not a vote


def test_an_unbound_sender_is_asked_to_bind(services):
    open_vote(services)
    reply = handle_inbound(services, Inbound("sandbox", "stranger", "text", "投票 1", "x1", NOW))
    assert "绑定" in reply.text
    assert table_counts(services) == (0, 0)


def test_the_menu_names_the_commands():
    assert all(word in menu() for word in ("「投票 3」", "「推荐 张伟」", "「我的投票」"))


# --- opening: bad input -----------------------------------------------------------------------


@pytest.mark.parametrize("change, message", [
    ({"title": " "}, "请填写评选名称"),
    ({"audience": {"branches": ["第九党支部"]}}, "投票范围内没有在册党员"),
    ({"audience": {"groups": ["没有这个组"]}}, "投票范围不对"),
    ({"candidates": ["张伟", "张伟"]}, "候选人重复：张伟"),
    ({"candidates": ["不存在"]}, "名册里没有“不存在”"),
    ({"candidates": ["#999"]}, "名册里没有编号为 999"),
    ({"choices": 0}, "每人可选人数须在 1 到 10 之间"),
    ({"choices": 3, "candidates": ["张伟", "刘芳"]}, "候选人只有 2 位，每人却可选 3 人"),
    ({"closes_at": NOW - timedelta(hours=1)}, "截止时间须晚于开始时间"),
    ({"opens_at": NOW - timedelta(hours=3), "closes_at": NOW - timedelta(hours=1)},
     "截止时间已经过去"),
])
def test_opening_refuses_bad_input(services, change, message):
    fields = {"title": "先锋岗", "audience": {"all": True}, "candidates": ["张伟"], "choices": 1,
              "opens_at": NOW, "closes_at": NOW + timedelta(days=1), "changeable": False}
    fields.update(change)
    with pytest.raises(votes.VoteError, match=message):
        votes.open_vote(services, votes.Opening(**fields), actor="test")
    assert services.store.db.execute("SELECT count(*) FROM votes").fetchone()[0] == 0


def test_a_secretary_opens_only_for_their_branch(services):
    with pytest.raises(votes.VoteError, match="支部书记只能在本支部"):
        open_vote(services, audience={"all": True}, scope="第一党支部")
    with pytest.raises(votes.VoteError, match="名册里没有“陈静”"):
        open_vote(services, candidates=("陈静",), scope="第一党支部")
    vote_id = open_vote(services, audience={"groups": ["财务处党小组"]}, scope="第一党支部",
                        candidates=("张伟", "刘芳"))
    assert store_votes.get(services.store.db, vote_id).branch == "第一党支部"
    with pytest.raises(votes.VoteError, match="没有编号"):
        votes.close_vote(services, vote_id, actor="test", scope="第二党支部")


# --- results ----------------------------------------------------------------------------------


def test_ties_are_ties(services, clock):
    vote_id = open_vote(services, changeable=True)
    say(services, 1, "投票 1")
    say(services, 2, "投票 2")
    say(services, 3, "投票 2")
    say(services, 4, "投票 1")
    votes.close_vote(services, vote_id, actor="test")
    vote = store_votes.get(services.store.db, vote_id)
    rows, ballots = votes.results(services.store.db, vote)
    assert ballots == 4
    assert [(r.rank, r.name, r.votes, r.tied) for r in rows] == [
        (1, "张伟", 2, True), (1, "李红梅", 2, True), (3, "刘芳", 0, True), (3, "王建国", 0, True)]
    text = votes.results_text(services.store.db, vote)
    assert "第 1 名（并列）：张伟（第一党支部）2 票" in text and "实投 4 票" in text


def test_results_announced_through_a_schedule(services, clock):
    vote_id = open_vote(services)
    say(services, 2, "投票 1")
    with pytest.raises(votes.VoteError, match="评选结束后才能公布结果"):
        votes.announce(services, vote_id, clock.now() + timedelta(hours=1), actor="test")
    votes.close_vote(services, vote_id, actor="test")
    schedule_id = votes.announce(services, vote_id, clock.now() + timedelta(hours=1),
                                 actor="test")
    row = services.store.db.execute("SELECT kind, audience, content FROM schedules WHERE id = ?",
                                    [schedule_id]).fetchone()
    assert row[0] == "once" and "第一党支部" in row[1] and "张伟（第一党支部）1 票" in row[2]
    with pytest.raises(votes.VoteError, match="今后不会发送"):
        votes.announce(services, vote_id, clock.now() - timedelta(hours=1), actor="test")


def test_remind_those_who_have_not_voted_once_a_day(services):
    vote_id = open_vote(services)
    say(services, 2, "投票 1")
    first = votes.remind(services, vote_id, actor="test")
    assert votes.remind(services, vote_id, actor="test") == first
    targeted = sorted(r[0] for r in services.store.db.execute(
        "SELECT member_id FROM deliveries WHERE broadcast_id = ?", [first]).fetchall())
    assert targeted == [1, 3, 4]
    for member_id in (1, 3, 4):
        say(services, member_id, "投票 2")
    with pytest.raises(votes.VoteError, match="都已投票"):
        votes.remind(services, vote_id, actor="test")
