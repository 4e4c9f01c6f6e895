"""`python -m bot meeting add|list|show|edit|cancel|notices`: 组织生活 from the command line.

Bad input is one Chinese line and a non-zero exit, with nothing written: the store's checks raise
MeetingError inside the transaction, which rolls it back. Notices follow through the ledger
(`bot.meetings.send_notices`, also run by the scheduler every tick).
"""

from __future__ import annotations

from typing import Any

import click

from bot import meetings
from bot.audit_text import meeting_facts
from bot.cli import Ctx, pass_ctx
from bot.store import audit
from bot.store import meetings as store
from bot.store.meetings import Meeting, MeetingError


@click.group("meeting")
def group() -> None:
    """组织生活：三会一课、主题党日。"""


def _options(command: Any) -> Any:
    for option in reversed((
        click.option("--kind", type=click.Choice(store.KINDS), help="会议类型。"),
        click.option("--title", help="会议名称。"),
        click.option("--start", help="开始时间，写作 2026-12-03 14:30。"),
        click.option("--end", help="结束时间，写作 2026-12-03 16:00。"),
        click.option("--place", help="地点。"),
        click.option("--link", help="线上会议链接（http 或 https）。"),
        click.option("--agenda", help="议程。"),
        click.option("--speaker", help="主讲人（党课）。"),
        click.option("--reading", "readings", multiple=True, help="学习材料：条文编号；可重复。"),
        click.option("--material-link", "links", multiple=True, help="学习材料：链接；可重复。"),
        click.option("--task", "task_id", type=int, help="学习材料：一项学习任务的内部编号。"),
        click.option("--notice-days", type=int, help="提前几天发通知（默认 0：创建时就发）。"),
        click.option("--group", "groups", multiple=True,
                     help="参会对象：本支部的党小组（写组名或 支部/党小组）；可重复。"),
        click.option("--member", "member_ids", multiple=True, type=int,
                     help="参会对象：党员编号；可重复（如支委会的支委）。"),
    )):
        command = option(command)
    return command


def _audience(groups: tuple[str, ...], member_ids: tuple[int, ...]) -> dict | None:
    chosen: dict[str, Any] = {}
    if groups:
        chosen["groups"] = list(groups)
    if member_ids:
        chosen["members"] = list(member_ids)
    return chosen or None


def _materials(readings: tuple[str, ...], links: tuple[str, ...],
               task_id: int | None) -> dict[str, Any] | None:
    if not readings and not links and task_id is None:
        return None
    return {"readings": list(readings), "links": list(links),
            **({"task": task_id} if task_id is not None else {})}


@group.command("add")
@click.option("--branch", required=True, help="会议所属的支部。")
@_options
@pass_ctx
def add(ctx: Ctx, branch: str, kind: str | None, title: str | None, start: str | None,
        end: str | None, place: str | None, link: str | None, agenda: str | None,
        speaker: str | None, readings: tuple[str, ...], links: tuple[str, ...],
        task_id: int | None, notice_days: int | None, groups: tuple[str, ...],
        member_ids: tuple[int, ...]) -> None:
    """安排一次会议（默认面向整个支部），随后发出会议通知。"""
    if not kind or not title or not start or not end:
        raise click.ClickException("请写明 --kind 类型、--title 名称、--start 开始和 --end 结束时间。")
    services = ctx.services
    now = services.clock.now()
    try:
        with services.store.transaction() as db:
            meeting = store.add(
                db, branch=branch, kind=kind, title=title, start=start, end=end, now=now,
                audience=_audience(groups, member_ids), place=place or "",
                link=link or "", agenda=agenda or "", speaker=speaker or "",
                materials=_materials(readings, links, task_id), notice_days=notice_days or 0,
                created_by="cli")
            audit.record(db, actor="cli", action="meeting add", detail=meeting_facts(meeting),
                         at=now)
    except MeetingError as exc:
        raise click.ClickException(str(exc)) from None
    meetings.send_notices(services)
    click.echo(f"已安排会议 #{meeting.id}：{meeting.title}（{meetings.when(meeting)}，"
               f"{meeting.where}），签到码 {meeting.code}")


@group.command("list")
@click.option("--branch", help="只列出这个支部。")
@click.option("--all", "everything", is_flag=True, help="包括已结束和已取消的会议。")
@pass_ctx
def list_meetings(ctx: Ctx, branch: str | None, everything: bool) -> None:
    """列出会议：编号、类型、名称、时间、地点、状态。"""
    services = ctx.services
    db, now = services.store.db, services.clock.now()
    if everything:
        rows = db.execute("SELECT id FROM meetings ORDER BY start_at, id").fetchall()
        found = [m for m in (store.get(db, r[0]) for r in rows) if m is not None]
    else:
        found = store.upcoming(db, now)
    found = [m for m in found if branch is None or m.branch == branch]
    if not found:
        click.echo("没有会议。用 meeting add 安排。" if everything else
                   "近期没有会议（加 --all 查看全部）。用 meeting add 安排。")
        return
    for m in found:
        state = "已取消" if m.cancelled else "已结束" if m.end <= now else "已安排"
        click.echo(f"#{m.id}｜{m.branch}｜{m.kind}｜{m.title}｜{meetings.when(m)}｜{m.where}｜{state}")


