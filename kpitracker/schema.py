"""The SQLite schema of the activity ledger and its migrations.

The ledger keeps every row as recorded. Beside it, `daily_user` rolls each user's day up into
counts and sums, and `members` keeps each user's first times and balance, so that a metric
reads a few thousand rollup rows instead of millions of ledger rows. Both are derived: they
can always be rebuilt from the ledger.
"""

from __future__ import annotations

from typing import Callable

SCHEMA_VERSION = 1

_VERSION_1 = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS ledger (
    id        INTEGER PRIMARY KEY,
    server_id INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    ts        INTEGER NOT NULL,          -- milliseconds since the epoch, UTC
    kind      INTEGER NOT NULL,          -- kpitracker.ledger.Kind
    amount    REAL    NOT NULL DEFAULT 0,
    detail    TEXT    NOT NULL DEFAULT '',
    seq       INTEGER NOT NULL DEFAULT 0 -- the nth identical row of an imported file
);
-- One row per distinct activity: importing a file twice adds nothing the second time, while
-- a file that really holds the same row twice (a badge awarded twice at once) keeps both.
CREATE UNIQUE INDEX IF NOT EXISTS ledger_identity
    ON ledger (server_id, user_id, ts, kind, amount, detail, seq);
CREATE INDEX IF NOT EXISTS ledger_time ON ledger (server_id, ts);

CREATE TABLE IF NOT EXISTS daily_user (
    server_id      INTEGER NOT NULL,
    day            INTEGER NOT NULL,     -- UTC days since the epoch
    user_id        INTEGER NOT NULL,
    claims         INTEGER NOT NULL DEFAULT 0,
    rewards        INTEGER NOT NULL DEFAULT 0,   -- rows that paid LTZ out
    ltz_in         REAL    NOT NULL DEFAULT 0,
    ltz_out        REAL    NOT NULL DEFAULT 0,
    events         INTEGER NOT NULL DEFAULT 0,
    voice_sessions INTEGER NOT NULL DEFAULT 0,
    streak         INTEGER NOT NULL DEFAULT 0,   -- claim days in the run ending on this day
    PRIMARY KEY (server_id, day, user_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS members (
    server_id       INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    first_join_ts   INTEGER,
    first_seen_ts   INTEGER NOT NULL,
    first_engage_ts INTEGER,             -- first claim, reward or event
    first_reward_ts INTEGER,
    balance         REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (server_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_join ON members (server_id, first_join_ts);
CREATE INDEX IF NOT EXISTS members_seen ON members (server_id, first_seen_ts);

CREATE TABLE IF NOT EXISTS servers (
    server_id    INTEGER PRIMARY KEY,
    first_ts     INTEGER NOT NULL,
    last_ts      INTEGER NOT NULL,
    max_voice_ms INTEGER NOT NULL DEFAULT 0
);

-- Voice sessions in progress, so that a restart does not lose them.
CREATE TABLE IF NOT EXISTS voice_open (
    server_id INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    start_ts  INTEGER NOT NULL,
    PRIMARY KEY (server_id, user_id)
);

CREATE TABLE IF NOT EXISTS discord_kpi_snapshots (
    server_id     INTEGER NOT NULL,
    snapshot_date TEXT    NOT NULL,      -- YYYY-MM-DD, the UTC day the snapshot describes
    snapshot_type TEXT    NOT NULL DEFAULT 'daily',
    metrics       TEXT    NOT NULL,      -- JSON
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (server_id, snapshot_date, snapshot_type)
);
"""

# Each entry turns version N-1 into version N. A release that changes the schema appends a
# step here; `migrate` runs the missing ones in order inside one transaction.
MIGRATIONS: dict[int, Callable[[], str]] = {1: lambda: _VERSION_1}


def pending_steps(current: int) -> list[tuple[int, str]]:
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"the KPI database has schema version {current}, newer than this release "
            f"({SCHEMA_VERSION}); update the kpitracker cog"
        )
    return [(version, MIGRATIONS[version]()) for version in range(current + 1, SCHEMA_VERSION + 1)]
