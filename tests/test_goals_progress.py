"""Pace, forecast and milestones of a goal, on constructed histories with known answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from goals.models import GoalError, GoalType, new_goal, parse_goal_type
from goals.progress import (
    Verdict,
    assess,
    new_milestones,
    progress_bar,
    retarget_milestones,
)

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DUE = START + timedelta(days=30)
TARGET = 300.0


def daily(per_day: float, days: int, offset: float = 0.0) -> list[tuple[datetime, float]]:
    """A value that rises by `per_day` each day, read at the end of each of the first `days`."""
    return [(START + timedelta(days=day), offset + per_day * day) for day in range(1, days + 1)]


def judge(history, now_day: float = 10, *, origin=None, reached=False):
    now = START + timedelta(days=now_day)
    current = history[-1] if history else None
    return assess(
        history=history,
        current=current,
        origin=origin,
        start=START,
        due=DUE,
        target=TARGET,
        now=now,
        reached=reached,
    )


@pytest.mark.parametrize(
    ("per_day", "verdict", "forecast"),
    [
        (15, Verdict.ON_TRACK, 450),  # ahead: 150 % of the target by the deadline
        (10, Verdict.ON_TRACK, 300),  # exactly on pace
        (9.5, Verdict.AT_RISK, 285),  # 95 %: short, but within a tenth
        (5, Verdict.BEHIND, 150),  # half the pace
    ],
)
def test_the_verdict_follows_the_straight_line_forecast(per_day, verdict, forecast):
    pace = judge(daily(per_day, 10))

    assert pace.verdict is verdict
    assert pace.forecast == pytest.approx(forecast)
    assert pace.per_day == pytest.approx(per_day)
    assert pace.percent == pytest.approx(100 * per_day * 10 / TARGET)
    assert pace.elapsed == pytest.approx(10 / 30)
    assert pace.days_left == pytest.approx(20)
    assert pace.needed_per_day == pytest.approx((TARGET - per_day * 10) / 20)


def test_a_running_total_is_judged_against_the_pace_line_from_zero():
    ahead = judge(daily(12, 10), origin=(START, 0.0))
    behind = judge(daily(8, 10), origin=(START, 0.0))

    # The pace line runs from 0 at the start to the target at the deadline: 100 on day 10.
    assert ahead.baseline == behind.baseline == 0
    assert ahead.pace_value == behind.pace_value == pytest.approx(100)
    assert ahead.value - ahead.pace_value == pytest.approx(20)
    assert behind.value - behind.pace_value == pytest.approx(-20)
    assert (ahead.verdict, behind.verdict) == (Verdict.ON_TRACK, Verdict.BEHIND)


def test_the_forecast_is_the_least_squares_line_of_noisy_values():
    values = [50, 70, 60, 90, 85, 110, 100]
    history = [(START + timedelta(days=day + 1), value) for day, value in enumerate(values)]

    pace = judge(history, now_day=7)

    # Least squares by hand: slope = Sxy / Sxx over days 1..7, through the means.
    days = list(range(1, 8))
    mean_x, mean_y = sum(days) / 7, sum(values) / 7
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(days, values))
    sxx = sum((x - mean_x) ** 2 for x in days)
    slope = sxy / sxx
    assert pace.per_day == pytest.approx(slope)
    assert pace.forecast == pytest.approx(mean_y + slope * (30 - mean_x))
    assert pace.fitted[1] == (DUE, pytest.approx(pace.forecast))


def test_states_beside_the_pace():
    assert judge(daily(40, 10)).verdict is Verdict.ACHIEVED  # 400 of 300
    assert judge(daily(5, 10), reached=True).verdict is Verdict.ACHIEVED  # reached, then dipped
    assert judge(daily(5, 30), now_day=31).verdict is Verdict.MISSED
    assert judge(daily(5, 1), now_day=1).verdict is Verdict.TOO_EARLY  # one value: no line
    assert judge([], now_day=-1).verdict is Verdict.NOT_STARTED
    assert judge([], now_day=3).verdict is Verdict.NO_DATA


def test_milestones_are_new_only_once_and_only_upwards():
    assert new_milestones(None, []) == []
    assert new_milestones(24.9, []) == []
    assert new_milestones(80, []) == [25, 50, 75]
    assert new_milestones(80, ["25", "50", "75"]) == []
    assert new_milestones(100, ["25", "50", "75"]) == [100]
    assert new_milestones(30, ["25", "50"]) == []  # a dip after 50 % brings nothing back


def test_the_progress_bar_fills_by_twentieths():
    assert progress_bar(0) == "░" * 20
    assert progress_bar(50) == "█" * 10 + "░" * 10
    assert progress_bar(99.9) == "█" * 19 + "░"
    assert progress_bar(250) == "█" * 20
    assert progress_bar(None) == "░" * 20


NOW = datetime(2024, 1, 10, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("changes", "sentence"),
    [
        ({"deadline": date(2024, 1, 9)}, "The deadline 2024-01-09 is in the past"),
        ({"start_day": date(2024, 1, 9)}, "The start date 2024-01-09 is in the past"),
        (
            {"start_day": date(2024, 2, 1), "deadline": date(2024, 1, 31)},
            "The deadline 2024-01-31 is before the start 2024-02-01",
        ),
        ({"target": 0}, "The target must be greater than 0"),
        ({"target": -5}, "The target must be greater than 0"),
        ({"name": "q1   GROWTH"}, "A goal named `q1 GROWTH` already exists"),
        ({"goal_type": GoalType.STREAK_RETENTION, "target": 120}, "percentage"),
        ({"metric": "dau"}, "only a custom goal takes `metric:`"),
        (
            {"deadline": date(9999, 12, 31)},
            "The deadline 9999-12-31 is more than 5 years away; give a day up to 2029-01-10",
        ),
        (
            {"start_day": date(2030, 1, 1), "deadline": date(2030, 2, 1)},
            "The start date 2030-01-01 is more than 5 years away; give a day up to 2029-01-10",
        ),
    ],
)
def test_bad_goals_are_refused_with_one_sentence(changes, sentence):
    request = {
        "name": "Launch",
        "goal_type": GoalType.USERS,
        "target": 100,
        "deadline": date(2024, 3, 31),
        "existing": ["q1 growth"],
    } | changes
    name, goal_type, target, deadline = (
        request.pop(key) for key in ("name", "goal_type", "target", "deadline")
    )

    with pytest.raises(GoalError) as refused:
        new_goal(name, goal_type, target, deadline, NOW, **request)

    message = str(refused.value)
    assert sentence in message and message.endswith(".") and message.count(". ") == 0


def test_a_goal_starts_now_or_on_a_day_and_is_due_at_the_end_of_its_deadline():
    now_goal = new_goal("Now", GoalType.DAU, 50, date(2024, 1, 10), NOW)
    later = new_goal("Later", GoalType.DAU, 50, date(2024, 2, 1), NOW, start_day=date(2024, 2, 1))

    assert now_goal.start == NOW and now_goal.due == datetime(2024, 1, 11, tzinfo=timezone.utc)
    assert later.start == datetime(2024, 2, 1, tzinfo=timezone.utc)
    assert later.due - later.start == timedelta(days=1)


def test_an_unknown_type_names_the_types_and_the_closest():
    with pytest.raises(GoalError, match=r"`userz` is not a goal type \(did you mean `users`\?\)"):
        parse_goal_type("userz")
    assert parse_goal_type(" LTZ_Distributed ") is GoalType.LTZ_DISTRIBUTED


def test_the_days_to_record_are_the_ended_days_without_a_value():
    goal = new_goal("Week", GoalType.USERS, 50, date(2024, 1, 16), NOW)
    goal.values["2024-01-11"] = 4.0

    missing = goal.days_to_record(datetime(2024, 1, 14, 0, 5, tzinfo=timezone.utc))
    after = goal.days_to_record(datetime(2024, 3, 1, tzinfo=timezone.utc))

    assert [day.isoformat() for day in missing] == ["2024-01-10", "2024-01-12", "2024-01-13"]
    assert after[-1] == date(2024, 1, 16) and len(after) == 6


def test_the_last_day_a_goal_can_have_is_five_years_ahead():
    on_the_horizon = new_goal("Far", GoalType.DAU, 5, date(2029, 1, 10), NOW)
    leap_day = datetime(2024, 2, 29, 12, tzinfo=timezone.utc)

    assert on_the_horizon.deadline == date(2029, 1, 10)
    with pytest.raises(GoalError, match="give a day up to 2029-02-28"):
        new_goal("Leap", GoalType.DAU, 5, date(2029, 3, 1), leap_day)


def test_a_goal_due_on_the_last_representable_day_still_has_a_due_instant():
    goal = new_goal("Far", GoalType.DAU, 5, date(2024, 3, 1), NOW)
    goal.deadline = date.max

    assert goal.due.year == 9999 and goal.due > NOW


def test_milestones_follow_a_new_target():
    reached = ["25", "50", "75", "100"]

    raised = retarget_milestones(reached, 4, 100, 4)
    lowered_again = retarget_milestones(raised + ["25", "50"], 100, 4, 60)
    raised_again = retarget_milestones(lowered_again, 4, 100, 60)

    assert [key for key in raised if "@" not in key] == []  # 4 of 100: nothing still true
    assert new_milestones(60, raised) == [25, 50]
    assert [key for key in lowered_again if "@" not in key] == ["25", "50", "75", "100"]
    assert new_milestones(1500, lowered_again) == []  # all were announced for a target of 4
    assert [key for key in raised_again if "@" not in key] == ["25", "50"]
    assert new_milestones(80, raised_again) == [75]
    assert retarget_milestones(["25", "missed:2024-03-01"], 100, 50, 30) == [
        "missed:2024-03-01",
        "25@100.0",
        "25",
    ]
