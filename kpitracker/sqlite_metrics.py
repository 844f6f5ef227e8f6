"""The sixteen metrics as SQL over the rollups, exact at any instant.

Whole days inside a window are read from `daily_user`; the part of a window that starts or
ends inside a day is read from the raw ledger, so an instant that is not midnight costs at
most two partial days of raw rows. See METRICS.md for what each value means.
"""

from __future__ import annotations

import statistics

from .catalogue import METRICS
from .ledger import DAY_MS, Kind

HOUR_MS = 3_600_000
_CLAIM, _REWARD, _EVENT, _VOICE = int(Kind.CLAIM), int(Kind.REWARD), int(Kind.EVENT), int(Kind.VOICE)
_PAYS_OUT = f"(kind IN ({_CLAIM}, {_REWARD}) AND amount > 0)"

# One user's activity in a slice of raw ledger rows, in the rollup's columns.
_RAW_PER_USER = f"""
    SELECT user_id, kind = {_CLAIM} AS claims, {_PAYS_OUT} AS rewards,
           CASE WHEN {_PAYS_OUT} THEN amount ELSE 0 END AS ltz_in,
           kind = {_EVENT} AS events, kind = {_VOICE} AS voice_sessions
    FROM ledger WHERE server_id = ? AND ts >= ? AND ts < ?
"""
_ROLLUP_PER_USER = """
    SELECT user_id, claims, rewards, ltz_in, events, voice_sessions
    FROM daily_user WHERE server_id = ? AND day >= ? AND day < ?
"""


