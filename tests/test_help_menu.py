"""帮助 lists every command a member can send, from the handler registry, and every example it
shows works: sent through /sim as written, each reaches the very command whose line shows it
(never the fallback, a guess, or the "please bind first" answer), and every text command a
member can reach has a line. Admins also see the admin commands."""

from __future__ import annotations

import re

import pytest

from bot.messages import Inbound
from bot.store import members
from handlers.bind import HOW_TO_BIND
from handlers.help import MENU_TITLE, menu
from handlers.router import HelpLine, Router, router
from tests.conftest import TEST_NOW

EXAMPLE = re.compile(r"「([^」]+)」")
# Answers to a preview: they only make sense after 「定时 ...」, whose line says so.
FOLLOW_UPS = {"confirm", "discard"}
PHONE_LINE = 34  # characters: about two lines of a chat bubble on a 390 px phone


def examples(line: HelpLine) -> list[str]:
    return EXAMPLE.findall(line.text)


def route_name(text: str) -> str:
    inbound = Inbound(channel="sandbox", user="x", kind="text", text=text, dedupe_key="k",
                      at=TEST_NOW)
    route, _match = router.route_for(inbound)
    return route.name


def owners() -> dict[HelpLine, set[str]]:
    """Each line and the commands that list it (a feature's commands may share one line)."""
    found: dict[HelpLine, set[str]] = {}
    for r in router.text_routes:
        if r.help is not None:
            found.setdefault(r.help, set()).add(r.name)
    return found


def sim_user(services, name: str) -> str:
    member = next(m for m in members.list_members(services.store.db) if m.name == name)
    return f"m{member.id}"


def test_every_member_text_command_has_a_line_and_admin_commands_are_for_admins():
    missing = [r.name for r in router.text_routes if not r.admin_only and r.help is None]
    assert missing == [], f"member commands missing from 帮助: {missing}"
    shown_to_members = menu()
    for route in router.text_routes:
        if route.admin_only and route.help is not None:
            assert route.help.render() not in shown_to_members
            assert route.help.render() in menu(admin=True)
    # Every admin command is shown to admins, or is the answer to one that is.
    admin_examples = {route_name(e) for line in router.help_lines(admin=True)
                      for e in examples(line)}
    unlisted = {r.name for r in router.text_routes if r.admin_only} - admin_examples - FOLLOW_UPS
    assert unlisted == set()


def test_the_features_the_issue_named_are_listed():
    text = menu()
    for feature in ("打卡", "我的", "今日纪法", "搜 ", "查 ", "第九十八条", "答题", "任务", "绑定", "帮助"):
        assert feature in text, feature


@pytest.mark.parametrize("line", router.help_lines(admin=True), ids=lambda line: line.label)
def test_each_example_reaches_the_command_that_lists_it(line):
    found = examples(line)
    assert found, f"the line 「{line.label}」 shows no message to send"
    listed_by = owners()[line]
    for text in found:
        reached = route_name(text)
        # 「取消定时 1」 is on the 定时列表 line.
        assert reached in listed_by or reached in FOLLOW_UPS \
            or ("list_schedules" in listed_by and reached == "cancel_schedule"), \
            (text, reached, listed_by)
    # A shared line shows an example for each command that lists it.
    assert listed_by <= {route_name(text) for text in found}


def test_every_example_answers_through_the_simulator(client, services):
    """As a member and as an admin on a fresh init (demo data): each example gets a real
    answer, not 没听懂, not an error, not 「请先绑定」."""
    for name, admin in (("李红梅", False), ("陈静", True)):
        user = sim_user(services, name)
        for line in router.help_lines(admin=admin):
            for text in examples(line):
                response = client.post("/sim/api/send", json={"user": user, "text": text})
                assert response.status_code == 200, (text, response.get_data(as_text=True))
                reply = response.get_json()["reply"]
                assert reply and "没有听懂" not in reply and "出错" not in reply, (text, reply)
                assert HOW_TO_BIND not in reply, (text, reply)


def test_help_over_the_simulator_is_the_registry_menu(client, services):
    member = client.post("/sim/api/send", json={"user": sim_user(services, "李红梅"),
                                                "text": "帮助"}).get_json()["reply"]
    admin = client.post("/sim/api/send", json={"user": sim_user(services, "陈静"),
                                               "text": "帮助"}).get_json()["reply"]
    assert member == menu() and member.startswith(MENU_TITLE)
    assert admin == menu(admin=True) and "定时列表" in admin and "定时列表" not in member


def test_the_menu_fits_a_phone():
    for line in menu(admin=True).splitlines():
        assert len(line) <= PHONE_LINE, line
    assert len(menu().splitlines()) <= 12


def test_a_new_command_is_one_argument_away_from_the_menu():
    registry = Router()

    @registry.text("签到", help=HelpLine(15, "签到", "「签到」"))
    def sign(inbound, ctx):  # pragma: no cover (never called)
        raise AssertionError

    @registry.text("我的", help=HelpLine(5, "进度", "「我的」"))
    def mine(inbound, ctx):  # pragma: no cover
        raise AssertionError

    @registry.text("定时", admin_only=True, help=HelpLine(1, "定时", "「定时」"))
    def timed(inbound, ctx):  # pragma: no cover
        raise AssertionError

    assert menu(registry=registry).splitlines()[1:] == ["· 进度：「我的」", "· 签到：「签到」"]
    assert menu(registry=registry, admin=True).splitlines()[1] == "· 定时：「定时」"
