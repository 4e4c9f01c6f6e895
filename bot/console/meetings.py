"""组织生活: a branch's meetings of the quarter, the compliance table (支部工作条例), leave
approvals, one meeting's page (the sign-in code, attendance, minutes), create/edit/cancel, and
the year's meetings and attendance as XLSX/CSV.

Writes go through bot.store.meetings (every field checked, MeetingError in Chinese); notices
follow through bot.meetings.send_notices right after the change (and on the scheduler's next
tick, whichever comes first: each has its own ledger key). A secretary sees and changes only
their branch's meetings (require_branch: 403, audited).
"""

from __future__ import annotations

import io
from datetime import date, datetime, time
from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue

from bot import audience as audiences
from bot import exports
from bot import meetings as domain
from bot.audit_text import meeting_facts
from bot.console.base import branch_scope, db, record, require_branch, route, services, user
from bot.store import meetings as store
from bot.store import members as store_members
from bot.store import tasks as store_tasks
from bot.store.meetings import Meeting, MeetingError

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COMMITTEE = "committee"  # the form's value for 支委: the branch's secretaries and 党务干部
COMMITTEE_ROLES = ("secretary", "admin")
LISTED = "members"  # the form's value for a list of members ticked below the select


# --- the branch's quarter ------------------------------------------------------------------

def _branches() -> list[str]:
    scope = branch_scope()
    known = sorted({m.branch for m in store_members.list_members(db(), active_only=True)})
    return [b for b in known if scope is None or b == scope]


def _chosen_branch() -> str:
    scope = branch_scope()
    wanted = request.values.get("branch", "") or (scope or "")
    branches = _branches()
    if scope is not None and wanted != scope:
        require_branch(wanted, "组织生活")  # another branch's: 403, audited
    if wanted in branches:
        return wanted
    if wanted:
        abort(404)
    if not branches:
        abort(404)
    return branches[0]


def _quarter_start() -> date:
    text = request.args.get("quarter", "")
    today = services().clock.today()
    if text:
        try:
            year, number = text.split("-Q")
            return date(int(year), (int(number) - 1) * 3 + 1, 1)
        except ValueError:
            abort(404)
    return domain.quarter_of(today)[0]


@route("/meetings")
def meetings() -> ResponseReturnValue:
    branch = _chosen_branch()
    start = _quarter_start()
    _first, end = domain.quarter_of(start)
    now = services().clock.now()
    tz = now.tzinfo
    rows = [_row(m, now) for m in store.between(db(), datetime.combine(start, time(0), tz),
                                                  datetime.combine(end, time(0), tz),
                                                  branch=branch)]
    when = now if start <= now.date() < end else datetime.combine(end, time(0), tz)
    leaves = [_leave_row(leave) for leave in store.pending_leaves(db(), branch=branch)]
    return render_template(
        "console/meetings.html", branch=branch, branches=_branches(), rows=rows,
        quarter=domain.quarter_name(start), quarter_value=_quarter_value(start),
        quarters=_quarters(now.date()), compliance=domain.compliance_between(
            db(), branch, start, when), leaves=leaves, year=start.year)


