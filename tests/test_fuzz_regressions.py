"""Regression tests for what the fuzz tests found: each one a single, named example."""

from __future__ import annotations

from bot.conversation import ERROR_REPLY


def sim_send(client, user: str, text: str) -> str:
    response = client.post("/sim/api/send", json={"user": user, "text": text})
    assert response.status_code == 200
    return response.get_json()["reply"]


def test_cancelling_a_schedule_number_beyond_64_bits_is_an_answer(client):
    # Member 5 is an admin: 取消定时 with a 20-digit number overflowed SQLite's integer.
    reply = sim_send(client, "m5", "取消定时 99999999999999999999")
    assert reply != ERROR_REPLY.text
    assert "没有可以取消的定时消息" in reply


def test_a_console_id_beyond_64_bits_is_a_404(services, app):
    from tests.console_helpers import login, make_account, token

    make_account(services, "admin", role="admin")
    client = app.test_client()
    login(client, "admin")
    huge = 2**63
    assert client.get(f"/admin/content/readings/{huge}").status_code == 404
    assert client.post(f"/admin/members/{huge}/active",
                       data={"csrf_token": token(client), "active": "0"}).status_code == 404
    assert client.get(f"/admin/schedules/{2**63 - 1}").status_code == 404  # the largest id: none
