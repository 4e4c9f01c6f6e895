"""学习任务 in chat, end to end through bot.conversation.handle_inbound (what the webhook calls)
and the simulator's JSON API: listing, 完成 N / 打卡 N / 撤销 N, questions in members' words,
audiences, bad numbers, and the clock moved to test "same day only".

The real content/: November 2026 has five tasks; number 5 is 第一党支部's only.
TEST_NOW is Monday 2026-11-23 09:00 in Shanghai.
"""

from __future__ import annotations

import itertools
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import SHANGHAI
from bot.conversation import handle_inbound
from bot.messages import Inbound
from bot.services import Services
from bot.store import members
from bot.store import tasks as store_tasks
from handlers.bind import HOW_TO_BIND

WANG, CHEN = 1, 5        # 第一党支部 / 第二党支部 (bot.seed.DEMO_ROSTER)
WANG_USER, CHEN_USER = "sb-wang", "sb-chen"
_keys = itertools.count(1)
PHRASINGS = tomllib.loads((Path(__file__).parent / "data" / "task_phrasings.toml")
                          .read_text(encoding="utf-8"))["phrase"]
# Lines only the task handler writes: a message that is not about tasks must show none of them.
TASK_MARKERS = ("学习任务（已完成", "你的任务里没有", "请告诉我是第几项", "项任务未完成",
                "未完成任务的截止时间", "任务的学习材料", "没有给你安排学习任务")


@pytest.fixture(autouse=True)
def bound(services: Services, clock) -> None:
    with services.store.transaction() as db:
        members.bind_identity(db, channel="sandbox", external_id=WANG_USER, member_id=WANG,
                              now=clock.now())
        members.bind_identity(db, channel="sandbox", external_id=CHEN_USER, member_id=CHEN,
                              now=clock.now())


@pytest.fixture
def say(services: Services, clock):
    def send(text: str, user: str = WANG_USER) -> str:
        inbound = Inbound(channel="sandbox", user=user, kind="text", text=text,
                          dedupe_key=f"task-msg-{next(_keys)}", at=clock.now())
        return handle_inbound(services, inbound).text
    return send


def done_rows(services: Services) -> list[tuple[int, int, str]]:
    return [tuple(row) for row in services.store.db.execute(
        "SELECT t.position, d.member_id, d.day FROM task_done d JOIN tasks t ON t.id = d.task_id"
        " ORDER BY t.position, d.member_id")]


# --- the list -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["任务", "本月任务", "学习任务", "这个月要学什么", "本月学习安排",
                                  "查看任务", "学习 任务"])
def test_the_months_list_with_due_dates_and_days_left(say, text):
    reply = say(text)
    assert reply.splitlines()[0] == "2026年11月学习任务（已完成 0/5）："
    assert "1. ✗ 学习《纪律处分条例》第六章（11月20日截止，已逾期 3 天）" in reply
    assert "2. ✗ 11月主题党日：重温入党誓词（11月25日截止，还剩 2 天）" in reply
    assert "4. ✗ 观看警示教育片并交流观后感（11月30日截止，还剩 7 天）" in reply
    assert "5. ✗ 第一党支部：查找岗位廉政风险点（选学）（11月30日截止，还剩 7 天）" in reply
    assert "完成 2" in reply  # how to report it


def test_a_member_outside_a_tasks_audience_does_not_see_it_or_complete_it(services, say):
    listed = say("任务", user=CHEN_USER)
    assert "（已完成 0/4）" in listed and "第一党支部：查找岗位廉政风险点" not in listed
    assert say("完成 5", user=CHEN_USER) == (
        "2026年11月你的任务里没有第5项。发送「任务」查看本月任务和序号。")
    assert "没有第5项" in say("第五项在哪里看", user=CHEN_USER)
    assert done_rows(services) == []
    assert say("完成 5").startswith("已记录：第5项")  # the branch's own member can


def test_the_list_shows_done_and_counts(say):
    say("完成 2")
    reply = say("任务")
    assert "（已完成 1/5）" in reply
    assert "2. ✓ 11月主题党日：重温入党誓词（11月25日截止）" in reply  # no countdown once done


def test_days_left_count_shanghai_days(say, clock):
    clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=SHANGHAI))
    assert "11月25日截止，还剩 1 天" in say("任务")
    # 16:30 UTC on the 24th is already the 25th in Shanghai: the due day itself.
    clock.set(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))
    assert "11月25日截止，今天截止" in say("任务")


