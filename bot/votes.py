"""Votes and nominations (推荐评选): opening a vote, the ballot members get, casting and changing
a secret ballot, turnout, the tally, reminders, and the results announced through a schedule.

Shared by the chat handlers (handlers/votes.py), the console (bot/console/votes.py), the CLI
(bot/commands/votes.py) and the scheduler (schedules/jobs.fire_votes). Errors a person can fix
are VoteErrors whose text is Chinese and ready to show.

The secret ballot (threat model)
--------------------------------
Kept apart: `vote_voters` (who has voted) and `vote_ballots` (what was chosen) share only the
vote's id; neither holds a time, both are WITHOUT ROWID (no insertion counter), voters sort by
member id and ballots by token. A ballot's token is HMAC-SHA256(ballot key, vote id, member id);
the ballot key is a random file next to the database (`<db>-ballot.key`, mode 0600), never in
it, so the database, its WAL and its backups alone cannot recompute a token. While the vote is
open the token lets a voter change their ballot and see it (「我的投票」); once it closes, `seal`
replaces every token with random bytes (secure_delete on, so the old cells are zeroed), and
then not even the key finds a voter's ballot. Chat replies that name a choice are not kept in
the dedupe records (`Reply.remember`), nothing about a ballot is audited or logged, and the
console and the CSV export show counts only.

Defended: the console (admins and secretaries), every export, a copy of the database file or a
backup (during the vote without the key file; after the seal with it), a later reading of the
tables by anyone.
Not defended: someone who holds both the database and the key file while the vote is open
(they can recompute every token); someone watching the database live (the WAL frame of a
first ballot also writes its vote_voters row: one commit links them), or reading WAL frames
and free pages not yet checkpointed or overwritten from before the seal; a series of copies
taken while the vote is open (nightly backups): a ballot row that appears, or changes, between
two copies belongs to one of the voters who appeared (or wrote to the bot, per `inbound`) in
between, which is a link when only one did; the operator of the server process (who can
change the code); a voter showing their own screen. A vote with very
few voters also tells something by its counts alone (three voters, three votes for 张伟).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from bot import audience as audiences
from bot.messages import normalise
from bot.regulations import RegulationError, chinese_numeral_to_int
from bot.store import audit
from bot.store import members as store_members
from bot.store import votes as store_votes
from bot.store.members import Member
from bot.store.votes import Vote

if TYPE_CHECKING:  # bot.services imports the handlers, which import this module
    from bot.services import Services

MAX_TITLE = 60
MAX_CHOICES = 10
MAX_CANDIDATES = 60
MAX_ANNOUNCED = 15  # lines of an announcement: a schedule's text is at most 600 characters
BALLOT_KEY_SUFFIX = "-ballot.key"
MODE_NAMES = {"list": "候选人名单", "free": "自由推荐"}
STATUS_NAMES = {"upcoming": "未开始", "open": "投票中", "closed": "已结束"}
CHINESE_DIGITS = frozenset("零〇一二两三四五六七八九十百")
_NAMED = re.compile(r"^(?P<name>[^()]+?)\s*\((?P<branch>[^()]+)\)$")


class VoteError(ValueError):
    """A vote that cannot be opened or a ballot that cannot be cast: str() says why (Chinese)."""


# --- the ballot key and tokens ---------------------------------------------------------------

_keys: dict[str, bytes] = {}
_keys_lock = threading.Lock()


def ballot_key(db: sqlite_utils.Database) -> bytes:
    """The key tokens are derived with: a file next to the database, made once (0600)."""
    path = db.execute("PRAGMA database_list").fetchone()[2] or ""
    with _keys_lock:
        if path not in _keys:
            _keys[path] = _read_or_make_key(path) if path else secrets.token_bytes(32)
        return _keys[path]


def _read_or_make_key(db_path: str) -> bytes:
    key_path = Path(db_path + BALLOT_KEY_SUFFIX)
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(key_path.read_text().strip())
    with os.fdopen(fd, "w") as out:  # O_EXCL: two processes starting at once make one key
        out.write(secrets.token_hex(32))
    return bytes.fromhex(key_path.read_text().strip())


def token(db: sqlite_utils.Database, vote_id: int, member_id: int) -> str:
    message = f"vote:{vote_id}:member:{member_id}".encode()
    return hmac.new(ballot_key(db), message, hashlib.sha256).hexdigest()[:32]


# --- opening a vote --------------------------------------------------------------------------

@dataclass(frozen=True)
class Opening:
    title: str
    audience: dict[str, Any]
    candidates: Sequence[str]   # names as the roster spells them (or "#id"); empty: free
    choices: int
    opens_at: datetime
    closes_at: datetime
    changeable: bool


def open_vote(services: Services, opening: Opening, *, actor: str,
              scope: str | None = None) -> int:
    """Check everything, then store the vote (audited); VoteError (Chinese) when it cannot be.
    `scope`: a secretary's branch (the audience and every candidate must be inside it)."""
    db = services.store.db
    now = services.clock.now()
    title = normalise(opening.title)
    if not title or len(title) > MAX_TITLE:
        raise VoteError(f"请填写评选名称（不超过 {MAX_TITLE} 字）")
    audience = _checked_audience(db, opening.audience, scope)
    voters = audiences.members_of(db, audience)
    if not voters:
        raise VoteError("投票范围内没有在册党员")
    candidates = [_candidate(db, text, scope) for text in opening.candidates if text.strip()]
    _check_candidates(candidates, opening.choices)
    opens_at, closes_at = _checked_times(opening, now, services.clock.tz)
    with services.store.transaction() as tx:
        vote_id = store_votes.add(
            tx, title=title, audience=audience, branch=audiences.branch_of(audience) or "",
            mode="list" if candidates else "free", choices=opening.choices, opens_at=opens_at,
            closes_at=closes_at, changeable=opening.changeable,
            candidates=[c.id for c in candidates], created_by=actor, now=now)
        audit.record(tx, actor=actor, action="vote open",
                     detail={"vote": vote_id, "title": title,
                             "audience": audience, "candidates": len(candidates),
                             "opens_at": f"{opens_at:%Y-%m-%d %H:%M}",
                             "closes_at": f"{closes_at:%Y-%m-%d %H:%M}"}, at=now)
    return vote_id


