"""`python -m bot`: the operator's and admin's command line (click, Flask-style groups)."""

from __future__ import annotations

import contextlib
import csv
import errno
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click

from bot.cli_help import ROLE_CHOICES_HELP
from bot.config import Config, ConfigError, load_config
from bot.services import Services, build_services
from bot.store.members import ROLES as ROLE_NAMES


class Ctx:
    """Loaded lazily, so `--help` works with a broken config."""

    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self._services: Services | None = None

    @property
    def config(self) -> Config:
        try:
            return load_config(self.config_path)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = build_services(self.config)
        return self._services


pass_ctx = click.make_pass_decorator(Ctx)


class StoreErrorsGroup(click.Group):
    """The one place where a database, file or content error of any command becomes one line:
    which file, what is wrong, what to do; exit status 1. Each write is one transaction, rolled
    back on the error, so nothing is half-written."""

    def invoke(self, ctx: click.Context) -> object:
        from bot.holidays import HolidayConfigError
        from bot.library import ContentError
        from bot.store import StoreBusy

        try:
            return super().invoke(ctx)
        except (ContentError, HolidayConfigError) as exc:  # a content file's problem, located
            raise click.ClickException(content_error(ctx, exc)) from None
        except (sqlite3.DatabaseError, OSError, StoreBusy) as exc:
            raise click.ClickException(storage_error(_store_path(ctx), exc)) from None


def _store_path(ctx: click.Context) -> str:
    obj = ctx.obj
    if isinstance(obj, Ctx):
        if obj._services is not None:
            return obj._services.store.path
        try:
            return str(obj.config.store_path)
        except click.ClickException:
            pass
    return "数据库文件"


def _no_space_left(path: str) -> bool:
    """SQLite reports a write that found the disk full as "disk I/O error" (SQLITE_IOERR)
    when the WAL or its index cannot grow: ask the file system."""
    try:
        stats = os.statvfs(Path(path).parent)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 64 * 1024


def content_error(ctx: click.Context, exc: BaseException) -> str:
    """One Chinese line for a content file that does not load (bot.library.ContentError names
    the file, the entry and the field): a missing content folder points at content.path."""
    obj = ctx.obj
    folder = None
    if isinstance(obj, Ctx):
        with contextlib.suppress(click.ClickException):
            folder = obj.config.content_path
    if folder is not None and not folder.is_dir():
        return (f"找不到内容目录 {folder}：请检查配置中的 content.path"
                "（应指向含 readings、quiz.toml 等的 content 目录），本次未写入任何数据。")
    return f"内容文件有误：{exc}。请按提示改正该文件后重试，本次未写入任何数据。"


def storage_error(path: str, exc: BaseException) -> str:
    """One Chinese line for a database or file error."""
    text = str(exc).lower()
    name = getattr(exc, "filename", None) or path
    if getattr(exc, "errno", None) == errno.ENOSPC or "full" in text \
            or ("i/o" in text and _no_space_left(path)):
        return f"磁盘已满，无法写入 {name}：请清理磁盘空间后重试（本次未写入任何数据）。"
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError) \
            or getattr(exc, "errno", None) in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"无法写入 {name}：文件或所在目录是只读的，请检查权限（包括 chattr +i）"
                "或配置中的 store.path（本次未写入任何数据）。")
    if "not a database" in text or "malformed" in text or "encrypted" in text:
        return (f"{name} 不是可用的清风数据库（{exc}）：请检查配置中的 store.path，"
                "或从备份恢复该文件。")
    if "locked" in text or "busy" in text:
        return f"数据库 {name} 正被其他进程占用：请稍后再试（本次未做任何修改）。"
    return f"无法读写 {name}（{exc}）：请检查该文件和磁盘后重试。"


@click.group(cls=StoreErrorsGroup)
@click.option("--config", "config_path", default="config.toml", show_default=True,
              envvar="QINGFENG_CONFIG", help="配置文件（TOML 格式）。")
