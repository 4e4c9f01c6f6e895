"""The secret ballot (bot/votes.py's threat model): try to join voters to their choices through
every table, the dedupe records, the audit, the ledger, the console and the export, before and
after the seal; with the key file the join works while the vote is open (so these tests can
see one) and not after it has closed; the database alone never has the key."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from bot import votes
from bot.store import votes as store_votes
from tests.console_helpers import logged_in, text
from tests.test_votes import open_vote, say
from tests.test_votes import services as services  # noqa: F401,PLC0414  (the fixture)

# Who votes for whom (candidates 1 张伟, 2 李红梅, 3 刘芳, 4 王建国), in this order.
CHOICES = {3: "1", 1: "2", 4: "3", 2: "4"}
CANDIDATES = ("张伟", "李红梅", "刘芳", "王建国")


def every_cell(db: sqlite3.Connection, *, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(table, cell text) for every value of every table but `skip`."""
    cells = []
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name NOT LIKE 'search_index%'")]
    for table in tables:
        if table in skip:
            continue
        for row in db.execute(f'SELECT * FROM "{table}"'):
            cells += [(table, str(value)) for value in row if value is not None]
    return cells


def tokens_with_key(services, vote_id: int) -> dict[str, int]:
    """What someone holding the key file would compute: token -> member id."""
    key = bytes.fromhex(Path(services.store.path + votes.BALLOT_KEY_SUFFIX).read_text())
    return {hmac.new(key, f"vote:{vote_id}:member:{m}".encode(), hashlib.sha256).hexdigest()[:32]: m
            for m in range(1, 9)}


@pytest.fixture
def voted(services):
    vote_id = open_vote(services, changeable=True)
    for member_id, choice in CHOICES.items():
        assert say(services, member_id, f"投票 {choice}").startswith("已投票")
    assert say(services, 3, "投票 4").startswith("已改为")  # a change, in place
    assert "你的选择：王建国" in say(services, 3, "我的投票")
    return vote_id


def test_voters_and_ballots_share_no_column_but_the_vote(services, voted):
    db = services.store.db
    voter_columns = [r[1] for r in db.execute("PRAGMA table_info(vote_voters)")]
    ballot_columns = [r[1] for r in db.execute("PRAGMA table_info(vote_ballots)")]
    assert voter_columns == ["vote_id", "member_id"]
    assert ballot_columns == ["vote_id", "token", "choices"]   # no voter, no time
    for table in ("vote_voters", "vote_ballots"):               # no rowid counts insertions
        with pytest.raises(sqlite3.OperationalError, match="rowid"):
            db.execute(f"SELECT rowid FROM {table}")
    assert db.execute("SELECT count(*) FROM vote_ballots").fetchone()[0] == 4  # changed in place


def test_no_table_holds_a_ballot_token_or_the_key(services, voted):
    db = services.store.db
    tokens = {r[0] for r in db.execute("SELECT token FROM vote_ballots")}
    key = Path(services.store.path + votes.BALLOT_KEY_SUFFIX).read_text().strip()
    for table, cell in every_cell(db.conn, skip=("vote_ballots",)):
        assert not any(t in cell for t in tokens), (table, cell)
        assert key not in cell, table


def test_the_key_file_is_private_and_outside_the_database(services, voted):
    path = Path(services.store.path + votes.BALLOT_KEY_SUFFIX)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(bytes.fromhex(path.read_text())) == 32


def test_ballots_are_stored_in_token_order_not_voting_order(services):
    vote_id = open_vote(services, candidates=CANDIDATES, audience={"all": True})
    for member_id in range(1, 9):  # in member order: a rowid table would keep this order
        assert say(services, member_id, "投票 1").startswith("已投票")
    natural = [r[0] for r in services.store.db.execute(
        "SELECT token FROM vote_ballots WHERE vote_id = ?", [vote_id])]
    assert natural == sorted(natural)  # the B-tree's order: an HMAC's, unrelated to who or when
    by_voting_order = [t for t, _m in sorted(tokens_with_key(services, vote_id).items(),
                                             key=lambda item: item[1])]
    assert natural != by_voting_order


def test_the_dedupe_records_and_the_audit_never_name_a_choice(services, voted):
    db = services.store.db
    replies = [r[0] for r in db.execute("SELECT reply FROM inbound")]
    assert len(replies) == 6
    for reply in replies:
        assert not any(name in reply for name in CANDIDATES), reply
    for (detail,) in db.execute("SELECT detail FROM audit"):
        assert not any(name in detail for name in CANDIDATES), detail


def test_with_the_key_the_join_works_while_open_and_not_after_the_seal(services, voted, clock):
    db = services.store.db
    tokens = tokens_with_key(services, voted)
    joined = {tokens[t]: c for t, c in db.execute("SELECT token, choices FROM vote_ballots")
              if t in tokens}
    assert len(joined) == 4  # the test can see a join: the key file is what makes it possible
    old_tokens = list(tokens)
    votes.close_vote(services, voted, actor="test")
    after = {t for (t,) in db.execute("SELECT token FROM vote_ballots")}
    assert len(after) == 4 and not after & set(old_tokens)
    assert "无法再查看" in say(services, 3, "我的投票")
    # Nor are the replaced tokens left in the database file once the WAL is checkpointed.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = Path(services.store.path).read_bytes()
    assert not [t for t in old_tokens if t.encode() in raw]


def test_the_console_and_the_export_show_counts_only(services, voted, client):
    logged_in(services, client, "admin")
    open_page = text(client.get(f"/admin/votes/{voted}"))
    assert 'id="tally"' not in open_page and "票</td>" not in open_page
    votes.close_vote(services, voted, actor="test")
    closed_page = text(client.get(f"/admin/votes/{voted}"))
    assert "未投票" not in closed_page  # after the close only counts, not even the voters
    export = client.get(f"/admin/votes/{voted}/tally.csv").get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(export)))
    assert rows[0] == ["名次", "并列", "姓名", "支部", "票数"]
    assert sorted(r[2] for r in rows[1:]) == sorted(CANDIDATES)  # candidates, never voters
    counts, ballots = store_votes.tally(services.store.db, voted)
    assert ballots == 4 and sum(counts.values()) == 4


def test_a_reminder_names_who_has_not_voted_never_a_choice(services, clock):
    vote_id = open_vote(services)
    say(services, 2, "投票 1")
    broadcast = votes.remind(services, vote_id, actor="test")
    texts = {r[0] for r in services.store.db.execute(
        "SELECT text FROM deliveries WHERE broadcast_id = ?", [broadcast])}
    assert len(texts) == 1  # the same text for everyone: nothing per voter
    clock.advance(days=1)
    assert votes.remind(services, vote_id, actor="test") != broadcast  # a new day, a new one


def test_the_tally_is_never_shown_unsealed(services, voted, clock, client):
    """Without the scheduler (its tick seals), the closed vote is sealed by the first look."""
    clock.advance(days=3)  # past the close; no tick ran
    assert store_votes.get(services.store.db, voted).sealed_at is None
    assert "无法再查看" in say(services, 3, "我的投票")
    logged_in(services, client, "admin")
    assert 'id="tally"' in text(client.get(f"/admin/votes/{voted}"))
    assert store_votes.get(services.store.db, voted).sealed_at is not None
    tokens = tokens_with_key(services, voted)
    assert not [t for (t,) in services.store.db.execute("SELECT token FROM vote_ballots")
                if t in tokens]
