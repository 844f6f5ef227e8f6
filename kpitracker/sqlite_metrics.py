"""The sixteen metrics as SQL over the rollups, exact at any instant.

Whole days inside a window are read from the rollups (`daily_server` per day, `daily_user`
per user and day, `block_user` per user and 63 days, see `sqlite_windows.py`); the part of a
window that starts or ends inside a day is read from the raw ledger, so an instant that is
not midnight costs at most a few partial days of raw rows. See METRICS.md for what each value
means.
"""

from __future__ import annotations

import statistics

from . import sqlite_windows
from .catalogue import METRICS
from .ledger import DAY_MS, Kind
from .sqlite_windows import Window

HOUR_MS = 3_600_000
_CLAIM, _REWARD, _EVENT, _VOICE = int(Kind.CLAIM), int(Kind.REWARD), int(Kind.EVENT), int(Kind.VOICE)
_PAYS_OUT = f"(kind IN ({_CLAIM}, {_REWARD}) AND amount > 0)"

# One user's activity in a slice of raw ledger rows, in the rollup's columns; `current` tells
# the window a row belongs to where one query reads two. Every column comes from the index
# `ledger_time`, so a slice never touches the table itself.
_RAW_PER_USER = f"""
    SELECT user_id, kind = {_CLAIM} AS claims, {_PAYS_OUT} AS rewards,
           CASE WHEN {_PAYS_OUT} THEN amount ELSE 0 END AS ltz_in,
           kind = {_EVENT} AS events, kind = {_VOICE} AS voice_sessions, {{tag}} AS current
    FROM ledger WHERE server_id = ? AND ts >= ? AND ts < ?
"""
_ROLLUP_PER_USER = """
    SELECT user_id, claims, rewards, ltz_in, events, voice_sessions, {tag} AS current
    FROM daily_user WHERE server_id = ? AND day >= ? AND day < ?
"""


