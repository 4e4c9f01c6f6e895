"""推荐评选: the votes, opening one, a vote's page (turnout while open; the tally, its CSV and the
announcement schedule once closed), closing early and reminding those who have not voted.

Everything goes through bot/voting.py. A secretary sees and runs only their branch's votes
(voting.branch); a vote of another branch is a 403 (audited). Secret ballot: no page and no
export here shows who chose what: turnout names who has voted, the tally counts only.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue

from bot import audience as audiences
from bot import votes as voting  # the view `votes` is the menu's endpoint (console.votes)
from bot.console.base import actor, branch_scope, db, record, require_branch, route, services
from bot.exports import csv_text
from bot.store import members as store_members
from bot.store import votes as store_votes
from bot.store.votes import Vote


@route("/votes")
def votes() -> ResponseReturnValue:
    scope = branch_scope()
    now = services().clock.now()
    rows = [{"vote": v, "status": v.status(now), "turnout": voting.turnout(db(), v),
             "audience": audiences.describe(v.audience)}
            for v in store_votes.list_votes(db(), branch=scope)]
    return render_template("console/votes.html", rows=rows, scope=scope,
                           status_names=voting.STATUS_NAMES)


# --- opening a vote ------------------------------------------------------------------------------

def _audience_options(scope: str | None) -> list[tuple[str, str]]:
    """(value, label) for the 投票范围 select: everyone (admins), a branch, a group."""
    branches = sorted({m.branch for m in store_members.list_members(db(), active_only=True)
                       if scope is None or m.branch == scope})
    options = [] if scope else [("all", "全体党员")]
    options += [(f"branch:{b}", f"{b}全体党员") for b in branches]
    options += [(f"group:{audiences.group_ref(b, g)}", audiences.group_label(audiences.group_ref(b, g)))
                for b, g in store_members.list_groups(db(), branch=scope)]
    return options


def _audience_of(value: str) -> dict[str, Any]:
    kind, _, name = value.partition(":")
    if value == "all":
        return {"all": True}
    if kind == "branch" and name:
        return {"branches": [name]}
    if kind == "group" and name:
        return {"groups": [name]}
    raise voting.VoteError("请选择投票范围")


def _default_values() -> dict[str, Any]:
    now = services().clock.now()
    return {"title": "", "audience": "", "candidates": "", "choices": "1",
            "opens_at": f"{now:%Y-%m-%dT%H:%M}", "closes_at": "", "changeable": False}


def _form_page(values: dict[str, Any], error: str = "") -> ResponseReturnValue:
    return render_template("console/vote_form.html", values=values, error=error,
                           options=_audience_options(branch_scope()), scope=branch_scope())


@route("/votes/new")
def votes_new() -> ResponseReturnValue:
    return _form_page(_default_values())


@route("/votes/new", methods=("POST",))
def votes_create() -> ResponseReturnValue:
    form = request.form
    values = {**_default_values(), **{k: form.get(k, "") for k in
                                      ("title", "audience", "candidates", "choices",
                                       "opens_at", "closes_at")},
              "changeable": form.get("changeable") == "1"}
    try:
        opening = _opening(values)
        vote_id = voting.open_vote(services(), opening, actor=actor(),
                                  scope=branch_scope())
    except voting.VoteError as exc:
        return _form_page(values, str(exc))
    flash(f"已发起评选 #{vote_id}，到开始时间选票会发给范围内的每位党员。")
    return redirect(url_for("console.votes_show", vote_id=vote_id))


def _opening(values: dict[str, Any]) -> voting.Opening:
    choices = str(values["choices"]).strip()
    if not choices.isdigit():
        raise voting.VoteError("每人可选人数请填一个数字")
    return voting.Opening(
        title=values["title"], audience=_audience_of(values["audience"]),
        candidates=[line.strip() for line in str(values["candidates"]).splitlines()
                    if line.strip()],
        choices=int(choices), opens_at=_time(values["opens_at"], "开始时间"),
        closes_at=_time(values["closes_at"], "截止时间"), changeable=bool(values["changeable"]))


def _time(value: str, what: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        raise voting.VoteError(f"请填写{what}（日期和时间）") from None


# --- one vote ------------------------------------------------------------------------------------

def _vote_or_404(vote_id: int) -> Vote:
    vote = store_votes.get(db(), vote_id)
    if vote is None:
        abort(404)
    require_branch(vote.branch, f"评选 #{vote_id}")
    return vote


@route("/votes/<int:vote_id>")
def votes_show(vote_id: int) -> ResponseReturnValue:
    vote = _vote_or_404(vote_id)
    status = vote.status(services().clock.now())
    if status == "closed":
        voting.seal_closed(services())  # the tally is never shown while tokens could link it
    results, ballots = voting.results(db(), vote) if status == "closed" else ([], 0)
    return render_template(
        "console/vote_show.html", vote=vote, status=status, status_names=voting.STATUS_NAMES,
        mode_names=voting.MODE_NAMES, when=voting.when_text(vote),
        audience=audiences.describe(vote.audience), turnout=voting.turnout(db(), vote),
        candidates=voting.candidate_members(db(), vote), results=results, ballots=ballots,
        ballot=voting.ballot_text(db(), vote),
        announce_at=f"{services().clock.now():%Y-%m-%dT%H:%M}")


@route("/votes/<int:vote_id>/close", methods=("POST",))
def votes_close(vote_id: int) -> ResponseReturnValue:
    vote = _vote_or_404(vote_id)
    try:
        voting.close_vote(services(), vote.id, actor=actor(),
                         scope=branch_scope())
        flash("评选已结束，选票已与投票人分开。")
    except voting.VoteError as exc:
        flash(str(exc), "error")
    return redirect(url_for("console.votes_show", vote_id=vote.id))


@route("/votes/<int:vote_id>/remind", methods=("POST",))
def votes_remind(vote_id: int) -> ResponseReturnValue:
    vote = _vote_or_404(vote_id)
    try:
        voting.remind(services(), vote.id, actor=actor(), scope=branch_scope())
        flash("已提醒未投票的党员（每天最多一次）。")
    except voting.VoteError as exc:
        flash(str(exc), "error")
    return redirect(url_for("console.votes_show", vote_id=vote.id))


@route("/votes/<int:vote_id>/announce", methods=("POST",))
def votes_announce(vote_id: int) -> ResponseReturnValue:
    vote = _vote_or_404(vote_id)
    try:
        at = _time(request.form.get("at", ""), "公布时间")
        schedule_id = voting.announce(services(), vote.id, at, actor=actor(),
                                     scope=branch_scope())
        flash(f"已新建定时消息 #{schedule_id}，{at:%Y-%m-%d %H:%M} 公布结果。")
    except voting.VoteError as exc:
        flash(str(exc), "error")
    return redirect(url_for("console.votes_show", vote_id=vote.id))


@route("/votes/<int:vote_id>/tally.csv")
def votes_tally_csv(vote_id: int) -> ResponseReturnValue:
    vote = _vote_or_404(vote_id)
    if vote.status(services().clock.now()) != "closed":
        flash("评选结束后才能导出计票结果。", "error")
        return redirect(url_for("console.votes_show", vote_id=vote.id))
    voting.seal_closed(services())
    data = csv_text(voting.TALLY_HEADER, voting.tally_rows(db(), vote)).encode("utf-8-sig")
    with services().store.transaction():
        record("vote tally download", {"vote": vote.id, "title": vote.title})
    return send_file(io.BytesIO(data), mimetype="text/csv", as_attachment=True,
                     download_name=f"vote-{vote.id}-tally.csv", max_age=0)
