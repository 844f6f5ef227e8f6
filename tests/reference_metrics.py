"""A deliberately plain implementation of the sixteen metrics of METRICS.md, used as an oracle.

Every metric is written out as loops over rows and sets, straight from its definition, so
that a reader can check each line against the spec. It shares no code with
`kpitracker.metrics` on purpose: the two are compared in the tests, and a shared helper
would hide a shared mistake. Speed is not a goal.

Conventions (the team's reading where METRICS.md is silent):

- Only rows with `ts_ms < at_ms` exist for a metric read at `at_ms`, so the value is what
  a live bot would have computed at that instant.
- The day of an instant `x` is `x // DAY` (UTC days since the epoch); windows are half-open.
- Ratios whose denominator is empty are `None` ("no data"), never 0.
"""

from __future__ import annotations

import math
import statistics

from kpitracker.ledger import Kind, LedgerRow

DAY = 86_400_000
HOUR = 3_600_000

METRIC_NAMES = (
    "daily_active_users",
    "weekly_active_users",
    "streak_retention",
    "new_user_conversion",
    "voice_participation",
    "reward_efficiency",
    "churn_rate",
    "top_10_concentration",
    "triggered_event_rate",
    "events_per_active_user",
    "time_to_first_reward",
    "time_to_first_reward_pct",
    "repeat_event_rate",
    "repeat_event_rate_pct",
    "avg_streak_length",
    "streak_break_frequency",
)


def reference_metrics(
    rows: list[LedgerRow], at_ms: int, period_days: int
) -> dict[str, float | None]:
    """All sixteen metrics of one server's ledger at the instant `at_ms` for a period of L days."""
    if period_days <= 0:
        raise ValueError("period_days must be at least 1")
    if len({row.server_id for row in rows}) > 1:
        raise ValueError("the reference reads one server's ledger at a time")

    t = at_ms
    period = period_days * DAY
    start = t - period

    # A row at or after t has not happened yet as far as the value at t is concerned.
    past = [row for row in rows if row.ts_ms < t]

    values = {
        "daily_active_users": daily_active_users(past, t),
        "weekly_active_users": weekly_active_users(past, t),
        "streak_retention": streak_retention(past, t, period_days),
        "new_user_conversion": new_user_conversion(past, start, t),
        "voice_participation": voice_participation(past, start, t),
        "reward_efficiency": reward_efficiency(past, start, t),
        "churn_rate": churn_rate(past, t, period),
        "top_10_concentration": top_10_concentration(past),
        "triggered_event_rate": triggered_event_rate(past, start, t, period_days),
        "events_per_active_user": events_per_active_user(past, start, t),
        "time_to_first_reward": time_to_first_reward(past, start, t),
        "time_to_first_reward_pct": time_to_first_reward_pct(past, start, t),
        "repeat_event_rate": repeat_event_rate(past, start, t),
        "repeat_event_rate_pct": repeat_event_rate_pct(past, start, t),
        "avg_streak_length": avg_streak_length(past, t),
        "streak_break_frequency": streak_break_frequency(past, start, t),
    }
    assert tuple(values) == METRIC_NAMES
    return values


# ---------------------------------------------------------------------------------------------
# Building blocks. Every one of them takes `past`: the rows before t, nothing else.


def share(part: int | float, whole: int | float) -> float | None:
    """`part` as a percentage of `whole`, or no value when there is nothing to divide by."""
    if whole == 0:
        return None
    return part / whole * 100


def ratio(part: int | float, whole: int | float) -> float | None:
    if whole == 0:
        return None
    return part / whole


def is_reward(row: LedgerRow) -> bool:
    """A claim that paid something, or any reward row."""
    if row.kind == Kind.CLAIM and row.amount > 0:
        return True
    return row.kind == Kind.REWARD


def claimers(past: list[LedgerRow], begin: int, end: int) -> set[int]:
    users = set()
    for row in past:
        if row.kind == Kind.CLAIM and begin <= row.ts_ms < end:
            users.add(row.user_id)
    return users