def _checked_audience(db: sqlite_utils.Database, audience: dict[str, Any],
                      scope: str | None) -> dict[str, Any]:
    try:
        resolved = audiences.resolve(db, audiences.validate(audience), within=scope)
    except audiences.AudienceError as exc:
        raise VoteError(f"投票范围不对：{exc}") from None
    if scope is not None and audiences.branch_of(resolved) != scope:
        raise VoteError(f"支部书记只能在本支部（{scope}）或本支部的党小组中发起评选")
    return resolved


def _candidate(db: sqlite_utils.Database, text: str, scope: str | None) -> Member:
    text = normalise(text)
    roster = [m for m in store_members.list_members(db, active_only=True)
              if scope is None or m.branch == scope]
    if text.startswith("#") and text[1:].isdigit():
        found = [m for m in roster if m.id == int(text[1:])]
        if not found:
            raise VoteError(f"名册里没有编号为 {text[1:]} 的在册党员" + (
                f"（{scope}）" if scope else ""))
        return found[0]
    return pick_named(text, roster, question="请写明支部，如「{name}（{branch}）」，或写编号 #{id}")


def _check_candidates(candidates: list[Member], choices: int) -> None:
    if not 1 <= choices <= MAX_CHOICES:
        raise VoteError(f"每人可选人数须在 1 到 {MAX_CHOICES} 之间")
    if len(candidates) > MAX_CANDIDATES:
        raise VoteError(f"候选人最多 {MAX_CANDIDATES} 位")
    repeated = [m.name for i, m in enumerate(candidates) if m in candidates[:i]]
    if repeated:
        raise VoteError(f"候选人重复：{'、'.join(repeated)}")
    if candidates and len(candidates) < choices:
        raise VoteError(f"候选人只有 {len(candidates)} 位，每人却可选 {choices} 人")


def _checked_times(opening: Opening, now: datetime, tz: Any) -> tuple[datetime, datetime]:
    opens_at, closes_at = (t if t.tzinfo else t.replace(tzinfo=tz)
                           for t in (opening.opens_at, opening.closes_at))
    opens_at, closes_at = opens_at.astimezone(tz), closes_at.astimezone(tz)
    if closes_at <= opens_at:
        raise VoteError("截止时间须晚于开始时间")
    if closes_at <= now:
        raise VoteError("截止时间已经过去")
    return max(opens_at, now.replace(second=0, microsecond=0)), closes_at


