"""Small ledgers whose metric values were worked out by hand, checked against both implementations.

Every test runs twice: against `reference_metrics` (the plain oracle in this folder) and
against the production `kpitracker.metrics.metrics_for_rows`. The expected numbers are
literals with the arithmetic beside them, so a disagreement points at the implementation,
not at the test. All rows belong to one server; times are UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kpitracker.catalogue import METRICS
from kpitracker.ledger import LedgerRow, make_row, to_ms
from tests.reference_metrics import reference_metrics

SERVER = 1
PERIOD_DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 90}


# ---------------------------------------------------------------------------------------------
# The two implementations under test.


def reference(rows: list[LedgerRow], at: datetime, period: str) -> dict[str, float | None]:
    return reference_metrics(rows, to_ms(at), PERIOD_DAYS[period])


def production(rows: list[LedgerRow], at: datetime, period: str) -> dict[str, float | None]:
    # Imported here so that the reference half of this file runs while the module is written.
    from kpitracker.metrics import metrics_for_rows

    return metrics_for_rows(rows, at, period)


@pytest.fixture(params=[reference, production], ids=["reference", "production"])
def metrics(request):
    return request.param


def check(actual: dict[str, float | None], expected: dict[str, float | None]) -> None:
    for name, want in expected.items():
        got = actual[name]
        if want is None:
            assert got is None, f"{name}: expected no data, got {got!r}"
        else:
            assert got is not None, f"{name}: expected {want!r}, got no data"
            assert got == pytest.approx(want), f"{name}: expected {want!r}, got {got!r}"


NO_DATA = {name: None for name in METRICS}


# ---------------------------------------------------------------------------------------------
# Row builders.


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


def join(user: int, when: datetime) -> LedgerRow:
    return make_row(SERVER, user, when, "join", None, None)


def leave(user: int, when: datetime) -> LedgerRow:
    return make_row(SERVER, user, when, "leave", None, None)


def claim(user: int, when: datetime, amount: float | None = None) -> LedgerRow:
    return make_row(SERVER, user, when, "claim", amount, None)


def reward(user: int, when: datetime, amount: float) -> LedgerRow:
    return make_row(SERVER, user, when, "reward", amount, "bonus")


def spend(user: int, when: datetime, amount: float) -> LedgerRow:
    return make_row(SERVER, user, when, "spend", amount, "shop")


def event(user: int, when: datetime, name: str = "quiz") -> LedgerRow:
    return make_row(SERVER, user, when, "event", None, name)


def voice(user: int, when: datetime, seconds: float) -> LedgerRow:
    return make_row(SERVER, user, when, "voice", seconds, None)


def daily_claims(user: int, first: datetime, days: int) -> list[LedgerRow]:
    return [claim(user, first + timedelta(days=offset)) for offset in range(days)]


# ---------------------------------------------------------------------------------------------
# No data.


def test_every_metric_is_reported(metrics):
    values = metrics([claim(1, utc(2024, 1, 1, 12))], utc(2024, 1, 2), "week")

    assert set(values) == set(METRICS)


def test_empty_ledger_has_no_data_anywhere(metrics):
    check(metrics([], utc(2024, 1, 1), "week"), NO_DATA)


def test_rows_only_at_or_after_t_mean_no_history_yet(metrics):
    # The claim at t and the later join have not happened yet at t.
    rows = [claim(1, utc(2024, 1, 1), 10), join(2, utc(2024, 1, 2))]

    check(metrics(rows, utc(2024, 1, 1), "week"), NO_DATA)


def test_history_outside_every_window_gives_zero_counts_and_no_ratios(metrics):
    # t = 31 Jan 2024, week: every row is two months old, so every window is empty.
    rows = [
        join(1, utc(2023, 12, 1, 12)),
        claim(1, utc(2023, 12, 1, 13)),
        event(1, utc(2023, 12, 1, 14)),
        voice(1, utc(2023, 12, 1, 15), 600),
        reward(2, utc(2023, 12, 2, 12), 50),
        spend(2, utc(2023, 12, 3, 12), 50),  # holdings 50 - 50 = 0: not a holder
    ]

    expected = dict(NO_DATA)
    expected["daily_active_users"] = 0  # counts are 0 once the server has history
    expected["weekly_active_users"] = 0
    expected["triggered_event_rate"] = 0  # 0 events / 7 days

    check(metrics(rows, utc(2024, 1, 31), "week"), expected)


# ---------------------------------------------------------------------------------------------
# One ledger, all sixteen metrics.

# t = Thu 8 Feb 2024 00:00, week: window [1 Feb, 8 Feb), previous window [25 Jan, 1 Feb).
FULL_WEEK_ROWS = [
    join(1, utc(2024, 1, 20, 10)),
    claim(1, utc(2024, 1, 30, 12), 10),
    claim(1, utc(2024, 1, 31, 12), 10),
    claim(1, utc(2024, 2, 1, 12), 10),
    claim(1, utc(2024, 2, 2, 12), 10),
    claim(1, utc(2024, 2, 7, 12), 10),
    event(1, utc(2024, 2, 2, 13), "quiz"),
    event(1, utc(2024, 2, 2, 14), "quiz"),
    event(1, utc(2024, 2, 2, 15), "trivia"),
    voice(1, utc(2024, 2, 3, 12), 1800),
    spend(1, utc(2024, 2, 5, 12), 15),
    join(2, utc(2024, 2, 3, 8)),
    claim(2, utc(2024, 2, 3, 20)),  # pays nothing: a claim but not a reward
    claim(2, utc(2024, 2, 4, 9), 5),
    event(2, utc(2024, 2, 4, 10)),
    join(3, utc(2024, 2, 6)),
    claim(4, utc(2024, 1, 27, 12), 20),  # imported: no join row
    leave(4, utc(2024, 1, 28, 12)),
]

FULL_WEEK_EXPECTED = {
    # claimers in [7 Feb, 8 Feb): user 1
    "daily_active_users": 1,
    # claimers in [1 Feb, 8 Feb): users 1, 2
    "weekly_active_users": 2,
    # d = 1..7 Feb; claimers(d-1) -> claimers(d):
    # 1 Feb {1}->{1} 100, 2 Feb {1}->{1} 100, 3 Feb {1}->{2} 0, 4 Feb {2}->{2} 100,
    # 5 Feb {2}->{} 0, 6 and 7 Feb skipped (nobody claimed the day before): 300 / 5
    "streak_retention": 60.0,
    # joined in window: 2 (3 Feb 08:00), 3 (6 Feb); only 2 claimed afterwards: 1 / 2
    "new_user_conversion": 50.0,
    # engaged: 1, 2; with voice in window: 1 -> 1 / 2
    "voice_participation": 50.0,
    # LTZ in window: 10 + 10 + 10 (user 1) + 5 (user 2) = 35, over 2 claimers
    "reward_efficiency": 17.5,
    # claimers in [25 Jan, 1 Feb): 1, 4; user 4 did not claim since: 1 / 2
    "churn_rate": 50.0,
    # holdings: 1 -> 50 - 15 = 35, 2 -> 5, 4 -> 20; n = 3, top ceil(0.3) = 1: 35 / 60
    "top_10_concentration": 35 / 60 * 100,
    # 4 events in window / 7 days
    "triggered_event_rate": 4 / 7,
    # 4 events / 2 claimers
    "events_per_active_user": 2.0,
    # joined in window and rewarded: user 2, 3 Feb 08:00 -> 4 Feb 09:00 (the 0-LTZ claim
    # is not a reward) = 25 h; user 3 never rewarded
    "time_to_first_reward": 25.0,
    # joined in [31 Jan, 7 Feb): 2 (rewarded after 25 h, too late), 3 (never): 0 / 2
    "time_to_first_reward_pct": 0.0,
    # 4 events / rewarded users 1, 2
    "repeat_event_rate": 2.0,
    # user 1 has 3 events, user 2 has 1: 1 / 2
    "repeat_event_rate_pct": 50.0,
    # D(t) = 8 Feb; user 1 claimed 7 Feb but not 6 Feb: length 1; nobody else alive
    "avg_streak_length": 1.0,
    # runs: 1 [30 Jan-2 Feb] breaks 3 Feb (in), 1 [7 Feb] breaks 8 Feb (not yet),
    # 2 [3-4 Feb] breaks 5 Feb (in), 4 [27 Jan] dead since 29 Jan (not counted): 2 / 3
    "streak_break_frequency": 2 / 3 * 100,
}


def test_full_week_all_sixteen_metrics(metrics):
    check(metrics(FULL_WEEK_ROWS, utc(2024, 2, 8), "week"), FULL_WEEK_EXPECTED)


def test_rows_at_or_after_t_change_nothing(metrics):
    # What a live bot computed at t cannot depend on what was recorded later.
    later = [
        claim(3, utc(2024, 2, 8), 100),
        event(2, utc(2024, 2, 8)),
        voice(3, utc(2024, 2, 8), 600),
        reward(3, utc(2024, 2, 9), 40),
        spend(1, utc(2024, 2, 10), 35),
        join(5, utc(2024, 2, 9)),
        claim(5, utc(2024, 2, 9, 1), 10),
    ]

    check(metrics(FULL_WEEK_ROWS + later, utc(2024, 2, 8), "week"), FULL_WEEK_EXPECTED)


# ---------------------------------------------------------------------------------------------
# Days, midnight and the calendar.


def test_two_claims_in_one_day_count_once(metrics):
    # t = 2 Apr 2024 00:00, day: window = 1 Apr.
    rows = [
        claim(1, utc(2024, 4, 1, 8), 10),
        claim(1, utc(2024, 4, 1, 20), 5),
        claim(2, utc(2024, 4, 1, 9)),
    ]

    check(
        metrics(rows, utc(2024, 4, 2), "day"),
        {
            "daily_active_users": 2,  # users 1, 2; not 3 claims
            "weekly_active_users": 2,
            "reward_efficiency": 7.5,  # (10 + 5 + 0) / 2 claimers
            "events_per_active_user": 0.0,  # 0 events / 2 claimers
            "repeat_event_rate": 0.0,  # 0 events / 1 rewarded user (2's claim paid nothing)
            "repeat_event_rate_pct": 0.0,
            "avg_streak_length": 1.0,  # both claimed only on 1 Apr = D(t) - 1
            "streak_retention": None,  # nobody claimed on 31 Mar
            "churn_rate": None,  # nobody claimed on 31 Mar
            "top_10_concentration": 100.0,  # one holder (user 1, 15 LTZ)
            "streak_break_frequency": 0.0,  # 2 runs alive on 1 Apr, both break on 2 Apr
        },
    )


def test_claims_across_midnight_continue_the_streak(metrics):
    # t = 12 Mar 2024 00:00, day: window = 11 Mar.
    rows = [
        claim(1, utc(2024, 3, 10, 23, 59)),
        claim(1, utc(2024, 3, 11, 0, 1)),
        claim(2, utc(2024, 3, 10, 12)),
    ]

    check(
        metrics(rows, utc(2024, 3, 12), "day"),
        {
            "daily_active_users": 1,  # only user 1 claimed on 11 Mar
            "weekly_active_users": 2,
            "streak_retention": 50.0,  # 10 Mar {1, 2} -> 11 Mar {1}: 1 / 2
            "avg_streak_length": 2.0,  # user 1: 10 and 11 Mar; user 2 not alive on 12 Mar
            "churn_rate": 50.0,  # claimers on 10 Mar {1, 2}, on 11 Mar {1}
            # window 11 Mar: user 2's run [10 Mar] breaks 11 Mar (in), user 1's breaks 12 Mar
            "streak_break_frequency": 50.0,
        },
    )


def test_daily_window_at_an_instant_not_at_midnight(metrics):
    # t = 11 Mar 2024 23:00, day: window [10 Mar 23:00, 11 Mar 23:00).
    rows = [
        claim(1, utc(2024, 3, 10, 23, 59), 5),
        claim(1, utc(2024, 3, 11, 0, 1), 5),
        claim(2, utc(2024, 3, 10, 22, 59), 7),  # a minute before the window
        claim(3, utc(2024, 3, 11, 23, 0), 100),  # at t: not yet
        claim(4, utc(2024, 3, 10, 23, 0), 10),  # exactly t - 24h: inside
    ]

    check(
        metrics(rows, utc(2024, 3, 11, 23), "day"),
        {
            "daily_active_users": 2,  # users 1, 4
            "weekly_active_users": 3,  # users 1, 2, 4
            "reward_efficiency": 10.0,  # (5 + 5 + 10) / 2
            # D(t) = 11 Mar: user 1 claimed 10 and 11 Mar (2); users 2, 4 on 10 Mar (1 each)
            "avg_streak_length": 4 / 3,
        },
    )


def test_streak_across_29_february(metrics):
    # t = 2 Mar 2024 00:00, week: days 24 Feb .. 1 Mar.
    rows = [
        claim(1, utc(2024, 2, 28, 12)),
        claim(1, utc(2024, 2, 29, 12)),
        claim(1, utc(2024, 3, 1, 12)),
        claim(2, utc(2024, 2, 28, 12)),  # skips the leap day: two runs, not one
        claim(2, utc(2024, 3, 1, 12)),
    ]

    check(
        metrics(rows, utc(2024, 3, 2), "week"),
        {
            "avg_streak_length": 2.0,  # user 1: 28 Feb, 29 Feb, 1 Mar = 3; user 2: 1 Mar = 1
            # 29 Feb: {1, 2} -> {1} 50; 1 Mar: {1} -> {1, 2} 100; earlier days skipped
            "streak_retention": 75.0,
            # runs 1 [28 Feb-1 Mar], 2 [28 Feb], 2 [1 Mar]; only 2 [28 Feb] broke (on 29 Feb)
            "streak_break_frequency": 100 / 3,
        },
    )
    check(
        metrics(rows, utc(2024, 3, 2), "day"),
        {"streak_retention": 100.0},  # 29 Feb {1} -> 1 Mar {1, 2}
    )

    # In 2023 there is no 29 February, so 28 Feb -> 1 Mar is consecutive.
    rows_2023 = [claim(3, utc(2023, 2, 28, 12)), claim(3, utc(2023, 3, 1, 12))]
    check(metrics(rows_2023, utc(2023, 3, 2), "week"), {"avg_streak_length": 2.0})


def test_partial_days_when_t_is_not_midnight(metrics):
    # t = 10 Aug 2024 15:00, day: window [9 Aug 15:00, 10 Aug 15:00); D(t) = 10 Aug.
    rows = [
        claim(1, utc(2024, 8, 8, 12)),
        claim(1, utc(2024, 8, 9, 14, 59)),
        claim(2, utc(2024, 8, 9, 15)),
        claim(3, utc(2024, 8, 9, 10)),
        claim(3, utc(2024, 8, 10, 14, 59)),
        claim(4, utc(2024, 8, 10, 15)),  # at t: not yet
        claim(5, utc(2024, 8, 10, 20)),  # after t
        claim(6, utc(2024, 8, 8, 12)),
    ]

    check(
        metrics(rows, utc(2024, 8, 10, 15), "day"),
        {
            "daily_active_users": 2,  # users 2, 3
            "weekly_active_users": 4,  # users 1, 2, 3, 6
            # only complete days count: 9 Aug vs 8 Aug. {1, 6} -> {1, 2, 3}: 1 / 2
            "streak_retention": 50.0,
            # user 1: 8-9 Aug (2), user 2: 9 Aug (1), user 3: 9-10 Aug (2); user 6 not alive
            "avg_streak_length": 5 / 3,
            # 4 runs touch the window; user 6 broke on 9 Aug, which began before the window,
            # and the others break on 10 or 11 Aug, which end after t: 0 / 4
            "streak_break_frequency": 0.0,
            # claimers in [8 Aug 15:00, 9 Aug 15:00): 1, 3; in the window: 2, 3
            "churn_rate": 50.0,
            "events_per_active_user": 0.0,
        },
    )


# ---------------------------------------------------------------------------------------------
# Periods.

# t = 1 Jul 2024 00:00. Windows: day [30 Jun, 1 Jul), week [24 Jun, ..), month [1 Jun, ..),
# quarter [2 Apr, ..); previous windows: day [29 Jun, 30 Jun), week [17 Jun, 24 Jun),
# month [2 May, 1 Jun), quarter [3 Jan, 2 Apr). No join rows: join time = first row.
PERIOD_ROWS = [
    claim(1, utc(2024, 6, 30, 12), 10),  # t - 12h
    event(1, utc(2024, 6, 30, 12)),
    claim(1, utc(2024, 6, 23), 0),  # t - 8d, user 1's first row
    claim(2, utc(2024, 6, 29, 12), 20),  # t - 36h
    event(2, utc(2024, 6, 29, 12)),
    claim(3, utc(2024, 6, 21), 30),  # t - 10d
    event(3, utc(2024, 6, 21)),
    claim(3, utc(2024, 5, 22), 0),  # t - 40d, user 3's first row
    claim(4, utc(2024, 5, 17), 40),  # t - 45d
    event(4, utc(2024, 5, 17)),
    claim(5, utc(2024, 2, 2), 50),  # t - 150d
    event(5, utc(2024, 2, 2)),
]

PERIOD_EXPECTED = {
    "day": {
        "daily_active_users": 1,
        "weekly_active_users": 2,  # always the last 7 days, whatever the period
        "reward_efficiency": 10.0,  # 10 / {1}
        "churn_rate": 100.0,  # {2} -> {1}
        "triggered_event_rate": 1.0,  # 1 event / 1 day
        "events_per_active_user": 1.0,
        "new_user_conversion": None,  # nobody's first row is in the last day
        "time_to_first_reward": None,
        "time_to_first_reward_pct": 100.0,  # joined [29 Jun, 30 Jun): 2, rewarded at 0 h
    },
    "week": {
        "daily_active_users": 1,
        "weekly_active_users": 2,
        "reward_efficiency": 15.0,  # (10 + 20) / {1, 2}
        "churn_rate": 50.0,  # {1, 3} -> {1, 2}: 3 gone
        "triggered_event_rate": 2 / 7,
        "events_per_active_user": 1.0,  # 2 / 2
        "new_user_conversion": 100.0,  # joined: 2, who claimed at joining
        "time_to_first_reward": 0.0,  # user 2: first row is a paying claim
        # joined [23 Jun, 30 Jun): 1 (first reward 7.5 days later), 2 (0 h): 1 / 2
        "time_to_first_reward_pct": 50.0,
    },
    "month": {
        "daily_active_users": 1,
        "weekly_active_users": 2,
        "reward_efficiency": 20.0,  # (10 + 0 + 20 + 30) / {1, 2, 3}
        "churn_rate": 50.0,  # {3, 4} -> {1, 2, 3}: 4 gone
        "triggered_event_rate": 0.1,  # 3 / 30
        "events_per_active_user": 1.0,  # 3 / 3
        "new_user_conversion": 100.0,  # joined: 1, 2
        "time_to_first_reward": 90.0,  # median(user 1: 7.5 d = 180 h, user 2: 0 h)
        "time_to_first_reward_pct": 50.0,  # joined [31 May, 30 Jun): 1 (no), 2 (yes)
    },
    "quarter": {
        "daily_active_users": 1,
        "weekly_active_users": 2,
        "reward_efficiency": 25.0,  # (10 + 0 + 20 + 30 + 0 + 40) / {1, 2, 3, 4}
        "churn_rate": 100.0,  # {5} -> {1, 2, 3, 4}
        "triggered_event_rate": 4 / 90,
        "events_per_active_user": 1.0,  # 4 / 4
        "new_user_conversion": 100.0,  # joined: 1, 2, 3, 4
        # hours: 1 -> 180, 2 -> 0, 3 -> 30 d = 720, 4 -> 0; median(0, 0, 180, 720)
        "time_to_first_reward": 90.0,
        # joined [2 Apr, 30 Jun): 1 (no), 2 (yes), 3 (no), 4 (yes)
        "time_to_first_reward_pct": 50.0,
    },
}


@pytest.mark.parametrize("period", ["day", "week", "month", "quarter"])
def test_each_period_reads_its_own_window(metrics, period):
    check(metrics(PERIOD_ROWS, utc(2024, 7, 1), period), PERIOD_EXPECTED[period])


# ---------------------------------------------------------------------------------------------
# Churn and holdings.


def test_churn_compares_the_two_previous_windows(metrics):
    # t = 15 Jun 2024 00:00. week: previous [1 Jun, 8 Jun), current [8 Jun, 15 Jun).
    rows = [
        claim(1, utc(2024, 6, 3, 12)),
        claim(1, utc(2024, 6, 10, 12)),
        leave(1, utc(2024, 6, 11)),  # leaving later does not undo the claim
        claim(2, utc(2024, 6, 5, 12)),
        claim(2, utc(2024, 6, 12, 12)),
        claim(3, utc(2024, 6, 4, 12)),
        leave(3, utc(2024, 6, 9, 12)),
        claim(4, utc(2024, 6, 7, 23, 59)),
        claim(4, utc(2024, 6, 8, 0, 0)),  # start of the current window: still active
        claim(5, utc(2024, 6, 13, 12)),  # new, not in the denominator
        claim(6, utc(2024, 6, 1, 0, 0)),  # start of the previous window: counted
        claim(7, utc(2024, 5, 31, 23, 59)),  # before the previous window
    ]
    at = utc(2024, 6, 15)

    # previous {1, 2, 3, 4, 6}, current {1, 2, 4, 5}: 3 and 6 gone, 2 / 5
    check(metrics(rows, at, "week"), {"churn_rate": 40.0, "weekly_active_users": 4})
    # day: previous 13 Jun {5}, current 14 Jun {}: 1 / 1
    check(metrics(rows, at, "day"), {"churn_rate": 100.0})
    # month: previous [16 Apr, 16 May) has no claimers
    check(metrics(rows, at, "month"), {"churn_rate": None})


def top10_rows() -> list[LedgerRow]:
    rows = [
        claim(1, utc(2024, 12, 1), 60),
        reward(1, utc(2024, 12, 2), 40),  # user 1: 100
        reward(1, utc(2024, 12, 10), 1000),  # at t: not held yet
        reward(2, utc(2024, 12, 1), 80),
        spend(2, utc(2024, 12, 3), 30),  # user 2: 50
        reward(11, utc(2024, 12, 1), 20),
        spend(11, utc(2024, 12, 2), 20),  # user 11: 0, not a holder
        spend(12, utc(2024, 12, 2), 5),  # user 12: -5, not a holder
        claim(13, utc(2024, 12, 2)),  # user 13: a claim paying nothing
    ]
    rows += [claim(user, utc(2024, 12, 4), 10) for user in range(3, 11)]  # users 3-10: 10 each
    return rows


def test_top10_with_ten_holders_takes_one(metrics):
    # n = 10 holders, ceil(10 / 10) = 1: 100 / (100 + 50 + 8 * 10)
    check(
        metrics(top10_rows(), utc(2024, 12, 10), "week"),
        {"top_10_concentration": 100 / 230 * 100},
    )


def test_top10_with_eleven_holders_takes_two(metrics):
    # n = 11 holders, ceil(11 / 10) = 2: (100 + 50) / (100 + 50 + 9 * 10)
    rows = top10_rows() + [reward(14, utc(2024, 12, 5), 10)]

    check(metrics(rows, utc(2024, 12, 10), "week"), {"top_10_concentration": 62.5})


# ---------------------------------------------------------------------------------------------
# Voice.


def test_voice_sessions_overlapping_the_window(metrics):
    # t = 8 Sep 2024 00:00, week: window [1 Sep, 8 Sep).
    rows = [
        claim(1, utc(2024, 9, 3, 12)),
        voice(1, utc(2024, 8, 31, 23), 7200),  # until 1 Sep 01:00: overlaps
        claim(2, utc(2024, 9, 4, 12)),
        voice(2, utc(2024, 8, 31, 22), 7200),  # ends exactly at the window's start: no
        voice(3, utc(2024, 9, 5, 10), 600),  # engaged by the session itself
        voice(4, utc(2024, 8, 31, 20), 36000),  # overlaps, but 4 has no row in the window
        event(5, utc(2024, 9, 6, 12)),
        voice(5, utc(2024, 9, 7, 23, 30), 3600),  # runs past t: overlaps
        reward(6, utc(2024, 9, 2, 12), 5),
        voice(6, utc(2024, 9, 8), 600),  # starts at t: not yet
        claim(7, utc(2024, 9, 2, 12)),
        voice(7, utc(2024, 8, 20), 20 * 86400),  # 20 Aug to 9 Sep: overlaps
    ]

    # engaged {1, 2, 3, 5, 6, 7}, in voice {1, 3, 5, 7}: 4 / 6
    check(metrics(rows, utc(2024, 9, 8), "week"), {"voice_participation": 4 / 6 * 100})
    # day at 5 Sep 12:00: window [4 Sep 12:00, 5 Sep 12:00); engaged {2 (claim at the
    # start), 3}; 7's long session overlaps but 7 has no row in it: 1 / 2
    check(metrics(rows, utc(2024, 9, 5, 12), "day"), {"voice_participation": 50.0})


# ---------------------------------------------------------------------------------------------
# Joining and the first reward.


def test_reward_before_join_counts_as_zero_hours(metrics):
    # t = 8 May 2024 00:00, week: window [1 May, 8 May); the 24 h cohort joined [30 Apr, 7 May).
    rows = [
        reward(1, utc(2024, 5, 1, 10), 5),  # before user 1's join row
        join(1, utc(2024, 5, 1, 12)),
        join(2, utc(2024, 5, 2)),
        claim(2, utc(2024, 5, 2, 6), 10),
        join(3, utc(2024, 5, 3)),
        claim(3, utc(2024, 5, 3, 1)),  # pays nothing
        reward(3, utc(2024, 5, 4), 5),  # exactly 24 h: not within the first day
        join(4, utc(2024, 5, 4)),
        reward(4, utc(2024, 5, 5, 6), 5),
        join(5, utc(2024, 5, 7, 12)),
        reward(5, utc(2024, 5, 8), 5),  # at t: not yet
        join(6, utc(2024, 4, 30, 12)),
        reward(6, utc(2024, 4, 30, 13), 5),
    ]

    check(
        metrics(rows, utc(2024, 5, 8), "week"),
        {
            # users 1-4 joined in the window and were rewarded: 0 (reward before joining),
            # 6, 24 and 30 hours; median (6 + 24) / 2
            "time_to_first_reward": 15.0,
            # cohort 1, 2, 3, 4, 6; within 24 h: 1, 2, 6 -> 3 / 5
            "time_to_first_reward_pct": 60.0,
            # joined in the window: 1-5. Converted: 2, 3 (a 0-LTZ claim counts), 4. User 1's
            # only reward came before joining; user 5's is at t: 3 / 5
            "new_user_conversion": 60.0,
        },
    )


def test_join_time_of_imported_and_returning_users(metrics):
    # t = 8 May 2024 00:00, week: window [1 May, 8 May).
    rows = [
        claim(1, utc(2024, 5, 5, 12), 10),  # imported: joined with this claim
        join(2, utc(2024, 5, 6)),
        claim(3, utc(2024, 5, 5), 0),
        join(3, utc(2024, 5, 9)),  # recorded after t: at t, 3 joined on 5 May
        join(4, utc(2024, 4, 1)),
        leave(4, utc(2024, 4, 2)),
        join(4, utc(2024, 5, 3)),  # a return, not a new member
        claim(4, utc(2024, 5, 3, 12), 10),
        join(5, utc(2024, 5, 10)),  # after t: no join time at t
    ]

    check(
        metrics(rows, utc(2024, 5, 8), "week"),
        {
            "new_user_conversion": 200 / 3,  # new 1, 2, 3; converted 1, 3
            "time_to_first_reward": 0.0,  # only user 1: rewarded at joining
            "time_to_first_reward_pct": 100 / 3,  # cohort 1, 2, 3; within a day: 1
        },
    )


# ---------------------------------------------------------------------------------------------
# Events and rewards.


def test_event_and_reward_ratios(metrics):
    # t = 8 Nov 2024 00:00, week: window [1 Nov, 8 Nov).
    rows = [
        claim(1, utc(2024, 11, 2, 10), 10),
        event(1, utc(2024, 11, 2, 11), "quiz"),
        event(1, utc(2024, 11, 3, 11), "quiz"),
        event(1, utc(2024, 11, 4, 11), "raid"),
        spend(1, utc(2024, 11, 4, 12), 7),  # spending is not distribution
        claim(2, utc(2024, 11, 2, 10)),  # a claimer, not rewarded
        *[event(2, utc(2024, 11, day, 11)) for day in (2, 3, 4, 5)],
        event(3, utc(2024, 10, 31, 11)),  # before the window
        reward(3, utc(2024, 11, 5, 10), 25),
        event(3, utc(2024, 11, 5, 11)),
        event(3, utc(2024, 11, 6, 11)),
        event(4, utc(2024, 11, 6, 11)),
        event(4, utc(2024, 11, 8)),  # at t: not yet
        claim(5, utc(2024, 11, 3, 10), 5),
        reward(5, utc(2024, 11, 3, 10), 5),
        reward(6, utc(2024, 11, 6, 10), 40),
    ]

    check(
        metrics(rows, utc(2024, 11, 8), "week"),
        {
            "triggered_event_rate": 10 / 7,  # 3 + 4 + 2 + 1 events in the window / 7 days
            "events_per_active_user": 10 / 3,  # claimers 1, 2, 5
            "repeat_event_rate": 2.5,  # rewarded 1, 3, 5, 6
            # of the rewarded, only 1 has 3+ events in the window (3 has 2 there);
            # user 2 has 4 but was not rewarded
            "repeat_event_rate_pct": 25.0,
            "reward_efficiency": 85 / 3,  # (10 + 25 + 5 + 5 + 40) / 3 claimers
            # holdings 1: 3, 3: 25, 5: 10, 6: 40 (2 holds nothing); top 1 of 4: 40 / 78
            "top_10_concentration": 40 / 78 * 100,
        },
    )


# ---------------------------------------------------------------------------------------------
# Streak breaks.


def streak_break_rows() -> list[LedgerRow]:
    rows = []
    rows += daily_claims(1, utc(2024, 10, 1, 12), 5)  # 1-5 Oct, broke 6 Oct
    rows += daily_claims(2, utc(2024, 10, 5, 12), 2)  # 5-6 Oct, broke 7 Oct
    rows += daily_claims(3, utc(2024, 10, 5, 12), 3)  # 5-7 Oct, broke 8 Oct
    rows += daily_claims(4, utc(2024, 10, 10, 12), 2)  # 10-11 Oct, broke 12 Oct
    rows += daily_claims(4, utc(2024, 10, 13, 12), 2)  # 13-14 Oct, alive
    rows += daily_claims(5, utc(2024, 10, 14, 12), 1)  # 14 Oct, alive
    rows += daily_claims(6, utc(2024, 10, 12, 12), 1)  # 12 Oct, broke 13 Oct
    rows += daily_claims(7, utc(2024, 10, 20, 12), 1)  # after t
    rows += daily_claims(8, utc(2024, 10, 6, 12), 9)  # 6-14 Oct, alive
    rows += daily_claims(9, utc(2024, 10, 13, 12), 1)  # 13 Oct, broke 14 Oct
    return rows


def test_streak_breaks_in_and_out_of_the_week(metrics):
    # t = 15 Oct 2024 00:00, week: window [8 Oct, 15 Oct).
    check(
        metrics(streak_break_rows(), utc(2024, 10, 15), "week"),
        {
            # 1's run died on 6 Oct and 2's on 7 Oct, before the window: not counted.
            # Counted: 3, 4 (two runs), 5, 6, 8, 9 = 7; broke on 8, 12, 13, 14 Oct: 3, 4's
            # first run, 6, 9 = 4
            "streak_break_frequency": 400 / 7,
            # alive at t (claimed 14 Oct): 4 (13-14) 2, 5 1, 8 (6-14) 9
            "avg_streak_length": 4.0,
            # 8 Oct {3, 8}->{8} 50, 9 Oct {8}->{8} 100, 10 Oct {8}->{4, 8} 100,
            # 11 Oct {4, 8}->{4, 8} 100, 12 Oct {4, 8}->{6, 8} 50, 13 Oct {6, 8}->{4, 8, 9} 50,
            # 14 Oct {4, 8, 9}->{4, 5, 8} 66.67; mean 516.67 / 7
            "streak_retention": (50 + 100 + 100 + 100 + 50 + 50 + 200 / 3) / 7,
        },
    )


def test_streak_breaks_in_and_out_of_the_day(metrics):
    # t = 15 Oct 2024 00:00, day: window = 14 Oct.
    check(
        metrics(streak_break_rows(), utc(2024, 10, 15), "day"),
        {
            # alive on 14 Oct: runs ending 13 or 14 Oct (4's second, 5, 8, 9); 6's run
            # [12 Oct] died on 13 Oct. Only 9 broke, on 14 Oct: 1 / 4
            "streak_break_frequency": 25.0,
            "avg_streak_length": 4.0,  # does not depend on the period
            "streak_retention": 200 / 3,  # 13 Oct {4, 8, 9} -> 14 Oct {4, 5, 8}
        },
    )