# --- completing -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["完成 2", "完成2", "打卡 2", "完成第二项", "完成２", "打卡第二项",
                                  "第二项完成了", "玩成 2", "  完成　２ "])
def test_every_form_marks_task_two_done(services, say, text):
    reply = say(text)
    assert reply.startswith("已记录：第2项「11月主题党日：重温入党誓词」完成 ✓"), reply
    assert "本月还有 4 项未完成" in reply and "撤销 2" in reply
    assert done_rows(services) == [(2, WANG, "2026-11-23")]


def test_completing_twice_says_so_and_changes_nothing(services, say, clock):
    say("完成 2")
    stored = list(services.store.db.query("SELECT * FROM task_done"))
    clock.advance(days=1)
    assert say("打卡 2") == "第2项「11月主题党日：重温入党誓词」已于11月23日记录完成，无需重复。"
    assert list(services.store.db.query("SELECT * FROM task_done")) == stored


def test_several_at_once(services, say):
    reply = say("完成 1、3")
    assert "第1项" in reply and "第3项" in reply
    assert done_rows(services) == [(1, WANG, "2026-11-23"), (3, WANG, "2026-11-23")]


def test_a_late_completion_is_recorded_and_said_to_be_late(services, say):
    assert "已过11月20日的截止时间" in say("完成 1")
    assert done_rows(services) == [(1, WANG, "2026-11-23")]


def test_the_last_one_says_all_done(say):
    say("完成 1、2、3、4")
    assert "本月任务已全部完成" in say("完成 5")
    assert "5 项任务你都已完成" in say("我还有哪些没完成")


@pytest.mark.parametrize("text, answer", [
    ("完成 99", "2026年11月你的任务里没有第99项。发送「任务」查看本月任务和序号。"),
    ("完成 0", "2026年11月你的任务里没有第0项。发送「任务」查看本月任务和序号。"),
    ("打卡 6", "2026年11月你的任务里没有第6项。发送「任务」查看本月任务和序号。"),
    ("完成", "请告诉我是第几项，例如「完成 2」。发送「任务」查看本月任务和序号。"),
    ("完成 十十十", "请告诉我是第几项，例如「完成 2」。发送「任务」查看本月任务和序号。"),
    ("撤销", "请告诉我是第几项，例如「撤销 2」。发送「任务」查看本月任务和序号。"),
    ("撤销 3", "第3项「参加支部党员大会」还没有记录完成，无需撤销。"),
    ("撤销 99", "2026年11月你的任务里没有第99项。发送「任务」查看本月任务和序号。"),
])
def test_bad_numbers_get_a_clear_answer_and_write_nothing(services, say, text, answer):
    assert say(text) == answer
    assert done_rows(services) == []


def test_a_removed_task_cannot_be_completed(services, say, clock):
    with services.store.transaction() as db:
        task = store_tasks.add_task(db, month="2026-11", title="补充学习", due="2026-11-30",
                                    now=clock.now())
        store_tasks.remove_task(db, task.id, now=clock.now())
    assert "没有第6项" in say("完成 6")
    assert "补充学习" not in say("任务")
    assert done_rows(services) == []


def test_plain_check_in_is_still_the_daily_check_in(services, say):
    assert say("打卡").startswith("打卡成功！王建国")
    assert say("打卡 学习了第三章").startswith("今天已打卡")
    assert done_rows(services) == []
    assert services.store.db.execute("SELECT count(*) FROM checkins").fetchone()[0] == 1


# --- undo -----------------------------------------------------------------------------------


def test_undo_on_the_same_day(services, say, clock):
    say("完成 2")
    clock.advance(hours=14)  # 23:00, still the 23rd
    assert say("撤销 2") == "已撤销第2项「11月主题党日：重温入党誓词」的完成记录。"
    assert done_rows(services) == []
    assert "（已完成 0/5）" in say("任务")
    assert say("完成 2").startswith("已记录")  # and it can be marked again


@pytest.mark.parametrize("text", ["撤销 2", "撤消第二项", "取消完成 2", "撤销２"])
def test_undo_forms_the_next_day_are_refused(services, say, clock, text):
    say("完成 2")
    clock.advance(hours=15, minutes=1)  # 00:01 on the 24th
    assert say(text) == ("第2项「11月主题党日：重温入党誓词」是11月23日记录完成的，只能在完成当天撤销；"
                         "如需更正，请联系党务干部。")
    assert done_rows(services) == [(2, WANG, "2026-11-23")]