def named(text: str, people: Sequence[Member]) -> tuple[str, list[Member]]:
    """The name written and the members it names: a name as the roster spells it, or
    「姓名（支部）」 to tell two same-named members apart."""
    text = normalise(text)
    found = _NAMED.match(text)
    name, branch = (found["name"].strip(), found["branch"].strip()) if found else (text, "")
    return name, [m for m in people if m.name == name and (not branch or m.branch == branch)]


def pick_named(text: str, people: Sequence[Member], *, question: str) -> Member:
    """The one member `text` names (see `named`); VoteError otherwise, asking `question`
    (with {name}, {branch}, {id}) when several share the name."""
    name, found = named(text, people)
    if not found:
        raise VoteError(f"名册里没有“{normalise(text)}”，请按名册写全名")
    if len(found) > 1:
        places = "、".join(m.branch + (f" · {m.grp}" if m.grp else "") for m in found)
        raise VoteError(f"有 {len(found)} 位“{name}”（{places}）。"
                        + question.format(name=name, branch=found[0].branch, id=found[0].id))
    return found[0]


# --- what members see ------------------------------------------------------------------------

def candidate_members(db: sqlite_utils.Database, vote: Vote) -> list[tuple[int, Member]]:
    """(position, member) in ballot order (a free nomination has none)."""
    people = []
    for position, member_id in store_votes.candidates(db, vote.id):
        member = store_members.get_member(db, member_id)
        if member is not None:
            people.append((position, member))
    return people


def moment(at: datetime) -> str:
    """「12月5日 09:00」, as members read a time."""
    return f"{at.month}月{at.day}日 {at:%H:%M}"


def when_text(vote: Vote) -> str:
    if vote.opens_at.year != vote.closes_at.year:
        return f"{vote.opens_at.year}年{moment(vote.opens_at)} 至 {vote.closes_at.year}年" \
               f"{moment(vote.closes_at)}"
    return f"{moment(vote.opens_at)} 至 {moment(vote.closes_at)}"


def ballot_text(db: sqlite_utils.Database, vote: Vote) -> str:
    """The ballot sent at opening (and to 「投票」)."""
    change = "截止前可以更改" if vote.changeable else "投票后不能更改"
    lines = [f"【推荐评选 #{vote.id}】{vote.title}",
             f"投票时间：{when_text(vote)}；每人可选 {vote.choices} 人；无记名投票，{change}。"]
    if vote.mode == "list":
        lines.append("候选人：")
        lines += [f"{p}. {m.name}（{m.branch}）" for p, m in candidate_members(db, vote)]
        example = " ".join(str(i) for i in range(1, min(vote.choices, 2) + 1))
        lines.append(f"回复「投票 编号」投票，如「投票 {example}」；也可以「推荐 姓名」。")
    else:
        among = "" if vote.audience.get("all") else f"{audiences.describe(vote.audience)}中的"
        lines.append(f"请推荐{among}党员，回复「推荐 姓名」，"
                     "如「推荐 张伟」" + (f"；可推荐 {vote.choices} 人，用空格隔开。"
                                          if vote.choices > 1 else "。"))
    lines.append(f"发送「我的投票」查看你的选择；同时有几项评选时写「投票 #{vote.id} …」。")
    return "\n".join(lines)


# --- casting a ballot ------------------------------------------------------------------------

def includes(vote: Vote, member: Member) -> bool:
    """Whether this member may vote in it: active and in its audience."""
    return member.active and audiences.includes(vote.audience, member)


def votes_for(db: sqlite_utils.Database, member: Member, now: datetime) -> list[Vote]:
    """The open votes this member may vote in."""
    return [v for v in store_votes.open_at(db, now) if includes(v, member)]


