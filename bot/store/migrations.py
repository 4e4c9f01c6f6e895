"""The schema, as numbered migrations run at start (PRAGMA user_version records the last one).

Append a new migration to MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

MIGRATIONS: list[str] = [
    # 1: members, their channel identities, check-ins, durable dedupe, sandbox inbox, kv, audit
    """
    CREATE TABLE members (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        branch TEXT NOT NULL,
        grp TEXT NOT NULL DEFAULT '',
        phone TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL DEFAULT 'member',
        bind_code TEXT UNIQUE,
        active INTEGER NOT NULL DEFAULT 1,
        demo INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        UNIQUE (branch, name)
    );
    CREATE TABLE identities (
        channel TEXT NOT NULL,
        external_id TEXT NOT NULL,
        member_id INTEGER REFERENCES members(id),
        active INTEGER NOT NULL DEFAULT 1,
        bound_at TEXT,
        PRIMARY KEY (channel, external_id)
    );
    CREATE INDEX identities_member ON identities(member_id);
    CREATE TABLE checkins (
        id INTEGER PRIMARY KEY,
        member_id INTEGER NOT NULL REFERENCES members(id),
        day TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL,
        via TEXT NOT NULL,
        UNIQUE (member_id, day)
    );
    CREATE INDEX checkins_day ON checkins(day);
    CREATE TABLE inbound (
        dedupe_key TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        reply TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE bind_attempts (
        who TEXT PRIMARY KEY,
        failures INTEGER NOT NULL DEFAULT 0,
        paused_until TEXT
    );
    CREATE TABLE sandbox_inbox (
        id INTEGER PRIMARY KEY,
        member_id INTEGER REFERENCES members(id),
        external_id TEXT NOT NULL,
        text TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX sandbox_inbox_who ON sandbox_inbox(external_id, id);
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires_at REAL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    """,
    # 2: the reading library (curated and imported), its search index, the daily log, reminders
    """
    CREATE TABLE readings (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        short TEXT NOT NULL,
        version TEXT NOT NULL,
        article_no TEXT NOT NULL,
        article_key TEXT NOT NULL DEFAULT '',
        chapter TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '',
        gloss TEXT NOT NULL DEFAULT '',
        origin TEXT NOT NULL,
        superseded INTEGER NOT NULL DEFAULT 0,
        in_rotation INTEGER NOT NULL DEFAULT 1,
        content_hash TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX readings_article ON readings(short, article_key);
    CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        short TEXT NOT NULL,
        aliases TEXT NOT NULL DEFAULT ''
    );
    CREATE VIRTUAL TABLE search_index USING fts5(
        kind UNINDEXED, ref UNINDEXED, title, body, tokenize = 'unicode61'
    );
    CREATE TABLE reading_log (
        day TEXT NOT NULL,
        audience TEXT NOT NULL,
        reading_id INTEGER NOT NULL REFERENCES readings(id),
        cycle INTEGER NOT NULL,
        PRIMARY KEY (day, audience)
    );
    CREATE TABLE reminders (
        id TEXT PRIMARY KEY,
        occasion TEXT NOT NULL,
        lead_workdays INTEGER NOT NULL,
        is_default INTEGER NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        version TEXT NOT NULL,
        file_hash TEXT NOT NULL,
        articles INTEGER NOT NULL,
        at TEXT NOT NULL,
        UNIQUE (source, version, file_hash)
    );
    """,
    # 3: schedules, broadcasts and the delivery ledger; idempotent sandbox deliveries; alerts
    """
    CREATE TABLE schedules (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        spec TEXT NOT NULL,
        workdays_only INTEGER NOT NULL DEFAULT 0,
        audience TEXT NOT NULL,
        content TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'active',
        last_fire_at TEXT
    );
    CREATE TABLE broadcasts (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        schedule_id INTEGER REFERENCES schedules(id),
        fire_at TEXT NOT NULL,
        text TEXT NOT NULL,
        audience TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'expanding',
        created_at TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),
        member_id INTEGER NOT NULL REFERENCES members(id),
        channel TEXT NOT NULL,
        external_id TEXT NOT NULL,
        text TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        sent_at TEXT,
        UNIQUE (broadcast_id, member_id)
    );
    CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
    ALTER TABLE sandbox_inbox ADD COLUMN delivery_key TEXT;
    CREATE UNIQUE INDEX sandbox_inbox_delivery ON sandbox_inbox(delivery_key);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    """,
    # 4: monthly study tasks (from content/tasks/*.toml or the admin) and members' completions
    """
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        month TEXT NOT NULL,
        position INTEGER NOT NULL,
        title TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        link TEXT NOT NULL DEFAULT '',
        readings TEXT NOT NULL DEFAULT '[]',
        due TEXT NOT NULL,
        required INTEGER NOT NULL DEFAULT 1,
        kind TEXT NOT NULL DEFAULT 'study',
        audience TEXT NOT NULL DEFAULT '{"all": true}',
        origin TEXT NOT NULL,
        removed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    -- A task keeps its number for good ("第二项"), removed or not: never two with one number.
    CREATE UNIQUE INDEX tasks_month ON tasks(month, position);
    CREATE TABLE task_done (
        task_id INTEGER NOT NULL REFERENCES tasks(id),
        member_id INTEGER NOT NULL REFERENCES members(id),
        day TEXT NOT NULL,
        at TEXT NOT NULL,
        via TEXT NOT NULL,
        PRIMARY KEY (task_id, member_id)
    );
    CREATE INDEX task_done_member ON task_done(member_id);
    """,
    # 5: the daily quiz: the question bank (synced from content/quiz.toml; a question dropped from
    # the file turns inactive so attempts keep their reference), the question of each day with
    # its rotation cycle, who asked for it (so a bare "A" is an answer only after asking), and
    # members' graded attempts (one a day)
    """
    CREATE TABLE quiz_questions (
        id TEXT PRIMARY KEY,
        position INTEGER NOT NULL DEFAULT 0,
        type TEXT NOT NULL,
        stem TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '[]',
        answer TEXT NOT NULL,
        explanation TEXT NOT NULL,
        source TEXT NOT NULL,
        version TEXT NOT NULL,
        article_no TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        updated_at TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE quiz_days (
        day TEXT PRIMARY KEY,
        question_id TEXT NOT NULL REFERENCES quiz_questions(id),
        cycle INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX quiz_days_cycle ON quiz_days(cycle);
    CREATE TABLE quiz_asked (
        member_id INTEGER NOT NULL REFERENCES members(id),
        day TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (member_id, day)
    );
    CREATE TABLE quiz_attempts (
        member_id INTEGER NOT NULL REFERENCES members(id),
        day TEXT NOT NULL,
        question_id TEXT NOT NULL REFERENCES quiz_questions(id),
        answer TEXT NOT NULL,
        correct INTEGER NOT NULL,
        at TEXT NOT NULL,
        via TEXT NOT NULL,
        PRIMARY KEY (member_id, day)
    );
    CREATE INDEX quiz_attempts_day ON quiz_attempts(day);
    """,
    # 6: nudges (督学): one per member per day at most; escalations told to leaders. Each row is
    # written before its broadcast with the broadcast's deterministic key and the text, so a
    # crash between the two is finished by re-creating the broadcast from the rows.
    """
    CREATE TABLE nudges (
        member_id INTEGER NOT NULL REFERENCES members(id),
        day TEXT NOT NULL,
        rule TEXT NOT NULL,
        text TEXT NOT NULL,
        broadcast_key TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (member_id, day)
    );
    CREATE INDEX nudges_key ON nudges(broadcast_key);
    CREATE TABLE escalations (
        member_id INTEGER NOT NULL REFERENCES members(id),
        month TEXT NOT NULL,
        level INTEGER NOT NULL,
        months INTEGER NOT NULL,
        told_member_id INTEGER REFERENCES members(id),
        text TEXT NOT NULL DEFAULT '',
        broadcast_key TEXT,
        day TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (member_id, month, level)
    );
    CREATE INDEX escalations_key ON escalations(broadcast_key);
    """,
    # 7: the admin console: accounts, failed-login throttling
    """
    CREATE TABLE admin_users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        branch TEXT,
        active INTEGER NOT NULL DEFAULT 1,
        session_version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        last_login_at TEXT
    );
    CREATE TABLE login_failures (
        who TEXT PRIMARY KEY,
        failures INTEGER NOT NULL DEFAULT 0,
        last_at REAL NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX audit_at ON audit(at);
    """,
    # 8: inbound (the dedupe records) WITHOUT ROWID: the TEXT key is the table's own B-tree, so
    # every message writes one B-tree fewer (docs/benchmarks.md, Webhook). Copied, not altered:
    # SQLite cannot change a table's rowid-ness in place.
    """
    CREATE TABLE inbound_new (
        dedupe_key TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        reply TEXT NOT NULL,
        at TEXT NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO inbound_new (dedupe_key, channel, reply, at)
        SELECT dedupe_key, channel, reply, at FROM inbound;
    DROP TABLE inbound;
    ALTER TABLE inbound_new RENAME TO inbound;
    """,
    # 9: a group belongs to its branch (bot/audience.py): every group an audience names by its
    # name alone becomes "支部/党小组" when the active members' groups of that name are all in
    # one branch. Names several branches share, or nobody's, stay as written (they keep their
    # old meaning; `config check` and `init` name the ambiguous ones). Schedules and tasks
    # only: a broadcast's audience was expanded when it was made.
    """
    UPDATE schedules SET audience = json_set(audience, '$.groups', json((
        SELECT json_group_array(CASE
            WHEN (SELECT count(DISTINCT m.branch) FROM members m
                  WHERE m.grp = g.value AND m.active = 1) = 1
            THEN (SELECT m.branch FROM members m WHERE m.grp = g.value AND m.active = 1
                  LIMIT 1) || '/' || g.value
            ELSE g.value END)
        FROM json_each(schedules.audience, '$.groups') AS g)))
    WHERE json_valid(audience) AND json_type(audience, '$.groups') = 'array';
    UPDATE tasks SET audience = json_set(audience, '$.groups', json((
        SELECT json_group_array(CASE
            WHEN (SELECT count(DISTINCT m.branch) FROM members m
                  WHERE m.grp = g.value AND m.active = 1) = 1
            THEN (SELECT m.branch FROM members m WHERE m.grp = g.value AND m.active = 1
                  LIMIT 1) || '/' || g.value
            ELSE g.value END)
        FROM json_each(tasks.audience, '$.groups') AS g)))
    WHERE json_valid(audience) AND json_type(audience, '$.groups') = 'array';
    """,
    # 10: 党员政治生日: the roster's 入党日期 and 转正日期 (ISO dates, NULL when not known), read
    # by bot/political_birthday.py; written by the roster import (bot/store/party_dates.py)
    """
    ALTER TABLE members ADD COLUMN party_joined_on TEXT;
    ALTER TABLE members ADD COLUMN party_confirmed_on TEXT;
    """,
    # 11: votes and nominations (推荐评选, bot/votes.py). A secret ballot: vote_voters (who has
    # voted) and vote_ballots (what was chosen) share nothing but the vote's id. Both are
    # WITHOUT ROWID, so no row number records insertion order; voters sort by member id,
    # ballots by a token (an HMAC of the voter under a key kept outside the database, replaced
    # by random bytes when the vote is sealed); neither holds a time.
    """
    CREATE TABLE votes (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        audience TEXT NOT NULL,
        branch TEXT NOT NULL DEFAULT '',
        mode TEXT NOT NULL CHECK (mode IN ('list', 'free')),
        choices INTEGER NOT NULL CHECK (choices >= 1),
        opens_at TEXT NOT NULL,
        closes_at TEXT NOT NULL,
        changeable INTEGER NOT NULL DEFAULT 0,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        sealed_at TEXT
    );
    CREATE TABLE vote_candidates (
        vote_id INTEGER NOT NULL REFERENCES votes(id),
        position INTEGER NOT NULL,
        member_id INTEGER NOT NULL REFERENCES members(id),
        PRIMARY KEY (vote_id, position),
        UNIQUE (vote_id, member_id)
    ) WITHOUT ROWID;
    CREATE TABLE vote_voters (
        vote_id INTEGER NOT NULL REFERENCES votes(id),
        member_id INTEGER NOT NULL REFERENCES members(id),
        PRIMARY KEY (vote_id, member_id)
    ) WITHOUT ROWID;
    CREATE TABLE vote_ballots (
        vote_id INTEGER NOT NULL REFERENCES votes(id),
        token TEXT NOT NULL,
        choices TEXT NOT NULL,
        PRIMARY KEY (vote_id, token)
    ) WITHOUT ROWID;
    """,
    # 12: replay memory (bot/store/nonces.py): the (timestamp, nonce) of every signed callback
    # within the clock-skew window, with a digest of what came with it, so a captured query
    # string cannot be sent again with another body. The timestamp leads the key (zero-padded,
    # so text order is numeric order): new rows go to the B-tree's right edge and pruning by
    # age is a range at its left, with no second index to write on every message.
    """
    CREATE TABLE callback_nonces (
        timestamp TEXT NOT NULL,
        nonce TEXT NOT NULL,
        channel TEXT NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (timestamp, nonce, channel)
    ) WITHOUT ROWID;
    """,
    # 13: 组织生活 (bot/meetings.py, bot/store/meetings.py): meetings (三会一课, 主题党日) with
    # their audience, time, place, materials, sign-in code and minutes; one row per member who
    # answered (参加, 签到, a secretary's mark); leave requests, one per member and meeting.
    """
    CREATE TABLE meetings (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        branch TEXT NOT NULL,
        audience TEXT NOT NULL,
        start_at TEXT NOT NULL,
        end_at TEXT NOT NULL,
        place TEXT NOT NULL DEFAULT '',
        link TEXT NOT NULL DEFAULT '',
        agenda TEXT NOT NULL DEFAULT '',
        speaker TEXT NOT NULL DEFAULT '',
        materials TEXT NOT NULL DEFAULT '{}',
        notice_days INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'scheduled',
        version INTEGER NOT NULL DEFAULT 1,
        told_version INTEGER NOT NULL DEFAULT 0,
        code TEXT NOT NULL,
        minutes TEXT NOT NULL DEFAULT '',
        attachments TEXT NOT NULL DEFAULT '[]',
        makeup_task_id INTEGER,
        created_by TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX meetings_start ON meetings(start_at);
    CREATE TABLE meeting_members (
        meeting_id INTEGER NOT NULL REFERENCES meetings(id),
        member_id INTEGER NOT NULL REFERENCES members(id),
        joining INTEGER NOT NULL DEFAULT 0,
        signed_at TEXT,
        mark TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (meeting_id, member_id)
    );
    CREATE TABLE meeting_leaves (
        id INTEGER PRIMARY KEY,
        meeting_id INTEGER NOT NULL REFERENCES meetings(id),
        member_id INTEGER NOT NULL REFERENCES members(id),
        reason TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        asked_at TEXT NOT NULL,
        decided_at TEXT,
        decided_by TEXT NOT NULL DEFAULT '',
        UNIQUE (meeting_id, member_id)
    );
    """,
]


def migrate(db: sqlite_utils.Database) -> int:
    """Run the migrations this database has not seen yet; return the schema version.

    Each migration runs in its own BEGIN IMMEDIATE transaction and re-reads the version inside
    it, so two processes starting at once cannot both apply the same migration.
    """
    conn = db.conn
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= len(MIGRATIONS):
                conn.execute("COMMIT")
                return version
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a full disk may have rolled back already: keep its error
                conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a script into whole statements (sqlite3.complete_statement handles triggers)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