def _quarter_value(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _quarters(today: date) -> list[tuple[str, str]]:
    start = domain.quarter_of(today)[0]
    found = []
    for back in range(0, 8):
        month = start.month - 3 * back
        year = start.year + (month - 1) // 12
        day = date(year, (month - 1) % 12 + 1, 1)
        found.append((_quarter_value(day), domain.quarter_name(day)))
    return found


def _row(meeting: Meeting, now: datetime) -> dict[str, Any]:
    attendees = domain.attendance(db(), meeting, now)
    return {"meeting": meeting, "when": domain.when(meeting), "state": _state(meeting, now),
            "counts": domain.counts(attendees), "total": len(attendees),
            "audience": _audience_label(meeting)}


def _state(meeting: Meeting, now: datetime) -> str:
    if meeting.cancelled:
        return "已取消"
    if meeting.end <= now:
        return "已结束"
    return "进行中" if meeting.start <= now else "未开始"


def _audience_label(meeting: Meeting) -> str:
    audience = meeting.audience
    if set(audience) == {"members"}:
        return f"{len(audience['members'])} 名指定党员"
    return audiences.describe(audience)


def _leave_row(leave: store.Leave) -> dict[str, Any]:
    meeting = store.get(db(), leave.meeting_id)
    member = store_members.get_member(db(), leave.member_id)
    return {"leave": leave, "meeting": meeting, "name": member.name if member else "（已移除）",
            "when": domain.when(meeting) if meeting else ""}


# --- one meeting ---------------------------------------------------------------------------

def _meeting(meeting_id: int) -> Meeting:
    meeting = store.get(db(), meeting_id)
    if meeting is None:
        abort(404)
    scope = branch_scope()
    if scope is not None and meeting.branch != scope:
        require_branch(meeting.branch, f"会议「{meeting.title}」")
    return meeting


@route("/meetings/<int:meeting_id>")
def meetings_show(meeting_id: int) -> ResponseReturnValue:
    meeting = _meeting(meeting_id)
    now = services().clock.now()
    attendees = domain.attendance(db(), meeting, now)
    opens = meeting.start - domain.SIGN_IN_EARLY
    return render_template(
        "console/meeting_show.html", meeting=meeting, when=domain.when(meeting),
        state=_state(meeting, now), attendees=attendees, counts=domain.counts(attendees),
        marks=store.MARKS, leave_names=store.LEAVE_STATUSES,
        materials=domain.material_lines(db(), meeting)[1:],
        code_open=opens <= now < meeting.end and not meeting.cancelled,
        opens=opens, started=meeting.start <= now, ended=meeting.end <= now,
        marking=opens <= now and not meeting.cancelled,
        audience=_audience_label(meeting))


@route("/meetings/<int:meeting_id>/attendance", methods=("POST",))
def meetings_attendance(meeting_id: int) -> ResponseReturnValue:
    meeting = _meeting(meeting_id)
    now = services().clock.now()
    if meeting.cancelled or meeting.start - domain.SIGN_IN_EARLY > now:
        flash("会议开始后才能登记出勤。", "error")
        return redirect(url_for("console.meetings_show", meeting_id=meeting.id))
    people = {a.member.id for a in domain.attendance(db(), meeting, now)}
    changes = {}
    for key, value in request.form.items():
        if key.startswith("mark-") and key[5:].isdigit() and int(key[5:]) in people:
            changes[int(key[5:])] = value or None
    try:
        with services().store.transaction() as tx:
            for member_id, mark in changes.items():
                store.set_mark(tx, meeting.id, member_id, mark, now)
            record("meeting.attendance", {**meeting_facts(meeting), "marks": len(changes)})
    except MeetingError as exc:
        flash(str(exc), "error")
    else:
        flash("已保存出勤登记。", "ok")
    return redirect(url_for("console.meetings_show", meeting_id=meeting.id))


@route("/meetings/<int:meeting_id>/minutes", methods=("POST",))
def meetings_minutes(meeting_id: int) -> ResponseReturnValue:
    meeting = _meeting(meeting_id)
    names = [n.strip() for n in request.form.get("attachments", "").splitlines()]
    try:
        with services().store.transaction() as tx:
            store.set_minutes(tx, meeting.id, minutes=request.form.get("minutes", ""),
                              attachments=names, now=services().clock.now())
            record("meeting.minutes", meeting_facts(meeting))
    except MeetingError as exc:
        flash(str(exc), "error")
    else:
        flash("已保存会议记录。", "ok")
    return redirect(url_for("console.meetings_show", meeting_id=meeting.id))


@route("/meetings/<int:meeting_id>/cancel", methods=("POST",))
def meetings_cancel(meeting_id: int) -> ResponseReturnValue:
    meeting = _meeting(meeting_id)
    try:
        with services().store.transaction() as tx:
            store.cancel(tx, meeting.id, now=services().clock.now())
            record("meeting.cancel", meeting_facts(meeting))
    except MeetingError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.meetings_show", meeting_id=meeting.id))
    domain.send_notices(services())
    flash(f"已取消「{meeting.title}」，已收到通知的党员会收到取消通知。", "ok")
    return redirect(url_for("console.meetings", branch=meeting.branch))


@route("/meetings/leaves/<int:leave_id>", methods=("POST",))
def meetings_leave(leave_id: int) -> ResponseReturnValue:
    leave = store.get_leave(db(), leave_id)
    meeting = store.get(db(), leave.meeting_id) if leave else None
    if leave is None or meeting is None:
        abort(404)
    if branch_scope() is not None and meeting.branch != branch_scope():
        require_branch(meeting.branch, f"请假申请 {leave.id}")
    approve = request.form.get("decision") == "approve"
    member = store_members.get_member(db(), leave.member_id)
    try:
        with services().store.transaction() as tx:
            text = domain.decide_leave(tx, leave.id, approve=approve, by=user().name,
                                       branch=meeting.branch, now=services().clock.now())
            record("meeting.leave", {**meeting_facts(meeting), "approve": approve,
                                     "name": member.name if member else ""})
    except MeetingError as exc:
        flash(str(exc), "error")
    else:
        domain.send_leave_messages(services())
        flash(text, "ok")
    return redirect(request.form.get("back") == "meeting"
                    and url_for("console.meetings_show", meeting_id=meeting.id)
                    or url_for("console.meetings", branch=meeting.branch))


# --- create and edit -----------------------------------------------------------------------

def _audience_choices(branch: str) -> list[tuple[str, str]]:
    groups = [audiences.group_ref(branch, g) for _b, g in store_members.list_groups(db(),
                                                                                    branch=branch)]
    return ([(f"branch:{branch}", f"{branch}全体党员"), (COMMITTEE, f"{branch}支委")]
            + [(f"group:{ref}", audiences.group_label(ref)) for ref in groups]
            + [(LISTED, "指定党员（在下方勾选）")])


def _branch_members(branch: str) -> list[store_members.Member]:
    """The checkboxes of a member list: the branch's active members."""
    return [m for m in store_members.list_members(db(), active_only=True) if m.branch == branch]


def _committee(branch: str) -> list[int]:
    return [m.id for m in store_members.list_members(db(), active_only=True)
            if m.branch == branch and m.role in COMMITTEE_ROLES]


def _parse_audience(value: str, branch: str, listed: list[str]) -> dict[str, Any]:
    """The select's value as an audience; `listed` are the ticked member ids (for LISTED),
    which the store checks like the CLI's --member (numbers, active, in the branch)."""
    if value not in {v for v, _ in _audience_choices(branch)}:
        raise MeetingError("请从列表中选择参会对象。")
    if value == LISTED:
        if not listed:
            raise MeetingError("选择“指定党员”时，请至少勾选一名党员。")
        return {"members": listed}
    if value == COMMITTEE:
        ids = _committee(branch)
        if not ids:
            raise MeetingError(f"{branch}的名册里没有支部书记或党务干部（支委）。")
        return {"members": ids}
    kind, _, name = value.partition(":")
    return {"branches": [name]} if kind == "branch" else {"groups": [name]}


def _audience_value(meeting: Meeting) -> str:
    audience = meeting.audience
    if set(audience) == {"branches"}:
        return f"branch:{audience['branches'][0]}"
    if set(audience) == {"groups"} and len(audience["groups"]) == 1:
        return f"group:{audience['groups'][0]}"
    if set(audience) == {"members"} and sorted(audience["members"]) == sorted(
            _committee(meeting.branch)):
        return COMMITTEE
    if set(audience) == {"members"}:
        return LISTED
    return ""


def _form_fields(branch: str, *, keep: Meeting | None = None) -> dict[str, Any]:
    form = request.form
    choice = form.get("audience", "")
    fields: dict[str, Any] = {
        "kind": form.get("kind", ""), "title": form.get("title", ""),
        "start": form.get("start", ""), "end": form.get("end", ""),
        "place": form.get("place", ""), "link": form.get("link", ""),
        "agenda": form.get("agenda", ""), "speaker": form.get("speaker", ""),
        "notice_days": form.get("notice_days", "0") or "0",
        "materials": {"readings": _split(form.get("readings", "")),
                      "links": _split(form.get("links", "")),
                      **({"task": form["task"]} if form.get("task", "").strip() else {})}}
    if keep is not None and choice == "":
        fields["audience"] = keep.audience
    else:
        fields["audience"] = _parse_audience(choice, branch, form.getlist("members"))
    return fields


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("，", "\n").replace(",", "\n").splitlines()
            if part.strip()]


