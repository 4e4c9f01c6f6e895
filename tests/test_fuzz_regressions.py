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
