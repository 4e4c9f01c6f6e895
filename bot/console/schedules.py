"""定时推送: list, create with a live preview, edit, pause, resume, cancel, send now, history;
and the built-in 每日纪法 push (schedules/daily_push.py): see, change its time, pause, reset.

The rules are schedules/admin.py's (the CLI and chat use them too); this module turns forms into
calls and enforces branch scope: a secretary sees and changes only schedules whose audience is
exactly their own branch, and creates only such schedules.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot import audience as audiences
from bot import delivery
from bot.console import schedule_form
from bot.console.base import actor, branch_scope, db, require_branch, route, services, user
from bot.console.dashboard_data import schedule_branch, visible_schedule
from bot.store import audit
from bot.store import members as store_members
from bot.store import schedules as store_schedules
from schedules import admin, daily_push
from schedules.jobs import EVERYONE, describe_content
from schedules.timing import next_fires, trigger_for


def _options() -> dict[str, Any]:
    scope = branch_scope()
    where, params = (" WHERE branch = ?", [scope]) if scope else ("", [])
    return {
        "branches": [r[0] for r in db().execute(
            f"SELECT DISTINCT branch FROM members{where} ORDER BY branch", params)],
        # (value, label): "第一党支部/第一党小组", shown 「第一党支部 · 第一党小组」.
        "groups": [(ref, audiences.group_label(ref)) for ref in
                   (audiences.group_ref(b, g) for b, g in store_members.list_groups(db(), branch=scope))],
        "reminders": list(db().query("SELECT id, title FROM reminders ORDER BY id")),
        "kinds": admin.KIND_NAMES, "advanced_kinds": admin.ADVANCED_KINDS,
        "weekdays": schedule_form.WEEKDAY_LABELS,
        "scope": scope,
    }


def _schedule_or_404(schedule_id: int) -> store_schedules.Schedule:
    schedule = store_schedules.get(db(), schedule_id)
    if schedule is None:
        abort(404)
    require_branch(schedule_branch(schedule.audience), f"定时消息 #{schedule_id}")
    return schedule


def _definition() -> schedule_form.Definition:
    """The posted form as a definition; a secretary's must be for their own branch only."""
    definition = schedule_form.parse(request.form)
    scope = branch_scope()
    if scope is not None and schedule_branch(definition.audience) != scope:
        require_branch(schedule_branch(definition.audience), "发送对象")
    return definition


@route("/schedules")
def schedules() -> ResponseReturnValue:
    show_all = request.args.get("all") == "1"
    scope = branch_scope()
    rows = [s for s in store_schedules.list_all(db(), include_finished=show_all)
            if visible_schedule(s.audience, scope)]
    return render_template("console/schedules.html", rows=rows, show_all=show_all,
                           daily=daily_push.setting(services()), when=admin.describe_when, status_names=admin.STATUS_NAMES,
                           describe=audiences.describe, content=describe_content)


@route("/schedules/new")
def schedules_new() -> ResponseReturnValue:
    scope = branch_scope()
    values = {"kind": "once", "target": "branches" if scope else "all", "content": "text",
              "branches": [scope] if scope else [], "workdays_only": False}
    return render_template("console/schedule_form.html", values=values, schedule=None,
                           error=None, **_options())


@route("/schedules/preview", methods=("POST",), session_readonly=True)
def schedules_preview() -> ResponseReturnValue:
    """JSON for the form's live preview: the text as a member sees it, the audience, the next
    fire times; or the reason it cannot be made and the fields it is about. Reads the session
    (login, CSRF) and never writes it: see base.route's session_readonly."""
    try:
        definition = _definition()
        preview = admin.preview(services(), **definition.as_kwargs())
    except admin.ScheduleError as exc:
        return jsonify(ok=False, error=str(exc),
                       fields=schedule_form.fields_of(exc, request.form))
    editing = request.form.get("editing", "")
    duplicate = _duplicate_of(definition, int(editing) if editing.isdigit() else None)
    return jsonify(ok=True, text=preview.text, audience=preview.audience,
                   audience_size=preview.audience_size,
                   when=admin.describe_when(definition.kind, definition.spec,
                                            definition.workdays_only),
                   next_fires=[f"{f:%Y-%m-%d %H:%M}" for f in preview.next_fires],
                   duplicate=duplicate)


def _duplicate_of(definition: schedule_form.Definition,
                  exclude: int | None = None) -> dict[str, Any] | None:
    """The running schedule this definition repeats, for the form's warning: its note, and a
    link when the admin may open it."""
    svc = services()
    existing = admin.find_duplicate(db(), svc.clock.now(), svc.clock.tz, kind=definition.kind,
                                    spec=definition.spec, audience=definition.audience,
                                    content=definition.content, exclude=exclude)
    if existing is None:
        return None
    url = (url_for("console.schedules_show", schedule_id=existing.id)
           if visible_schedule(existing.audience, branch_scope()) else None)
    return {"id": existing.id, "note": admin.duplicate_note(existing) + "。", "url": url}