def rewarded_users(past: list[LedgerRow], begin: int, end: int) -> set[int]:
    users = set()
    for row in past:
        if is_reward(row) and begin <= row.ts_ms < end:
            users.add(row.user_id)
    return users


def event_rows(past: list[LedgerRow], begin: int, end: int) -> list[LedgerRow]:
    return [row for row in past if row.kind == Kind.EVENT and begin <= row.ts_ms < end]


def join_times(past: list[LedgerRow]) -> dict[int, int]:
    """Each user's join time: the first join row, else (imported history) the first row."""
    first_join: dict[int, int] = {}
    first_any: dict[int, int] = {}
    for row in past:
        user = row.user_id
        if user not in first_any or row.ts_ms < first_any[user]:
            first_any[user] = row.ts_ms
        if row.kind == Kind.JOIN:
            if user not in first_join or row.ts_ms < first_join[user]:
                first_join[user] = row.ts_ms

    result = {}
    for user in first_any:
        if user in first_join:
            result[user] = first_join[user]
        else:
            result[user] = first_any[user]
    return result


def first_rewards(past: list[LedgerRow]) -> dict[int, int]:
    first: dict[int, int] = {}
    for row in past:
        if is_reward(row):
            if row.user_id not in first or row.ts_ms < first[row.user_id]:
                first[row.user_id] = row.ts_ms
    return first


