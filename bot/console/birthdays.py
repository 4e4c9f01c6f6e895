"""党员政治生日 in the console (/admin/birthdays): the push's switch, send time and 入党誓词
(schedules/birthday_push.py), this month's political birthdays and a preview of one greeting.

As for the 每日纪法 push: an admin changes or resets the setting; a branch secretary sees it,
their branch's birthdays and a preview, but no form, and a POST is refused (403, audited) by
route(admin_only=True)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot import political_birthday
from bot.config import MAX_OATH_CHARS
from bot.console.base import actor, branch_scope, db, route, services
from schedules import birthday_push
from schedules.admin import ScheduleError


def _month_birthdays(today: date) -> list[political_birthday.Birthday]:
    """This month's birthdays (the secretaries' monthly list), of the account's branch."""
    scope = branch_scope()
    return [b for b in political_birthday.birthdays_in(db(), today.year, today.month)
            if scope in (None, b.member.branch)]


def _next_birthday(today: date) -> political_birthday.Birthday | None:
    """The next political birthday from today within a year (for the preview)."""
    scope = branch_scope()
    for step in range(13):
        year, month = divmod(today.month - 1 + step, 12)
        for b in political_birthday.birthdays_in(db(), today.year + year, month + 1):
            if b.day >= today and scope in (None, b.member.branch):
                return b
    return None


def _page(values: dict[str, Any], error: str | None, field: str | None = None,
          ) -> ResponseReturnValue:
    svc = services()
    today = svc.clock.today()
    push = birthday_push.setting(svc)
    upcoming = _next_birthday(today)
    # The greeting as it would go out now: the saved oath, not a rejected one being retyped.
    preview = (political_birthday.greeting(upcoming, upcoming.day, push.oath).text
               if upcoming else None)
    return render_template(
        "console/birthdays.html", push=push, configured=birthday_push.configured(svc),
        values=values, error=error, field=field, today=today, month=_month_birthdays(today),
        upcoming=upcoming, preview=preview, max_oath=MAX_OATH_CHARS, scope=branch_scope())


@route("/birthdays", endpoint="members_birthdays")  # under 成员 in the menu
def birthdays() -> ResponseReturnValue:
    push = birthday_push.setting(services())
    return _page({"enabled": push.enabled, "time": push.time, "oath": push.oath}, error=None)


@route("/birthdays", methods=("POST",), admin_only=True, endpoint="members_birthdays_update")
def birthdays_update() -> ResponseReturnValue:
    values = {"enabled": request.form.get("enabled") == "1",
              "time": request.form.get("time", ""), "oath": request.form.get("oath", "")}
    try:
        push = birthday_push.change(services(), enabled=values["enabled"], time=values["time"],
                                    oath=values["oath"], actor=actor())
    except ScheduleError as exc:
        return _page(values, error=str(exc), field=exc.about)
    note = "已过去的日子不补发" if push.enabled else "关闭期间不发送，重新开启后也不补发"
    flash(f"已保存政治生日推送：{push.when}（{note}）。", "ok")
    return redirect(url_for("console.members_birthdays"), 303)


@route("/birthdays/reset", methods=("POST",), admin_only=True,
       endpoint="members_birthdays_reset")
def birthdays_reset() -> ResponseReturnValue:
    try:
        push = birthday_push.reset(services(), actor=actor())
    except ScheduleError as exc:
        flash(str(exc), "error")
    else:
        flash(f"已恢复为配置文件的设置：{push.when}。", "ok")
    return redirect(url_for("console.members_birthdays"), 303)
