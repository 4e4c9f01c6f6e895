"""What admins do with schedules, shared by the CLI, chat commands and the console:
create (validated), preview, pause, resume, cancel, send now, and report per broadcast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from bot import audience as audiences
from bot import delivery
from bot.reminders import holiday_calendar
from bot.services import Services
from bot.store import audit
from bot.store import schedules as store_schedules
from schedules.jobs import describe_content, render_content
from schedules.timing import KINDS, SpecError, next_fires, trigger_for

MAX_TEXT = 600  # a WeCom text is at most 2,048 bytes; 600 Chinese characters fit
# A schedule's 发送方式, for the console's form and the CLI's help; cron is for the few who
# know crontab, so the form offers it under 高级.
KIND_NAMES = {"once": "一次", "daily": "每天", "weekly": "每周", "monthly": "每月",
              "cron": "高级（cron 表达式）"}
ADVANCED_KINDS = ("cron",)


class ScheduleError(ValueError):
    """A schedule an admin asked for that cannot be made; the message says why (Chinese).

    `about`: the part that is wrong when known: "when", "audience" or "content" here, a form
    field's name in bot/console/schedule_form.py (the console shows a message only once the
    person has filled in or left that part of the form)."""

    def __init__(self, message: str, about: str | None = None) -> None:
        super().__init__(message)
        self.about = about


class DuplicateSchedule(ScheduleError):
    """The schedule asked for is one that already runs: same audience, content and times.
    The caller may create it anyway (the CLI's --allow-duplicate, the console's 仍然创建)."""

    def __init__(self, existing: store_schedules.Schedule) -> None:
        super().__init__(duplicate_note(existing))
        self.existing = existing


@dataclass(frozen=True)
class Preview:
    text: str             # as a member sees it (for the first recipient's branch)
    audience: str         # described in Chinese
    audience_size: int
    next_fires: list[datetime]


def validate(services: Services, *, kind: str, spec: dict[str, Any], workdays_only: bool,
             audience: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    """Raise ScheduleError (Chinese) unless the schedule can be made; return its audience as
    it is to be stored: each group with its branch ("第一党支部/第一党小组"), a bare name
    only when one branch has a group of that name."""
    if kind not in KINDS:
        raise ScheduleError(f"不支持的类型 {kind}（可选：{'、'.join(KINDS)}）", "when")
    try:
        trigger_for(kind, spec, services.clock.tz)
    except SpecError as exc:
        raise ScheduleError(str(exc), "when") from None
    try:
        audience = audiences.resolve(services.store.db, audiences.validate(audience))
    except audiences.AudienceError as exc:
        raise ScheduleError(str(exc), "audience") from None
    if not audiences.members_of(services.store.db, audience):
        raise ScheduleError(f"发送对象「{audiences.describe(audience)}」中没有在册党员", "audience")
    _check_content(services, audience, content)
    return audience


def _check_content(services: Services, audience: dict[str, Any],
                   content: dict[str, Any]) -> None:
    robot = content.get("robot")
    if robot is not None and robot not in ("text", "markdown"):
        raise ScheduleError("群机器人消息的格式须为 text 或 markdown", "content")
    kinds = set(content) - {"robot"}
    if kinds - {"text", "reading", "reminder"} or len(kinds) != 1:
        raise ScheduleError("内容须为一段文字、今日纪法或一条廉洁提醒", "content")
    if robot is not None:
        _check_robots(services, audience)
    if "text" in content and not str(content["text"]).strip():
        raise ScheduleError("消息内容不能为空", "content")
    if "text" in content and len(str(content["text"])) > MAX_TEXT:
        raise ScheduleError(f"消息太长（最多 {MAX_TEXT} 字）", "content")
    if "reminder" in content and not services.store.db.execute(
            "SELECT 1 FROM reminders WHERE id = ?", [content["reminder"]]).fetchone():
        raise ScheduleError(f"没有编号为「{content['reminder']}」的廉洁提醒", "content")


def _check_robots(services: Services, audience: dict[str, Any]) -> None:
    robots = services.config.get("robots.keys") if services.config.get("robots.enabled") else {}
    if not robots:
        raise ScheduleError("群机器人未启用：请在 config.toml 的 [robots] 中为支部配置群机器人")
    branches = {m.branch for m in audiences.members_of(services.store.db, audience)}
    if not branches & set(robots):
        raise ScheduleError(f"发送对象所在的支部（{'、'.join(sorted(branches))}）都没有配置群机器人")


def preview(services: Services, *, kind: str, spec: dict[str, Any], workdays_only: bool,
            audience: dict[str, Any], content: dict[str, Any], count: int = 5) -> Preview:
    audience = validate(services, kind=kind, spec=spec, workdays_only=workdays_only,
                        audience=audience, content=content)
    members = audiences.members_of(services.store.db, audience)
    now = services.clock.now()
    workdays = holiday_calendar(services).is_workday if workdays_only else None
    fires = next_fires(trigger_for(kind, spec, services.clock.tz), now, count, workdays)
    text = _sample_text(services, content, fires[0] if fires else now, members[0].branch)
    return Preview(text, audiences.describe(audience), len(members), fires)


def _sample_text(services: Services, content: dict[str, Any], fire: datetime, branch: str) -> str:
    if "reading" in content:
        return "（发送当天的每日纪法条文）"
    text = render_content(services, content, fire)
    if isinstance(text, str):
        return text
    return text(audiences.Recipient(0, "", branch, "none", ""))


def create(services: Services, *, kind: str, spec: dict[str, Any], workdays_only: bool,
           audience: dict[str, Any], content: dict[str, Any], actor: str,
           allow_duplicate: bool = False) -> int:
    """Create a schedule; DuplicateSchedule if one like it already runs, unless allowed."""
    audience = validate(services, kind=kind, spec=spec, workdays_only=workdays_only,
                        audience=audience, content=content)
    now = services.clock.now()
    if not allow_duplicate:
        existing = find_duplicate(services.store.db, now, services.clock.tz, kind=kind,
                                  spec=spec, audience=audience, content=content)
        if existing is not None:
            raise DuplicateSchedule(existing)
    upcoming = next_fires(trigger_for(kind, spec, services.clock.tz), now, 1)
    if not upcoming:
        # A one-off in the past, or a date that never comes (2月30日): it would never send.
        raise ScheduleError("按这个时间设置，今后不会发送（时间已过去，或日期不存在）", "when")
    if kind == "once" and workdays_only and not holiday_calendar(services).is_workday(
            upcoming[0].date()):
        raise ScheduleError(f"{upcoming[0]:%Y-%m-%d} 不是工作日，而这条消息设为仅工作日发送",
                            "when")
    with services.store.transaction() as db:
        schedule_id = store_schedules.add(db, kind=kind, spec=spec, workdays_only=workdays_only,
                                          audience=audience, content=content, created_by=actor,
                                          now=now)
        audit.record(db, actor=actor, action="schedule add",
                     detail=audit_facts(schedule_id, kind=kind, spec=spec,
                                        workdays_only=workdays_only, audience=audience,
                                        content=content), at=now)
    return schedule_id


def set_status(services: Services, schedule_id: int, status: str, *, actor: str) -> None:
    allowed = {"paused": ("active",), "active": ("paused",), "cancelled": ("active", "paused")}
    with services.store.transaction() as db:
        schedule = store_schedules.get(db, schedule_id)
        if schedule is None:
            raise ScheduleError(f"没有编号为 {schedule_id} 的定时消息")
        if schedule.status not in allowed[status]:
            raise ScheduleError(f"定时消息 {schedule_id} 当前状态为「{STATUS_NAMES[schedule.status]}」，"
                                f"不能改为「{STATUS_NAMES[status]}」")
        store_schedules.set_status(db, schedule_id, status)
        if status == "active":
            # Resuming does not send what fell due while paused.
            store_schedules.mark_handled(db, schedule_id, services.clock.now())
        audit.record(db, actor=actor, action=STATUS_ACTIONS[status],
                     detail={"schedule": schedule_id}, at=services.clock.now())


STATUS_NAMES = {"active": "生效中", "paused": "已暂停", "cancelled": "已取消", "done": "已完成"}
STATUS_ACTIONS = {"paused": "schedule paused", "active": "schedule active",  # audit codes
                  "cancelled": "schedule cancelled"}


def audit_facts(schedule_id: int, *, kind: str, spec: dict[str, Any], workdays_only: bool,
                audience: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    """What the audit keeps of a schedule made or changed (bot/audit_text.py reads it back)."""
    return {"schedule": schedule_id, "kind": kind, "spec": spec, "workdays_only": workdays_only,
            "audience": audience, "content": _shortened(describe_content(content), 80)}


def _shortened(text: str, limit: int) -> str:
    # The log keeps the start of a long text; the ellipsis says there was more.
    return text if len(text) <= limit else text[:limit - 1] + "…"

# Schedules a duplicate is looked for among: a paused one sends again once resumed.
RUNNING = ("active", "paused")
SAME_TIMES_COMPARED = 5  # "same time" = the same next fires (so 每天 08:00 = cron 0 8 * * *)


def find_duplicate(db: sqlite_utils.Database, now: datetime, tz: ZoneInfo, *, kind: str,
                   spec: dict[str, Any], audience: dict[str, Any],
                   content: dict[str, Any],
                   exclude: int | None = None) -> store_schedules.Schedule | None:
    """A running schedule that would send the same thing to the same people at the same times
    (other than `exclude`, the one being edited).

    Compared by effect, not by spelling: the members the audiences reach, the content without
    its group-robot flag (members get the text twice either way), and the next fire times.
    """
    wanted_content = _comparable_content(content)
    wanted_fires: list[datetime] | None = None
    wanted_members: set[int] | None = None
    for other in store_schedules.list_all(db):
        if (other.id == exclude or other.status not in RUNNING
                or _comparable_content(other.content) != wanted_content):
            continue
        if wanted_fires is None:
            wanted_fires = _upcoming(kind, spec, now, tz)
            wanted_members = {m.id for m in audiences.members_of(db, audience)}
        if (_upcoming(other.kind, other.spec, now, tz) == wanted_fires
                and {m.id for m in audiences.members_of(db, other.audience)} == wanted_members):
            return other
    return None


def _comparable_content(content: dict[str, Any]) -> dict[str, Any]:
    plain = {k: v for k, v in content.items() if k != "robot"}
    if "text" in plain:
        plain["text"] = str(plain["text"]).strip()
    return plain


def _upcoming(kind: str, spec: dict[str, Any], now: datetime, tz: ZoneInfo) -> list[datetime]:
    try:
        return next_fires(trigger_for(kind, spec, tz), now, SAME_TIMES_COMPARED)
    except SpecError:
        return []


def duplicate_note(existing: store_schedules.Schedule) -> str:
    return (f"已有一条相同的定时消息 #{existing.id}（{STATUS_NAMES[existing.status]}，"
            f"{describe_when(existing.kind, existing.spec, existing.workdays_only)}，"
            f"对象和内容都相同），再建一条每人会收到两次")


def pending_one_off_fire(services: Services, schedule: store_schedules.Schedule) -> datetime | None:
    """The fire a one-off has still to make (its time, even if just past and not yet handled);
    None for a recurring schedule, or a one-off already sent, missed, cancelled or done."""
    if schedule.kind != "once" or schedule.status not in RUNNING:
        return None
    try:
        trigger = trigger_for(schedule.kind, schedule.spec, services.clock.tz)
    except SpecError:
        return None
    fires = next_fires(trigger, schedule.last_fire_at or schedule.created_at, 1)
    return fires[0] if fires else None


def send_now_effect(services: Services, schedule: store_schedules.Schedule) -> str:
    """What 立即发送 will do to this schedule, said before the admin confirms it."""
    if schedule.status == "cancelled":
        return "已取消的定时消息不能再发送。"
    size = len(audiences.members_of(services.store.db, schedule.audience))
    now_part = f"现在发给{audiences.describe(schedule.audience)}（{size} 人）"
    fire = pending_one_off_fire(services, schedule)
    if fire is not None:
        return (f"{now_part}。这是一次性消息：发送后即为「已完成」，"
                f"原定的 {fire:%Y-%m-%d %H:%M} 不会再发。")
    if schedule.kind == "once":
        return f"这条一次性消息已经发送过。{now_part}，每人会再收到一次。"
    if schedule.status == "paused":
        return f"{now_part}（额外的一次）。这条定时消息仍为「已暂停」，恢复前不会按时发送。"
    workdays = holiday_calendar(services).is_workday if schedule.workdays_only else None
    try:
        upcoming = next_fires(trigger_for(schedule.kind, schedule.spec, services.clock.tz),
                              services.clock.now(), 1, workdays)
    except SpecError:
        upcoming = []
    regular = (f"下一次仍在 {upcoming[0]:%Y-%m-%d %H:%M} 按时发送" if upcoming
               else "之后不会再按时发送")
    return f"{now_part}（额外的一次），不影响定时：{regular}。"


def send_now(services: Services, schedule_id: int, *, actor: str) -> int:
    """Send a schedule's message now. A one-off still to come is consumed: its broadcast takes
    the key of its own fire (schedule:<id>:<time>), so the scheduler, even one racing this
    call or running after a crash before the status change, finds it made and sends nothing;
    then the schedule is done. A recurring schedule keeps its timing (a key of its own)."""
    schedule = store_schedules.get(services.store.db, schedule_id)
    if schedule is None:
        raise ScheduleError(f"没有编号为 {schedule_id} 的定时消息")
    if schedule.status == "cancelled":
        raise ScheduleError("已取消的定时消息不能再发送")
    now = services.clock.now()
    fire = pending_one_off_fire(services, schedule)
    key = (f"schedule:{schedule_id}:{fire.isoformat()}" if fire is not None
           else f"schedule:{schedule_id}:now:{now.isoformat()}")
    with services.store.transaction() as db:
        audit.record(db, actor=actor, action="schedule send-now",
                     detail={"schedule": schedule_id, **({"consumed": True} if fire else {})},
                     at=now)
    text = render_content(services, schedule.content, now)
    if schedule.content.get("robot"):
        delivery.create_robot_broadcast(services, key=key, text=text, audience=schedule.audience,
                                        fire_at=now, msgtype=schedule.content["robot"],
                                        schedule_id=schedule_id)
    broadcast_id = delivery.create_broadcast(services, key=key, text=text,
                                             audience=schedule.audience, fire_at=now,
                                             schedule_id=schedule_id)
    if fire is not None:
        with services.store.transaction() as db:
            store_schedules.mark_handled(db, schedule_id, max(now, fire))
            store_schedules.set_status(db, schedule_id, "done")
    return broadcast_id


def describe_when(kind: str, spec: dict[str, Any], workdays_only: bool) -> str:
    suffix = "（仅工作日）" if workdays_only else ""
    if kind == "once":
        return f"{spec['at'].replace('T', ' ')}{suffix}"
    if kind == "daily":
        return f"每天 {spec['time']}{suffix}"
    if kind == "weekly":
        days = "、".join("周" + "一二三四五六日"[("mon", "tue", "wed", "thu", "fri", "sat",
                                                   "sun").index(d)] for d in spec["weekdays"])
        return f"每{days} {spec['time']}{suffix}"
    if kind == "monthly":
        return f"每月 {spec['day']} 日 {spec['time']}{suffix}"
    return f"按 cron 表达式「{spec['cron']}」{suffix}"