@click.pass_context
def cli(click_ctx: click.Context, config_path: str) -> None:
    """清风：党支部在微信公众号和企业微信上的每日学习服务。

    每个子命令后加 --help 可看其用法，例如 python -m bot schedule add --help。
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # APScheduler logs every run of the 15-second lease tick at INFO: keep only its warnings.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    click_ctx.obj = Ctx(config_path)


@cli.command()
@click.option("--no-demo", is_flag=True, help="空数据库时不添加演示名册。")
@pass_ctx
def init(ctx: Ctx, no_demo: bool) -> None:
    """创建或升级数据库，并载入默认学习内容。"""
    from bot.library import load_library
    from bot.seed import initialise

    # The content is checked before the database is opened: a broken file leaves it untouched.
    library = load_library(ctx.config.content_path)
    report = initialise(ctx.services, demo=not no_demo, library=library)
    click.echo(f"数据库已就绪：{ctx.services.store.path}（结构版本 {report.schema_version}）")
    if report.demo_members_added:
        click.echo(f"已添加 {report.demo_members_added} 名演示成员（标记为「演示」，导入真实名册后可停用）。")
    from bot.audience import stored_problems

    for line in stored_problems(ctx.services.store.db):  # ambiguous groups, nobody reached
        click.echo(f"注意：{line}")
    from bot.console.first_run import accounts_exist

    if not accounts_exist(ctx.services.store.db):
        click.echo("还没有管理后台账号：启动服务（serve）时会显示一次性的首次设置链接，"
                   "也可以运行 python -m bot admin create 姓名。")


@cli.command()
@click.option("--no-scheduler", is_flag=True, help="只启动网页服务，不运行定时任务。")
@pass_ctx
def serve(ctx: Ctx, no_scheduler: bool) -> None:
    """启动网页服务（gunicorn）和定时任务。"""
    from bot.server import serve as run_server

    config = ctx.config
    click.echo(serve_banner(ctx))
    ctx.services.store.close()  # each gunicorn worker opens its own after the fork
    run_server(config, with_scheduler=not no_scheduler)


# The sandbox is named as members and the console name it (its page is the 模拟器).
CHANNEL_NAMES = {"mp": "公众号", "wecom": "企业微信", "sandbox": "模拟器"}


def serve_banner(ctx: Ctx) -> str:
    """Where everything is, and, while no console account exists, the one-time setup link
    (printed here only: never logged; bot/console/first_run.py)."""
    from bot.console import first_run

    config = ctx.config
    base = first_run.base_url(config)
    channels = "、".join(CHANNEL_NAMES[name] for name in CHANNEL_NAMES
                        if config.get(f"{name}.enabled"))
    lines = [f"清风服务地址：{base}（渠道：{channels or '无'}）"]
    if config.get("sandbox.enabled"):
        lines.append(f"  成员模拟器：{base}/sim（扮演演示成员聊天）")
    lines.append(f"  管理后台：  {base}/admin")
    token = first_run.issue(ctx.services.store)
    if token is not None:
        lines += ["  还没有后台账号。首次设置（一次性链接，请勿转发；创建第一个账号后失效）：",
                  f"    {first_run.setup_link(config, token)}",
                  "  或在服务器上运行：python -m bot admin create 姓名"]
    lines.append("  按 Ctrl-C 停止。")
    return "\n".join(lines)


@cli.group("config")
def config_group() -> None:
    """配置。"""


@config_group.command("check")
@pass_ctx
def config_check(ctx: Ctx) -> None:
    """检查配置文件和环境变量，指出缺少或写错的地方。"""
    from bot.checks import config_errors, config_warnings
    from bot.clock import Clock

    config = ctx.config  # raises a one-line ClickException when broken
    errors = config_errors(config)
    for line in config_warnings(config, Clock(config.tz).today()):
        click.echo(f"注意：{line}")
    for line in errors:
        click.echo(f"错误：{line}", err=True)
    if errors:
        raise click.ClickException(f"配置检查未通过：{len(errors)} 处错误，见上")
    click.echo(f"配置正确：{config.source}")


@cli.group("members")
def members_group() -> None:
    """党员名册。"""


@members_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="只检查文件并报告结果，不写入。")
@pass_ctx
def members_import(ctx: Ctx, file: Path, dry_run: bool) -> None:
    """从 CSV 或 XLSX 文件导入名册。

    列：姓名、支部、党小组，可选 手机、企业微信账号、角色（党员/党小组长/支部书记/党务干部）、
    入党时间、转正时间（如 2001-07-01）。
    先逐行检查，有任何错误则不写入。
    """
    from bot import roster

    services = ctx.services
    try:
        check = roster.check_rows(roster.read_table(file), services.store,
                                   services.clock.today())
    except roster.RosterError as exc:
        raise click.ClickException(str(exc)) from None
    if not check.ok:
        for error in check.errors:
            click.echo(error, err=True)
        raise click.ClickException(f"名册有 {len(check.errors)} 处错误，未导入任何数据。")
    if dry_run:
        would = roster.plan(services.store, check).preview()
        click.echo(f"检查通过：{len(check.rows)} 行（未写入）；{would}。")
        return
    result = roster.import_rows(services.store, check, actor="cli", now=services.clock.now())
    click.echo(f"导入完成：{result.summary()}。")


@members_group.command("list")
@click.option("--branch", help="只列出这个支部。")
@pass_ctx
def members_list(ctx: Ctx, branch: str | None) -> None:
    """列出党员及其已绑定的渠道（CSV 格式输出）。"""
    from bot.exports import channel_names
    from bot.store import members

    db = ctx.services.store.db
    rows = members.list_members(db, branch=branch)
    out = csv.writer(sys.stdout)
    out.writerow(["编号", "姓名", "支部", "党小组", "角色", "状态", "已绑定"])
    for m in rows:
        channels = channel_names(ch for ch, _id, active in members.identities_of(db, m.id)
                                 if active)
        status = ("在册" if m.active else "停用") + ("（演示）" if m.demo else "")
        out.writerow([m.id, m.name, m.branch, m.grp, members.ROLES.get(m.role, m.role), status,
                      channels])


@cli.group("checkins")
def checkins_group() -> None:
    """学习打卡记录。"""


@checkins_group.command("export")
@click.option("--month", help="月份，写作 YYYY-MM（默认本月）。")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True, help="导出格式。")
@click.option("--out", type=click.Path(path_type=Path),
              help="写入的文件（CSV 不指定时输出到屏幕；XLSX 必须指定）。")
@pass_ctx
def checkins_export(ctx: Ctx, month: str | None, fmt: str, out: Path | None) -> None:
    """导出打卡记录：每次打卡一行，带表头。"""
    from bot.exports import CHECKIN_HEADER, checkin_rows, csv_text, month_range, write_xlsx

    services = ctx.services
    try:
        start, end = month_range(month or services.clock.today().strftime("%Y-%m"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    rows = checkin_rows(services.store.db, start, end)
    if fmt == "xlsx":
        if out is None:
            raise click.BadParameter("XLSX 需要指定文件：加上 --out 文件名.xlsx", param_hint="--out")
        with _writing(out):
            write_xlsx(out, f"打卡 {start:%Y-%m}", CHECKIN_HEADER, rows)
        click.echo(f"已导出 {len(rows)} 条打卡记录到 {out}", err=True)
        return
    text = csv_text(CHECKIN_HEADER, rows)  # formulas made inert (CSV injection)
    if out is None:
        sys.stdout.write(text)
    else:
        with _writing(out):
            out.write_text(text, encoding="utf-8-sig")  # BOM: Excel opens it as UTF-8
        click.echo(f"已导出 {len(rows)} 条打卡记录到 {out}", err=True)


@contextmanager
def _writing(out: Path) -> Iterator[None]:
    """A file that cannot be written (a folder, a path through a file, no permission) is one
    line, not a traceback."""
    try:
        yield
    except OSError as exc:
        raise click.ClickException(f"无法写入 {out}：{exc.strerror or exc}") from None


@cli.group("content")
def content_group() -> None:
    """学习内容（纪法条文库）。"""


@content_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--source", help="法规全称（文本中没有写明时填写）。")
@click.option("--version", "year", help="修订年份（文本中没有写明时填写）。")
@click.option("--dry-run", is_flag=True, help="只显示文本如何拆分成条文，不写入。")
@pass_ctx
def content_import(ctx: Ctx, file: Path, source: str | None, year: str | None,
                   dry_run: bool) -> None:
    """导入一部法规的文本（Markdown 或纯文本），每一条成为一篇学习内容。"""
    from bot.library_sync import import_regulation, parse_file
    from bot.regulations import RegulationError, summary

    try:
        parsed = parse_file(file)
    except RegulationError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    if dry_run:
        click.echo(summary(parsed))
        click.echo("（试运行：未写入）")
        return
    services = ctx.services
    try:
        report = import_regulation(services.store, file, parsed, source=source, version=year,
                                   actor="cli", now=services.clock.now())
    except RegulationError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    if report.already_imported:
        click.echo(f"《{report.source}》{report.version}年版已导入过，内容没有变化。")
        return
    click.echo(f"已导入《{report.source}》{report.version}年版：{report.articles} 条，"
               f"新增或更新 {report.changed} 条。")
    if report.superseded_older:
        click.echo(f"旧版本的 {report.superseded_older} 条已标记为「已被新版本取代」（保留备查）。")
    if not report.is_current:
        click.echo("注意：库中已有更新的版本，本次导入的条文仅作历史备查，不参与推送和搜索。")


@cli.group("reminders")
def reminders_group() -> None:
    """廉洁提醒。"""


@reminders_group.command("plan")
@click.option("--year", type=int, help="要排期的年份（默认今年）。")
@pass_ctx
def reminders_plan(ctx: Ctx, year: int | None) -> None:
    """列出每条廉洁提醒的发送日期、对应节日，以及日期是官方公布还是估算。"""
    from bot.reminders import default_reminders, plan_year

    services = ctx.services
    try:
        plans = plan_year(services, year or services.clock.today().year)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not default_reminders(services):
        raise click.ClickException("数据库中还没有廉洁提醒：请先运行 python -m bot init 载入默认内容")
    click.echo("发送日期    星期  场合    提醒                    节日/锚点         依据")
    for plan in plans:
        status = "官方" if plan.date.official else "估算"
        click.echo(f"{plan.date.day}  周{'一二三四五六日'[plan.date.day.weekday()]}  "
                   f"{plan.reminder.occasion:<4}  {plan.reminder.title:<12}  "
                   f"{plan.date.holiday or '—'}（{plan.date.anchor:%m-%d}起）  [{status}] "
                   f"{plan.date.note.removeprefix('估算：')}")


@cli.group("schedule")
def schedule_group() -> None:
    """定时消息：一次或周期发送，发给全体、支部、党小组或指定党员。"""


def _schedule_definition(at: str | None, daily: str | None, weekly: str | None,
                         monthly: str | None, cron: str | None) -> tuple[str, dict]:
    given = [(k, v) for k, v in (("once", at), ("daily", daily), ("weekly", weekly),
                                 ("monthly", monthly), ("cron", cron)) if v]
    if len(given) != 1:
        raise click.UsageError("请在 --at、--daily、--weekly、--monthly、--cron 中选且只选一个")
    kind, value = given[0]
    if kind == "once":
        return kind, {"at": value.replace(" ", "T")}
    if kind == "daily":
        return kind, {"time": value}
    if kind == "weekly":
        days, _, time = value.rpartition(" ")
        return kind, {"time": time, "weekdays": [d.strip().lower()[:3] for d in days.split(",")
                                                 if d.strip()]}
    if kind == "monthly":
        day, _, time = value.partition(" ")
        if not day.isdigit():
            raise click.BadParameter("应写作几号和时间，如 '1 09:00'", param_hint="--monthly")
        return kind, {"day": int(day), "time": time}
    return kind, {"cron": value}


def _audience(to_all: bool, branch: tuple[str, ...], group: tuple[str, ...],
              member: tuple[int, ...], role: tuple[str, ...]) -> dict:
    audience: dict = {}
    if to_all:
        audience["all"] = True
    for key, values in (("branches", branch), ("groups", group), ("members", member),
                        ("roles", role)):
        if values:
            audience[key] = list(values)
    if not audience:
        raise click.UsageError("请指定发给谁：--all、--branch、--group、--member 或 --role")
    return audience


def _content(text: str | None, reading: bool, reminder: str | None) -> dict:
    # `is not None`: --text "" was given, and deserves "消息内容不能为空", not "give one of".
    given = [c for c in ({"text": text} if text is not None else None,
                         {"reading": "today"} if reading else None,
                         {"reminder": reminder} if reminder is not None else None) if c]
    if len(given) != 1:
        raise click.UsageError("请在 --text、--reading、--reminder 中选且只选一个")
    return given[0]


def _print_preview(preview) -> None:  # noqa: ANN001  (schedules.admin.Preview)
    click.echo(f"发送对象：{preview.audience}（{preview.audience_size} 人）")
    click.echo("接下来的发送时间：" + ("、".join(f"{f:%Y-%m-%d %H:%M}" for f in preview.next_fires)
                                   or "（不会再发送）"))
    click.echo("成员看到的内容：")
    click.echo(preview.text)


@schedule_group.command("add")
@click.option("--at", help="只发一次：'YYYY-MM-DD HH:MM'。")
@click.option("--daily", help="每天：'HH:MM'。")
@click.option("--weekly", help="每周：星期几（mon…sun，逗号分隔）和时间，如 'mon,fri 08:30'。")
@click.option("--monthly", help="每月：几号和时间，如 '1 09:00'（主题党日）。")
@click.option("--cron", help="高级：cron 表达式（分 时 日 月 星期），如 '0 8 * * 1'。")
@click.option("--workdays-only", is_flag=True, help="仅工作日发送（按节假日和调休安排）。")
@click.option("--all", "to_all", is_flag=True, help="发给全体党员。")
@click.option("--branch", multiple=True, help="发给某个支部；可重复。")
@click.option("--group", multiple=True,
              help="发给某个党小组，写作 支部/党小组（只有一个支部有这个名字时可只写组名）；可重复。")
@click.option("--member", multiple=True, type=int, help="发给某位党员（编号）；可重复。")
@click.option("--role", multiple=True, type=click.Choice(list(ROLE_NAMES)),
              help="发给某个角色（" + ROLE_CHOICES_HELP + "）；可重复。")
@click.option("--text", help="消息文字。")
@click.option("--reading", is_flag=True, help="发送当天的每日纪法。")
@click.option("--reminder", help="发送一条廉洁提醒（编号见 content/reminders.toml）。")
@click.option("--robot", type=click.Choice(["text", "markdown"]),
              help="同时由各支部的企业微信群机器人发到群里（text 纯文本或 markdown；见配置 [robots]）。")
@click.option("--allow-duplicate", is_flag=True,
              help="即使已有一条生效中的定时消息在同样时间向同样的人发送同样内容，也照样新建。")
@pass_ctx
def schedule_add(ctx: Ctx, at, daily, weekly, monthly, cron, workdays_only, to_all, branch,  # noqa: ANN001
                 group, member, role, text, reading, reminder, robot, allow_duplicate) -> None:
    """新建一条定时消息，并显示预览。"""
    from schedules import admin

    kind, spec = _schedule_definition(at, daily, weekly, monthly, cron)
    definition = {"kind": kind, "spec": spec, "workdays_only": workdays_only,
                  "audience": _audience(to_all, branch, group, member, role),
                  "content": _content(text, reading, reminder)}
    if robot:
        definition["content"]["robot"] = robot
    services = ctx.services
    try:
        preview = admin.preview(services, **definition)
        schedule_id = admin.create(services, **definition, actor="cli",
                                   allow_duplicate=allow_duplicate)
    except admin.DuplicateSchedule as exc:
        raise click.ClickException(f"{exc}；确要再建一条，请加 --allow-duplicate") from None
    except admin.ScheduleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已创建定时消息 {schedule_id}：{admin.describe_when(kind, spec, workdays_only)}")
    _print_preview(preview)


@schedule_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="包括已取消和已完成的。")
@pass_ctx
def schedule_list(ctx: Ctx, show_all: bool) -> None:
    """列出定时消息。"""
    from bot import audience as audiences
    from bot.store import schedules as store_schedules
    from schedules import admin
    from schedules.jobs import describe_content

    rows = store_schedules.list_all(ctx.services.store.db, include_finished=show_all)
    if not rows:
        click.echo("还没有定时消息。")
    for s in rows:
        click.echo(f"{s.id:>3}  {admin.STATUS_NAMES[s.status]}  "
                   f"{admin.describe_when(s.kind, s.spec, s.workdays_only)}  → "
                   f"{audiences.describe(s.audience)}：{describe_content(s.content)[:30]}")


def _schedule_or_fail(ctx: Ctx, schedule_id: int):  # noqa: ANN202
    from bot.store import schedules as store_schedules

    schedule = store_schedules.get(ctx.services.store.db, schedule_id)
    if schedule is None:
        raise click.ClickException(f"没有编号为 {schedule_id} 的定时消息")
    return schedule


@schedule_group.command("show")
@click.argument("schedule_id", type=int)
@pass_ctx
def schedule_show(ctx: Ctx, schedule_id: int) -> None:
    """查看一条定时消息及每次发送的结果：应发、已送达、失败原因、待发。"""
    from bot import audience as audiences
    from bot import delivery
    from bot.audit_text import actor_name
    from bot.store import schedules as store_schedules
    from schedules import admin
    from schedules.jobs import describe_content

    s = _schedule_or_fail(ctx, schedule_id)
    db = ctx.services.store.db
    click.echo(f"定时消息 {s.id}（{admin.STATUS_NAMES[s.status]}），由 {actor_name(s.created_by)} 创建于 "
               f"{s.created_at:%Y-%m-%d %H:%M}")
    click.echo(f"时间：{admin.describe_when(s.kind, s.spec, s.workdays_only)}")
    click.echo(f"对象：{audiences.describe(s.audience)}")
    click.echo(f"内容：{describe_content(s.content)}")
    broadcasts = store_schedules.broadcasts_of(db, s.id)
    if not broadcasts:
        click.echo("尚未发送过。")
    for b in broadcasts:
        if b["status"] == "missed":
            click.echo(f"{b['fire_at'][:16]}  错过（服务停机超过宽限期，未补发）")
            continue
        c = delivery.counts(db, b["id"])
        if delivery.ROBOT_SUFFIX in b["key"]:  # the group-robot companion: one row per branch
            click.echo(f"{b['fire_at'][:16]}  群机器人：{c.targeted} 个支部群，已发 {c.sent}，"
                       f"待发 {c.pending}，失败 {c.failed}")
        else:
            click.echo(f"{b['fire_at'][:16]}  应发 {c.targeted}，已送达 {c.sent}，待发 {c.pending}，"
                       f"失败 {c.failed}，无法送达 {c.undeliverable}")
        for reason, number in c.reasons.items():
            click.echo(f"    {number} 人：{reason}")


@schedule_group.command("preview")
@click.argument("schedule_id", type=int)
@pass_ctx
def schedule_preview(ctx: Ctx, schedule_id: int) -> None:
    """预览：党员看到的内容、发送人数和接下来五次的发送时间。"""
    from schedules import admin

    s = _schedule_or_fail(ctx, schedule_id)
    try:
        _print_preview(admin.preview(ctx.services, kind=s.kind, spec=s.spec,
                                     workdays_only=s.workdays_only, audience=s.audience,
                                     content=s.content))
    except admin.ScheduleError as exc:
        raise click.ClickException(str(exc)) from None


def _status_command(name: str, status: str, done: str) -> None:
    @schedule_group.command(name)
    @click.argument("schedule_id", type=int)
    @pass_ctx
    def command(ctx: Ctx, schedule_id: int) -> None:
        from schedules import admin

        try:
            admin.set_status(ctx.services, schedule_id, status, actor="cli")
        except admin.ScheduleError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"定时消息 {schedule_id} {done}。")

    command.help = {"paused": "暂停一条定时消息。", "active": "恢复一条已暂停的定时消息。",
                    "cancelled": "取消一条定时消息（保留发送记录）。"}[status]


_status_command("pause", "paused", "已暂停")
_status_command("resume", "active", "已恢复（暂停期间到期的不补发）")
_status_command("cancel", "cancelled", "已取消")


@schedule_group.command("send-now")
@click.argument("schedule_id", type=int)
@pass_ctx
def schedule_send_now(ctx: Ctx, schedule_id: int) -> None:
    """立即发送一次这条定时消息，并完成投递。"""
    from bot import delivery
    from schedules import admin

    services = ctx.services
    consumes = admin.pending_one_off_fire(services, _schedule_or_fail(ctx, schedule_id))
    try:
        broadcast_id = admin.send_now(services, schedule_id, actor="cli")
    except admin.ScheduleError as exc:
        raise click.ClickException(str(exc)) from None
    delivery.drain(services)
    c = delivery.counts(services.store.db, broadcast_id)
    click.echo(f"已发送：应发 {c.targeted}，已送达 {c.sent}，待重试 {c.pending}，失败 {c.failed}，"
               f"无法送达 {c.undeliverable}")
    if consumes is not None:
        click.echo(f"这条一次性消息已完成，原定的 {consumes:%Y-%m-%d %H:%M} 不会再发。")


@cli.group("deliveries")
def deliveries_group() -> None:
    """投递记录。"""


@deliveries_group.command("drain")
@pass_ctx
def deliveries_drain(ctx: Ctx) -> None:
    """发送所有已到时间的待发消息（也会补完被中断的群发）。"""
    from bot import delivery
    from schedules.jobs import resume_expansions

    services = ctx.services
    resume_expansions(services)  # reminders are finished with each member's branch name
    settled = delivery.drain(services)
    pending = services.store.db.execute(
        "SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()[0]
    click.echo(f"本次处理 {settled} 条；仍待重试 {pending} 条。")


# The groups in bot/commands/ import Ctx and pass_ctx from this module, so they are added last.
from bot.cli_help import localise  # noqa: E402
from bot.commands import register_all  # noqa: E402

register_all(cli)
localise(cli)


def main() -> None:
    cli(prog_name="python -m bot")


__all__ = ["cli", "main", "date"]