def _values(meeting: Meeting) -> dict[str, Any]:
    return {"kind": meeting.kind, "title": meeting.title, "place": meeting.place,
            "start": meeting.start.strftime("%Y-%m-%dT%H:%M"),
            "end": meeting.end.strftime("%Y-%m-%dT%H:%M"), "link": meeting.link,
            "agenda": meeting.agenda, "speaker": meeting.speaker,
            "notice_days": meeting.notice_days, "audience": _audience_value(meeting),
            "readings": "\n".join(meeting.materials.get("readings", ())),
            "links": "\n".join(meeting.materials.get("links", ())),
            "task": str(meeting.materials.get("task") or ""),
            "members": [str(i) for i in meeting.audience.get("members", ())]}


def _task_choices(branch: str, keep: Meeting | None) -> list[tuple[str, str]]:
    """(value, label) for the study-task select: this month's and later tasks for the branch or
    for everyone (bot.store.meetings.task_fits, which the store checks again on save), and the
    task the meeting already points to."""
    found = store.material_tasks(db(), branch, services().clock.today().strftime("%Y-%m"))
    kept = keep.materials.get("task") if keep is not None else None
    if kept and kept not in {t.id for t in found}:
        task = store_tasks.get_task(db(), kept)
        found = ([task] if task is not None else []) + found
    return [(str(t.id), f"{t.month} 第{t.position}项「{t.title}」") for t in found]