# --- questions ------------------------------------------------------------------------------


def test_where_to_read_gives_readings_with_source_and_article(say):
    reply = say("第一项在哪里看")
    assert reply.startswith("第1项：学习《纪律处分条例》第六章\n学习材料：")
    assert "· 《纪律处分条例》第五十八条　对党忠诚老实不搞两面（发送「纪律处分条例第五十八条」看原文）" in reply
    assert "《纪律处分条例》第六十一条" in reply and "《纪律处分条例》第七十条" in reply


def test_where_to_read_gives_the_link_or_the_requirement(say):
    assert "· 链接：https://www.ccdi.gov.cn/" in say("第4项在那里看")
    assert "没有指定材料。任务要求：以党小组为单位重温入党誓词" in say("第二项的学习材料")


def test_the_article_a_task_points_to_can_be_opened(say):
    assert "第五十八条" in say("纪律处分条例第五十八条")


def test_what_is_left_and_when_it_is_due(say):
    say("完成 2、3")
    left = say("我还有哪些没完成")
    assert left.startswith("2026年11月你还有 3 项任务未完成：")
    assert "1. ✗" in left and "4. ✗" in left and "5. ✗" in left and "2. " not in left
    due = say("还有几天截止")
    assert due.splitlines() == [
        "2026年11月未完成任务的截止时间：",
        "1. 学习《纪律处分条例》第六章：11月20日截止，已逾期 3 天",
        "4. 观看警示教育片并交流观后感：11月30日截止，还剩 7 天",
        "5. 第一党支部：查找岗位廉政风险点：11月30日截止，还剩 7 天",
    ]
    assert say("第二项什么时候截止") == "第2项：11月主题党日：重温入党誓词\n11月25日截止，你已完成。"
    assert say("第四项什么时候截止") == "第4项：观看警示教育片并交流观后感\n11月30日截止，还剩 7 天。"


def test_one_task_in_detail(say):
    reply = say("第三项是什么")
    assert reply.startswith("第3项：参加支部党员大会\n类型：三会一课；必学；11月27日截止；未完成")
    assert "支部党员大会传达学习上级会议精神" in reply


def test_another_month(services, say, clock):
    # 李红梅 is in 综合处党小组, which has a December task of its own.
    assert say("十二月的任务").startswith("2026年12月学习任务（已完成 0/5）：")
    assert say("下个月有什么任务").startswith("2026年12月学习任务")
    assert say("上个月的任务") == "2026年10月没有给你安排学习任务。"
    with services.store.transaction() as db:
        october = store_tasks.add_task(db, month="2026-10", title="学习党章总纲", due="2026-10-31",
                                       now=clock.now())
        store_tasks.mark_done(db, october, WANG, at=clock.now(), day=clock.today(), via="sandbox")
    reply = say("上个月的任务")
    assert reply.splitlines() == ["2026年10月学习任务（已完成 1/1）：",
                                  "1. ✓ 学习党章总纲（10月31日截止）"]
    # 完成 N is this month's number, whatever month was asked about before.
    assert say("完成 1").startswith("已记录：第1项「学习《纪律处分条例》第六章」")


def test_questions_that_are_not_about_tasks_reach_search_or_help(say):
    assert say("什么是四风").startswith("找到与「四风」有关的条文")
    assert say("今天天气怎么样").startswith("抱歉，没有听懂")


@pytest.mark.parametrize("text", [p["text"] for p in PHRASINGS if p["kind"] == "none"])
def test_no_negative_phrasing_gets_a_task_answer(say, text):
    reply = say(text)
    assert not any(marker in reply for marker in TASK_MARKERS), reply


def test_an_unbound_sender_is_asked_to_bind(services, say):
    assert say("任务", user="stranger") == HOW_TO_BIND
    assert say("完成 2", user="stranger") == HOW_TO_BIND
    assert services.store.db.execute("SELECT count(*) FROM task_done").fetchone()[0] == 0


# --- through the simulator's HTTP API -------------------------------------------------------


def test_the_simulator_completes_and_lists(client, services):
    def send(text: str) -> str:
        response = client.post("/sim/api/send", json={"user": f"m{CHEN}", "text": text})
        assert response.status_code == 200
        return response.get_json()["reply"]

    assert send("完成２").startswith("已记录：第2项")
    assert "2. ✓ 11月主题党日" in send("本月任务")
    assert send("撤销 2").startswith("已撤销")
    assert "没有第5项" in send("完成第五项")
    assert done_rows(services) == []
