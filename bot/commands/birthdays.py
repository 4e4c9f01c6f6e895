"""`python -m bot birthdays list|preview`: 党员政治生日 by hand (bot/political_birthday.py)."""

from __future__ import annotations

import re
from datetime import date

import click

from bot.cli import Ctx, pass_ctx


@click.group("birthdays")
def group() -> None:
    """党员政治生日：每月名单，以及某一天会发出的祝福和名单。"""


@group.command("list")
@click.option("--month", "month_text", metavar="YYYY-MM", help="哪个月（默认本月）。")
@click.option("--branch", help="只列出这个支部。")
@pass_ctx
def list_month(ctx: Ctx, month_text: str | None, branch: str | None) -> None:
    """列出一个月里过政治生日的在册党员（按日期）；不发送。"""
    from bot.political_birthday import birthdays_in

    today = ctx.services.clock.today()
    year, month = _month(month_text, today)
    found = [b for b in birthdays_in(ctx.services.store.db, year, month)
             if branch in (None, b.member.branch)]
    click.echo(f"{year}年{month}月政治生日：{len(found)} 人。")
    for b in found:
        click.echo(f"{b.day.isoformat()}  {b.member.branch}  {b.member.grp or '—'}  {b.member.name}"
                   f"  {b.dates.joined.isoformat() if b.dates.joined else ''} 入党，{b.years} 周年")


@group.command("preview")
@click.option("--date", "day_text", metavar="YYYY-MM-DD", help="预览哪一天（默认今天）。")
@pass_ctx
def preview(ctx: Ctx, day_text: str | None) -> None:
    """按当前数据预览那一天会发出的政治生日祝福和书记名单；不发送，也不记录。"""
    from bot.political_birthday import plan_day
    from bot.reminders import holiday_calendar
    from schedules import birthday_push

    services = ctx.services
    day = _day(day_text, services.clock.today())
    push = birthday_push.setting(services)  # the console's once changed there, else config.toml's
    messages = plan_day(services.store.db, day, holiday_calendar(services), push.oath)
    state = "已开启" if push.enabled else (
        "未开启（在管理后台「党员政治生日」页开启，或 config.toml 中 [birthday] enabled = true"
        " 后才会发送）" if push.from_config else "未开启（已在管理后台关闭）")
    click.echo(f"{day}：{len(messages)} 条消息，政治生日推送{state}，发送时间 {push.time}。")
    names = dict(services.store.db.execute("SELECT id, name FROM members"))
    for message in messages:
        to = "、".join(names.get(m, str(m)) for m in message.member_ids)
        click.echo(f"\n{message.label} 发给：{to}（{message.key}）")
        click.echo("  " + message.text.replace("\n", "\n  "))


def _day(text: str | None, today: date) -> date:
    if text is None:
        return today
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"日期应写作 2026-10-08，收到 {text!r}", param_hint="--date") from None


def _month(text: str | None, today: date) -> tuple[int, int]:
    if text is None:
        return today.year, today.month
    found = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise click.BadParameter(f"月份应写作 2026-10，收到 {text!r}", param_hint="--month")
    return int(found.group(1)), int(found.group(2))