def cast(db: sqlite_utils.Database, vote: Vote, member: Member, words: Sequence[str],
         now: datetime) -> str:
    """Cast (or change) the member's ballot in `vote`; the reply. VoteError when refused, in
    which case nothing is written."""
    _check_may_vote(vote, member, now)
    if not words:
        raise VoteError(f"请写上你的选择。\n{ballot_text(db, vote)}")
    chosen = [_choice(db, vote, w) for w in words]
    names = [m.name for m in chosen]
    repeated = sorted({n for i, n in enumerate(names) if chosen[i] in chosen[:i]})
    if repeated:
        raise VoteError(f"不能重复选择同一人（{'、'.join(repeated)}）")
    if len(chosen) > vote.choices:
        raise VoteError(f"这项评选每人最多选 {vote.choices} 人，你写了 {len(chosen)} 人")
    key = token(db, vote.id, member.id)
    ids = [m.id for m in chosen]
    chosen_text = "、".join(_label(m) for m in chosen)
    if not store_votes.has_voted(db, vote.id, member.id):
        store_votes.cast(db, vote.id, member.id, key, ids)
        return f"已投票（{vote.title}）：{chosen_text}。" + (
            "截止前可以重新投票更改。" if vote.changeable else "")
    if not vote.changeable:
        raise VoteError(f"你已经投过「{vote.title}」的票了，这项评选投票后不能更改。"
                        "发送「我的投票」查看你的选择。")
    if not store_votes.change(db, vote.id, key, ids):
        raise VoteError("找不到你原来的选票（投票密钥已更换），无法更改；你的原选票仍然有效。")
    return f"已改为（{vote.title}）：{chosen_text}。"


def ballot_for(db: sqlite_utils.Database, vote: Vote, member: Member, now: datetime) -> str:
    """The ballot of one vote, for a member who may vote in it now (VoteError saying why not)."""
    _check_may_vote(vote, member, now)
    return ballot_text(db, vote)


def _check_may_vote(vote: Vote, member: Member, now: datetime) -> None:
    status = vote.status(now)
    if status == "upcoming":
        raise VoteError(f"「{vote.title}」{moment(vote.opens_at)} 才开始投票，这次没有记录。")
    if status == "closed":
        raise VoteError(f"「{vote.title}」已于 {moment(vote.closes_at)} 截止，"
                        "这次投票没有记录。")
    if not includes(vote, member):
        raise VoteError(f"你不在「{vote.title}」的投票范围（{audiences.describe(vote.audience)}）"
                        "内，这次投票没有记录。")


def _choice(db: sqlite_utils.Database, vote: Vote, word: str) -> Member:
    word = normalise(word)
    number = _numeral(word.removeprefix("第").removesuffix("号"))
    if vote.mode == "list":
        return _listed_choice(db, vote, word, number)
    if number.isdigit():
        raise VoteError("这项评选是自由推荐，没有编号，请写名字，如「推荐 张伟」。")
    name, found = named(word, audiences.members_of(db, vote.audience))
    if not found:
        raise VoteError(f"“{word}”不在「{vote.title}」的推荐范围"
                        f"（{audiences.describe(vote.audience)}）内，请按名册写全名。")
    if len(found) > 1:
        places = "、".join(m.branch + (f" · {m.grp}" if m.grp else "") for m in found)
        raise VoteError(f"有 {len(found)} 位“{name}”（{places}），你推荐的是哪一位？"
                        f"请写明支部，如「推荐 {name}（{found[0].branch}）」。")
    return found[0]


def _numeral(text: str) -> str:
    """「3」 as it is; 「三」 「十二」 as digits; anything else (a name) unchanged."""
    if text.isdecimal() or not text or any(ch not in CHINESE_DIGITS for ch in text):
        return text
    try:
        return str(chinese_numeral_to_int(text))
    except RegulationError:
        return text


def _listed_choice(db: sqlite_utils.Database, vote: Vote, word: str, number: str) -> Member:
    listed = candidate_members(db, vote)
    if number.isdigit():
        by_position = dict(listed)
        if int(number) not in by_position:
            raise VoteError(f"没有 {number} 号候选人（编号 1 到 {len(listed)}）。"
                            "发送「投票」查看候选人。")
        return by_position[int(number)]
    positions = {m.id: p for p, m in listed}
    name, found = named(word, [m for _p, m in listed])
    if not found:
        raise VoteError(f"“{word}”不是「{vote.title}」的候选人。发送「投票」查看候选人。")
    if len(found) > 1:
        same = "、".join(f"{positions[m.id]} 号（{m.branch}）" for m in found)
        raise VoteError(f"有 {len(found)} 位候选人叫“{name}”：{same}，你选的是哪一位？"
                        f"请回复编号，如「投票 {positions[found[0].id]}」。")
    return found[0]