@route("/schedules/new", methods=("POST",))
def schedules_create() -> ResponseReturnValue:
    try:
        definition = _definition()
        schedule_id = admin.create(services(), **definition.as_kwargs(), actor=actor(),
                                   allow_duplicate=request.form.get("allow_duplicate") == "1")
    except admin.DuplicateSchedule:
        # Not an error: the form comes back with the warning, 仍然创建 and a link to the other.
        return render_template("console/schedule_form.html", values=_posted_values(),
                               schedule=None, error=None, duplicate=_duplicate_of(definition),
                               **_options())
    except admin.ScheduleError as exc:
        return render_template("console/schedule_form.html", values=_posted_values(),
                               schedule=None, error=str(exc), **_options())
    flash(f"已创建定时消息 #{schedule_id}", "ok")
    return redirect(url_for("console.schedules_show", schedule_id=schedule_id), 303)


def _posted_values() -> dict[str, Any]:
    form = request.form
    values: dict[str, Any] = form.to_dict()
    for key in ("weekdays", "branches", "groups"):
        values[key] = form.getlist(key)
    values["workdays_only"] = form.get("workdays_only") == "1"
    return values


@route("/schedules/<int:schedule_id>")
def schedules_show(schedule_id: int) -> ResponseReturnValue:
    s = _schedule_or_404(schedule_id)
    history = []
    for b in store_schedules.broadcasts_of(db(), s.id):
        counts = None if b["status"] == "missed" else delivery.counts(db(), b["id"])
        history.append({"broadcast": b, "counts": counts})
    fires: list = []
    if s.status == "active":
        try:
            fires = next_fires(trigger_for(s.kind, s.spec, services().clock.tz),
                               services().clock.now(), 5)
        except ValueError:
            fires = []
    return render_template("console/schedule_show.html", s=s, history=history, fires=fires,
                           send_now_effect=admin.send_now_effect(services(), s),
                           send_now_consumes=admin.pending_one_off_fire(services(), s) is not None,
                           when=admin.describe_when(s.kind, s.spec, s.workdays_only),
                           status=admin.STATUS_NAMES[s.status],
                           audience=audiences.describe(s.audience),
                           content=describe_content(s.content))


@route("/schedules/<int:schedule_id>/edit")
def schedules_edit(schedule_id: int) -> ResponseReturnValue:
    s = _schedule_or_404(schedule_id)
    if s.status not in ("active", "paused"):
        flash("已取消或已完成的定时消息不能再修改", "error")
        return redirect(url_for("console.schedules_show", schedule_id=s.id), 303)
    values = schedule_form.to_form(s.kind, s.spec, s.workdays_only, s.audience, s.content)
    return render_template("console/schedule_form.html", values=values, schedule=s, error=None,
                           **_options())


@route("/schedules/<int:schedule_id>/edit", methods=("POST",))
def schedules_update(schedule_id: int) -> ResponseReturnValue:
    s = _schedule_or_404(schedule_id)
    try:
        definition = _definition()
        _update(s, definition)
    except admin.ScheduleError as exc:
        return render_template("console/schedule_form.html", values=_posted_values(),
                               schedule=s, error=str(exc), **_options())
    flash(f"已修改定时消息 #{s.id}", "ok")
    return redirect(url_for("console.schedules_show", schedule_id=s.id), 303)


def _update(s: store_schedules.Schedule, definition: schedule_form.Definition) -> None:
    svc = services()
    audience = admin.validate(svc, **definition.as_kwargs())
    now = svc.clock.now()
    trigger = trigger_for(definition.kind, definition.spec, svc.clock.tz)
    if not next_fires(trigger, now, 1):
        raise admin.ScheduleError("按这个时间设置，今后不会发送（时间已过去，或日期不存在）")
    with svc.store.transaction() as tx:
        # Re-read inside the write lock: cancelled meanwhile (another tab, the CLI) stays so.
        current = store_schedules.get(tx, s.id)
        if current is None or current.status not in ("active", "paused"):
            raise admin.ScheduleError("这条定时消息已取消或已完成，不能再修改")
        # last_fire_at = now: an edit never sends what the new timing would have sent earlier.
        tx.execute(
            "UPDATE schedules SET kind = ?, spec = ?, workdays_only = ?, audience = ?,"
            " content = ?, last_fire_at = ? WHERE id = ?",
            [definition.kind, json.dumps(definition.spec, ensure_ascii=False),
             int(definition.workdays_only), json.dumps(audience, ensure_ascii=False),
             json.dumps(definition.content, ensure_ascii=False), now.isoformat(), s.id])
        audit.record(tx, actor=actor(), action="schedule edit",
                     detail=admin.audit_facts(s.id, kind=definition.kind, spec=definition.spec,
                                              workdays_only=definition.workdays_only,
                                              audience=audience, content=definition.content),
                     at=now)


