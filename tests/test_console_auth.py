"""Console login, sessions, CSRF, lockout: Flask test client against a real SQLite file."""

from __future__ import annotations

from tests.console_helpers import PASSWORD, login, make_account, token


def test_login_then_dashboard(services, client):
    make_account(services, "alice")
    assert client.get("/admin/").status_code == 302
    response = login(client, "alice")
    assert response.status_code == 302
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "概览" in page.get_data(as_text=True)
