"""handlers.task_intents: every phrasing in tests/data/task_phrasings.toml gets its intent, and
months named without a year resolve to the nearest one."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.messages import normalise
from handlers.task_intents import KINDS, Intent, parse, resolve_month
from handlers.tasks import COMMAND, LIST_WORDS

PHRASINGS = Path(__file__).parent / "data" / "task_phrasings.toml"
ENTRIES = tomllib.loads(PHRASINGS.read_text(encoding="utf-8"))["phrase"]


def expected(entry: dict) -> Intent | None:
    if entry["kind"] == "none":
        return None
    return Intent(entry["kind"], tuple(entry.get("positions", ())), entry.get("offset"),
                  entry.get("month"), entry.get("year"))


def test_the_data_file_is_big_and_covers_every_kind():
    assert len(ENTRIES) >= 60
    kinds = {e["kind"] for e in ENTRIES}
    assert kinds == {*KINDS, "none"}
    assert sum(e["kind"] == "none" for e in ENTRIES) >= 15
    texts = [e["text"] for e in ENTRIES]
    assert len(texts) == len(set(texts)), "a phrasing is listed twice"
    # The forms the issue names must be among them.
    for must in ("完成第二项", "完成２", "第十二项具体要求", "上个月的任务", "十二月的任务",
                 "还有几天截止", "第二项在哪里看", "我还有哪些没完成", "这个月要学什么"):
        assert must in texts


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["text"] for e in ENTRIES])
def test_phrasing(entry):
    assert parse(entry["text"]) == expected(entry)


@pytest.mark.parametrize("text", ["", "   ", "？？", "第", "项", "月"])
def test_empty_and_stray_text_is_not_a_task_intent(text):
    assert parse(text) is None


def test_a_number_that_is_not_one_still_asks_for_the_number():
    # "完成 十十十" is a completion without a readable number: the bot asks which task.
    assert parse("完成 十十十") == Intent("done")


@pytest.mark.parametrize("intent, today, month", [
    (Intent("list"), date(2026, 11, 23), "2026-11"),
    (Intent("list", offset=0), date(2026, 11, 23), "2026-11"),
    (Intent("list", offset=-1), date(2026, 11, 23), "2026-10"),
    (Intent("list", offset=1), date(2026, 12, 5), "2027-01"),
    (Intent("list", offset=-2), date(2027, 1, 5), "2026-11"),
    (Intent("list", month=12), date(2026, 11, 23), "2026-12"),
    (Intent("list", month=1), date(2026, 11, 23), "2027-01"),    # nearest January is next
    (Intent("list", month=10), date(2026, 11, 23), "2026-10"),
    (Intent("list", month=12), date(2027, 1, 10), "2026-12"),    # last December
    (Intent("list", month=5), date(2026, 11, 23), "2027-05"),    # six months either way: ahead
    (Intent("list", month=12, year=2025), date(2026, 11, 23), "2025-12"),
])
def test_resolve_month(intent, today, month):
    assert resolve_month(intent, today) == month


@pytest.mark.parametrize("word", LIST_WORDS)
def test_every_list_word_of_the_text_route_is_a_list_intent(word):
    assert parse(word).kind == "list"


@pytest.mark.parametrize("text", ["完成 2", "打卡 2", "撤销 2", "撤消 2", "完成第二项", "打卡：3",
                                  "完成 1、3", "完成 第 2 项 和 第 3 项", "撤销第十二项"])
def test_what_the_command_route_matches_parse_reads_as_a_command(text):
    # The route's handler relies on it (handlers/tasks.task_command).
    assert re.fullmatch(COMMAND, text)
    assert parse(text).kind in ("done", "undo") and parse(text).positions


SPACE = st.sampled_from(["", " ", "  ", "\u3000", "\t"])
NUMBER = st.text(alphabet="0123456789零〇一二两三四五六七八九十", min_size=1, max_size=3)
ITEM = st.tuples(SPACE, st.sampled_from(["", "第"]), SPACE, NUMBER, SPACE,
                 st.sampled_from(["", "项"])).map("".join)
# What COMMAND matches, built from its parts (hypothesis' from_regex is too slow on it).
COMMANDS = st.tuples(
    st.sampled_from(["完成", "打卡", "撤销", "撤消"]), SPACE, st.sampled_from(["", ":", "："]),
    ITEM, st.lists(st.tuples(SPACE, st.sampled_from(["", "、", ",", "，", "和", "及"]), SPACE,
                             ITEM).map("".join), max_size=3).map("".join),
).map("".join)


@settings(max_examples=150, deadline=None)
@given(COMMANDS)
def test_anything_the_command_route_matches_is_a_command(text):
    assert re.fullmatch(COMMAND, normalise(text)), text  # the strategy stays true to the route
    intent = parse(text)
    assert intent is not None and intent.kind in ("done", "undo")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("完成打卡撤销第项任务月上下本这个几天截止哪里看没 0123456789２一二十两、，? "),
               max_size=20) | st.text(max_size=30))
def test_parse_never_raises_and_months_resolve(text):
    intent = parse(text)
    if intent is not None:
        assert intent.kind in KINDS
        month = resolve_month(intent, date(2026, 11, 23))
        assert re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month)