def _label(member: Member) -> str:
    return f"{member.name}（{member.branch}）"


def my_ballot(db: sqlite_utils.Database, vote: Vote, member: Member, now: datetime) -> str:
    """「我的投票」 for one vote."""
    if not store_votes.has_voted(db, vote.id, member.id):
        return f"「{vote.title}」你还没有投票（{when_text(vote)}）。"
    if vote.sealed_at is not None or vote.status(now) == "closed":
        return f"「{vote.title}」你已投票；投票已结束，选票已与投票人分开，无法再查看。"
    chosen = store_votes.ballot(db, vote.id, token(db, vote.id, member.id))
    if chosen is None:
        return f"「{vote.title}」你已投票；投票密钥已更换，无法查看你的选择。"
    names = [m for m in (store_members.get_member(db, i) for i in chosen) if m is not None]
    text = f"「{vote.title}」你的选择：{'、'.join(_label(m) for m in names)}"
    return text + ("（截止前可更改）。" if vote.changeable and vote.status(now) == "open" else "。")


# --- turnout, tally, results -----------------------------------------------------------------

@dataclass(frozen=True)
class Turnout:
    eligible: int
    voted: int
    not_voted: list[Member]

    @property
    def percent(self) -> int | None:
        return round(100 * self.voted / self.eligible) if self.eligible else None


def turnout(db: sqlite_utils.Database, vote: Vote) -> Turnout:
    eligible = audiences.members_of(db, vote.audience)
    voted = store_votes.voter_ids(db, vote.id)
    return Turnout(len(eligible), sum(1 for m in eligible if m.id in voted),
                   [m for m in eligible if m.id not in voted])


@dataclass(frozen=True)
class Result:
    rank: int
    name: str
    branch: str
    votes: int
    tied: bool


def results(db: sqlite_utils.Database, vote: Vote) -> tuple[list[Result], int]:
    """The tally (only meaningful once closed): ranked by votes, a shared rank for a tie; every
    candidate of a list vote (zero too), the nominated of a free one. And the ballot count."""
    counts, ballots = store_votes.tally(db, vote.id)
    ids = ([m.id for _p, m in candidate_members(db, vote)] if vote.mode == "list"
           else list(counts))
    people = {i: store_members.get_member(db, i) for i in ids}
    rows = sorted(ids, key=lambda i: (-counts[i], people[i].name if people[i] else ""))
    results_ = []
    for member_id in rows:
        member = people[member_id]
        n = counts[member_id]
        rank = 1 + sum(1 for other in ids if counts[other] > n)
        tied = sum(1 for other in ids if counts[other] == n) > 1
        results_.append(Result(rank, member.name if member else f"#{member_id}",
                               member.branch if member else "", n, tied))
    return results_, ballots


TALLY_HEADER = ["名次", "并列", "姓名", "支部", "票数"]


def tally_rows(db: sqlite_utils.Database, vote: Vote) -> list[list[object]]:
    """The tally as export rows (CLI --csv, the console's CSV): counts only, no ballot."""
    rows, _ = results(db, vote)
    return [[r.rank, "是" if r.tied else "", r.name, r.branch, r.votes] for r in rows]


def results_text(db: sqlite_utils.Database, vote: Vote) -> str:
    """The announcement: the tally in a few lines (a tie says so)."""
    rows, ballots = results(db, vote)
    t = turnout(db, vote)
    lines = [f"【评选结果】{vote.title}", f"应投 {t.eligible} 人，实投 {ballots} 票。"]
    lines += [f"第 {r.rank} 名{'（并列）' if r.tied else ''}：{r.name}（{r.branch}）{r.votes} 票"
              for r in rows[:MAX_ANNOUNCED]]
    if not rows:
        lines.append("没有有效推荐。")
    return "\n".join(lines)


# --- closing, sealing, the scheduler's part --------------------------------------------------

