"""`python -m bot vote open|list|show|close|tally|remind`: 推荐评选 from the command line (as an
admin: any audience). Bad input is one Chinese line and a non-zero exit, with nothing written.
The tally is shown only once a vote has closed; `show` gives turnout (who has voted is kept,
never what they chose).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from bot import audience as audiences
from bot import votes
from bot.cli import Ctx, pass_ctx
from bot.exports import csv_text
from bot.store import votes as store_votes
from bot.store.votes import Vote

TIME_HELP = "写作 'YYYY-MM-DD HH:MM'（北京时间）"


@click.group("vote")
def group() -> None:
    """推荐评选（无记名投票）。"""


def _time(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        raise click.BadParameter(f"时间应{TIME_HELP}", param_hint=option) from None


def _vote(ctx: Ctx, vote_id: int) -> Vote:
    try:
        return votes.get_in_scope(ctx.services.store.db, vote_id, None)
    except votes.VoteError as exc:
        raise click.ClickException(f"{exc}。用 vote list 查看。") from None


@group.command("open")
@click.option("--title", required=True, help="评选名称，如「第四季度共产党员先锋岗」。")
@click.option("--all", "to_all", is_flag=True, help="全体党员投票（不写范围时的默认）。")
@click.option("--branch", multiple=True, help="某个支部的党员投票；可重复。")
@click.option("--group", "groups", multiple=True,
              help="某个党小组的党员投票，写作 支部/党小组；可重复。")
@click.option("--candidate", "candidates", multiple=True,
              help="候选人：按名册写姓名，同名时写「姓名（支部）」或 #编号；可重复。不写则为自由推荐。")
@click.option("--choices", type=int, default=1, show_default=True, help="每人可选几人。")
@click.option("--opens", help=f"开始时间，{TIME_HELP}；默认现在。")
@click.option("--closes", required=True, help=f"截止时间，{TIME_HELP}。")
@click.option("--changeable", is_flag=True, help="截止前允许改票。")
@pass_ctx
def open_command(ctx: Ctx, title: str, to_all: bool, branch: tuple[str, ...],
                 groups: tuple[str, ...], candidates: tuple[str, ...], choices: int,
                 opens: str | None, closes: str, changeable: bool) -> None:
    """发起一项评选：到开始时间，选票会发给范围内的每位党员（只发一次）。"""
    services = ctx.services
    audience: dict = {}
    if branch:
        audience["branches"] = list(dict.fromkeys(branch))
    if groups:
        audience["groups"] = list(dict.fromkeys(groups))
    if to_all or not audience:
        audience = {"all": True}
    opening = votes.Opening(
        title=title, audience=audience, candidates=list(candidates), choices=choices,
        opens_at=_time(opens, "--opens") if opens else services.clock.now(),
        closes_at=_time(closes, "--closes"), changeable=changeable)
    try:
        vote_id = votes.open_vote(services, opening, actor="cli")
    except votes.VoteError as exc:
        raise click.ClickException(str(exc)) from None
    vote = _vote(ctx, vote_id)
    click.echo(f"已发起评选 #{vote_id}「{vote.title}」：{audiences.describe(vote.audience)}投票，"
               f"{votes.when_text(vote)}。")
    click.echo(f"选票将在 {vote.opens_at:%Y-%m-%d %H:%M} 由服务的定时任务发给范围内的每位党员"
               "（只发一次）：")
    click.echo(votes.ballot_text(services.store.db, vote))


@group.command("list")
@pass_ctx
def list_command(ctx: Ctx) -> None:
    """列出评选：编号、名称、状态、时间、投票率。"""
    db = ctx.services.store.db
    now = ctx.services.clock.now()
    found = store_votes.list_votes(db)
    if not found:
        click.echo("还没有评选。用 vote open 发起。")
        return
    for vote in found:
        t = votes.turnout(db, vote)
        click.echo(f"#{vote.id}  {vote.title}  {votes.STATUS_NAMES[vote.status(now)]}  "
                   f"{votes.when_text(vote)}  已投 {t.voted}/{t.eligible}")


@group.command("show")
@click.argument("vote_id", type=int)
@pass_ctx
def show_command(ctx: Ctx, vote_id: int) -> None:
    """一项评选的详情和投票率（谁已投票，不含选择）。"""
    db = ctx.services.store.db
    vote = _vote(ctx, vote_id)
    now = ctx.services.clock.now()
    t = votes.turnout(db, vote)
    click.echo(f"#{vote.id}「{vote.title}」{votes.STATUS_NAMES[vote.status(now)]}")
    click.echo(f"范围：{audiences.describe(vote.audience)}；方式：{votes.MODE_NAMES[vote.mode]}；"
               f"每人可选 {vote.choices} 人；{'截止前可改票' if vote.changeable else '不可改票'}")
    click.echo(f"时间：{votes.when_text(vote)}")
    for position, member in votes.candidate_members(db, vote):
        click.echo(f"  {position}. {member.name}（{member.branch}）")
    click.echo(f"投票率：已投 {t.voted}/{t.eligible}" + (f"（{t.percent}%）" if t.eligible else ""))
    if t.not_voted and vote.status(now) == "open":
        click.echo("未投票：" + "、".join(m.name for m in t.not_voted))


@group.command("close")
@click.argument("vote_id", type=int)
@pass_ctx
def close_command(ctx: Ctx, vote_id: int) -> None:
    """现在结束一项评选（提前截止）；结束后选票与投票人彻底分开。"""
    try:
        vote = votes.close_vote(ctx.services, vote_id, actor="cli")
    except votes.VoteError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"评选 #{vote.id}「{vote.title}」已结束。用 vote tally {vote.id} 查看结果。")


@group.command("tally")
@click.argument("vote_id", type=int)
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path),
              help="另存为 CSV 文件（名次、姓名、票数）。")
@click.option("--announce-at", help=f"通过一条一次性定时消息公布结果，{TIME_HELP}。")
@pass_ctx
def tally_command(ctx: Ctx, vote_id: int, csv_out: Path | None, announce_at: str | None) -> None:
    """评选结束后的计票结果（同票并列）；可导出 CSV，或定时公布。"""
    services = ctx.services
    vote = _vote(ctx, vote_id)
    if vote.status(services.clock.now()) != "closed":
        raise click.ClickException(f"评选 #{vote_id} 还没有结束（{votes.when_text(vote)}），"
                                   "结束后才能计票。")
    at = _time(announce_at, "--announce-at") if announce_at else None
    votes.seal_closed(services)  # results only once no token can tie them to a voter
    click.echo(votes.results_text(services.store.db, vote))
    if csv_out is not None:
        csv_out.write_text(csv_text(votes.TALLY_HEADER, votes.tally_rows(services.store.db, vote)),
                           encoding="utf-8-sig")
        click.echo(f"已保存到 {csv_out}")
    if at is not None:
        try:
            schedule_id = votes.announce(services, vote_id, at, actor="cli")
        except votes.VoteError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"已新建定时消息 #{schedule_id}：{at:%Y-%m-%d %H:%M} 向"
                   f"{audiences.describe(vote.audience)}公布结果。")


@group.command("remind")
@click.argument("vote_id", type=int)
@pass_ctx
def remind_command(ctx: Ctx, vote_id: int) -> None:
    """提醒范围内还没有投票的党员（每项评选每天一次）。"""
    from bot import delivery

    try:
        broadcast_id = votes.remind(ctx.services, vote_id, actor="cli")
    except votes.VoteError as exc:
        raise click.ClickException(str(exc)) from None
    delivery.drain(ctx.services)
    c = delivery.counts(ctx.services.store.db, broadcast_id)
    click.echo(f"已提醒：应发 {c.targeted}，已送达 {c.sent}，待重试 {c.pending}，失败 {c.failed}")
