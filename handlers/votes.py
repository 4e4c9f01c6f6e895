"""推荐评选 in chat: 「投票」 (the ballots open to me), 「投票 3」 「投票 1 4」 「推荐 张伟」, and
「我的投票」. bot/votes.py decides; this module reads the words and picks the vote.

A secret ballot: every answer here that may name a choice is kept out of the dedupe record
(Reply.remember), so the `inbound` table cannot tie a sender to what they chose.
"""

from __future__ import annotations

import re

from bot import votes
from bot.context import Context
from bot.messages import Inbound, Reply
from bot.store import votes as store_votes
from bot.store.votes import Vote
from handlers.router import HelpLine, router

# One line for both commands: the menu has to fit a phone screen.
VOTES_HELP = HelpLine(76, "评选", "「投票」看候选人，「投票 3」「推荐 张伟」，「我的投票」")

COMMAND = r"(?P<verb>投票|推荐)\s*(?:#\s*(?P<vote>\d{1,9}))?\s*[:：]?\s*(?P<words>.*)"
MINE = ("我的投票", "我的推荐", "查看投票", "投票记录")
# One choice: a name, optionally with its branch in brackets (「张伟（第一党支部）」, NFKC-folded).
_WORD = re.compile(r"[^\s、,;]+(?:\s*\([^()]*\))?")
REMEMBERED = "已收到。为保护无记名投票，这条回复不保存；发送「我的投票」查看你的选择。"


def _secret(text: str) -> Reply:
    return Reply(text, remember=REMEMBERED)


# 「我的投票」 before the command pattern, which would read 「投票记录」 as a vote for “记录”.
@router.text(*MINE, help=VOTES_HELP)
def my_vote(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.member is not None
    now = ctx.clock.now()
    mine = [v for v in store_votes.list_votes(ctx.db)
            if store_votes.has_voted(ctx.db, v.id, ctx.member.id) or v.status(now) == "open"
            and votes.includes(v, ctx.member)][:5]
    if not mine:
        return Reply("你还没有参加过评选投票。")
    return _secret("\n".join(votes.my_ballot(ctx.db, v, ctx.member, now) for v in mine))


@router.text(pattern=COMMAND,
             help=VOTES_HELP)
def vote_command(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.match is not None and ctx.member is not None
    now = ctx.clock.now()
    words = _WORD.findall(ctx.match["words"])
    try:
        vote = _the_vote(ctx, ctx.match["vote"], verb=ctx.match["verb"], asked=bool(words))
        if vote is None:
            return Reply(_open_ballots(ctx))
        if not words:  # 「投票 #5」: that vote's ballot
            return Reply(votes.ballot_for(ctx.db, vote, ctx.member, now))
        return _secret(votes.cast(ctx.db, vote, ctx.member, words, now))
    except votes.VoteError as exc:
        return _secret(str(exc))


def _the_vote(ctx: Context, number: str | None, *, verb: str, asked: bool) -> Vote | None:
    """The vote meant: the one written (#N), else the only open one for this member. None for
    a bare 「投票」 (show the ballots); VoteError when it cannot be told."""
    assert ctx.member is not None
    now = ctx.clock.now()
    if number is not None:
        vote = store_votes.get(ctx.db, int(number))
        if vote is None:
            raise votes.VoteError(f"没有编号为 #{number} 的评选。发送「投票」查看正在进行的评选。")
        return vote
    if not asked:
        return None
    open_ = votes.votes_for(ctx.db, ctx.member, now)
    if len(open_) == 1:
        return open_[0]
    if open_:
        listed = "、".join(f"#{v.id}「{v.title}」" for v in open_)
        raise votes.VoteError(f"现在有 {len(open_)} 项评选：{listed}。请写明是哪一项，"
                              f"如「{verb} #{open_[0].id} …」。")
    raise votes.VoteError(_nothing_open(ctx))


def _open_ballots(ctx: Context) -> str:
    assert ctx.member is not None
    open_ = votes.votes_for(ctx.db, ctx.member, ctx.clock.now())
    if not open_:
        return _nothing_open(ctx)
    return "\n\n".join(votes.ballot_text(ctx.db, v) for v in open_)


def _nothing_open(ctx: Context) -> str:
    """No open vote for this member: say why (upcoming, just closed, or none), nothing written."""
    assert ctx.member is not None
    now = ctx.clock.now()
    theirs = [v for v in store_votes.list_votes(ctx.db) if votes.includes(v, ctx.member)]
    upcoming = [v for v in theirs if v.status(now) == "upcoming"]
    if upcoming:
        v = upcoming[-1]
        return f"「{v.title}」{votes.moment(v.opens_at)} 才开始投票，这次没有记录。"
    if theirs:
        v = theirs[0]
        return f"「{v.title}」已于 {votes.moment(v.closes_at)} 截止，这次投票没有记录。"
    return "现在没有你可以参加的评选投票。"
