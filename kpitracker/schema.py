"""The SQLite schema of the activity ledger and its migrations.

The ledger keeps every row as recorded. Beside it, `daily_user` rolls each user's day up into
counts and sums, and `members` keeps each user's first times and balance, so that a metric
reads a few thousand rollup rows instead of millions of ledger rows. Both are derived: they
can always be rebuilt from the ledger.
"""

from __future__ import annotations

from typing import Callable

SCHEMA_VERSION = 4

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


def _version_2() -> str:
    # Alert state, history and notifications; the tables are described beside their code.
    from .alert_store import ALERT_TABLES

    return ALERT_TABLES


_VERSION_3 = """
-- The time index also carries every column a metric reads from raw rows, so that the part
-- of a window inside a day is read from the index alone.
DROP INDEX IF EXISTS ledger_time;
CREATE INDEX IF NOT EXISTS ledger_time ON ledger (server_id, ts, kind, user_id, amount);

-- Ledger rows of a server older than before_ts were compacted into the rollups
-- (kpitracker/retention.py); rows that old are no longer accepted.
CREATE TABLE IF NOT EXISTS compaction (
    server_id INTEGER PRIMARY KEY,
    before_ts INTEGER NOT NULL
);

-- One row per server and day, derived from daily_user: what the streak metrics and the
-- window totals read, so that a quarter costs 90 rows.
CREATE TABLE IF NOT EXISTS daily_server (
    server_id INTEGER NOT NULL,
    day       INTEGER NOT NULL,
    claimers  INTEGER NOT NULL,
    continued INTEGER NOT NULL,          -- claimers who also claimed the day before
    ltz_in    REAL    NOT NULL,
    events    INTEGER NOT NULL,
    PRIMARY KEY (server_id, day)
) WITHOUT ROWID;
INSERT OR REPLACE INTO daily_server
SELECT server_id, day, COUNT(*) FILTER (WHERE claims > 0),
       COUNT(*) FILTER (WHERE claims > 0 AND streak >= 2), TOTAL(ltz_in), SUM(events)
FROM daily_user GROUP BY server_id, day;

-- One row per server, user and block of 63 days, derived from daily_user: bit i of a column
-- is set when the user did that on day 63 * block + i. Counting the users active in a long
-- window reads a few block rows per user instead of one row per user and day.
CREATE TABLE IF NOT EXISTS block_user (
    server_id   INTEGER NOT NULL,
    block       INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    claim_days  INTEGER NOT NULL,
    reward_days INTEGER NOT NULL,        -- paid LTZ out
    engage_days INTEGER NOT NULL,        -- a claim, reward, event or voice session
    voice_days  INTEGER NOT NULL,
    event_days  INTEGER NOT NULL,        -- one event or more
    event2_days INTEGER NOT NULL,        -- two or more
    event3_days INTEGER NOT NULL,        -- three or more
    PRIMARY KEY (server_id, block, user_id)
) WITHOUT ROWID;
INSERT OR REPLACE INTO block_user
SELECT server_id, day / 63, user_id,
       SUM((claims > 0) << (day % 63)), SUM((rewards > 0) << (day % 63)),
       SUM((claims > 0 OR rewards > 0 OR events > 0 OR voice_sessions > 0) << (day % 63)),
       SUM((voice_sessions > 0) << (day % 63)), SUM((events > 0) << (day % 63)),
       SUM((events > 1) << (day % 63)), SUM((events > 2) << (day % 63))
FROM daily_user GROUP BY server_id, day / 63, user_id;
"""

_VERSION_4 = """
-- LTZ received less LTZ spent per user and block, so that holdings at an instant months back
-- read whole blocks rather than every day.
ALTER TABLE block_user ADD COLUMN net REAL NOT NULL DEFAULT 0;
UPDATE block_user SET net = d.net
FROM (SELECT server_id, day / 63 AS block, user_id, TOTAL(ltz_in - ltz_out) AS net
      FROM daily_user GROUP BY 1, 2, 3) AS d
WHERE block_user.server_id = d.server_id AND block_user.block = d.block
  AND block_user.user_id = d.user_id;
"""

# Each entry turns version N-1 into version N. A release that changes the schema appends a
# step here; `migrate` runs the missing ones in order inside one transaction.
MIGRATIONS: dict[int, Callable[[], str]] = {
    1: lambda: _VERSION_1,
    2: _version_2,
    3: lambda: _VERSION_3,
    4: lambda: _VERSION_4,
}


def pending_steps(current: int) -> list[tuple[int, str]]:
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"the KPI database has schema version {current}, newer than this release "
            f"({SCHEMA_VERSION}); update the kpitracker cog"
        )
    return [(version, MIGRATIONS[version]()) for version in range(current + 1, SCHEMA_VERSION + 1)]
