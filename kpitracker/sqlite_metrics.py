"""The sixteen metrics as SQL over the rollups, exact at any instant.

Whole days inside a window are read from the rollups (`daily_server` per day, `daily_user`
per user and day, `block_user` per user and 63 days, see `sqlite_windows.py`); the part of a
window that starts or ends inside a day is read from the raw ledger, so an instant that is
not midnight costs at most a few partial days of raw rows. See METRICS.md for what each value
means.
"""

from __future__ import annotations

from . import sqlite_windows
from .catalogue import METRICS
from .ingest import BLOCK_DAYS
from .ledger import DAY_MS, Kind
from .sqlite_windows import Window

HOUR_MS = 3_600_000
_CLAIM, _REWARD, _EVENT, _VOICE = (
    int(Kind.CLAIM),
    int(Kind.REWARD),
    int(Kind.EVENT),
    int(Kind.VOICE),
)
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

    async def one(self, sql: str, params: list) -> tuple:
        rows = await self.conn.execute_fetchall(sql, params)
        return rows[0] if rows else None

    async def compute(self) -> dict[str, float | None]:
        span = await self.one(
            "SELECT first_ts, max_voice_ms, last_ts FROM servers WHERE server_id = ?",
            [self.server_id],
        )
        if span is None or span[0] >= self.at:
            return dict.fromkeys(METRICS)
        first_ts, max_voice_ms, last_ts = span

        # Every part is a query of one row; they go to the database as one statement, since
        # each trip to the connection's thread costs about as much as a small query, and a
        # nightly snapshot reads a thousand metric sets.
        parts = {
            "window": self.window_query(max_voice_ms),
            "totals": sqlite_windows.window_totals(self.server_id, self.start, self.at),
            "streaks": self.streak_days_query(),
            "alive": self.alive_streaks_query(),
            "newcomers": self.newcomers_query(),
            "quick": self.rewarded_within_a_day_query(),
            "top": self.top_ten_query(first_ts, last_ts),
        }
        for name, days in (("dau", 1), ("wau", 7)):
            if days != self.days:
                parts[name] = self.claimers_query(self.at - days * DAY_MS, self.at)
        row = iter(await self.one(*_as_one_statement(parts)))
        got = {name: [next(row) for _ in range(_WIDTHS[name])] for name in parts}

        claimers, rewarded, repeaters, engaged, in_voice, before, lost = got["window"]
        ltz, events = got["totals"]
        retention, ended, broken = got["streaks"]
        alive, average_streak = got["alive"]
        newcomers, converted, median_hours = got["newcomers"]
        cohort, quick = got["quick"]
        held, top_held = got["top"]
        values: dict[str, float | None] = {
            "daily_active_users": got["dau"][0] if "dau" in got else claimers,
            "weekly_active_users": got["wau"][0] if "wau" in got else claimers,
            "streak_retention": retention,
            "new_user_conversion": _share(converted, newcomers),
            "voice_participation": _share(in_voice, engaged),
            "reward_efficiency": _ratio(ltz, claimers),
            "churn_rate": _share(lost, before),
            "top_10_concentration": _share(top_held, held) if held else None,
            "triggered_event_rate": events / self.days,
            "events_per_active_user": _ratio(events, claimers),
            "time_to_first_reward": median_hours,
            "time_to_first_reward_pct": _share(quick, cohort),
            "repeat_event_rate": _ratio(events, rewarded),
            "repeat_event_rate_pct": _share(repeaters, rewarded),
            "avg_streak_length": average_streak,
            "streak_break_frequency": _share(broken, ended + alive),
        }
        return {name: values[name] for name in METRICS}

    def window_query(self, max_voice_ms: int) -> tuple[str, list]:
        """Counts of users over the window, and of claimers over the window before it (for
        churn), in one pass."""
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
        return sql, params + [self.server_id, self.start - max_voice_ms, self.start, self.start]

    def claimers_query(self, start: int, end: int) -> tuple[str, list]:
        per_user, params = sqlite_windows.activity_per_user(
            self.server_id, [Window(start, end, ("claims",))]
        )
        return f"SELECT COUNT(*) FROM ({per_user}) WHERE claims_0 > 0", params

    def streak_days_query(self) -> tuple[str, list]:
        """Streak retention, and the runs of claim days that ended in the window (all, and
        those that broke inside it), from the per-day claimers and continued streaks.

        Retention on day d is continued(d) / claimers(d - 1), averaged over the last L whole
        days. A run of claim days [s, e] is alive until the end of day e + 1 and breaks on
        that day; it counts when alive inside the window, and as broken when day e + 1 lies
        wholly inside it. The runs ending on day c are claimers(c) - continued(c + 1); the
        streaks still alive at the end of the window are counted by `alive_streaks_query`.
        """
        today = self.at // DAY_MS
        last_full = today - 1
        first_day = self.start // DAY_MS - 1
        first_broken = max(first_day, _ceil_day(self.start) - 1)
        ending = """
            FROM daily_server AS c LEFT JOIN daily_server AS n
              ON n.server_id = c.server_id AND n.day = c.day + 1
            WHERE c.server_id = ? AND c.day >= ? AND c.day < ?
        """
        sql = f"""
            SELECT
              (SELECT AVG(100.0 * coalesce(n.continued, 0) / c.claimers) {ending}
                 AND c.claimers > 0),
              (SELECT TOTAL(c.claimers - coalesce(n.continued, 0)) {ending}),
              (SELECT TOTAL(c.claimers - coalesce(n.continued, 0)) {ending})
        """
        params = [
            self.server_id,
            today - self.days - 1,
            today - 1,
            self.server_id,
            first_day,
            last_full,
            self.server_id,
            first_broken,
            last_full,
        ]
        return sql, params

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

    def newcomers_query(self) -> tuple[str, list]:
        """The users who joined in the window, how many of them converted, and the median
        hours to the first reward of those rewarded before the instant."""
        joined, params = self._joined_between(self.start, self.at)
        # Activity before the join time does not convert; only then is the ledger itself read.
        sql = f"""
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
        """
        return sql, [self.at, self.server_id, self.at, *params, self.at]

    def rewarded_within_a_day_query(self) -> tuple[str, list]:
        joined, params = self._joined_between(self.start - DAY_MS, self.at - DAY_MS)
        sql = f"""
            SELECT COUNT(*), COUNT(*) FILTER (WHERE first_reward_ts < joined + {DAY_MS})
            FROM ({joined})
        """
        return sql, params

    def top_ten_query(self, first_ts: int, last_ts: int) -> tuple[str, list]:
        """All holdings at the instant, and those of the top tenth of holders."""
        if self.at > last_ts:
            # Nothing happened since: the current balances are the holdings.
            holdings, params = "SELECT balance AS held FROM members WHERE server_id = ?", [
                self.server_id
            ]
        else:
            holdings, params = self._holdings(first_ts, last_ts)
        sql = f"""
            WITH held AS MATERIALIZED (SELECT held FROM ({holdings}) WHERE held > 1e-9)
            SELECT (SELECT TOTAL(held) FROM held),
                   (SELECT TOTAL(held) FROM (
                        SELECT held FROM held ORDER BY held DESC
                        LIMIT (SELECT (COUNT(*) + 9) / 10 FROM held)))
        """
        return sql, params

    def _holdings(self, first_ts: int, last_ts: int) -> tuple[str, list]:
        """Each user's holdings at the instant, from the nearest block boundary.

        Holdings at the start of boundary day X are the LTZ net of the blocks before X, or
        the current balance less the net of the blocks from X on; the days between X and the
        instant come from `daily_user` and the partial day from raw rows. Of the two nearest
        boundaries and the two directions, the one that reads the fewest rows is taken.
        """
        today, next_day = self.at // DAY_MS, _ceil_day(self.at)
        first_block, last_block = first_ts // DAY_MS // BLOCK_DAYS, last_ts // DAY_MS // BLOCK_DAYS
        below = today // BLOCK_DAYS * BLOCK_DAYS
        # A block holds about as many users as three days; the balances about one block.
        choices = []
        for boundary in (below, below + BLOCK_DAYS):
            days = today - boundary if boundary <= today else boundary - next_day
            block = boundary // BLOCK_DAYS
            choices.append((days + 3 * max(0, block - first_block), boundary, False))
            choices.append((days + 3 * max(0, last_block - block + 1) + 3, boundary, True))
        _, boundary, from_balance = min(choices)

        paid = (
            f"CASE WHEN {_PAYS_OUT} THEN amount "
            f"WHEN kind = {int(Kind.SPEND)} THEN -amount ELSE 0 END"
        )
        sid, block = self.server_id, boundary // BLOCK_DAYS
        blocks = "SELECT user_id, {sign}net AS net FROM block_user WHERE server_id = ? AND block "
        if from_balance:
            parts = [(blocks.format(sign="-") + ">= ?", [sid, block])]
        else:
            parts = [(blocks.format(sign="") + "< ?", [sid, block])]
        daily = (
            "SELECT user_id, {sign}(ltz_in - ltz_out) FROM daily_user "
            "WHERE server_id = ? AND day >= ? AND day < ?"
        )
        raw = (
            f"SELECT user_id, {{sign}}({paid}) FROM ledger "
            "WHERE server_id = ? AND ts >= ? AND ts < ?"
        )
        if boundary <= today:
            parts.append((daily.format(sign=""), [sid, boundary, today]))
            parts.append((raw.format(sign=""), [sid, today * DAY_MS, self.at]))
        else:
            parts.append((daily.format(sign="-"), [sid, next_day, boundary]))
            parts.append((raw.format(sign="-"), [sid, self.at, next_day * DAY_MS]))
        union = " UNION ALL ".join(sql for sql, _ in parts)
        params = [value for _, values in parts for value in values]
        change = f"SELECT user_id, SUM(net) AS net FROM ({union}) GROUP BY user_id"
        if not from_balance:
            return f"SELECT net AS held FROM ({change})", params
        sql = f"""
            SELECT m.balance + coalesce(change.net, 0) AS held
            FROM members AS m LEFT JOIN ({change}) AS change ON change.user_id = m.user_id
            WHERE m.server_id = ?
        """
        return sql, params + [sid]

    def alive_streaks_query(self) -> tuple[str, list]:
        """How many streaks are alive at the instant, and their mean length."""
        today = self.at // DAY_MS
        sql = f"""
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
        """
        return sql, [
            self.server_id,
            today * DAY_MS,
            self.at,
            self.server_id,
            today,
            self.server_id,
            today - 1,
        ]


# How many values each part of a metric set returns.
_WIDTHS = {
    "window": 7,
    "totals": 2,
    "streaks": 3,
    "alive": 2,
    "newcomers": 3,
    "quick": 2,
    "top": 2,
    "dau": 1,
    "wau": 1,
}


def _as_one_statement(parts: dict[str, tuple[str, list]]) -> tuple[str, list]:
    """Queries of one row each as one statement: each a CTE, all joined into one row."""
    ctes = ", ".join(f"part_{name} AS MATERIALIZED ({sql})" for name, (sql, _) in parts.items())
    tables = ", ".join(f"part_{name}" for name in parts)
    params = [value for _, values in parts.values() for value in values]
    return f"WITH {ctes} SELECT * FROM {tables}", params


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _share(part: float | None, whole: int | float | None) -> float | None:
    return 100.0 * (part or 0) / whole if whole else None