def claim_days(past: list[LedgerRow]) -> dict[int, set[int]]:
    days: dict[int, set[int]] = {}
    for row in past:
        if row.kind == Kind.CLAIM:
            days.setdefault(row.user_id, set()).add(row.ts_ms // DAY)
    return days


def runs_of(days: set[int]) -> list[tuple[int, int]]:
    """Runs of consecutive days as (first day, last day)."""
    runs = []
    for day in sorted(days):
        if runs and runs[-1][1] == day - 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


# ---------------------------------------------------------------------------------------------
# The sixteen metrics, in the order of METRICS.md.


def daily_active_users(past: list[LedgerRow], t: int) -> float | None:
    # A server with no history has no value; one with history but no claims has 0.
    if not past:
        return None
    return len(claimers(past, t - DAY, t))


def weekly_active_users(past: list[LedgerRow], t: int) -> float | None:
    if not past:
        return None
    return len(claimers(past, t - 7 * DAY, t))


def streak_retention(past: list[LedgerRow], t: int, period_days: int) -> float | None:
    today = t // DAY
    shares = []
    for day in range(today - period_days, today):
        before = claimers(past, (day - 1) * DAY, day * DAY)
        on_day = claimers(past, day * DAY, (day + 1) * DAY)
        if not before:
            continue
        shares.append(len(before & on_day) / len(before) * 100)
    if not shares:
        return None
    return sum(shares) / len(shares)


def new_user_conversion(past: list[LedgerRow], start: int, t: int) -> float | None:
    joined = join_times(past)
    new_users = {user for user, joined_at in joined.items() if start <= joined_at < t}

    converted = set()
    for row in past:
        if row.user_id not in new_users:
            continue
        if row.kind not in (Kind.CLAIM, Kind.REWARD, Kind.EVENT):
            continue
        # At or after joining: an imported user whose first row is a claim is converted.
        if joined[row.user_id] <= row.ts_ms < t:
            converted.add(row.user_id)

    return share(len(converted), len(new_users))


def voice_participation(past: list[LedgerRow], start: int, t: int) -> float | None:
    engaged = set()
    for row in past:
        if row.kind in (Kind.CLAIM, Kind.REWARD, Kind.EVENT, Kind.VOICE):
            if start <= row.ts_ms < t:
                engaged.add(row.user_id)

    in_voice = set()
    for row in past:
        if row.kind != Kind.VOICE or row.user_id not in engaged:
            continue
        session_start = row.ts_ms
        session_end = row.ts_ms + row.amount * 1000
        # A session started before the window still counts while it runs into the window.
        if session_start < t and (session_start >= start or session_end > start):
            in_voice.add(row.user_id)

    return share(len(in_voice), len(engaged))


def reward_efficiency(past: list[LedgerRow], start: int, t: int) -> float | None:
    distributed = 0.0
    for row in past:
        if is_reward(row) and start <= row.ts_ms < t:
            distributed += row.amount
    return ratio(distributed, len(claimers(past, start, t)))


def churn_rate(past: list[LedgerRow], t: int, period: int) -> float | None:
    earlier = claimers(past, t - 2 * period, t - period)
    current = claimers(past, t - period, t)
    gone = earlier - current
    return share(len(gone), len(earlier))


def top_10_concentration(past: list[LedgerRow]) -> float | None:
    holdings: dict[int, float] = {}
    for row in past:
        if is_reward(row):
            holdings[row.user_id] = holdings.get(row.user_id, 0.0) + row.amount
        elif row.kind == Kind.SPEND:
            holdings[row.user_id] = holdings.get(row.user_id, 0.0) - row.amount

    positive = sorted((value for value in holdings.values() if value > 0), reverse=True)
    if not positive:
        return None
    top = math.ceil(len(positive) / 10)
    return share(sum(positive[:top]), sum(positive))


def triggered_event_rate(
    past: list[LedgerRow], start: int, t: int, period_days: int
) -> float | None:
    if not past:
        return None
    return len(event_rows(past, start, t)) / period_days


def events_per_active_user(past: list[LedgerRow], start: int, t: int) -> float | None:
    return ratio(len(event_rows(past, start, t)), len(claimers(past, start, t)))


def time_to_first_reward(past: list[LedgerRow], start: int, t: int) -> float | None:
    joined = join_times(past)
    first = first_rewards(past)

    hours = []
    for user, joined_at in joined.items():
        if start <= joined_at < t and user in first:
            # A reward recorded before the join row counts as immediate.
            hours.append(max(0, first[user] - joined_at) / HOUR)
    if not hours:
        return None
    return statistics.median(hours)


def time_to_first_reward_pct(past: list[LedgerRow], start: int, t: int) -> float | None:
    joined = join_times(past)
    first = first_rewards(past)

    # Shifted back a day so that every user in it has had a whole day to be rewarded.
    cohort = [user for user, joined_at in joined.items() if start - DAY <= joined_at < t - DAY]
    quick = [user for user in cohort if user in first and first[user] < joined[user] + DAY]
    return share(len(quick), len(cohort))


def repeat_event_rate(past: list[LedgerRow], start: int, t: int) -> float | None:
    return ratio(len(event_rows(past, start, t)), len(rewarded_users(past, start, t)))


def repeat_event_rate_pct(past: list[LedgerRow], start: int, t: int) -> float | None:
    rewarded = rewarded_users(past, start, t)

    counts: dict[int, int] = {}
    for row in event_rows(past, start, t):
        counts[row.user_id] = counts.get(row.user_id, 0) + 1

    repeaters = [user for user in rewarded if counts.get(user, 0) >= 3]
    return share(len(repeaters), len(rewarded))


def avg_streak_length(past: list[LedgerRow], t: int) -> float | None:
    today = t // DAY
    lengths = []
    for days in claim_days(past).values():
        if today in days:
            last = today
        elif today - 1 in days:
            last = today - 1
        else:
            continue
        length = 0
        while last - length in days:
            length += 1
        lengths.append(length)
    if not lengths:
        return None
    return sum(lengths) / len(lengths)


def streak_break_frequency(past: list[LedgerRow], start: int, t: int) -> float | None:
    counted = 0
    broken = 0
    for days in claim_days(past).values():
        for first, last in runs_of(days):
            # A run is alive from its first claim day through the day after its last claim.
            alive_from = first * DAY
            alive_until = (last + 2) * DAY
            if not (alive_from < t and alive_until > start):
                continue
            counted += 1
            break_day_start = (last + 1) * DAY
            break_day_end = (last + 2) * DAY
            if break_day_start >= start and break_day_end <= t:
                broken += 1
    return share(broken, counted)
