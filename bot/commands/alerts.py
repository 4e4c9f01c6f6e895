"""`python -m bot alerts list|ack ID`: what the service needs an operator for."""

from __future__ import annotations

import click

from bot.cli import Ctx, pass_ctx


@click.group("alerts")
def group() -> None:
    """告警：调用凭证次数用完、IP 白名单、凭证获取失败、群发失败等需要运维处理的问题。"""


@group.command("list")
@click.option("--all", "show_all", is_flag=True, help="包括已确认的告警。")
@pass_ctx
def alerts_list(ctx: Ctx, show_all: bool) -> None:
    """列出未处理的告警，最新的在前（加 --all 包括已确认的）。"""
    from bot.audit_text import actor_name
    from bot.store import alerts

    rows = alerts.list_alerts(ctx.services.store.db, include_acked=show_all)
    if not rows:
        click.echo("没有告警。" if show_all else "没有未处理的告警。")
    for a in rows:
        state = (f"已确认（{actor_name(a.acked_by)}，{a.acked_at[:16].replace('T', ' ')}）"
                 if a.acked_by and a.acked_at else "未处理")
        click.echo(f"{a.id:>4}  {a.at[:16].replace('T', ' ')}  {state}  {a.title}  [{a.channel}]")
        click.echo(f"      {a.detail}")


@group.command("ack")
@click.argument("alert_id", type=int)
@pass_ctx
def alerts_ack(ctx: Ctx, alert_id: int) -> None:
    """确认一条告警：告警关闭，再次发生时会产生新的告警。"""
    from bot.store import alerts

    services = ctx.services
    try:
        with services.store.transaction() as db:
            alert = alerts.acknowledge(db, alert_id, actor="cli", at=services.clock.now())
    except alerts.AlertError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已确认告警 {alert.id}：{alert.title}")
