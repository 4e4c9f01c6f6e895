"""The simulator's JSON API refuses bad input with a 400 and a Chinese message, storing nothing;
and the simulator does not exist at all unless [sandbox] is enabled."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from bot import create_app
from bot.services import Services
from bot.simulator import MAX_TEXT
from bot.store import members
from tests.conftest import MP_TEST

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def table_counts(services: Services) -> dict[str, int]:
    db = services.store.db
    names = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def assert_refused(response, services: Services, before: dict[str, int]) -> str:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert CHINESE.search(error), error
    assert table_counts(services) == before
    return error


def member_user(services: Services) -> str:
    return f"m{members.list_members(services.store.db)[0].id}"


def test_a_good_message_is_answered_and_stored(client: FlaskClient, services: Services) -> None:
    """The control for the refusals below: the same request, well formed, does store."""
    before = table_counts(services)
    response = client.post("/sim/api/send", json={"user": member_user(services), "text": "打卡"})
    assert response.status_code == 200
    assert "打卡成功" in response.get_json()["reply"]
    after = table_counts(services)
    assert after["checkins"] == before["checkins"] + 1
    assert after["identities"] == before["identities"] + 1


@pytest.mark.parametrize("data, content_type", [
    (None, None),
    ("打卡", "text/plain"),
    ("user=m1&text=打卡", "application/x-www-form-urlencoded"),
    ("{not json", "application/json"),
    ('["m1", "打卡"]', "application/json"),
    ('"打卡"', "application/json"),
    ("null", "application/json"),
], ids=["empty", "text", "form", "broken-json", "json-array", "json-string", "json-null"])
def test_send_needs_a_json_object(client: FlaskClient, services: Services, data, content_type
                                  ) -> None:
    before = table_counts(services)
    response = client.post("/sim/api/send", data=data, content_type=content_type)
    assert_refused(response, services, before)


@pytest.mark.parametrize("user", [
    None, "", "x1", "m", "v", "m1; drop", "m1 ", " m1", "M1", "m-1", "m1.5", "mabc", "m²", "m١",
    "m１", "v访客", "m" + "1" * 99, "v" + "a" * 99, 1, ["m1"], {"id": "m1"},
], ids=repr)
def test_send_refuses_a_missing_or_malformed_user(client: FlaskClient, services: Services,
                                                  user) -> None:
    before = table_counts(services)
    body = {"text": "打卡"} if user is None else {"user": user, "text": "打卡"}
    assert_refused(client.post("/sim/api/send", json=body), services, before)


@pytest.mark.parametrize("user", ["m9999", "m0", "m999999999"])
def test_send_refuses_an_unknown_member(client: FlaskClient, services: Services, user) -> None:
    before = table_counts(services)
    error = assert_refused(client.post("/sim/api/send", json={"user": user, "text": "打卡"}),
                           services, before)
    assert "成员" in error


def test_send_refuses_a_member_who_has_left(client: FlaskClient, services: Services) -> None:
    member = members.list_members(services.store.db)[-1]
    with services.store.transaction() as db:
        members.deactivate(db, member.id)
    before = table_counts(services)
    response = client.post("/sim/api/send", json={"user": f"m{member.id}", "text": "打卡"})
    assert_refused(response, services, before)


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", None, 42, ["打卡"]],
                         ids=["empty", "spaces", "whitespace", "null", "number", "list"])
def test_send_refuses_empty_or_non_text(client: FlaskClient, services: Services, text) -> None:
    before = table_counts(services)
    response = client.post("/sim/api/send", json={"user": member_user(services), "text": text})
    assert_refused(response, services, before)


def test_send_refuses_text_over_the_limit(client: FlaskClient, services: Services) -> None:
    user = member_user(services)
    before = table_counts(services)
    response = client.post("/sim/api/send", json={"user": user, "text": "学" * (MAX_TEXT + 1)})
    assert "太长" in assert_refused(response, services, before)
    # Exactly at the limit (and surrounding spaces do not count) is fine.
    response = client.post("/sim/api/send", json={"user": user, "text": f" {'学' * MAX_TEXT} "})
    assert response.status_code == 200


@pytest.mark.parametrize("kind", ["image", "event", "unsubscribe", "", None, 1, ["text"]])
def test_send_refuses_an_unknown_kind(client: FlaskClient, services: Services, kind) -> None:
    before = table_counts(services)
    response = client.post("/sim/api/send",
                           json={"user": member_user(services), "text": "打卡", "kind": kind})
    assert_refused(response, services, before)


@pytest.mark.parametrize("query", [
    "", "after=0", "user=&after=0", "user=x1", "user=m1%3B+drop", "user=mabc", "user=m%C2%B2",
    "user=" + "m" + "1" * 99,
    "user=m1&after=-1", "user=m1&after=abc", "user=m1&after=1.5", "user=m1&after=",
    "user=m1&after=%C2%B2", "user=m1&after=%D9%A1", "user=m1&after=" + "9" * 19,
    "user=m1&after=" + "9" * 5000,
])
def test_inbox_refuses_bad_parameters(client: FlaskClient, services: Services, query) -> None:
    before = table_counts(services)
    assert_refused(client.get(f"/sim/api/inbox?{query}"), services, before)


def test_inbox_answers_good_parameters(client: FlaskClient) -> None:
    for query in ("user=m1", "user=m1&after=0", "user=v0a1b2c3d&after=" + "9" * 18):
        response = client.get(f"/sim/api/inbox?{query}")
        assert response.status_code == 200
        assert response.get_json() == {"messages": []}


def test_no_simulator_when_the_sandbox_is_off(make_services) -> None:
    services = make_services(sandbox={"enabled": False}, mp=MP_TEST)  # some channel is on
    client = create_app(services=services).test_client()
    before = table_counts(services)
    assert client.get("/sim").status_code == 404
    assert client.post("/sim/api/visitor", json={}).status_code == 404
    assert client.post("/sim/api/send", json={"user": "m1", "text": "打卡"}).status_code == 404
    assert client.get("/sim/api/inbox?user=m1").status_code == 404
    assert table_counts(services) == before
