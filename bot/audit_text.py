"""Audit rows as sentences people read: 「张书记 于 12-04 09:12 导入名册：新增 0 人，更新 2 人」.

The audit table keeps codes (bot/store/audit.py: actor "console:张书记", action "roster import",
detail a JSON object of facts). This module is the one place that puts them in Chinese:

- `ACTIONS`: every action code the code base writes, with its Chinese name and a renderer for
  the facts its writer stores (tests/test_audit_text.py walks the source and fails when a code
  written anywhere is missing here);
- `actor_name`: "console:张书记" -> 张书记, "cli" -> 命令行, "init" -> 初始化, ...;
- `LEGACY`: rows written before details were JSON hold a free-form string ("0 new, 2 updated,
  1 WeCom accounts", "#2 once {'at': ...} -> ..."); each known format is parsed back into the
  same facts, so an old row reads like a new one. A string that matches no format is shown only
  if it is Chinese already; a code or a raw dict never reaches the page.

The writers build their facts with `task_facts`, `member_facts` (here, next to the renderers
that read them) and `schedules.admin.audit_facts`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import audience as audiences
from bot.store import admins, alerts
from bot.store.audit import facts as stored_facts

Facts = Mapping[str, Any]

# --- actors -------------------------------------------------------------------------------

FIXED_ACTORS = {"cli": "命令行", "init": "初始化", "scheduler": "系统定时任务", "system": "系统",
                "setup": "首次设置"}
# "console:<account>", "chat:<member>" (an admin in the chat), "login:<typed name>" (a failed login)
NAMED_PREFIXES = ("console:", "chat:", "login:")


def actor_name(actor: str) -> str:
    """Who did it, as a person reads it: an account's or member's name, or 命令行 / 初始化 / ..."""
    if actor in FIXED_ACTORS:
        return FIXED_ACTORS[actor]
    for prefix in NAMED_PREFIXES:
        if actor.startswith(prefix) and actor[len(prefix):].strip():
            return actor[len(prefix):].strip()
    return "系统"  # an actor code this table does not know is never shown as a code


def actor_code(label: str) -> str | None:
    """The stored actor for a fixed actor's Chinese name (命令行 -> cli), for the log's filter."""
    return next((code for code, name in FIXED_ACTORS.items() if name == label.strip()), None)


# --- labels the renderers share -----------------------------------------------------------

TASK_FIELD_NAMES = {"title": "标题", "detail": "内容", "link": "链接", "due": "截止日期",
                    "kind": "类型", "required": "必学/选学", "audience": "对象",
                    "readings": "学习材料"}


def account_role_name(role: str) -> str:
    return admins.ROLE_NAMES.get(role, "其他角色")


def task_facts(task: Any) -> dict[str, Any]:
    """What the audit keeps of a study task (bot.store.tasks.Task), from the console or the CLI."""
    return {"task": task.id, "slug": task.slug, "month": task.month, "position": task.position,
            "title": task.title, "due": task.due.isoformat(), "audience": task.audience}


def meeting_facts(meeting: Any) -> dict[str, Any]:
    """What the audit keeps of a meeting (bot.store.meetings.Meeting), from the console or CLI."""
    return {"meeting": meeting.id, "kind": meeting.kind, "title": meeting.title,
            "branch": meeting.branch, "start": meeting.start.strftime("%Y-%m-%d %H:%M")}


def member_facts(member: Any) -> dict[str, Any]:
    """What the audit keeps of a member (bot.store.members.Member) an admin acted on."""
    return {"member": member.id, "name": member.name, "branch": member.branch}


# --- each action's detail -----------------------------------------------------------------

def _roster(f: Facts) -> str:
    if not (f["created"] or f["updated"] or f.get("wecom")):
        return "没有变化"  # as the import itself said (bot.roster.ImportResult.summary)
    text = f"新增 {f['created']} 人，更新 {f['updated']} 人"
    return text + (f"，关联企业微信账号 {f['wecom']} 个" if f.get("wecom") else "")


def _regulation(f: Facts) -> str:
    text = f"《{f['source']}》{f['version']}年版，{f['articles']} 条"
    return text + (f"，新增或更新 {f['changed']} 条" if "changed" in f else "")


def _upload(f: Facts) -> str:
    text = f"文件 {f['file']}，《{f['source']}》"
    return text + (f"{f['version']}年版，{f['articles']} 条（尚未写入）" if "articles" in f else "")


def _alert(f: Facts) -> str:
    kind = str(f.get("kind", "")).partition(":")[0]
    title = alerts.KIND_NAMES.get(kind)
    return f"#{f['alert']}" + (f"（{title}）" if title else "")


def _task(f: Facts) -> str:
    text = f"{f['month']} 第 {f['position']} 项"
    return text + (f"「{f['title']}」" if f.get("title") else "")


def _task_added(f: Facts) -> str:
    text = _task(f)
    if "audience" in f:
        text += f"，面向{audiences.describe(f['audience'])}"
    return text + (f"，{f['due'][5:]} 截止" if f.get("due") else "")


def _task_edited(f: Facts) -> str:
    fields = [TASK_FIELD_NAMES.get(name, "其他") for name in f.get("fields", ())]
    return _task(f) + (f"：改了{'、'.join(dict.fromkeys(fields))}" if fields else "（无变化）")


def _meeting(f: Facts) -> str:
    return f"{f.get('branch', '')}{f.get('start', '')[5:]}【{f.get('kind', '会议')}】{f.get('title', '')}"


def _meeting_edited(f: Facts) -> str:
    names = {"kind": "类型", "title": "名称", "audience": "参会对象", "start": "开始时间",
             "end": "结束时间", "place": "地点", "link": "线上链接", "agenda": "议程",
             "speaker": "主讲人", "materials": "学习材料", "notice_days": "提前通知天数"}
    fields = [names.get(n, n) for n in f.get("fields", ())]
    return _meeting(f) + (f"：改了{'、'.join(fields)}" if fields else "")


def _meeting_leave(f: Facts) -> str:
    verdict = "同意" if f.get("approve") else "不同意"
    return _meeting(f) + f"：{verdict}{f.get('name', '')}的请假"


def _meeting_download(f: Facts) -> str:
    return f"{f.get('year', '')}年，{f.get('branch') or '全部支部'}，{f.get('format', '')}"


def _tasks_import(f: Facts) -> str:
    return f"{f['month']}（文件 {f['file']}）：新增 {f['added']} 项，更新 {f['updated']} 项"


def _account(f: Facts) -> str:
    return f"{f['name']}（{account_role_name(f['role'])}，{f.get('branch') or '全部支部'}）"


def _account_role(f: Facts) -> str:
    return f"{f['name']} 改为{account_role_name(f['role'])}（{f.get('branch') or '全部支部'}）"


def _member(f: Facts) -> str:
    return f"{f['name']}（{f['branch']}）"


def _from(f: Facts) -> str:
    return f"来自 {f['ip']}" if f.get("ip") else ""


def _denied(f: Facts) -> str:
    if f.get("need") == "admin":
        return "仅限管理员的页面"
    return str(f["what"]) + (f"（支部 {f.get('branch') or '全部'}）" if "branch" in f else "")


def _report(f: Facts) -> str:
    return (f"{f['month']} 学习情况月报（{f.get('branch') or '全部支部'}，"
            f"{str(f['format']).upper()}，{f['rows']} 人）")


def _schedule_id(f: Facts) -> str:
    # A one-off sent now is used up: it will not send again at its time.
    return f"#{f['schedule']}" + ("（一次性消息，发送后即完成）" if f.get("consumed") else "")


def _schedule(f: Facts) -> str:
    from schedules.admin import describe_when  # schedules.admin writes through bot.store.audit

    when = describe_when(f["kind"], f["spec"], bool(f.get("workdays_only")))
    who = audiences.describe(f["audience"]) if "audience" in f else f.get("audience_text", "")
    text = f"#{f['schedule']} {when}" + (f"，发给{who}" if who else "")
    return text + (f"：{f['content']}" if f.get("content") else "")


def _vote(f: Facts) -> str:
    text = f"#{f['vote']}「{f['title']}」"
    if "audience" in f:
        text += f"，{audiences.describe(f['audience'])}投票，{f['opens_at']} 至 {f['closes_at']}"
    return text + (f"，提醒 {f['members']} 人" if "members" in f else "")


def _daily_push(f: Facts) -> str:
    from schedules.admin import describe_when

    after = describe_when("daily", {"time": f["time"]}, bool(f.get("workdays_only")))
    return f"改为{after}" + (f"，原为{f['before']}" if f.get("before") else "")


def _daily_push_when(f: Facts) -> str:
    return str(f.get("when", ""))


def _birthday_push(f: Facts) -> str:
    oath = "，修改了入党誓词" if f.get("oath_changed") else ""
    return f"改为{f.get('when', '')}" + (f"，原为{f['before']}" if f.get("before") else "") + oath


def _demo(f: Facts) -> str:
    return f"{f['members']} 名演示成员"


def _nothing(f: Facts) -> str:
    return ""


def _name(f: Facts) -> str:
    return str(f["name"])


@dataclass(frozen=True)
class Action:
    label: str
    detail: Callable[[Facts], str] = _nothing


ACTIONS: dict[str, Action] = {
    "login": Action("登录后台", _from),
    "login.failed": Action("登录失败", _from),
    "logout": Action("退出登录"),
    "denied": Action("被拒绝访问", _denied),
    "account.create": Action("新建账号", _account),
    "account.password": Action("重设账号密码", _name),
    "account.enable": Action("启用账号", _name),
    "account.disable": Action("停用账号", _name),
    "account.role": Action("修改账号角色", _account_role),
    "member.bind-code": Action("生成绑定码", _member),
    "member.deactivate": Action("停用成员", _member),
    "member.reactivate": Action("恢复成员", _member),
    "roster import": Action("导入名册", _roster),
    "demo roster": Action("添加演示名册", _demo),
    "regulation import": Action("导入法规", _regulation),
    "content.import.preview": Action("上传法规待确认", _upload),
    "content.import.discard": Action("放弃导入法规", _upload),
    "content.import": Action("确认导入法规", _regulation),
    "report.download": Action("下载月报", _report),
    "schedule add": Action("新建定时消息", _schedule),
    "schedule edit": Action("修改定时消息", _schedule),
    "schedule paused": Action("暂停定时消息", _schedule_id),
    "schedule active": Action("恢复定时消息", _schedule_id),
    "schedule cancelled": Action("取消定时消息", _schedule_id),
    "schedule send-now": Action("立即发送定时消息", _schedule_id),
    "daily-push edit": Action("修改每日纪法推送时间", _daily_push),
    "daily-push paused": Action("暂停每日纪法推送", _daily_push_when),
    "daily-push active": Action("恢复每日纪法推送", _daily_push_when),
    "daily-push reset": Action("每日纪法推送恢复为配置文件的设置", _daily_push_when),
    "birthday-push edit": Action("修改政治生日推送", _birthday_push),
    "birthday-push reset": Action("政治生日推送恢复为配置文件的设置", _daily_push_when),
    "task add": Action("添加学习任务", _task_added),       # the CLI's codes
    "task edit": Action("修改学习任务", _task_edited),
    "task remove": Action("删除学习任务", _task),
    "task.add": Action("添加学习任务", _task_added),       # the console's
    "task.edit": Action("修改学习任务", _task_edited),
    "task.remove": Action("删除学习任务", _task),
    "tasks import": Action("导入学习任务", _tasks_import),
    "alert ack": Action("确认告警", _alert),
    "vote open": Action("发起评选", _vote),
    "vote close": Action("提前结束评选", _vote),
    "vote remind": Action("提醒未投票党员", _vote),
    "vote tally download": Action("下载计票结果", _vote),
    "meeting add": Action("安排会议", _meeting),          # the CLI's codes
    "meeting edit": Action("修改会议", _meeting_edited),
    "meeting cancel": Action("取消会议", _meeting),
    "meeting.add": Action("安排会议", _meeting),          # the console's
    "meeting.edit": Action("修改会议", _meeting_edited),
    "meeting.cancel": Action("取消会议", _meeting),
    "meeting.minutes": Action("填写会议记录", _meeting),
    "meeting.attendance": Action("登记出勤", _meeting),
    "meeting.leave": Action("审批请假", _meeting_leave),
    "meeting.download": Action("下载组织生活台账", _meeting_download),
}
UNKNOWN = Action("其他操作")


def action_label(code: str) -> str:
    return ACTIONS.get(code, UNKNOWN).label


def codes_named_like(code: str) -> list[str]:
    """Every code with the same Chinese name (the CLI's "task add" and the console's
    "task.add"), so filtering by one name finds both."""
    if code not in ACTIONS:
        return [code]
    return [c for c, action in ACTIONS.items() if action.label == ACTIONS[code].label]


def action_choices(codes: Iterable[str]) -> list[tuple[str, str]]:
    """(code, Chinese name) for the log's filter, one per name, in the table's order."""
    present = set(codes)
    seen: dict[str, str] = {}
    for code, action in ACTIONS.items():
        if code in present and action.label not in seen.values():
            seen[code] = action.label
    if present - set(ACTIONS):
        seen.setdefault(sorted(present - set(ACTIONS))[0], UNKNOWN.label)
    return list(seen.items())


# --- rows written before details were JSON ------------------------------------------------

INT_FACTS = {"created", "updated", "wecom", "members", "alert", "position", "articles",
             "changed", "rows", "schedule", "member", "added"}


def _pattern(regex: str, *names: str) -> Callable[[str], dict[str, Any] | None]:
    compiled = re.compile(regex)

    def parse(text: str) -> dict[str, Any] | None:
        match = compiled.fullmatch(text.strip())
        if match is None:
            return None
        return {name: int(value) if name in INT_FACTS else value
                for name, value in zip(names, match.groups(), strict=True)}

    return parse


def _old_account(text: str) -> dict[str, Any] | None:
    found = _pattern(r"(\S+) 角色=(\S+) 支部=(.+)", "name", "role", "branch")(text)
    if found and found["branch"] == "全部":
        found["branch"] = None
    return found


def _old_report(text: str) -> dict[str, Any] | None:
    found = _pattern(r"(\d{4}-\d{2}) (.+) (CSV|XLSX)（(\d+) 人）",
                     "month", "branch", "format", "rows")(text)
    if found and found["branch"] == "全部支部":
        found["branch"] = None
    return found


def _old_denied(text: str) -> dict[str, Any] | None:
    found = _pattern(r"[A-Z]+ (\S+): (.+)", "path", "what")(text)
    if found and found["what"] == "需要管理员":
        return {"need": "admin"}
    return found  # the what already carries its （支部 …）


def _old_schedule(text: str) -> dict[str, Any] | None:
    chat = _pattern(r"#(\d+) once (\S+)", "schedule", "at")(text)
    if chat:
        return {"schedule": chat["schedule"], "kind": "once", "spec": {"at": chat["at"]}}
    found = _pattern(r"#(\d+) (\w+) (\{.*?\}) -> (.*?): (.*)",
                     "schedule", "kind", "spec", "audience_text", "content")(text)
    if found:
        found["spec"] = ast.literal_eval(found["spec"])  # written as a dict's repr
    return found


def _old_task_edit(text: str) -> dict[str, Any] | None:
    found = _pattern(r"(\d{4}-\d{2}) #(\d+) (.*)", "month", "position", "fields")(text)
    if found:
        found["fields"] = [name for name in found["fields"].split(", ") if name]
    return found


_OLD_TASK = _pattern(r"(\d{4}-\d{2}) #(\d+) \S+", "month", "position")
_OLD_MEMBER = _pattern(r"#(\d+) (\S+) (.+)", "member", "branch", "name")
_OLD_FROM = _pattern(r"来自 (.+)", "ip")
_OLD_ID = _pattern(r"#(\d+)", "schedule")
_OLD_NAME = _pattern(r"(\S+)", "name")

LEGACY: dict[str, Callable[[str], dict[str, Any] | None]] = {
    "login": _OLD_FROM,
    "login.failed": _OLD_FROM,
    "denied": _old_denied,
    "account.create": _old_account,
    "account.role": _old_account,
    "account.password": _OLD_NAME,
    "account.enable": _OLD_NAME,
    "account.disable": _OLD_NAME,
    "member.bind-code": _OLD_MEMBER,
    "member.deactivate": _OLD_MEMBER,
    "member.reactivate": _OLD_MEMBER,
    "roster import": _pattern(r"(\d+) new, (\d+) updated, (\d+) WeCom accounts",
                              "created", "updated", "wecom"),
    "demo roster": _pattern(r"(\d+) demo members", "members"),
    "regulation import": _pattern(r"(.+) (\S+): (\d+) articles", "source", "version", "articles"),
    "content.import.preview": _pattern(r"(.+?)：(.+) (\S+)，(\d+) 条",
                                       "file", "source", "version", "articles"),
    "content.import.discard": _pattern(r"(.+?)：(.+)", "file", "source"),
    "content.import": _pattern(r"(.+) (\S+)：(\d+) 条，新增或更新 (\d+) 条",
                               "source", "version", "articles", "changed"),
    "report.download": _old_report,
    "schedule add": _old_schedule,
    "schedule edit": _old_schedule,
    "schedule paused": _OLD_ID,
    "schedule active": _OLD_ID,
    "schedule cancelled": _OLD_ID,
    "schedule send-now": _OLD_ID,
    "task add": _OLD_TASK,
    "task edit": _old_task_edit,
    "task remove": _OLD_TASK,
    "tasks import": _pattern(r"(\d{4}-\d{2}) from (.+): (\d+) added, (\d+) updated",
                             "month", "file", "added", "updated"),
    "alert ack": _pattern(r"#(\d+) (\S+)", "alert", "kind"),
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _old_text(action: str, text: str) -> tuple[dict[str, Any] | None, str]:
    """An old free-form detail as facts, or (None, the text if it is safe to show as is)."""
    parse = LEGACY.get(action)
    try:
        found = parse(text) if parse and text.strip() else None
    except (ValueError, SyntaxError):  # a spec that is not a dict's repr
        found = None
    if found is not None:
        return found, ""
    readable = bool(CJK.search(text)) and "{" not in text and "}" not in text
    return None, text.strip() if readable else ""


# --- a row ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    who: str
    when: str
    what: str     # the action's name
    detail: str   # "" when there is nothing to add

    @property
    def sentence(self) -> str:
        return f"{self.who} 于 {self.when} {self.what}" + (f"：{self.detail}" if self.detail else "")


def detail_text(action: str, detail: str) -> str:
    """A row's detail in Chinese (structured or old), or "" when there is nothing readable."""
    facts = stored_facts(detail)
    shown = ""
    if facts is None:
        facts, shown = _old_text(action, detail)
    if facts is None:
        return shown
    try:
        return ACTIONS.get(action, UNKNOWN).detail(facts)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return ""  # facts of another shape (a hand-made row): the action's name says enough


def when_text(at: str, this_year: int) -> str:
    moment = datetime.fromisoformat(at)
    return f"{moment:%m-%d %H:%M}" if moment.year == this_year else f"{moment:%Y-%m-%d %H:%M}"


def describe(row: Mapping[str, Any], this_year: int) -> Entry:
    """One audit row (at, actor, action, detail) as an Entry; `this_year` drops the year."""
    return Entry(actor_name(row["actor"]), when_text(row["at"], this_year),
                 action_label(row["action"]), detail_text(row["action"], row["detail"] or ""))
