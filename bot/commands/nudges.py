"""`python -m bot nudges preview|run`: the 督学 rules by hand (bot/nudges.py)."""

from __future__ import annotations

from datetime import date

import click

from bot.cli import Ctx, pass_ctx


@click.group("nudges")
def group() -> None:
    """督学：就未完成的学习任务私信提醒党员。"""


def _day(text: str | None, today: date) -> date:
    if text is None:
        return today
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"日期应写作 2026-11-24，收到 {text!r}", param_hint="--date") from None


def _print_plan(plan, label: str) -> None:  # noqa: ANN001  (bot.nudges.Plan)
    from bot.nudges import LEVEL_NAMES, RULE_NAMES

    weekday = "一二三四五六日"[plan.day.weekday()]
    if not plan.workday:
        click.echo(f"{plan.day}（星期{weekday}）不是工作日，不发督学提醒。")
        return
    told = [n for n in plan.notices if n.told is not None]
    click.echo(f"{plan.day}（星期{weekday}）{label}：提醒 {len(plan.nudges)} 人，"
               f"告知党小组长或支部书记 {len(told)} 人。")
    for nudge in plan.nudges:
        m = nudge.member
        also = ("；另符合：" + "、".join(RULE_NAMES[r] for r in nudge.also)
                + "（每人每天最多一条）") if nudge.also else ""
        click.echo(f"\n【{RULE_NAMES[nudge.rule]}】{m.name}（{m.branch} {m.grp}）{also}")
        click.echo("  " + nudge.text.replace("\n", "\n  "))
    for notice in plan.notices:
        names = "、".join(m.name for m, _months, _levels in notice.about)
        if notice.told is None:
            click.echo(f"\n【第{notice.level}级】{names}：本支部没有可告知的"
                       f"{LEVEL_NAMES[notice.level]}，已记录，不再重复。")
            continue
        role = "党小组长" if notice.told.role == "group_leader" else "支部书记"
        click.echo(f"\n【告知{role}】{notice.told.name}（关于：{names}）")
        click.echo("  " + notice.text.replace("\n", "\n  "))


@group.command("preview")
@click.option("--date", "day_text", metavar="YYYY-MM-DD", help="预览哪一天（默认今天）。")
@pass_ctx
def preview(ctx: Ctx, day_text: str | None) -> None:
    """按当前数据预览那一天谁会收到什么提醒；不发送，也不记录。"""
    from bot.nudges import Settings, plan_day
    from bot.reminders import holiday_calendar

    services = ctx.services
    day = _day(day_text, services.clock.today())
    settings = Settings.from_config(services.config.section("nudge"))
    _print_plan(plan_day(services.store.db, day, settings, holiday_calendar(services)),
                "督学预览（不会发送）")


@group.command("run")
@pass_ctx
def run(ctx: Ctx) -> None:
    """立即发送今天的督学提醒（今天已提醒过的党员不再重复）。"""
    from bot import delivery
    from bot.nudges import run_day

    services = ctx.services
    if not services.config.get("nudge.enabled"):
        click.echo("注意：自动督学未开启（nudge.enabled = false），本次为手动执行。")
    result = run_day(services, services.clock.today(), services.clock.now())
    _print_plan(result.plan, "督学提醒")
    if result.plan.workday:
        delivery.drain(services)
        pending = sum(delivery.counts(services.store.db, b).pending for b in result.broadcast_ids)
        click.echo(f"\n已交付发送（{len(result.broadcast_ids)} 批），仍待重试 {pending} 条。")