def close_vote(services: Services, vote_id: int, *, actor: str, scope: str | None = None) -> Vote:
    """Close now (before its time) and seal; VoteError when there is nothing to close."""
    vote = get_in_scope(services.store.db, vote_id, scope)
    now = services.clock.now()
    if vote.status(now) == "closed":
        raise VoteError(f"评选 #{vote_id} 已于 {vote.closes_at:%Y-%m-%d %H:%M} 结束")
    with services.store.transaction() as tx:
        store_votes.set_closes_at(tx, vote_id, now)
        audit.record(tx, actor=actor, action="vote close",
                     detail={"vote": vote_id, "title": vote.title}, at=now)
    seal_closed(services)
    return get_in_scope(services.store.db, vote_id, scope)


def get_in_scope(db: sqlite_utils.Database, vote_id: int, scope: str | None) -> Vote:
    vote = store_votes.get(db, vote_id)
    if vote is None or (scope is not None and vote.branch != scope):
        raise VoteError(f"没有编号为 {vote_id} 的评选")
    return vote


def seal_closed(services: Services) -> int:
    """Seal every vote past its close; how many were sealed now. The scheduler does it each
    tick; every view of a tally calls it first too, so results are never shown unsealed (a
    deployment without the scheduler, a tick not yet come)."""
    now = services.clock.now()
    due = store_votes.due_for_sealing(services.store.db, now)
    if not due:
        return 0
    db = services.store.db
    db.execute("PRAGMA secure_delete = ON")  # the replaced tokens' cells are zeroed on disk
    try:
        with services.store.transaction() as tx:
            sealed = sum(store_votes.seal(tx, vote_id, now) for vote_id in due)
    finally:
        db.execute("PRAGMA secure_delete = OFF")
    return sealed


def ballot_key_of(vote_id: int) -> str:
    return f"vote:{vote_id}:ballot"


def send_ballots(services: Services) -> int:
    """Each open vote's ballot to its audience, once (the broadcast key is the vote's)."""
    from bot import delivery

    sent = 0
    db = services.store.db
    for vote in store_votes.open_at(db, services.clock.now()):
        key = ballot_key_of(vote.id)
        if db.execute("SELECT 1 FROM broadcasts WHERE key = ?", [key]).fetchone():
            continue
        delivery.create_broadcast(services, key=key, text=ballot_text(db, vote),
                                  audience=vote.audience, fire_at=vote.opens_at)
        sent += 1
    return sent


def run_due(services: Services) -> None:
    """The scheduler's job: ballots for votes that have opened, seals for those that closed."""
    send_ballots(services)
    seal_closed(services)


def remind(services: Services, vote_id: int, *, actor: str, scope: str | None = None) -> int:
    """Remind those in the audience who have not voted (once a day per vote); the broadcast id.
    The reminder's audience is a member list: who has voted is kept, not what they chose."""
    from bot import delivery

    db = services.store.db
    vote = get_in_scope(db, vote_id, scope)
    now = services.clock.now()
    if vote.status(now) != "open":
        raise VoteError("只有投票中的评选可以提醒")
    missing = turnout(db, vote).not_voted
    if not missing:
        raise VoteError("范围内的党员都已投票，无需提醒")
    text = (f"提醒：「{vote.title}」将于 {moment(vote.closes_at)} 截止，你还没有投票。\n"
            + ballot_text(db, vote))
    broadcast_id = delivery.create_broadcast(
        services, key=f"vote:{vote_id}:remind:{now.date()}", text=text,
        audience={"members": [m.id for m in missing]}, fire_at=now)
    with services.store.transaction() as tx:
        audit.record(tx, actor=actor, action="vote remind",
                     detail={"vote": vote_id, "title": vote.title, "members": len(missing)},
                     at=now)
    return broadcast_id


def announce(services: Services, vote_id: int, at: datetime, *, actor: str,
             scope: str | None = None) -> int:
    """Announce the results to the vote's audience through a one-off schedule; its id."""
    from schedules import admin

    db = services.store.db
    vote = get_in_scope(db, vote_id, scope)
    if vote.status(services.clock.now()) != "closed":
        raise VoteError("评选结束后才能公布结果")
    at = at if at.tzinfo else at.replace(tzinfo=services.clock.tz)
    try:
        return admin.create(services, kind="once", spec={"at": f"{at:%Y-%m-%dT%H:%M}"},
                            workdays_only=False, audience=vote.audience,
                            content={"text": results_text(db, vote)}, actor=actor)
    except admin.ScheduleError as exc:
        raise VoteError(str(exc)) from None
