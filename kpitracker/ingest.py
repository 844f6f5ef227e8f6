"""Writing a batch of ledger rows and keeping the rollups in step, as set-based SQL.

A batch lands in a temporary table first; only the rows the ledger does not already hold go
on, so the rollups count each activity once however often it is sent.
"""

from __future__ import annotations

import asyncio

from .ledger import DAY_MS, Kind, LedgerRow

TEMP_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS incoming (
    server_id INTEGER, user_id INTEGER, ts INTEGER, kind INTEGER, amount REAL, detail TEXT,
    seq INTEGER
);
CREATE TEMP TABLE IF NOT EXISTS fresh (
    server_id INTEGER, user_id INTEGER, ts INTEGER, kind INTEGER, amount REAL, detail TEXT,
    seq INTEGER
);
CREATE TEMP TABLE IF NOT EXISTS streak_users (
    server_id INTEGER, user_id INTEGER, from_day INTEGER, PRIMARY KEY (server_id, user_id)
);
CREATE TEMP TABLE IF NOT EXISTS touched_days (
    server_id INTEGER, day INTEGER, PRIMARY KEY (server_id, day)
);
CREATE TEMP TABLE IF NOT EXISTS new_claim_days (
    server_id INTEGER, day INTEGER, user_id INTEGER, PRIMARY KEY (server_id, day, user_id)
);
"""

# `block_user` keeps one row per user and block of this many days, a bit per day (schema.py).
BLOCK_DAYS = 63

# Recompute the `daily_server` rows of the days in temp.touched_days from `daily_user`.
REFRESH_DAILY_SERVER = [
    """
    DELETE FROM daily_server WHERE EXISTS (
        SELECT 1 FROM temp.touched_days AS t
        WHERE t.server_id = daily_server.server_id AND t.day = daily_server.day)
    """,
    """
    INSERT INTO daily_server (server_id, day, claimers, continued, ltz_in, events)
    SELECT d.server_id, d.day, COUNT(*) FILTER (WHERE d.claims > 0),
           COUNT(*) FILTER (WHERE d.claims > 0 AND d.streak >= 2), TOTAL(d.ltz_in),
           SUM(d.events)
    FROM temp.touched_days AS t
    JOIN daily_user AS d ON d.server_id = t.server_id AND d.day = t.day
    GROUP BY d.server_id, d.day
    """,
]

_CLAIM, _REWARD, _SPEND = int(Kind.CLAIM), int(Kind.REWARD), int(Kind.SPEND)
_EVENT, _VOICE, _JOIN = int(Kind.EVENT), int(Kind.VOICE), int(Kind.JOIN)
_PAYS_OUT = f"(kind IN ({_CLAIM}, {_REWARD}) AND amount > 0)"

STEPS = [
    "DELETE FROM temp.fresh",
    """
    INSERT INTO temp.fresh
    SELECT DISTINCT i.* FROM temp.incoming AS i
    WHERE NOT EXISTS (
        SELECT 1 FROM ledger AS l
        WHERE l.server_id = i.server_id AND l.user_id = i.user_id AND l.ts = i.ts
          AND l.kind = i.kind AND l.amount = i.amount AND l.detail = i.detail
          AND l.seq = i.seq)
      -- Rows older than a server's compacted history cannot be told from rows already
      -- counted in its rollups, so they are not taken.
      AND i.ts >= coalesce(
          (SELECT c.before_ts FROM compaction AS c WHERE c.server_id = i.server_id), 0)
    """,
    """
    INSERT INTO ledger (server_id, user_id, ts, kind, amount, detail, seq)
    SELECT server_id, user_id, ts, kind, amount, detail, seq FROM temp.fresh
    ORDER BY server_id, ts
    """,
    # The user-days that become claim days with this batch, for the daily totals below.
    "DELETE FROM temp.new_claim_days",
    f"""
    INSERT INTO temp.new_claim_days
    SELECT DISTINCT f.server_id, f.ts / {DAY_MS}, f.user_id FROM temp.fresh AS f
    WHERE f.kind = {_CLAIM} AND NOT EXISTS (
        SELECT 1 FROM daily_user AS d
        WHERE d.server_id = f.server_id AND d.day = f.ts / {DAY_MS} AND d.user_id = f.user_id
          AND d.claims > 0)
    """,
    f"""
    INSERT INTO daily_user
        (server_id, day, user_id, claims, rewards, ltz_in, ltz_out, events, voice_sessions)
    SELECT server_id, ts / {DAY_MS}, user_id,
           SUM(kind = {_CLAIM}),
           SUM({_PAYS_OUT}),
           SUM(CASE WHEN {_PAYS_OUT} THEN amount ELSE 0 END),
           SUM(CASE WHEN kind = {_SPEND} THEN amount ELSE 0 END),
           SUM(kind = {_EVENT}),
           SUM(kind = {_VOICE})
    FROM temp.fresh
    WHERE kind IN ({_CLAIM}, {_REWARD}, {_SPEND}, {_EVENT}, {_VOICE})
    GROUP BY 1, 2, 3
    ON CONFLICT (server_id, day, user_id) DO UPDATE SET
        claims = claims + excluded.claims,
        rewards = rewards + excluded.rewards,
        ltz_in = ltz_in + excluded.ltz_in,
        ltz_out = ltz_out + excluded.ltz_out,
        events = events + excluded.events,
        voice_sessions = voice_sessions + excluded.voice_sessions
    """,
    f"""
    INSERT INTO members (server_id, user_id, first_join_ts, first_seen_ts, first_engage_ts,
                         first_reward_ts, balance)
    SELECT server_id, user_id,
           MIN(CASE WHEN kind = {_JOIN} THEN ts END),
           MIN(ts),
           MIN(CASE WHEN kind IN ({_CLAIM}, {_REWARD}, {_EVENT}) THEN ts END),
           MIN(CASE WHEN {_PAYS_OUT} THEN ts END),
           SUM(CASE WHEN {_PAYS_OUT} THEN amount WHEN kind = {_SPEND} THEN -amount ELSE 0 END)
    FROM temp.fresh
    WHERE true
    GROUP BY 1, 2
    ON CONFLICT (server_id, user_id) DO UPDATE SET
        first_join_ts = coalesce(min(first_join_ts, excluded.first_join_ts),
                                 first_join_ts, excluded.first_join_ts),
        first_seen_ts = min(first_seen_ts, excluded.first_seen_ts),
        first_engage_ts = coalesce(min(first_engage_ts, excluded.first_engage_ts),
                                   first_engage_ts, excluded.first_engage_ts),
        first_reward_ts = coalesce(min(first_reward_ts, excluded.first_reward_ts),
                                   first_reward_ts, excluded.first_reward_ts),
        balance = balance + excluded.balance
    """,
    f"""
    INSERT INTO servers (server_id, first_ts, last_ts, max_voice_ms)
    SELECT server_id, MIN(ts), MAX(ts),
           MAX(CASE WHEN kind = {_VOICE} THEN CAST(amount * 1000 AS INTEGER) ELSE 0 END)
    FROM temp.fresh
    WHERE true
    GROUP BY 1
    ON CONFLICT (server_id) DO UPDATE SET
        first_ts = min(first_ts, excluded.first_ts),
        last_ts = max(last_ts, excluded.last_ts),
        max_voice_ms = max(max_voice_ms, excluded.max_voice_ms)
    """,
    "DELETE FROM temp.streak_users",
    # Only a day that becomes a claim day changes streaks; another claim on it does not.
    """
    INSERT INTO temp.streak_users
    SELECT server_id, user_id, MIN(day) FROM temp.new_claim_days GROUP BY 1, 2
    """,
    # A streak is the length of the run of claim days ending on a day. New claim days can
    # arrive out of order (imports), so the runs from the day before the earliest new claim
    # day onwards are renumbered; the day before keeps its stored length as the base.
    """
    -- CROSS JOIN keeps this order: the days from the earliest one renumbered, read by the
    -- primary key, then the users concerned; live claims read yesterday and today only.
    WITH days AS (
        SELECT d.server_id, d.user_id, d.day, d.streak, s.from_day
        FROM (SELECT server_id, MIN(from_day) - 1 AS low FROM temp.streak_users GROUP BY 1) AS r
        CROSS JOIN daily_user AS d ON d.server_id = r.server_id AND d.day >= r.low
        CROSS JOIN temp.streak_users AS s ON s.server_id = d.server_id AND s.user_id = d.user_id
        WHERE d.day >= s.from_day - 1 AND d.claims > 0
    ),
    islands AS (
        SELECT *, day - ROW_NUMBER() OVER (PARTITION BY server_id, user_id ORDER BY day) AS run
        FROM days
    ),
    numbered AS (
        SELECT server_id, user_id, day, from_day,
               ROW_NUMBER() OVER run_days AS position,
               FIRST_VALUE(day) OVER run_days AS first_day,
               FIRST_VALUE(streak) OVER run_days AS first_streak
        FROM islands
        WINDOW run_days AS (PARTITION BY server_id, user_id, run ORDER BY day)
    )
    UPDATE daily_user SET streak = CASE
        WHEN n.first_day = n.from_day - 1 THEN n.first_streak - 1 + n.position
        ELSE n.position END
    FROM numbered AS n
    WHERE daily_user.server_id = n.server_id AND daily_user.day = n.day
      AND daily_user.user_id = n.user_id
    """,
    # A day's bits only ever gain activity, so they are OR-ed into the block.
    f"""
    INSERT INTO block_user (server_id, block, user_id, claim_days, reward_days, engage_days,
                            voice_days, event_days, event2_days, event3_days)
    SELECT d.server_id, d.day / {BLOCK_DAYS}, d.user_id,
           (d.claims > 0) << (d.day % {BLOCK_DAYS}),
           (d.rewards > 0) << (d.day % {BLOCK_DAYS}),
           (d.claims > 0 OR d.rewards > 0 OR d.events > 0 OR d.voice_sessions > 0)
               << (d.day % {BLOCK_DAYS}),
           (d.voice_sessions > 0) << (d.day % {BLOCK_DAYS}),
           (d.events > 0) << (d.day % {BLOCK_DAYS}),
           (d.events > 1) << (d.day % {BLOCK_DAYS}),
           (d.events > 2) << (d.day % {BLOCK_DAYS})
    FROM (SELECT DISTINCT server_id, ts / {DAY_MS} AS day, user_id FROM temp.fresh) AS f
    JOIN daily_user AS d ON d.server_id = f.server_id AND d.day = f.day AND d.user_id = f.user_id
    WHERE true
    ON CONFLICT (server_id, block, user_id) DO UPDATE SET
        claim_days = claim_days | excluded.claim_days,
        reward_days = reward_days | excluded.reward_days,
        engage_days = engage_days | excluded.engage_days,
        voice_days = voice_days | excluded.voice_days,
        event_days = event_days | excluded.event_days,
        event2_days = event2_days | excluded.event2_days,
        event3_days = event3_days | excluded.event3_days
    """,
    # LTZ in and out, added up per block, so that holdings at any instant read few rows.
    f"""
    UPDATE block_user SET net = block_user.net + b.change
    FROM (SELECT server_id, ts / {DAY_MS} / {BLOCK_DAYS} AS block, user_id,
                 TOTAL(CASE WHEN {_PAYS_OUT} THEN amount ELSE -amount END) AS change
          FROM temp.fresh WHERE {_PAYS_OUT} OR kind = {_SPEND} GROUP BY 1, 2, 3) AS b
    WHERE block_user.server_id = b.server_id AND block_user.block = b.block
      AND block_user.user_id = b.user_id
    """,
    # The daily totals, kept up by addition: a new claim day adds a claimer, and a continued
    # streak where the day before (or, for imported days, the day after) is a claim day too.
    f"""
    INSERT INTO daily_server (server_id, day, claimers, continued, ltz_in, events)
    SELECT server_id, day, SUM(claimers), SUM(continued), TOTAL(ltz_in), SUM(events) FROM (
        SELECT n.server_id, n.day, 1 AS claimers, EXISTS (
                   SELECT 1 FROM daily_user AS d
                   WHERE d.server_id = n.server_id AND d.day = n.day - 1
                     AND d.user_id = n.user_id AND d.claims > 0) AS continued,
               0 AS ltz_in, 0 AS events
        FROM temp.new_claim_days AS n
        UNION ALL
        SELECT n.server_id, n.day + 1, 0, 1, 0, 0
        FROM temp.new_claim_days AS n
        JOIN daily_user AS d ON d.server_id = n.server_id AND d.day = n.day + 1
         AND d.user_id = n.user_id AND d.claims > 0
        WHERE NOT EXISTS (
            SELECT 1 FROM temp.new_claim_days AS m
            WHERE m.server_id = n.server_id AND m.day = n.day + 1 AND m.user_id = n.user_id)
        UNION ALL
        SELECT server_id, ts / {DAY_MS}, 0, 0, CASE WHEN {_PAYS_OUT} THEN amount ELSE 0 END,
               kind = {_EVENT}
        FROM temp.fresh
        WHERE kind IN ({_CLAIM}, {_REWARD}, {_SPEND}, {_EVENT}, {_VOICE})
    )
    WHERE true
    GROUP BY server_id, day
    ON CONFLICT (server_id, day) DO UPDATE SET
        claimers = claimers + excluded.claimers,
        continued = continued + excluded.continued,
        ltz_in = ltz_in + excluded.ltz_in,
        events = events + excluded.events
    """,
]


def as_parameters(rows: list[LedgerRow]) -> list[tuple]:
    """Rows as SQL parameters, each numbered among the copies of it in `rows`."""
    copies: dict[LedgerRow, int] = {}
    parameters = []
    for row in rows:
        seq = copies.get(row, 0)
        copies[row] = seq + 1
        parameters.append(
            (row.server_id, row.user_id, row.ts_ms, int(row.kind), row.amount, row.detail, seq)
        )
    return parameters


# Live activity: every row is one more activity, even the same one again at the same instant
# (two badges awarded by one message); each copy is numbered after those already held.
TAKE_LIVE_ROWS = """
    INSERT INTO temp.fresh
    SELECT i.server_id, i.user_id, i.ts, i.kind, i.amount, i.detail,
           i.seq + coalesce((
               SELECT MAX(l.seq) + 1 FROM ledger AS l
               WHERE l.server_id = i.server_id AND l.user_id = i.user_id AND l.ts = i.ts
                 AND l.kind = i.kind AND l.amount = i.amount AND l.detail = i.detail), 0)
    FROM temp.incoming AS i
    WHERE i.ts >= coalesce(
        (SELECT c.before_ts FROM compaction AS c WHERE c.server_id = i.server_id), 0)
"""


async def ingest(conn, rows: list[LedgerRow], *, from_file: bool = False) -> int:
    """Write `rows` inside the caller's transaction; return how many were new.

    Rows `from_file` are matched with what the ledger holds, so importing a file twice adds
    nothing; a row the file holds twice is two activities. Live rows are always added.
    """
    await conn.execute("DELETE FROM temp.incoming")
    # A large import would hold the event loop while its rows are turned into parameters.
    parameters = (
        await asyncio.to_thread(as_parameters, rows)
        if len(rows) > 2_000
        else as_parameters(rows)
    )
    await conn.executemany("INSERT INTO temp.incoming VALUES (?, ?, ?, ?, ?, ?, ?)", parameters)
    steps = list(STEPS)
    if not from_file:
        steps[1] = TAKE_LIVE_ROWS
    added = 0
    for number, step in enumerate(steps):
        cursor = await conn.execute(step)
        if number == 2:
            added = cursor.rowcount
    await conn.execute("DELETE FROM temp.incoming")
    return added
