"""Readings in the chat, through bot.conversation.handle_inbound as a bound sandbox member:
今日纪法, article lookup by source and number, 搜 X, questions that name a term."""

from __future__ import annotations

import itertools
import re

import pytest

from bot.clock import SettableClock
from bot.config import load_config
from bot.conversation import ERROR_REPLY, handle_inbound
from bot.library_sync import import_regulation, parse_file
from bot.messages import Inbound
from bot.seed import initialise
from bot.services import build_services
from bot.store import members
from tests.conftest import TEST_NOW
from tests.paths import REGULATIONS

USER = "sandbox-reader"
_keys = itertools.count()


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """The default library plus the 2023 纪律处分条例 and 2024 监察法 texts, imported for
    real, and a bound member. Lookups and searches write nothing but the reply log."""
    path = tmp_path_factory.mktemp("chat") / "qingfeng.db"
    built = build_services(load_config({"store": {"path": str(path)}}), SettableClock(TEST_NOW))
    initialise(built, demo=True)
    for name in ("中国共产党纪律处分条例_2023.md", "监察法(2024-12-25).md"):
        text = REGULATIONS / name
        import_regulation(built.store, text, parse_file(text), source=None, version=None,
                          actor="test", now=TEST_NOW)
    member = members.list_members(built.store.db)[0]
    with built.store.transaction() as db:
        members.bind_identity(db, channel="sandbox", external_id=USER, member_id=member.id,
                              now=TEST_NOW)
    yield built
    built.store.close()


def say(services, text: str, user: str = USER) -> str:
    inbound = Inbound("sandbox", user, "text", text, f"chat-{next(_keys)}", TEST_NOW)
    reply = handle_inbound(services, inbound).text
    assert reply != ERROR_REPLY.text, text
    return reply


def numbered(reply: str) -> list[tuple[str, str]]:
    """(short, article_no) of each numbered result line."""
    return re.findall(r"^\d+\. 《(.+?)》(第.+?[条项])　", reply, flags=re.MULTILINE)


# --- 今日纪法 --------------------------------------------------------------------------------


def test_today_and_its_synonyms_give_one_reading(services):
    first = say(services, "今日")
    assert first.startswith("【每日纪法】2026年11月23日\n《")
    assert re.search(r"（\d{4}年版）第.+?[条项]　", first)
    for word in ("今日纪法", "每日纪法", "  今日 ", "今日纪法"):
        assert say(services, word) == first


def test_an_unbound_user_is_asked_to_bind(services):
    assert "绑定" in say(services, "今日", user="stranger")


# --- article lookup ---------------------------------------------------------------------------


def test_article_by_full_source_name_and_chinese_numeral(services):
    reply = say(services, "纪律处分条例第八十八条")
    lines = reply.split("\n")
    assert lines[0] == "《中国共产党纪律处分条例》（2023年版）第八十八条　对违反组织纪律行为的处分"
    assert lines[1].startswith("有下列行为之一的，对直接责任者和领导责任者")
    assert "（四）其他侵犯党员权利行为，造成不良后果。" in reply


@pytest.mark.parametrize("text", ["第88条", "第八十八条", "第88条是什么", "查第八十八条",
                                  "《纪律处分条例》第88条", "纪律处分条例 第 88 条"])
def test_article_88_is_found_however_it_is_written(services, text):
    assert say(services, text) == say(services, "纪律处分条例第八十八条")


def test_a_number_several_sources_have_asks_which_one(services):
    reply = say(services, "第七条")
    assert reply.startswith("有几部法规都有这一条，请说明是哪一部")
    listed = re.findall(r"^· (\S+?)(第.+?[条项])　", reply, flags=re.MULTILINE)
    shorts = [short for short, _ in listed]
    assert len(shorts) == len(set(shorts))  # 纪律处分条例 once, though curated and imported
    assert set(shorts) == {"八项规定", "廉洁自律准则", "政务处分法", "纪律处分条例", "问责条例",
                           "监察法"}
    example = re.search(r"例如「(.+?)」", reply).group(1)
    assert example.endswith("第七条")  # something the lookup understands
    assert say(services, example).startswith("《")


def test_an_alias_finds_the_curated_reading(services):
    reply = say(services, "处分条例第九十八条")
    lines = reply.split("\n")
    assert lines[0] == "《中国共产党纪律处分条例》（2023年版）第九十八条　违规赠送礼品礼金"
    assert lines[-1] == "💡 送礼同样违纪，换成讲课费、咨询费的名目也一样。"