def _find(ctx: Ctx, meeting_id: int) -> Meeting:
    meeting = store.get(ctx.services.store.db, meeting_id)
    if meeting is None:
        raise click.ClickException(f"没有编号为 {meeting_id} 的会议。用 meeting list --all 查看。")
    return meeting


@group.command("show")
@click.argument("meeting_id", type=int)
@pass_ctx
def show(ctx: Ctx, meeting_id: int) -> None:
    """一次会议的详情、签到码和每位党员的出勤。"""
    meeting = _find(ctx, meeting_id)
    services = ctx.services
    db, now = services.store.db, services.clock.now()
    state = "已取消" if meeting.cancelled else "已结束" if meeting.end <= now else "已安排"
    click.echo(f"#{meeting.id} {meeting.branch}（{state}）")
    click.echo("\n".join(meetings.summary(db, meeting)))
    click.echo(f"签到码：{meeting.code}")
    attendees = meetings.attendance(db, meeting, now)
    counted = meetings.counts(attendees)
    click.echo(f"参会对象 {len(attendees)} 人：出席 {counted['present']}，请假 {counted['leave']}，"
               f"缺席 {counted['absent']}")
    for a in attendees:
        status = store.MARKS.get(a.status or "", "未签到")
        extra = f"，请假：{a.leave.reason}（{store.LEAVE_STATUSES[a.leave.status]}）" if a.leave else ""
        click.echo(f"  {a.member.name}（{a.member.grp or '未分组'}）：{status}{extra}")
    if meeting.minutes:
        click.echo(f"会议记录：\n{meeting.minutes}")


@group.command("edit")
@click.argument("meeting_id", type=int)
@_options
@pass_ctx
def edit(ctx: Ctx, meeting_id: int, kind: str | None, title: str | None, start: str | None,
         end: str | None, place: str | None, link: str | None, agenda: str | None,
         speaker: str | None, readings: tuple[str, ...], links: tuple[str, ...],
         task_id: int | None, notice_days: int | None, groups: tuple[str, ...],
         member_ids: tuple[int, ...]) -> None:
    """修改一次还没开始的会议；时间或地点有变时通知已收到通知的人。"""
    meeting = _find(ctx, meeting_id)
    changes: dict[str, Any] = {name: value for name, value in (
        ("kind", kind), ("title", title), ("start", start), ("end", end), ("place", place),
        ("link", link), ("agenda", agenda), ("speaker", speaker),
        ("notice_days", notice_days)) if value is not None}
    audience = _audience(groups, member_ids)
    if audience is not None:
        changes["audience"] = audience
    materials = _materials(readings, links, task_id)
    if materials is not None:
        changes["materials"] = materials
    services = ctx.services
    now = services.clock.now()
    try:
        with services.store.transaction() as db:
            updated, changed = store.edit(db, meeting.id, now=now, **changes)
            if changed:
                audit.record(db, actor="cli", action="meeting edit",
                             detail={**meeting_facts(updated), "fields": changed}, at=now)
    except MeetingError as exc:
        raise click.ClickException(str(exc)) from None
    if not changed:
        click.echo("内容没有变化，未修改。")
        return
    meetings.send_notices(services)
    told = "，已通知已收到通知的党员" if set(changed) & set(store.NOTIFIED_FIELDS) else ""
    click.echo(f"已修改会议 #{updated.id}：{updated.title}（{meetings.when(updated)}，"
               f"{updated.where}）{told}")


@group.command("cancel")
@click.argument("meeting_id", type=int)
@pass_ctx
def cancel(ctx: Ctx, meeting_id: int) -> None:
    """取消一次还没开始的会议，并通知已收到通知的人。"""
    meeting = _find(ctx, meeting_id)
    services = ctx.services
    now = services.clock.now()
    try:
        with services.store.transaction() as db:
            cancelled = store.cancel(db, meeting.id, now=now)
            audit.record(db, actor="cli", action="meeting cancel",
                         detail=meeting_facts(cancelled), at=now)
    except MeetingError as exc:
        raise click.ClickException(str(exc)) from None
    meetings.send_notices(services)
    click.echo(f"已取消会议 #{meeting.id}：{meeting.title}")


@group.command("notices")
@pass_ctx
def notices(ctx: Ctx) -> None:
    """发出到期的会议通知、提醒、变更和补学任务（定时任务每次也会运行）。"""
    services = ctx.services
    meetings.send_notices(services)
    meetings.send_leave_messages(services)
    click.echo("已处理到期的会议通知。")
