"""Helpers for the console tests (tests/test_console_*.py): accounts and logging in."""

from __future__ import annotations

import re

from bot.console import accounts
from bot.services import Services

PASSWORD = "correct-horse-battery"


def make_account(services: Services, name: str, role: str = "admin",
                 branch: str | None = None, password: str = PASSWORD) -> None:
    with services.store.transaction() as db:
        accounts.create(db, name=name, password=password, role=role, branch=branch,
                        actor="test", at=services.clock.now())


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, "the page carries a CSRF token"
    return found.group(1)


def login(client, name: str, password: str = PASSWORD):
    """Log in through the form; returns the response of the POST."""
    page = client.get("/admin/login")
    token = csrf_of(page.get_data(as_text=True))
    return client.post("/admin/login", data={"name": name, "password": password,
                                              "csrf_token": token})


def token(client, path: str = "/admin/") -> str:
    """The CSRF token of the logged-in session, read from a page as a browser would."""
    return csrf_of(client.get(path).get_data(as_text=True))


def logged_in(services: Services, client, name: str, role: str = "admin",
              branch: str | None = None):
    """A test client logged in as a new account of that role (and branch, for a secretary)."""
    make_account(services, name, role=role, branch=branch)
    assert login(client, name).status_code == 302
    return client


def text(response) -> str:
    return response.get_data(as_text=True)