STATUS_ACTIONS = {"pause": ("paused", "已暂停"), "resume": ("active", "已恢复（暂停期间到期的不补发）"),
                  "cancel": ("cancelled", "已取消")}


@route("/schedules/<int:schedule_id>/<any(pause, resume, cancel):verb>", methods=("POST",))
def schedules_status(schedule_id: int, verb: str) -> ResponseReturnValue:
    _schedule_or_404(schedule_id)
    status, done = STATUS_ACTIONS[verb]
    try:
        admin.set_status(services(), schedule_id, status, actor=actor())
        flash(f"定时消息 #{schedule_id} {done}", "ok")
    except admin.ScheduleError as exc:
        flash(str(exc), "error")
    return redirect(url_for("console.schedules_show", schedule_id=schedule_id), 303)


@route("/schedules/<int:schedule_id>/send-now", methods=("POST",))
def schedules_send_now(schedule_id: int) -> ResponseReturnValue:
    s = _schedule_or_404(schedule_id)
    consumes = admin.pending_one_off_fire(services(), s)
    if request.form.get("expect") == "consume" and consumes is None:
        # The page offered to send a one-off still to come; it has been sent since (a second
        # click, another tab, the scheduler): sending again is not what was confirmed.
        flash("这条一次性消息已经发送过，这次没有再发送（可能点了两次）", "error")
        return redirect(url_for("console.schedules_show", schedule_id=schedule_id), 303)
    try:
        broadcast_id = admin.send_now(services(), schedule_id, actor=actor())
    except admin.ScheduleError as exc:
        flash(str(exc), "error")
    else:
        c = delivery.counts(db(), broadcast_id)
        done = (f"；这条一次性消息已完成，原定的 {consumes:%m-%d %H:%M} 不会再发"
                if consumes is not None else "")
        flash(f"已加入发送队列：应发 {c.targeted} 人，几秒内由后台送出{done}", "ok")
    return redirect(url_for("console.schedules_show", schedule_id=schedule_id), 303)


# --- the built-in 每日纪法 push (schedules/daily_push.py) -----------------------------------
# It reaches every member, so only an admin changes, pauses or resets it; a branch secretary
# sees it (when it reaches their branch next) but not its buttons, and a POST is refused (403,
# audited) by route(admin_only=True).

@route("/schedules/daily")
def schedules_daily() -> ResponseReturnValue:
    push = daily_push.setting(services())
    return _daily_page({"time": push.time, "workdays_only": push.workdays_only}, error=None)


def _daily_page(values: dict[str, Any], error: str | None) -> ResponseReturnValue:
    svc = services()
    now = svc.clock.now()
    history = []
    if user().is_admin:  # counts over every branch: an admin's view
        for b in daily_push.recent_broadcasts(svc):
            counts = None if b["status"] == "missed" else delivery.counts(db(), b["id"])
            history.append({"broadcast": b, "counts": counts})
    return render_template(
        "console/schedule_daily.html", push=daily_push.setting(svc),
        configured=daily_push.configured(svc), values=values, error=error,
        fires=daily_push.upcoming(svc, now, now + timedelta(days=3660), 5),
        next_note=daily_push.next_note(svc), history=history,
        audience_size=len(audiences.members_of(db(), EVERYONE)))


@route("/schedules/daily", methods=("POST",), admin_only=True)
def schedules_daily_update() -> ResponseReturnValue:
    values = {"time": request.form.get("time", ""),
              "workdays_only": request.form.get("workdays_only") == "1"}
    try:
        daily_push.change(services(), time=values["time"], workdays_only=values["workdays_only"],
                          actor=actor())
    except admin.ScheduleError as exc:
        return _daily_page(values, error=str(exc))
    push = daily_push.setting(services())
    flash(f"已保存每日纪法推送：{push.when}。{daily_push.next_note(services())}", "ok")
    return redirect(url_for("console.schedules_daily"), 303)


DAILY_ACTIONS = {"pause": "已暂停每日纪法推送（恢复前不会推送）",
                 "resume": "已恢复每日纪法推送（暂停期间的不补发）",
                 "reset": "已恢复为配置文件的设置"}


@route("/schedules/daily/<any(pause, resume, reset):verb>", methods=("POST",), admin_only=True)
def schedules_daily_status(verb: str) -> ResponseReturnValue:
    svc = services()
    try:
        if verb == "reset":
            daily_push.reset(svc, actor=actor())
        else:
            daily_push.set_paused(svc, verb == "pause", actor=actor())
    except admin.ScheduleError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{DAILY_ACTIONS[verb]}：{daily_push.setting(svc).when}。{daily_push.next_note(svc)}",
              "ok")
    return redirect(url_for("console.schedules_daily"), 303)