def _ceil_day(ms: int) -> int:
    return -(-ms // DAY_MS)


def _window_parts(server_id: int, start: int, end: int, tag: int = 1) -> tuple[list[str], list]:
    """SELECTs whose rows, summed per user, are the activity in `[start, end)`."""
    parts: list[str] = []
    params: list = []
    first_full, end_full = _ceil_day(start), end // DAY_MS
    if first_full < end_full:
        parts.append(_ROLLUP_PER_USER.format(tag=tag))
        params += [server_id, first_full, end_full]
        edges = [(start, first_full * DAY_MS), (end_full * DAY_MS, end)]
    else:
        edges = [(start, end)]
    for edge_start, edge_end in edges:
        if edge_start < edge_end:
            parts.append(_RAW_PER_USER.format(tag=tag))
            params += [server_id, edge_start, edge_end]
    if not parts:
        parts.append(_RAW_PER_USER.format(tag=tag))
        params += [server_id, start, start]
    return parts, params


def window_per_user(server_id: int, start: int, end: int) -> tuple[str, list]:
    """SQL for one row per user with their sums over `[start, end)` and its parameters."""
    parts, params = _window_parts(server_id, start, end)
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

    # One trip to the connection's thread per query: a metric set is a dozen queries, and a
    # nightly snapshot a thousand metric sets.
    async def one(self, sql: str, params: list) -> tuple:
        rows = await self.conn.execute_fetchall(sql, params)
        return rows[0] if rows else None

    async def all(self, sql: str, params: list) -> list[tuple]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def compute(self) -> dict[str, float | None]:
        span = await self.one(
            "SELECT first_ts, max_voice_ms, last_ts FROM servers WHERE server_id = ?",
            [self.server_id],
        )
        if span is None or span[0] >= self.at:
            return dict.fromkeys(METRICS)
        first_ts, max_voice_ms, last_ts = span

        values: dict[str, float | None] = {}
        window = await self.window_totals(max_voice_ms)
        claimers, ltz, events, rewarded, repeaters, engaged, in_voice, before, lost = window
        for name, days in (("daily_active_users", 1), ("weekly_active_users", 7)):
            same_window = days == self.days
            values[name] = claimers if same_window else await self.claimers(self.at - days * DAY_MS, self.at)
        claim_days = await self.claim_days()
        alive, average_streak = await self.alive_streaks()
        values["streak_retention"] = self.streak_retention(claim_days)
        values["new_user_conversion"], values["time_to_first_reward"] = await self.newcomers()
        values["voice_participation"] = _share(in_voice, engaged)
        values["reward_efficiency"] = _ratio(ltz, claimers)
        values["churn_rate"] = _share(lost, before)
        values["top_10_concentration"] = await self.top_ten_share(first_ts, last_ts)
        values["triggered_event_rate"] = events / self.days
        values["events_per_active_user"] = _ratio(events, claimers)
        values["time_to_first_reward_pct"] = await self.rewarded_within_a_day()
        values["repeat_event_rate"] = _ratio(events, rewarded)
        values["repeat_event_rate_pct"] = _share(repeaters, rewarded)
        values["avg_streak_length"] = average_streak
        values["streak_break_frequency"] = self.streak_breaks(claim_days, alive)
        return {name: values[name] for name in METRICS}

    async def window_totals(self, max_voice_ms: int) -> tuple:
        """Counts of users over the window, and of claimers over the window before it (for
        churn), in one pass; then the LTZ and events totals of the window."""
        current = Window(self.start, self.at)
        previous = Window(self.start - self.length, self.start, ("claims",))
        per_user, params = sqlite_windows.activity_per_user(self.server_id, [current, previous])
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
            SELECT COUNT(*) FILTER (WHERE claims_0 > 0),
                   COUNT(*) FILTER (WHERE rewards_0 > 0),
                   COUNT(*) FILTER (WHERE rewards_0 > 0 AND events_0 >= 3),
                   COUNT(*) FILTER (WHERE engaged_0 > 0),
                   COUNT(*) FILTER (WHERE engaged_0 > 0 AND (voice_0 > 0
                                    OR user_id IN (SELECT user_id FROM carried))),
                   COUNT(*) FILTER (WHERE claims_1 > 0),
                   COUNT(*) FILTER (WHERE claims_1 > 0 AND claims_0 = 0)
            FROM w
        """
        params += [self.server_id, self.start - max_voice_ms, self.start, self.start]
        claimers, rewarded, repeaters, engaged, in_voice, before, lost = await self.one(sql, params)
        totals, totals_params = sqlite_windows.window_totals(self.server_id, self.start, self.at)
        ltz, events = await self.one(totals, totals_params)
        return claimers, ltz, events, rewarded, repeaters, engaged, in_voice, before, lost

    async def claimers(self, start: int, end: int) -> int:
        per_user, params = sqlite_windows.activity_per_user(
            self.server_id, [Window(start, end, ("claims",))]
        )
        row = await self.one(f"SELECT COUNT(*) FROM ({per_user}) WHERE claims_0 > 0", params)
        return row[0]

    async def claim_days(self) -> dict[int, tuple[int, int]]:
        """For each whole day of the last L + 1 before D(t): its claimers, and how many of them
        also claimed the day before (a streak of two or more days on that day)."""
        today = self.at // DAY_MS
        rows = await self.all(
            "SELECT day, claimers, continued FROM daily_server "
            "WHERE server_id = ? AND day >= ? AND day < ?",
            [self.server_id, today - self.days - 1, today],
        )
        return {day: (claimers, continued) for day, claimers, continued in rows}

    def streak_retention(self, claim_days: dict[int, tuple[int, int]]) -> float | None:
        today = self.at // DAY_MS
        shares = []
        for day in range(today - self.days, today):
            before = claim_days.get(day - 1, (0, 0))[0]
            if before:
                shares.append(100.0 * claim_days.get(day, (0, 0))[1] / before)
        return statistics.fmean(shares) if shares else None

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
        # The median is taken in SQL too: nothing that grows with a server runs in the loop.
        total, converted, median = await self.one(
            f"""
            WITH newcomers AS MATERIALIZED (
                SELECT joined, first_reward_ts,
                       CASE WHEN first_engage_ts IS NULL THEN 0
                            WHEN first_engage_ts >= joined THEN first_engage_ts < ?
                            ELSE EXISTS (
                                SELECT 1 FROM ledger AS l
                                WHERE l.server_id = ? AND l.user_id = j.user_id
                                  AND l.ts >= j.joined AND l.ts < ?
                                  AND l.kind IN ({_CLAIM}, {_REWARD}, {_EVENT}))
                       END AS converted
                FROM ({joined}) AS j
            ),
            hours AS MATERIALIZED (
                SELECT max(0, first_reward_ts - joined) / {float(HOUR_MS)} AS h FROM newcomers
                WHERE first_reward_ts < ?
            )
            SELECT (SELECT COUNT(*) FROM newcomers), (SELECT TOTAL(converted) FROM newcomers),
                   (SELECT AVG(h) FROM (
                        SELECT h FROM hours ORDER BY h
                        LIMIT 2 - (SELECT COUNT(*) FROM hours) % 2
                        OFFSET ((SELECT COUNT(*) FROM hours) - 1) / 2))
            """,
            [self.at, self.server_id, self.at, *params, self.at],
        )
        return _share(converted, total), median

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

    async def top_ten_share(self, first_ts: int, last_ts: int) -> float | None:
        today = self.at // DAY_MS
        first_day, last_day = first_ts // DAY_MS, last_ts // DAY_MS
        paid = f"CASE WHEN {_PAYS_OUT} THEN amount WHEN kind = {int(Kind.SPEND)} THEN -amount ELSE 0 END"
        # Holdings at the instant: the current balances when nothing happened since; else
        # summed forwards from the first day, or taken back from the current balances,
        # whichever reads fewer days.
        if self.at > last_ts:
            holdings = "SELECT balance AS held FROM members WHERE server_id = ?"
            params = [self.server_id]
        elif today - first_day <= last_day - today:
            holdings = f"""
                SELECT SUM(net) AS held FROM (
                    SELECT user_id, ltz_in - ltz_out AS net FROM daily_user
                    WHERE server_id = ? AND day < ?
                    UNION ALL
                    SELECT user_id, {paid} FROM ledger WHERE server_id = ? AND ts >= ? AND ts < ?
                ) GROUP BY user_id
            """
            params = [self.server_id, today, self.server_id, today * DAY_MS, self.at]
        else:
            holdings = f"""
                SELECT m.balance - coalesce(later.net, 0) AS held
                FROM members AS m LEFT JOIN (
                    SELECT user_id, SUM(net) AS net FROM (
                        SELECT user_id, ltz_in - ltz_out AS net FROM daily_user
                        WHERE server_id = ? AND day >= ?
                        UNION ALL
                        SELECT user_id, {paid} FROM ledger
                        WHERE server_id = ? AND ts >= ? AND ts < ?
                    ) GROUP BY user_id
                ) AS later ON later.user_id = m.user_id
                WHERE m.server_id = ?
            """
            # At midnight the day that starts is all in the rollup, so no raw row is read.
            next_day = _ceil_day(self.at)
            params = [self.server_id, next_day, self.server_id, self.at, next_day * DAY_MS,
                      self.server_id]
        total, top = await self.one(
            f"""
            WITH held AS MATERIALIZED (SELECT held FROM ({holdings}) WHERE held > 1e-9)
            SELECT (SELECT TOTAL(held) FROM held),
                   (SELECT TOTAL(held) FROM (
                        SELECT held FROM held ORDER BY held DESC
                        LIMIT (SELECT (COUNT(*) + 9) / 10 FROM held)))
            """,
            params,
        )
        return _share(top, total) if total else None

    async def alive_streaks(self) -> tuple[int, float | None]:
        """How many streaks are alive at the instant, and their mean length."""
        today = self.at // DAY_MS
        row = await self.one(
            f"""
            WITH today AS (
                SELECT DISTINCT user_id FROM ledger
                WHERE server_id = ? AND ts >= ? AND ts < ? AND kind = {_CLAIM})
            SELECT COUNT(*), AVG(streak) FROM (
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
        return row[0], row[1]

    def streak_breaks(self, claim_days: dict[int, tuple[int, int]], alive: int) -> float | None:
        # A run of claim days [s, e] is alive until the end of day e + 1 and breaks on that
        # day; it counts when alive inside the window, and as broken when day e + 1 lies
        # wholly inside it. The runs ending on day c are the claimers of c less those of
        # c + 1 who also claimed on c. The streaks alive at the end of the window count too.
        last_full = self.at // DAY_MS - 1
        first_day = self.start // DAY_MS - 1
        first_broken = max(first_day, _ceil_day(self.start) - 1)
        ended = broken = 0
        for day in range(first_day, last_full):
            runs_ending = claim_days.get(day, (0, 0))[0] - claim_days.get(day + 1, (0, 0))[1]
            ended += runs_ending
            if day >= first_broken:
                broken += runs_ending
        return _share(broken, ended + alive)


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _share(part: float | None, whole: int | float | None) -> float | None:
    return 100.0 * (part or 0) / whole if whole else None
