"""The schedule form's fields -> a schedule definition (kind, spec, workdays_only, audience,
content), with Chinese errors. Shared by the live preview, create and edit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from schedules.admin import ScheduleError
from schedules.timing import KINDS, WEEKDAY_NAMES

WEEKDAY_LABELS = dict(zip(WEEKDAY_NAMES, "一二三四五六日", strict=True))
TARGETS = ("all", "branches", "groups")
CONTENT_KINDS = ("text", "reading", "reminder")


@dataclass(frozen=True)
class Definition:
    kind: str
    spec: dict[str, Any]
    workdays_only: bool
    audience: dict[str, Any]
    content: dict[str, Any]

    def as_kwargs(self) -> dict[str, Any]:
        return {"kind": self.kind, "spec": self.spec, "workdays_only": self.workdays_only,
                "audience": self.audience, "content": self.content}


def parse(form: MultiDict) -> Definition:
    kind = form.get("kind", "")
    if kind not in KINDS:
        raise ScheduleError("请选择发送方式（一次、每天、每周、每月，或「高级」里的 cron 表达式）", "kind")
    return Definition(kind, _spec(kind, form), form.get("workdays_only") == "1",
                      _audience(form), _content(form))


def _spec(kind: str, form: MultiDict) -> dict[str, Any]:
    if kind == "once":
        at = form.get("at", "").strip().replace(" ", "T")
        if not at:
            raise ScheduleError("请填写发送的日期和时间", "at")
        return {"at": at[:16]}
    if kind == "cron":
        return {"cron": form.get("cron", "").strip()}
    time = form.get("time", "").strip()[:5]
    if not time:
        raise ScheduleError("请填写发送时间（如 08:30）", "time")
    if kind == "daily":
        return {"time": time}
    if kind == "weekly":
        days = [d for d in form.getlist("weekdays") if d in WEEKDAY_NAMES]
        if not days:
            raise ScheduleError("请至少选择一天（周一到周日）", "weekdays")
        return {"time": time, "weekdays": days}
    day = form.get("day", "").strip()
    if not day.isdigit() or not 1 <= int(day) <= 31:
        raise ScheduleError("每月的日期须是 1 到 31", "day")
    return {"day": int(day), "time": time}


def _audience(form: MultiDict) -> dict[str, Any]:
    target = form.get("target", "")
    if target not in TARGETS:
        raise ScheduleError("请选择发送对象", "target")
    if target == "all":
        return {"all": True}
    values = [v.strip() for v in form.getlist(target) if v.strip()]
    if not values:
        raise ScheduleError("请至少选择一个支部" if target == "branches" else "请至少选择一个党小组",
                            target)
    return {target: list(dict.fromkeys(values))}


def _content(form: MultiDict) -> dict[str, Any]:
    what = form.get("content", "")
    if what == "text":
        return {"text": form.get("text", "").replace("\r\n", "\n").strip()}
    if what == "reading":
        return {"reading": "today"}
    if what == "reminder":
        reminder = form.get("reminder", "").strip()
        if not reminder:
            raise ScheduleError("请选择一条廉洁提醒", "reminder")
        return {"reminder": reminder}
    raise ScheduleError("请选择发送内容（文字、每日纪法或廉洁提醒）", "content")


# The form's fields behind each part schedules/admin.py names in ScheduleError.about.
_WHEN_FIELDS = {"once": ["at"], "daily": ["time"], "weekly": ["time", "weekdays"],
                "monthly": ["time", "day"], "cron": ["cron"]}
_PART_FIELDS = {"audience": ["target", "branches", "groups"],
                "content": ["content", "text", "reminder"]}


def fields_of(error: ScheduleError, form: MultiDict) -> list[str]:
    """The form fields an error is about (the preview shows it once one of them has been filled
    in or left, or the form was submitted); [] when it is about the form as a whole."""
    about = error.about
    if about is None:
        return []
    if about == "when":
        return _WHEN_FIELDS.get(form.get("kind", ""), ["kind"])
    return _PART_FIELDS.get(about, [about])


def to_form(kind: str, spec: dict[str, Any], workdays_only: bool, audience: dict[str, Any],
            content: dict[str, Any]) -> dict[str, Any]:
    """An existing schedule as the form's values (for editing)."""
    target = "all" if audience.get("all") else ("branches" if "branches" in audience else "groups")
    what = next(iter(content))
    return {"kind": kind, "at": str(spec.get("at", "")), "time": spec.get("time", ""),
            "weekdays": spec.get("weekdays", []), "day": spec.get("day", ""),
            "cron": spec.get("cron", ""), "workdays_only": workdays_only, "target": target,
            "branches": audience.get("branches", []), "groups": audience.get("groups", []),
            "content": what, "text": content.get("text", ""),
            "reminder": content.get("reminder", "")}