def test_an_imported_law_article(services):
    reply = say(services, "监察法第二十二条")
    assert reply.split("\n") == ["《中华人民共和国监察法》（2024年版）第二十二条　监察权限",
                                 "在调查过程中，监察机关可以询问证人等人员。"]


def test_an_article_the_source_does_not_have(services):
    assert say(services, "纪律处分条例第二百条") == (
        "《纪律处分条例》里没有找到第二百条。发送「搜 关键词」试试全文搜索。")
    assert say(services, "第500条") == "纪法条文库里没有找到第500条。发送「搜 关键词」试试全文搜索。"
    assert say(services, "第十七条之一") == (
        "纪法条文库里没有找到第十七条之一。发送「搜 关键词」试试全文搜索。")


def test_an_unknown_source(services):
    reply = say(services, "火星法第一条")
    assert reply.startswith("没有找到名为「火星法」的法规。可以试试：")
    offered = reply.split("可以试试：")[1].split("、")
    assert set(offered) == {"纪律处分条例", "监察法", "问责条例", "廉洁自律准则", "党章",
                            "政务处分法", "八项规定"}


def test_a_malformed_number_is_explained(services):
    assert say(services, "第十十条") == "没看懂这个条号，请写成「第八十八条」或「第88条」。"


# --- search -----------------------------------------------------------------------------------


def test_search_for_four_winds_gives_three_numbered_matches(services):
    reply = say(services, "搜 四风")
    lines = reply.split("\n")
    assert lines[0] == "找到与「四风」有关的条文："
    results = numbered(reply)
    assert len(results) == 3
    assert [line[:3] for line in lines if re.match(r"^\d\. ", line)] == ["1. ", "2. ", "3. "]
    assert lines[-1] == "发送法规名加条号（如「纪律处分条例第八十八条」）查看全文。"
    # Every match can be opened with the lookup it suggests, and does mention 四风.
    for short, article_no in results:
        if article_no.endswith("条"):
            full = say(services, f"{short}{article_no}")
            assert full.startswith("《") and article_no in full.split("\n")[0]


@pytest.mark.parametrize("text", ["搜 四风", "搜四风", "搜索 四风", "查一下 四风", "搜 《四风》",
                                  "搜 四风？"])
def test_search_command_forms(services, text):
    assert numbered(say(services, text)) == numbered(say(services, "搜 四风"))


def test_a_question_naming_a_term_is_answered_by_search(services):
    reply = say(services, "收了礼金会怎么处理？")
    assert reply.startswith("找到与「礼金」有关的条文：")
    assert set(numbered(reply)) == {("纪律处分条例", "第九十七条"), ("纪律处分条例", "第九十八条"),
                                    ("政务处分法", "第三十四条")}


def test_a_question_uses_its_longest_known_term(services):
    reply = say(services, "八项规定里对公车有什么要求")
    assert reply.startswith("找到与「八项规定」有关的条文：")


def test_search_with_no_match_and_nothing_nearby(services):
    assert say(services, "搜 火星") == "没有找到与「火星」有关的条文。换个说法，或用更短的词试试"


def test_search_with_no_match_suggests_a_nearby_term(services):
    reply = say(services, "搜 礼卡")
    assert reply.startswith("没有找到与「礼卡」有关的条文。可以试试：")
    offered = reply.split("可以试试：")[1].split("、")
    assert 1 <= len(offered) <= 3
    assert any("礼品" in term for term in offered)
    for term in offered:  # each suggestion does find something
        assert say(services, f"搜 {term}").startswith(f"找到与「{term}」有关的条文")


def test_a_longer_word_with_a_known_part_finds_that_part(services):
    # No reading says 礼品卡; the looser stage finds the 礼品 articles rather than nothing.
    reply = say(services, "搜 礼品卡")
    assert reply.startswith("找到与「礼品卡」有关的条文：")
    assert ("纪律处分条例", "第九十七条") in numbered(reply)
    assert "礼品" in reply.split("\n")[2]  # the snippet shows the part that matched


@pytest.mark.parametrize("query", ['a" OR "b', "NEAR(", "*", "(", "title:四风", "四风 NOT 礼金",
                                  "\"", "'", "🙂🙂"])
def test_odd_search_text_gets_an_answer_not_an_error(services, query):
    reply = say(services, f"搜 {query}")
    assert reply.startswith(("找到与", "没有找到与", "请在「搜」后面写上要查的词"))


def test_search_of_only_punctuation_explains_itself(services):
    assert say(services, "搜 ？？") == "请在「搜」后面写上要查的词，例如：搜 四风"
