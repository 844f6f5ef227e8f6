"""Compaction: raw ledger rows older than a horizon are deleted once the rollups hold them.

Every row is counted in `daily_user` (per user and day) and `members` (first times and
balance) the moment it is written, so most old rows are only needed again for the part of
a window that starts or ends inside a day. Metrics read at midnight (every snapshot, every
chart point) use whole days only, and stay exact after compaction, as long as two kinds of
row are kept:

- voice sessions that run past the next midnight: a session that started before a window
  and is still running when it begins counts as voice participation in it;
- for a member whose first claim, reward or event came before their first join row
  (imported history has such members), their first claim, reward or event at or after that
  join: it decides whether they count as converted.

Both are a small fraction of a ledger. Rows older than the horizon are refused afterwards
(see `ingest.py`): they cannot be told apart from rows already counted.
"""

from __future__ import annotations

import logging

from .ledger import DAY_MS, Kind

log = logging.getLogger("red.kpicogs.kpitracker.retention")

# A quarter's churn reads the partial day 180 days before the instant; with a margin.
MIN_HORIZON_DAYS = 200
MAX_HORIZON_DAYS = 36_500
# Rows are deleted a day at a time, one transaction each, so that live writes wait for
# one short transaction at most.
CHUNK_DAYS = 1

_VOICE = int(Kind.VOICE)
_ENGAGES = f"({int(Kind.CLAIM)}, {int(Kind.REWARD)}, {int(Kind.EVENT)})"

# The rows a compacted day keeps, by id.
_KEEPERS = f"""
    SELECT id FROM ledger
    WHERE server_id = :server AND ts >= :start AND ts < :end AND kind = {_VOICE}
      AND ts + amount * 1000 > (ts / {DAY_MS} + 1) * {DAY_MS}
    UNION
    SELECT (SELECT l.id FROM ledger AS l
            WHERE l.server_id = m.server_id AND l.user_id = m.user_id
              AND l.ts >= m.first_join_ts AND l.kind IN {_ENGAGES}
            ORDER BY l.ts LIMIT 1) AS id
    FROM members AS m
    WHERE m.server_id = :server AND m.first_engage_ts < m.first_join_ts
      AND m.first_join_ts < :end
"""

_DELETE = f"""
    DELETE FROM ledger
    WHERE server_id = :server AND ts >= :start AND ts < :end
      AND id NOT IN (SELECT id FROM ({_KEEPERS}) WHERE id IS NOT NULL)
"""

_MARK = """
    INSERT INTO compaction (server_id, before_ts) VALUES (:server, :end)
    ON CONFLICT (server_id) DO UPDATE SET before_ts = max(before_ts, excluded.before_ts)
"""


async def compacted_before(store, server_id: int) -> int | None:
    """The instant before which a server's raw rows were compacted, or None."""

    async def work(conn):
        cursor = await conn.execute(
            "SELECT before_ts FROM compaction WHERE server_id = ?", [server_id]
        )
        row = await cursor.fetchone()
        await cursor.close()
        return row[0] if row else None

    return await store.read(work)


async def compact(store, server_id: int, before_day: int) -> int:
    """Compact a server's raw rows older than the UTC day `before_day`; return rows deleted."""

    async def bounds(conn):
        cursor = await conn.execute(
            "SELECT s.first_ts, c.before_ts FROM servers AS s "
            "LEFT JOIN compaction AS c ON c.server_id = s.server_id WHERE s.server_id = ?",
            [server_id],
        )
        row = await cursor.fetchone()
        await cursor.close()
        return row

    found = await store.read(bounds)
    if found is None:
        return 0
    first_ts, done_before = found
    start = max(first_ts // DAY_MS * DAY_MS, done_before or 0)
    end = before_day * DAY_MS
    deleted = 0
    while start < end:
        chunk_end = min(end, start + CHUNK_DAYS * DAY_MS)
        deleted += await store.transaction(_delete_chunk(server_id, start, chunk_end))
        start = chunk_end
    return deleted


def _delete_chunk(server_id: int, start: int, end: int):
    async def work(conn) -> int:
        names = {"server": server_id, "start": start, "end": end}
        await conn.execute(_MARK, names)
        cursor = await conn.execute(_DELETE, names)
        return cursor.rowcount

    return work
