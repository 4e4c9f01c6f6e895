"""The console's meeting form: a study task as material (this month's and later tasks for the
branch or for everyone, checked again by the store as on the CLI path), shown on the meeting
page; and a list of members as the audience (the branch's active members, at least one)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.clock import SHANGHAI
from bot.store import meetings as store
from bot.store import members as store_members
from bot.store import tasks as store_tasks
from tests.console_helpers import logged_in, text
from tests.test_console_meetings import all_meetings, form


@pytest.fixture
def secretary(services, client):
    return logged_in(services, client, "shuji1", role="secretary", branch="第一党支部")


def task(services, title: str, audience: dict | None = None, month: str = "2026-11"):
    with services.store.transaction() as db:
        return store_tasks.add_task(db, month=month, title=title, due=f"{month}-28",
                                    now=services.clock.now(), audience=audience)


def options(page: str) -> str:
    return page.split('id="meeting-task"', 1)[1].split("</select>", 1)[0]


def test_the_select_offers_the_branch_and_everyone_tasks_only(services, secretary) -> None:
    everyone = task(services, "学习二十届三中全会精神")
    mine = task(services, "一支部学党章", {"branches": ["第一党支部"]})
    other = task(services, "二支部学党章", {"branches": ["第二党支部"]})
    older = task(services, "十月的任务", month="2026-10")
    page = secretary.get("/admin/meetings/new").get_data(as_text=True)
    offered = options(page)
    assert f'value="{everyone.id}"' in offered and f'value="{mine.id}"' in offered
    assert f"2026-11 第{mine.position}项「一支部学党章」" in offered
    assert f'value="{other.id}"' not in offered and f'value="{older.id}"' not in offered


def test_a_chosen_task_is_kept_and_shown_on_the_meeting_page(services, secretary) -> None:
    mine = task(services, "一支部学党章", {"branches": ["第一党支部"]})
    response = secretary.post("/admin/meetings/new", data=form(secretary, task=str(mine.id)))
    assert response.status_code == 302
    [meeting] = all_meetings(services)
    assert meeting.materials["task"] == mine.id
    page = text(secretary.get(f"/admin/meetings/{meeting.id}"))
    assert f"学习任务：2026-11 第{mine.position}项「一支部学党章」" in page
    edit = secretary.get(f"/admin/meetings/{meeting.id}/edit").get_data(as_text=True)
    assert f'<option value="{mine.id}" selected>' in options(edit)
    fields = form(secretary, task="")
    assert secretary.post(f"/admin/meetings/{meeting.id}/edit", data=fields).status_code == 302
    assert "task" not in store.get(services.store.db, meeting.id).materials


@pytest.mark.parametrize(("pick", "message"), [
    ("other", "不是面向第一党支部或全体党员的任务"),
    ("removed", "没有编号为"),
    ("99999", "没有编号为 99999 的学习任务"),
    ("abc", "学习任务编号应是数字"),
])
def test_a_bad_task_is_refused_as_on_the_cli(services, secretary, pick, message) -> None:
    other = task(services, "二支部学党章", {"branches": ["第二党支部"]})
    gone = task(services, "删掉的任务")
    with services.store.transaction() as db:
        store_tasks.remove_task(db, gone.id, now=services.clock.now())
    value = {"other": str(other.id), "removed": str(gone.id)}.get(pick, pick)
    response = secretary.post("/admin/meetings/new", data=form(secretary, task=value))
    assert response.status_code == 200 and message in text(response)
    assert all_meetings(services) == []


def test_the_cli_refuses_another_branchs_task_too(services) -> None:
    other = task(services, "二支部学党章", {"branches": ["第二党支部"]})
    with (pytest.raises(store.MeetingError, match="不是面向第一党支部或全体党员的任务"),
          services.store.transaction() as db):
        store.add(db, branch="第一党支部", kind="党课", title="学习党章", place="三楼",
                  start=datetime(2026, 11, 26, 14, 30, tzinfo=SHANGHAI),
                  end=datetime(2026, 11, 26, 16, tzinfo=SHANGHAI), now=services.clock.now(),
                  materials={"task": other.id})
    assert all_meetings(services) == []


def members_of(services, branch: str) -> dict[str, int]:
    return {m.name: m.id for m in store_members.list_members(services.store.db, active_only=True)
            if m.branch == branch}


def listed(client, ids: list, **fields) -> dict:
    return {**form(client, audience="members", **fields), "members": [str(i) for i in ids]}


def test_a_member_list_is_the_audience_and_the_edit_form_keeps_it(services, secretary) -> None:
    mine = members_of(services, "第一党支部")
    page = secretary.get("/admin/meetings/new").get_data(as_text=True)
    boxes = page.split('id="meeting-members"', 1)[1].split("</fieldset>", 1)[0]
    assert all(f'value="{i}"' in boxes for i in mine.values())
    assert not any(f'value="{i}"' in boxes for i in members_of(services, "第二党支部").values())
    two = sorted(mine.values())[:2]
    response = secretary.post("/admin/meetings/new", data=listed(secretary, two))
    assert response.status_code == 302
    [meeting] = all_meetings(services)
    assert meeting.audience == {"members": two}
    assert "2 名指定党员" in text(secretary.get(f"/admin/meetings/{meeting.id}"))
    edit = secretary.get(f"/admin/meetings/{meeting.id}/edit").get_data(as_text=True)
    assert '<option value="members" selected>' in edit
    assert all(f'value="{i}" checked' in edit for i in two)
    assert f'value="{sorted(mine.values())[2]}" checked' not in edit


def test_a_notice_goes_to_the_listed_members_only(services, secretary) -> None:
    mine = members_of(services, "第一党支部")
    one = sorted(mine.values())[0]
    assert secretary.post("/admin/meetings/new", data=listed(secretary, [one])).status_code == 302
    [meeting] = all_meetings(services)
    told = services.store.db.execute(
        "SELECT count(*) FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
        " WHERE b.key = ?", [f"meeting:{meeting.id}:notice"]).fetchone()[0]
    assert told == 1


@pytest.mark.parametrize(("pick", "message"), [
    ("none", "请至少勾选一名党员"),
    ("stranger", "不是第一党支部的在册党员"),
    ("99999", "党员编号 99999 不是第一党支部的在册党员"),
    ("abc", "党员编号应是数字，而不是「abc」"),
])
def test_a_bad_member_list_is_refused_and_writes_nothing(services, secretary, pick,
                                                         message) -> None:
    stranger = sorted(members_of(services, "第二党支部").values())[0]
    ids = {"none": [], "stranger": [stranger]}.get(pick, [pick])
    response = secretary.post("/admin/meetings/new", data=listed(secretary, ids))
    assert response.status_code == 200 and message in text(response)
    assert '<option value="members" selected>' in response.get_data(as_text=True)
    assert all_meetings(services) == []
