"""Fuzz the admin console's forms: every POST route under /admin (walked from app.url_map),
logged in as an admin with a valid CSRF token, with random fields and values (huge ids in the
URL, control characters, lone surrogates as bytes, repeated fields, files where text is
expected). For every example: no 5xx and no exception out of the app; a refusal (4xx) writes
nothing. One seed per example (tests/fuzz/messages.py says why).

Not fuzzed here: account creation and password changes, whose argon2 hash costs ~0.1 s by
design (tests/test_console_accounts_audit.py covers their bad input), and log in / log out.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
from hypothesis import given
from werkzeug.routing.converters import NumberConverter

from tests.console_helpers import login, make_account, token
from tests.fuzz import FUZZ
from tests.fuzz.messages import SEED, Gen
from tests.fuzz.store import writes

SKIP = {"console.login", "console.logout", "console.accounts_create",
        "console.accounts_password"}
FIELDS = ["name", "branch", "role", "active", "back", "token", "action", "source", "version",
          "kind", "at", "cron", "time", "weekdays", "day", "target", "content", "text", "reminder",
          "workdays_only", "title", "detail", "link", "due", "month", "position", "slug",
          "all", "member", "group", "audience", "note", "q", "status"]
VALUES = ["", "1", "0", "-1", "2026-12-01 08:00", "2026-11-23T09:00", "08:00", "25:99", "mon",
          "0 8 * * 1", "* * * * * *", "text", "reading", "reminder", "all", "branch", "第一党支部",
          "admin", "secretary", "member", "discard", "confirm", "/admin/members",
          "https://evil.example/", "2026-11", "9999-99", str(2**63), "99999999999999999999",
          "x" * 5000, "<script>alert(1)</script>", "'; DROP TABLE members; --", "%s%n"]
IDS = [0, 1, 2, 3, 8, 2**31, 2**63 - 1, 2**63, 10**30]
SAMPLES = {"verb": ["pause", "resume", "cancel"], "name": ["admin", "secretary", "nobody", "x" * 300],
           "month": ["2026-11", "0000-00", "2026-13"]}


def sample(g: Gen, rule, arg: str) -> str:  # noqa: ANN001 (a werkzeug Rule)
    """A value for a URL argument; an <any(...)> one takes only its own words."""
    words = getattr(rule._converters[arg], "items", None)
    choices = SAMPLES.get(arg, ["x"])
    return g.pick(sorted(words & set(choices)) or sorted(words)) if words else g.pick(choices)


@pytest.fixture
def console(services, app):
    make_account(services, "admin", role="admin")
    make_account(services, "secretary", role="secretary", branch="第一党支部")
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    rules = [rule for rule in app.url_map.iter_rules()
             if rule.rule.startswith("/admin") and "POST" in rule.methods
             and rule.endpoint not in SKIP]
    assert len(rules) >= 10
    return client, rules, token(client), app.url_map.bind("localhost")


def form(g: Gen) -> dict:
    data: dict = {}
    for _ in range(g.int(0, 8)):
        name = g.pick(FIELDS) if not g.one_in(10) else g.text(8)
        value = g.pick(VALUES) if g.one_in(2) else g.text(hostile=g.one_in(4))
        if g.one_in(20):
            value = (io.BytesIO(g.bytes(500)), g.pick(["x.csv", "../../x.md", "a.xlsx"]))
        elif isinstance(value, str):
            value = value.encode("utf-8", "surrogatepass")
        if g.one_in(5):  # a repeated field
            old = data.get(name, [])
            data[name] = [*(old if isinstance(old, list) else [old]), value]
        else:
            data[name] = value
    return data


@FUZZ
@given(seed=SEED)
def test_console_forms(console, services, seed):
    client, rules, csrf, adapter = console
    g = Gen(seed)
    rule = g.pick(rules)
    values = {}
    for arg in rule.arguments:
        numeric = isinstance(rule._converters[arg], NumberConverter)
        values[arg] = g.pick(IDS) if numeric else sample(g, rule, arg)
    url = adapter.build(rule.endpoint, values)
    data = form(g)
    data["csrf_token"] = csrf
    before = writes(services.store)
    response = client.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code < 500, (rule.endpoint, url, response.status_code)
    if 400 <= response.status_code < 500:
        assert writes(services.store) == before, (rule.endpoint, url, response.status_code)


REDIRECT_FIELDS = ["back", "next"]
BAD_TARGETS = ["/admin/\r\nX: y", "/admin/%0D%0AX:%20y", "//evil.example/", "/admin/\\\\x",
               "https://evil.example/", "/admin/\x00", "/admin/\u2028", "javascript:alert(1)"]


@FUZZ
@given(seed=SEED)
def test_console_redirect_targets(console, services, seed):
    """Every POST route with hostile back=/next= (in the form and the query string): no 5xx,
    and a redirect never leaves the console nor carries a control character."""
    client, rules, csrf, adapter = console
    g = Gen(seed)
    rule = g.pick(rules)
    values = {arg: (g.pick([1, 2, 3]) if isinstance(rule._converters[arg], NumberConverter)
                    else sample(g, rule, arg)) for arg in rule.arguments}
    target = g.pick(BAD_TARGETS) if g.one_in(2) else "/admin/" + g.text(hostile=True)
    raw = target.encode("utf-8", "surrogatepass")
    url = adapter.build(rule.endpoint, values) + f"?{g.pick(REDIRECT_FIELDS)}={quote(raw)}"
    data = {g.pick(REDIRECT_FIELDS): raw, "csrf_token": csrf}
    response = client.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code < 500, (rule.endpoint, url, response.status_code)
    location = response.headers.get("Location", "")
    assert location.isprintable() and not location.startswith("//") and "evil" not in location
