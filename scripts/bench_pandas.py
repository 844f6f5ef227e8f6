"""The sixteen metrics computed the naive way: load a server's raw rows into pandas, compute.

This is the benchmark's baseline and also its independent check of the fast path on ledgers
too large for the plain reference in `tests/reference_metrics.py`: it reads only raw ledger
rows (no rollup, no `members` table) and follows METRICS.md directly, with the same
conventions as the reference (only rows before the instant exist; half-open windows; an
empty denominator is no value).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kpitracker.ledger import DAY_MS, Kind

HOUR_MS = 3_600_000
_CLAIM, _REWARD, _SPEND = int(Kind.CLAIM), int(Kind.REWARD), int(Kind.SPEND)
_EVENT, _VOICE, _JOIN = int(Kind.EVENT), int(Kind.VOICE), int(Kind.JOIN)


def load(conn, server_id: int) -> pd.DataFrame:
    """Every raw row of a server, as a DataFrame, from a sqlite3 connection."""
    return pd.read_sql_query(
        "SELECT user_id, ts, kind, amount FROM ledger WHERE server_id = ?",
        conn,
        params=(server_id,),
    )


def _share(part, whole) -> float | None:
    return 100.0 * part / whole if whole else None


def _ratio(part, whole) -> float | None:
    return part / whole if whole else None


def metrics(frame: pd.DataFrame, at_ms: int, period_days: int) -> dict[str, float | None]:
    """All sixteen metrics at `at_ms` over a trailing period of `period_days` days."""
    past = frame[frame["ts"].to_numpy() < at_ms]
    user = past["user_id"].to_numpy()
    ts = past["ts"].to_numpy()
    kind = past["kind"].to_numpy()
    amount = past["amount"].to_numpy()
    length = period_days * DAY_MS
    start = at_ms - length
    today = at_ms // DAY_MS
    any_rows = len(past) > 0

    is_claim = kind == _CLAIM
    pays = ((kind == _CLAIM) | (kind == _REWARD)) & (amount > 0)
    is_event = kind == _EVENT
    in_window = (ts >= start) & (ts < at_ms)

    def claimers(begin: int, end: int) -> np.ndarray:
        return np.unique(user[is_claim & (ts >= begin) & (ts < end)])

    window_claimers = claimers(start, at_ms)
    rewarded = np.unique(user[pays & in_window])
    events_in_window = int((is_event & in_window).sum())
    values: dict[str, float | None] = {}
    values["daily_active_users"] = len(claimers(at_ms - DAY_MS, at_ms)) if any_rows else None
    values["weekly_active_users"] = len(claimers(at_ms - 7 * DAY_MS, at_ms)) if any_rows else None

    # Claim days, and each one's streak: the run of consecutive claim days ending on it.
    days = pd.DataFrame({"user": user[is_claim], "day": ts[is_claim] // DAY_MS})
    days = days.drop_duplicates().sort_values(["user", "day"], kind="stable")
    day_user, day = days["user"].to_numpy(), days["day"].to_numpy()
    new_run = np.ones(len(day), dtype=bool)
    new_run[1:] = (day_user[1:] != day_user[:-1]) | (day[1:] != day[:-1] + 1)
    run_id = np.cumsum(new_run)
    streak = np.arange(len(day)) - np.flatnonzero(new_run)[run_id - 1] + 1 if len(day) else day

    per_day = pd.DataFrame({"day": day, "continued": streak >= 2}).groupby("day")
    claimers_on = per_day.size()
    continued_on = per_day["continued"].sum()
    shares = []
    for each in range(today - period_days, today):
        before = claimers_on.get(each - 1, 0)
        if before:
            shares.append(100.0 * continued_on.get(each, 0) / before)
    values["streak_retention"] = float(np.mean(shares)) if shares else None

    # Join time: the first join row, else the first row of any kind.
    first_any = past.groupby("user_id")["ts"].min()
    first_join = past[kind == _JOIN].groupby("user_id")["ts"].min()
    joined = first_any.copy()
    joined.loc[first_join.index] = first_join
    first_reward = past[pays].groupby("user_id")["ts"].min()

    newcomers = joined[(joined >= start) & (joined < at_ms)]
    engaging = past[is_claim | (kind == _REWARD) | is_event]
    engaging = engaging[engaging["user_id"].isin(newcomers.index)]
    after_join = engaging["ts"].to_numpy() >= newcomers.reindex(engaging["user_id"]).to_numpy()
    converted = engaging["user_id"][after_join].nunique()
    values["new_user_conversion"] = _share(converted, len(newcomers))

    engaged = np.unique(
        user[in_window & (is_claim | pays | (kind == _REWARD) | is_event | (kind == _VOICE))]
    )
    voice = (kind == _VOICE) & np.isin(user, engaged)
    session_end = ts + amount * 1000
    overlapping = voice & (ts < at_ms) & ((ts >= start) | (session_end > start))
    values["voice_participation"] = _share(len(np.unique(user[overlapping])), len(engaged))

    values["reward_efficiency"] = _ratio(
        float(amount[pays & in_window].sum()), len(window_claimers)
    )
    earlier = claimers(at_ms - 2 * length, start)
    values["churn_rate"] = _share(len(np.setdiff1d(earlier, window_claimers)), len(earlier))

    net = np.where(pays, amount, np.where(kind == _SPEND, -amount, 0.0))
    holdings = pd.Series(net).groupby(user).sum().to_numpy()
    positive = np.sort(holdings[holdings > 0])[::-1]
    if len(positive):
        top = math.ceil(len(positive) / 10)
        values["top_10_concentration"] = _share(positive[:top].sum(), positive.sum())
    else:
        values["top_10_concentration"] = None

    values["triggered_event_rate"] = events_in_window / period_days if any_rows else None
    values["events_per_active_user"] = _ratio(events_in_window, len(window_claimers))

    rewarded_new = newcomers[newcomers.index.isin(first_reward.index)]
    hours = (
        np.maximum(
            0, first_reward.reindex(rewarded_new.index).to_numpy() - rewarded_new.to_numpy()
        )
        / HOUR_MS
    )
    values["time_to_first_reward"] = float(np.median(hours)) if len(hours) else None

    cohort = joined[(joined >= start - DAY_MS) & (joined < at_ms - DAY_MS)]
    quick = first_reward.reindex(cohort.index).to_numpy() < cohort.to_numpy() + DAY_MS
    values["time_to_first_reward_pct"] = _share(int(quick.sum()), len(cohort))

    values["repeat_event_rate"] = _ratio(events_in_window, len(rewarded))
    event_counts = pd.Series(user[is_event & in_window]).value_counts()
    repeaters = event_counts[event_counts >= 3].index
    values["repeat_event_rate_pct"] = _share(
        int(np.isin(rewarded, repeaters).sum()), len(rewarded)
    )

    streaks = pd.Series(streak, index=pd.MultiIndex.from_arrays([day_user, day]))
    on_today = streaks[day == today].droplevel(1)
    on_yesterday = streaks[day == today - 1].droplevel(1)
    alive = pd.concat([on_today, on_yesterday[~on_yesterday.index.isin(on_today.index)]])
    values["avg_streak_length"] = float(alive.mean()) if len(alive) else None

    run_first = day[new_run]
    run_last = np.append(day[np.flatnonzero(new_run)[1:] - 1], day[-1:]) if len(day) else day
    counted = (run_first * DAY_MS < at_ms) & ((run_last + 2) * DAY_MS > start)
    broken = counted & ((run_last + 1) * DAY_MS >= start) & ((run_last + 2) * DAY_MS <= at_ms)
    values["streak_break_frequency"] = _share(int(broken.sum()), int(counted.sum()))
    return values


def same_values(fast: dict, direct: dict, rel: float = 1e-9) -> list[str]:
    """The names of the metrics whose two values differ (None only equals None)."""
    different = []
    for name, expected in direct.items():
        got = fast[name]
        if expected is None or got is None:
            if expected is not got:
                different.append(name)
        elif not math.isclose(got, expected, rel_tol=rel, abs_tol=1e-9):
            different.append(name)
    return different