def _render_form(*, meeting: Meeting | None, branch: str, values: dict[str, Any],
                 error: str | None) -> ResponseReturnValue:
    return render_template("console/meeting_form.html", meeting=meeting, branch=branch,
                           values=values, error=error, kinds=store.KINDS,
                           choices=_audience_choices(branch),
                           tasks=_task_choices(branch, meeting),
                           people=_branch_members(branch))


def _posted() -> dict[str, Any]:
    """The form as posted, to show again with its error (the ticked members kept)."""
    return {**request.form.to_dict(), "members": request.form.getlist("members")}


@route("/meetings/new", methods=("GET", "POST"))
def meetings_new() -> ResponseReturnValue:
    branch = _chosen_branch()
    if request.method == "GET":
        values = {"kind": request.args.get("kind", "主题党日"), "title": "", "start": "",
                  "end": "", "place": "", "link": "", "agenda": "", "speaker": "",
                  "notice_days": 0, "audience": f"branch:{branch}", "readings": "",
                  "links": "", "task": "", "members": []}
        return _render_form(meeting=None, branch=branch, values=values, error=None)
    try:
        fields = _form_fields(branch)
        with services().store.transaction() as tx:
            meeting = store.add(tx, branch=branch, now=services().clock.now(),
                                created_by=f"console:{user().name}", **fields)
            record("meeting.add", meeting_facts(meeting))
    except MeetingError as exc:
        return _render_form(meeting=None, branch=branch, values=_posted(),
                            error=str(exc))
    domain.send_notices(services())
    flash(f"已安排「{meeting.title}」（{domain.when(meeting)}），会议通知已发出。"
          if not meeting.notice_days else
          f"已安排「{meeting.title}」（{domain.when(meeting)}），会前 {meeting.notice_days} 天发通知。",
          "ok")
    return redirect(url_for("console.meetings_show", meeting_id=meeting.id))


