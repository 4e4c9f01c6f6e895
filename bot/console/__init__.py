"""The admin console at /admin: the secretary's web workplace (issue 6).

One blueprint (`bp`, in base.py), server-rendered pages (templates/console/), one stylesheet
and one small script (static/console/), no CDN. Modules:

    base.py       the blueprint, `route` (login + role check on every view), `branch_scope`,
                  `require_branch`, `record` (audit), CSRF, the menu (NAV), error pages
    sessions.py   the stable signing key, cookie flags (HttpOnly, SameSite, Secure over HTTPS)
    auth.py       log in / log out; throttle.py the delays and lockout after failed logins
    passwords.py  argon2id hashing; accounts.py create/reset/disable/role (CLI and console)
    dashboard.py, members.py, schedules.py, users.py (Accounts), audit_log.py   the pages

How to add a page
-----------------
1. Create bot/console/<page>.py:

       from flask import render_template, request
       from bot.console.base import bp, route, db, branch_scope, require_branch, record, services

       @route("/tasks")                            # GET; login required; endpoint "tasks"
       def tasks():
           scope = branch_scope()                  # None = admin (all branches), else a branch
           rows = ...                              # filter every query by `scope`
           return render_template("console/tasks.html", rows=rows)

       @route("/tasks/<int:task_id>/edit", methods=("POST",))   # CSRF is checked for you
       def tasks_edit(task_id):                    # name related endpoints "<page>_<verb>":
           require_branch(row_branch, "任务 3")    # the menu then highlights the page
           with services().store.transaction():
               ...                                 # the change
               record("task.edit", {"task": 3, "fields": ["title"]})  # audit: who is added
                                           # for you; name the action in bot/audit_text.py
           return redirect(url_for("console.tasks"))

   `route(..., admin_only=True)` for admin-only pages. Never register on `bp` directly: the
   guard refuses (404) any console view that did not come through `route`.
2. Add the module's name to PAGES below. The menu (base.NAV) already lists 学习任务
   (console.tasks), 学习内容 (console.content) and 报表 (console.reports): a page appears
   there as soon as its endpoint exists.
3. Template: `{% extends "console/base.html" %}`, fill `{% block title %}` and
   `{% block main %}`; start with `<h1>`. Every form that POSTs carries
   `<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">`; fetch() sends the
   header `X-CSRF-Token` (console.js: `Console.post(url, data)` does it). Wide tables go in
   `<div class="table-wrap">` so a phone scrolls the table, not the page. Charts: put the SVG
   string from bot.console.charts in `<figure class="chart">{{ svg|safe }}</figure>`.
4. Tests: tests/test_console_<page>*.py; the fixtures in tests/console_helpers.py log in
   (`login(client, "admin")`) and make accounts.
"""

from __future__ import annotations

import importlib

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from bot.console.base import bp
from bot.services import Services

# Page modules, imported once so their `route`s register on `bp`.
PAGES: tuple[str, ...] = ("auth", "reasons", "dashboard", "members", "schedules", "users",
                         "audit_log",
                         "labels",
                         "content", "tasks", "reports",
                         "setup", "votes", "meetings", "birthdays")


class _Int64Converter(IntegerConverter):
    """<int:...> as SQLite can hold it: a larger id is a 404, not an OverflowError (a 500)."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = 2**63 - 1, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, max, signed)


def init_app(app: Flask, services: Services) -> None:
    from bot.console import sessions

    app.url_map.converters["int"] = _Int64Converter  # before the console's rules are added
    for name in PAGES:
        importlib.import_module(f"bot.console.{name}")
    sessions.configure(app, services)
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