def _ceil_day(ms: int) -> int:
    return -(-ms // DAY_MS)


def window_per_user(server_id: int, start: int, end: int) -> tuple[str, list]:
    """SQL for one row per user with their sums over `[start, end)` and its parameters."""
    parts: list[str] = []
    params: list = []
    first_full, end_full = _ceil_day(start), end // DAY_MS
    if first_full < end_full:
        parts.append(_ROLLUP_PER_USER)
        params += [server_id, first_full, end_full]
        edges = [(start, first_full * DAY_MS), (end_full * DAY_MS, end)]
    else:
        edges = [(start, end)]
    for edge_start, edge_end in edges:
        if edge_start < edge_end:
            parts.append(_RAW_PER_USER)
            params += [server_id, edge_start, edge_end]
    if not parts:
        parts.append(_RAW_PER_USER)
        params += [server_id, start, start]
    union = " UNION ALL ".join(parts)
    sql = f"""
        SELECT user_id, SUM(claims) AS claims, SUM(rewards) AS rewards, SUM(ltz_in) AS ltz_in,
               SUM(events) AS events, SUM(voice_sessions) AS voice_sessions
        FROM ({union}) GROUP BY user_id
    """
    return sql, params


class MetricReader:
    """Computes metric values for one server at one instant over one open connection."""

    def __init__(self, conn, server_id: int, at_ms: int, period_days: int) -> None:
        self.conn = conn
        self.server_id = server_id
        self.at = at_ms
        self.days = period_days
        self.length = period_days * DAY_MS
        self.start = at_ms - self.length

    async def one(self, sql: str, params: list) -> tuple:
        cursor = await self.conn.execute(sql, params)
        row = await cursor.fetchone()
        await cursor.close()
        return row

    async def all(self, sql: str, params: list) -> list[tuple]:
        cursor = await self.conn.execute(sql, params)
        rows = await cursor.fetchall()
        await cursor.close()
        return list(rows)

    async def compute(self) -> dict[str, float | None]:
        span = await self.one(
            "SELECT first_ts, max_voice_ms FROM servers WHERE server_id = ?", [self.server_id]
        )
        if span is None or span[0] >= self.at:
            return dict.fromkeys(METRICS)
        max_voice_ms = span[1]

        values: dict[str, float | None] = {}
        window = await self.window_totals(max_voice_ms)
        claimers, ltz, events, rewarded, repeaters, engaged, in_voice = window
        for name, days in (("daily_active_users", 1), ("weekly_active_users", 7)):
            same_window = days == self.days
            values[name] = claimers if same_window else await self.claimers(self.at - days * DAY_MS, self.at)
        values["streak_retention"] = await self.streak_retention()
        values["new_user_conversion"], values["time_to_first_reward"] = await self.newcomers()
        values["voice_participation"] = _share(in_voice, engaged)
        values["reward_efficiency"] = _ratio(ltz, claimers)
        values["churn_rate"] = await self.churn()
        values["top_10_concentration"] = await self.top_ten_share()
        values["triggered_event_rate"] = events / self.days
        values["events_per_active_user"] = _ratio(events, claimers)
        values["time_to_first_reward_pct"] = await self.rewarded_within_a_day()
        values["repeat_event_rate"] = _ratio(events, rewarded)
        values["repeat_event_rate_pct"] = _share(repeaters, rewarded)
        values["avg_streak_length"] = await self.average_streak()
        values["streak_break_frequency"] = await self.streak_breaks()
        return {name: values[name] for name in METRICS}

    async def window_totals(self, max_voice_ms: int) -> tuple:
        per_user, params = window_per_user(self.server_id, self.start, self.at)
        # A voice session that began before the window and is still running at its start
        # overlaps it; no session is longer than the longest one recorded.
        carried = f"""
            SELECT user_id FROM ledger
            WHERE server_id = ? AND ts >= ? AND ts < ? AND kind = {_VOICE}
              AND ts + amount * 1000 > ?
        """
        sql = f"""
            WITH w AS ({per_user}),
                 carried AS ({carried})
            SELECT COUNT(*) FILTER (WHERE claims > 0),
                   COALESCE(SUM(ltz_in), 0),
                   COALESCE(SUM(events), 0),
                   COUNT(*) FILTER (WHERE rewards > 0),
                   COUNT(*) FILTER (WHERE rewards > 0 AND events >= 3),
                   COUNT(*) FILTER (WHERE engaged),
                   COUNT(*) FILTER (WHERE engaged AND (voice_sessions > 0
                                    OR user_id IN (SELECT user_id FROM carried)))
            FROM (SELECT *, (claims > 0 OR rewards > 0 OR events > 0 OR voice_sessions > 0)
                            AS engaged FROM w)
        """
        params += [self.server_id, self.start - max_voice_ms, self.start, self.start]
        return await self.one(sql, params)

    async def claimers(self, start: int, end: int) -> int:
        per_user, params = window_per_user(self.server_id, start, end)
        row = await self.one(f"SELECT COUNT(*) FROM ({per_user}) WHERE claims > 0", params)
        return row[0]

    async def streak_retention(self) -> float | None:
        today = self.at // DAY_MS
        rows = await self.all(
            """
            SELECT COUNT(*), COUNT(next.user_id)
            FROM daily_user AS prev
            LEFT JOIN daily_user AS next
              ON next.server_id = prev.server_id AND next.day = prev.day + 1
             AND next.user_id = prev.user_id AND next.claims > 0
            WHERE prev.server_id = ? AND prev.day >= ? AND prev.day < ? AND prev.claims > 0
            GROUP BY prev.day
            """,
            [self.server_id, today - self.days - 1, today - 1],
        )
        shares = [100.0 * kept / before for before, kept in rows if before]
        return statistics.fmean(shares) if shares else None

    async def churn(self) -> float | None:
        previous, previous_params = window_per_user(self.server_id, self.start - self.length, self.start)
        current, current_params = window_per_user(self.server_id, self.start, self.at)
        before, lost = await self.one(
            f"""
            SELECT COUNT(*), COUNT(*) FILTER (WHERE user_id NOT IN (
                       SELECT user_id FROM ({current}) WHERE claims > 0))
            FROM ({previous}) WHERE claims > 0
            """,
            current_params + previous_params,
        )
        return _share(lost, before)

    def _joined_between(self, start: int, end: int) -> tuple[str, list]:
        """Users whose join time, as known at the instant, lies in `[start, end)`."""
        sql = """
            SELECT user_id, first_join_ts AS joined, first_engage_ts, first_reward_ts
            FROM members WHERE server_id = ? AND first_join_ts >= ? AND first_join_ts < ?
            UNION ALL
            SELECT user_id, first_seen_ts, first_engage_ts, first_reward_ts
            FROM members WHERE server_id = ? AND first_seen_ts >= ? AND first_seen_ts < ?
              AND (first_join_ts IS NULL OR first_join_ts >= ?)
        """
        return sql, [self.server_id, start, end, self.server_id, start, end, self.at]

    async def newcomers(self) -> tuple[float | None, float | None]:
        joined, params = self._joined_between(self.start, self.at)
        # Activity before the join time does not convert; only then is the ledger itself read.
        rows = await self.all(
            f"""
            SELECT joined, first_reward_ts,
                   CASE WHEN first_engage_ts IS NULL THEN 0
                        WHEN first_engage_ts >= joined THEN first_engage_ts < ?
                        ELSE EXISTS (
                            SELECT 1 FROM ledger AS l
                            WHERE l.server_id = ? AND l.user_id = j.user_id AND l.ts >= j.joined
                              AND l.ts < ? AND l.kind IN ({_CLAIM}, {_REWARD}, {_EVENT}))
                   END
            FROM ({joined}) AS j
            """,
            [self.at, self.server_id, self.at, *params],
        )
        converted = sum(row[2] for row in rows)
        hours = [
            max(0, first_reward - joined) / HOUR_MS
            for joined, first_reward, _ in rows
            if first_reward is not None and first_reward < self.at
        ]
        return _share(converted, len(rows)), (statistics.median(hours) if hours else None)

    async def rewarded_within_a_day(self) -> float | None:
        joined, params = self._joined_between(self.start - DAY_MS, self.at - DAY_MS)
        total, quick = await self.one(
            f"""
            SELECT COUNT(*), COUNT(*) FILTER (WHERE first_reward_ts < joined + {DAY_MS})
            FROM ({joined})
            """,
            params,
        )
        return _share(quick, total)

    async def top_ten_share(self) -> float | None:
        today = self.at // DAY_MS
        first = await self.one(
            "SELECT first_ts, last_ts FROM servers WHERE server_id = ?", [self.server_id]
        )
        first_day, last_day = first[0] // DAY_MS, first[1] // DAY_MS
        paid = f"CASE WHEN {_PAYS_OUT} THEN amount WHEN kind = {int(Kind.SPEND)} THEN -amount ELSE 0 END"
        # Holdings at the instant: summed forwards from the first day, or taken back from the
        # current balance, whichever reads fewer days.
        if today - first_day <= last_day - today:
            holdings = f"""
                SELECT user_id, SUM(net) AS held FROM (
                    SELECT user_id, ltz_in - ltz_out AS net FROM daily_user
                    WHERE server_id = ? AND day < ?
                    UNION ALL
                    SELECT user_id, {paid} FROM ledger WHERE server_id = ? AND ts >= ? AND ts < ?
                ) GROUP BY user_id
            """
            params = [self.server_id, today, self.server_id, today * DAY_MS, self.at]
        else:
            holdings = f"""
                SELECT user_id, SUM(net) AS held FROM (
                    SELECT user_id, balance AS net FROM members WHERE server_id = ?
                    UNION ALL
                    SELECT user_id, ltz_out - ltz_in FROM daily_user
                    WHERE server_id = ? AND day > ?
                    UNION ALL
                    SELECT user_id, -({paid}) FROM ledger
                    WHERE server_id = ? AND ts >= ? AND ts < ?
                ) GROUP BY user_id
            """
            params = [self.server_id, self.server_id, today, self.server_id, self.at, (today + 1) * DAY_MS]
        total, top = await self.one(
            f"""
            WITH held AS (SELECT held FROM ({holdings}) WHERE held > 1e-9),
                 ranked AS (SELECT held, ROW_NUMBER() OVER (ORDER BY held DESC) AS place,
                                   COUNT(*) OVER () AS holders FROM held)
            SELECT SUM(held), SUM(held) FILTER (WHERE place <= (holders + 9) / 10) FROM ranked
            """,
            params,
        )
        return _share(top, total) if total else None

    async def average_streak(self) -> float | None:
        today = self.at // DAY_MS
        row = await self.one(
            f"""
            WITH today AS (
                SELECT DISTINCT user_id FROM ledger
                WHERE server_id = ? AND ts >= ? AND ts < ? AND kind = {_CLAIM})
            SELECT AVG(streak) FROM (
                SELECT streak FROM daily_user
                WHERE server_id = ? AND day = ? AND user_id IN (SELECT user_id FROM today)
                UNION ALL
                SELECT streak FROM daily_user
                WHERE server_id = ? AND day = ? AND claims > 0
                  AND user_id NOT IN (SELECT user_id FROM today))
            """,
            [self.server_id, today * DAY_MS, self.at, self.server_id, today,
             self.server_id, today - 1],
        )
        return row[0]

    async def streak_breaks(self) -> float | None:
        # A run of claim days [s, e] is alive until the end of day e + 1 and breaks on that
        # day; it counts when alive inside the window, and as broken when day e + 1 lies
        # wholly inside it. Runs are found by their last day: a claim day with none after.
        start, end = self.start, self.at
        last_full = end // DAY_MS - 1
        first_day = start // DAY_MS - 1
        ended, broken = await self.one(
            """
            SELECT COUNT(*), COUNT(*) FILTER (WHERE (c.day + 1) * ? >= ?)
            FROM daily_user AS c
            WHERE c.server_id = ? AND c.day >= ? AND c.day < ? AND c.claims > 0
              AND NOT EXISTS (
                  SELECT 1 FROM daily_user AS n
                  WHERE n.server_id = c.server_id AND n.day = c.day + 1
                    AND n.user_id = c.user_id AND n.claims > 0)
            """,
            [DAY_MS, start, self.server_id, first_day, last_full],
        )
        # The last whole day's runs and the runs of the partial day in progress are alive at
        # the end of the window, so they count and none of them has broken yet.
        partial_start = (last_full + 1) * DAY_MS
        alive_at_end = await self.one(
            f"""
            WITH partial AS (
                SELECT DISTINCT user_id FROM ledger
                WHERE server_id = ? AND ts >= ? AND ts < ? AND kind = {_CLAIM})
            SELECT (SELECT COUNT(*) FROM partial) + (
                SELECT COUNT(*) FROM daily_user
                WHERE server_id = ? AND day = ? AND day >= ? AND claims > 0
                  AND user_id NOT IN (SELECT user_id FROM partial))
            """,
            [self.server_id, partial_start, end, self.server_id, last_full, first_day],
        )
        return _share(broken, ended + alive_at_end[0])


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _share(part: float | None, whole: int | float | None) -> float | None:
    return 100.0 * (part or 0) / whole if whole else None