@route("/meetings/<int:meeting_id>/edit", methods=("GET", "POST"))
def meetings_edit(meeting_id: int) -> ResponseReturnValue:
    meeting = _meeting(meeting_id)
    if request.method == "GET":
        error = None
        try:
            store.changeable(db(), meeting.id, services().clock.now())
        except MeetingError as exc:
            error = str(exc)
        return _render_form(meeting=meeting, branch=meeting.branch, values=_values(meeting),
                            error=error)
    try:
        fields = _form_fields(meeting.branch, keep=meeting)
        with services().store.transaction() as tx:
            updated, changed = store.edit(tx, meeting.id, now=services().clock.now(), **fields)
            if changed:
                record("meeting.edit", {**meeting_facts(updated), "fields": changed})
    except MeetingError as exc:
        return _render_form(meeting=meeting, branch=meeting.branch, values=_posted(),
                            error=str(exc))
    if not changed:
        flash("内容没有变化。", "ok")
    else:
        domain.send_notices(services())
        told = "，已收到通知的党员会收到变更通知" if set(changed) & set(store.NOTIFIED_FIELDS) else ""
        flash(f"已保存「{updated.title}」{told}。", "ok")
    return redirect(url_for("console.meetings_show", meeting_id=meeting.id))


# --- the year's record ----------------------------------------------------------------------

def _year() -> int:
    text = request.args.get("year", "")
    if not text:
        return services().clock.today().year
    if not text.isdigit() or not 2000 <= int(text) <= 2100:
        abort(404)
    return int(text)


def year_sheets(branch: str | None, year: int, now: datetime) -> list[exports.Sheet]:
    """Two sheets: the year's meetings, and every member's attendance at each."""
    tz = now.tzinfo
    found = store.between(db(), datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz),
                          branch=branch)
    meetings_rows, attendance_rows = [], []
    for m in found:
        attendees = domain.attendance(db(), m, now)
        counted = domain.counts(attendees)
        meetings_rows.append([m.branch, m.kind, m.title, m.start.strftime("%Y-%m-%d %H:%M"),
                              m.end.strftime("%H:%M"), m.where, m.speaker,
                              _audience_label(m), _state(m, now), len(attendees),
                              counted["present"], counted["leave"], counted["absent"],
                              "有" if m.minutes else "无"])
        for a in attendees:
            attendance_rows.append([m.start.strftime("%Y-%m-%d"), m.kind, m.title, a.member.name,
                                    a.member.grp, store.MARKS.get(a.status or "", "—"),
                                    a.signed_at.astimezone(tz).strftime("%H:%M") if a.signed_at
                                    else "", a.leave.reason if a.leave else ""])
    return [exports.Sheet("会议", ["支部", "类型", "名称", "开始", "结束", "地点", "主讲",
                                   "参会对象", "状态", "应到", "出席", "请假", "缺席", "会议记录"],
                          meetings_rows),
            exports.Sheet("出勤", ["日期", "类型", "会议", "姓名", "党小组", "出勤", "签到时间",
                                   "请假理由"], attendance_rows)]


def _download(kind: str) -> ResponseReturnValue:
    branch, year = _chosen_branch(), _year()
    sheets = year_sheets(branch, year, services().clock.now())
    if kind == "xlsx":
        buffer = io.BytesIO()
        exports.write_workbook(buffer, sheets)
        data, mimetype = buffer.getvalue(), XLSX_TYPE
    else:  # one table: the attendance (the meetings are its first columns)
        data = exports.csv_text(sheets[1].header, sheets[1].rows).encode("utf-8-sig")
        mimetype = "text/csv"
    with services().store.transaction():
        record("meeting.download", {"year": year, "branch": branch, "format": kind})
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=f"组织生活台账-{year}-{branch}.{kind}", max_age=0)


@route("/meetings/year.xlsx")
def meetings_xlsx() -> ResponseReturnValue:
    return _download("xlsx")


@route("/meetings/year.csv")
def meetings_csv() -> ResponseReturnValue:
    return _download("csv")
