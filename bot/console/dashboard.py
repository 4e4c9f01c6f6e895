"""概览: today's check-in rate, the 30-day trend, branches compared, next pushes, failures."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from bot.console.base import route


@route("/")
def dashboard() -> ResponseReturnValue:
    return render_template("console/dashboard.html")
