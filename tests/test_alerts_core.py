"""The alert core without Discord: direction, states, anti-flap, escalation, routing, batching
windows, compound conditions and the words of messages."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from kpitracker.alert_messages import (
    MESSAGE_LIMIT,
    Firing,
    digest_message,
    format_duration,
    hourly_message,
    pages,
)
from kpitracker.alerts import (
    AlertEvent,
    AlertState,
    Behaviour,
    Reading,
    Route,
    State,
    alert_line,
    closed_span,
    episodes,
    is_breached,
    lookback,
    read_kpi,
    read_truth,
    recovery_line,
    route,
    step,
)
from kpitracker.alert_rules import KpiAlertSettings, kpi_spec
from kpitracker.catalogue import METRICS, UnknownMetricError, resolve_metric
from kpitracker.conditions import (
    Condition,
    ConditionError,
    evaluate,
    parse_conditions,
    parse_syntax,
)

T0 = datetime(2021, 6, 1, 9, 0, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


def higher(metric: str) -> bool:
    return METRICS[metric].higher_is_better


# -- which way is bad --------------------------------------------------------------------------


def test_the_pages_own_example_streak_retention_target_70_threshold_80_alerts_below_56():
    assert alert_line(70, 80) == pytest.approx(56)
    assert is_breached(55.9, alert_line(70, 80), higher("streak_retention")) is True
    assert is_breached(56.0, alert_line(70, 80), higher("streak_retention")) is False
    assert is_breached(None, alert_line(70, 80), True) is None


def test_churn_target_20_threshold_120_alerts_above_24():
    line = alert_line(20, 120)
    assert line == pytest.approx(24)
    assert is_breached(24.1, line, higher("churn_rate")) is True
    assert is_breached(24.0, line, higher("churn_rate")) is False
    assert is_breached(10.0, line, higher("churn_rate")) is False


@pytest.mark.parametrize(
    "metric",
    ["churn_rate", "top_10_concentration", "time_to_first_reward", "streak_break_frequency"],
)
def test_the_four_lower_is_better_metrics_alert_above_the_line(metric):
    assert not higher(metric)
    assert is_breached(51, alert_line(40, 125), False) is True
    assert is_breached(49, alert_line(40, 125), False) is False


def test_recovery_line_sits_margin_points_of_target_on_the_good_side():
    assert recovery_line(70, 80, 5, True) == pytest.approx(59.5)  # 85 % of 70
    assert recovery_line(20, 120, 5, False) == pytest.approx(23)  # 115 % of 20
    assert recovery_line(20, 3, 5, False) == 0  # never below zero
    assert read_kpi(55, 70, 80, 5, True) is Reading.BREACHED
    assert read_kpi(58, 70, 80, 5, True) is Reading.UNSETTLED
    assert read_kpi(59.5, 70, 80, 5, True) is Reading.RECOVERED
    assert read_kpi(25, 20, 120, 5, False) is Reading.BREACHED
    assert read_kpi(23.5, 20, 120, 5, False) is Reading.UNSETTLED
    assert read_kpi(22, 20, 120, 5, False) is Reading.RECOVERED
    assert read_kpi(None, 20, 120, 5, False) is Reading.NO_DATA
    assert read_kpi(56, 70, 80, 0, True) is Reading.RECOVERED  # no margin: the line itself


# -- the state machine -------------------------------------------------------------------------

RULE = Behaviour("warning", timedelta(minutes=30), None)


def run(readings, behaviour=RULE, every=timedelta(minutes=5), start=T0, state=None):
    """Step through readings, one evaluation each `every`; return the last state and changes."""
    changes = []
    for number, reading in enumerate(readings):
        state, new = step(state, reading, start + number * every, behaviour)
        changes += new
    return state, changes


B, U, R, N = Reading.BREACHED, Reading.UNSETTLED, Reading.RECOVERED, Reading.NO_DATA


def test_a_breach_fires_at_once_and_resolves_once_after_settling_with_its_length():
    readings = [R] * 3 + [B] * 36 + [R] * 12  # three hours past the line
    state, changes = run(readings)
    assert [change.kind for change in changes] == ["fired", "resolved"]
    fired, resolved = changes
    assert fired.at == T0 + 15 * MINUTE
    assert resolved.at == T0 + (15 + 180 + 30) * MINUTE  # recovered, then 30 min settled
    assert resolved.lasted == timedelta(hours=3)
    assert state.state is State.OK


def test_evaluating_again_at_the_same_moment_changes_nothing():
    state, changes = step(None, B, T0, RULE)
    again, more = step(state, B, T0, RULE)
    assert [change.kind for change in changes] == ["fired"] and more == []
    assert again.state is State.FIRING and again.fired_at == T0


def test_no_data_never_fires_and_never_resolves():
    state, changes = run([N] * 10)
    assert state.state is State.NO_DATA and changes == []
    state, changes = run([B] + [N] * 50 + [B])
    assert [change.kind for change in changes] == ["fired"]
    assert state.state is State.FIRING
    # a gap of no data restarts the settling: recovered, no data, recovered is not settled
    state, changes = run([B, R, R, R, N, R, R, R, R, R])
    assert [change.kind for change in changes] == ["fired"]


def test_unsettled_values_keep_the_alert_firing():
    state, changes = run([B] + [U] * 100)
    assert [change.kind for change in changes] == ["fired"] and state.state is State.FIRING


def test_a_value_swinging_around_the_line_posts_far_fewer_messages_than_it_crosses():
    # past the line, then back just past the recovery line, alternating every evaluation
    readings = list(itertools.islice(itertools.cycle([B, R]), 288))  # one day, every 5 min
    crossings = sum(1 for a, b in zip(readings, readings[1:]) if a != b)
    state, changes = run(readings)
    assert crossings == 287
    assert [change.kind for change in changes] == ["fired"]
    # the same swing with no settling time and no cooldown would post on every crossing
    _, naive = run(readings, Behaviour("warning", timedelta(0), None, timedelta(0)))
    assert len(naive) == 288


def test_after_resolving_an_alert_waits_out_its_cooldown_before_firing_again():
    # with no recovery margin: past the line for 20 minutes, recovered for 40, every hour
    hour = [B] * 4 + [R] * 8
    readings = hour * 24  # one day, every 5 minutes
    crossings = sum(1 for a, b in zip(readings, readings[1:]) if a != b)
    _, without = run(readings, Behaviour(cooldown=timedelta(0)))
    assert crossings == 47 and len(without) == 48
    state, changes = run(readings)
    # fired at 0:00, resolved at 0:50 (30 min settled), held until 1:50, fired again at 2:00
    assert [(change.kind, change.at - T0) for change in changes[:3]] == [
        ("fired", timedelta(0)),
        ("resolved", timedelta(minutes=50)),
        ("fired", timedelta(hours=2)),
    ]
    assert len(changes) == 24 == len(without) // 2
    # a breach still there when the cooldown ends fires at once
    _, changes = run([B] * 4 + [R] * 7 + [B] * 30)
    assert [(change.kind, change.at - T0) for change in changes] == [
        ("fired", timedelta(0)),
        ("resolved", timedelta(minutes=50)),
        ("fired", timedelta(minutes=110)),
    ]


def test_escalation_raises_one_level_per_period_and_once_each():
    rule = Behaviour("info", timedelta(minutes=30), 2)
    state, changes = run([B] * 6, rule, every=timedelta(days=1))
    escalations = [
        (change.at - T0, change.severity, change.escalation)
        for change in changes
        if change.kind == "escalated"
    ]
    assert escalations == [(timedelta(days=2), "warning", 1), (timedelta(days=4), "critical", 2)]
    assert state.escalations == 2
    # warning escalates once, to critical; critical escalates once, staying critical
    for base, expected in (("warning", ["critical"]), ("critical", ["critical"])):
        _, changes = run([B] * 10, Behaviour(base, timedelta(0), 1), every=timedelta(days=1))
        assert [c.severity for c in changes if c.kind == "escalated"] == expected
    # after downtime longer than two periods the escalation catches up in one message
    fired, _ = step(None, B, T0, rule)
    later, changes = step(fired, B, T0 + timedelta(days=5), rule)
    assert [(c.kind, c.severity, c.escalation) for c in changes] == [("escalated", "critical", 2)]
    resolved, changes = step(later, R, T0 + timedelta(days=6), Behaviour("info", timedelta(0), 2))
    assert changes[0].kind == "resolved" and changes[0].severity == "critical"


def test_after_a_gap_the_earlier_value_can_settle_a_recovery_at_once():
    fired, _ = step(None, B, T0, RULE)
    later = T0 + timedelta(hours=6)
    assert lookback(fired, R, later, RULE) == later - timedelta(minutes=30)
    state, changes = step(fired, R, later, RULE, earlier=R)
    assert [change.kind for change in changes] == ["resolved"]
    assert changes[0].lasted == timedelta(hours=5, minutes=30)
    # not recovered earlier: settling starts now
    state, changes = step(fired, R, later, RULE, earlier=B)
    assert changes == [] and state.recovering_since == later
    # evaluations close together never look back
    assert lookback(fired, R, T0 + 5 * MINUTE, RULE) is None
    assert lookback(fired, B, later, RULE) is None


def test_a_clock_that_went_back_does_not_break_the_state():
    state = AlertState(State.FIRING, T0, T0, recovering_since=T0 + timedelta(hours=1))
    new, changes = step(state, R, T0 + 10 * MINUTE, RULE)
    assert changes == [] and new.recovering_since == T0 + 10 * MINUTE


# -- routing -----------------------------------------------------------------------------------

ROUTES = {
    "critical": Route(channel_id=10, role_id=100, mention=True),
    "warning": Route(channel_id=None, role_id=200, mention=False),
    "all": Route(channel_id=30, role_id=300, mention=True),
}


@pytest.mark.parametrize(
    "severity, own, routes, channel, ping",
    [
        ("critical", None, ROUTES, 10, 100),  # its severity's route
        ("critical", 99, ROUTES, 99, 100),  # its own channel first, still the route's role
        ("warning", None, ROUTES, 30, None),  # the warning route has no channel; role not pinged
        ("info", None, ROUTES, 30, 300),  # no info route: the all route
        ("info", None, {"critical": ROUTES["critical"]}, None, None),  # nowhere to go
        ("info", 5, {}, 5, None),
    ],
)
def test_routing_by_severity_with_fallbacks(severity, own, routes, channel, ping):
    destination = route(severity, own, routes)
    assert (destination.channel_id, destination.ping_role_id) == (channel, ping)


# -- batching windows --------------------------------------------------------------------------


def test_hourly_and_daily_windows_close_once_and_merge_after_downtime():
    now = T0 + 10 * MINUTE
    assert closed_span(None, now, "hourly") == (None, T0)  # first run only starts counting
    assert closed_span(T0, now, "hourly") == (None, T0)
    assert closed_span(T0, T0 + timedelta(hours=1, minutes=2), "hourly") == (
        (T0, T0 + timedelta(hours=1)),
        T0 + timedelta(hours=1),
    )
    # five hours down: one span, so one message
    assert closed_span(T0, T0 + timedelta(hours=5, minutes=1), "hourly")[0] == (
        T0,
        T0 + timedelta(hours=5),
    )
    midnight = datetime(2021, 6, 2, tzinfo=timezone.utc)
    assert closed_span(midnight - timedelta(days=1), midnight + MINUTE, "daily_digest")[0] == (
        midnight - timedelta(days=1),
        midnight,
    )
    assert closed_span(T0 + timedelta(days=3), now, "hourly") == (None, T0)  # clock went back


def event(key, kind, minutes, severity="warning", lasted=None):
    return AlertEvent(key, kind, T0 + minutes * MINUTE, severity, f"{key} text", T0, lasted)


def test_an_alert_that_fires_and_resolves_inside_one_window_is_listed_once():
    events = [
        event("kpi:a", "fired", 5),
        event("kpi:b", "fired", 10),
        event("kpi:a", "resolved", 40, lasted=timedelta(minutes=35)),
    ]
    items = episodes(events, firing_now={"kpi:b"})
    assert [(item.alert_key, item.fired, item.resolved, item.still_firing) for item in items] == [
        ("kpi:a", True, True, False),
        ("kpi:b", True, False, True),
    ]
    (text,) = hourly_message(T0, T0 + timedelta(hours=1), items, [77])
    assert text.splitlines() == [
        "<@&77> 🕐 **Alert changes, 2021-06-01, 09:00–10:00 UTC**",
        "- ✅ fired 09:05, resolved 09:40 after 35 min · kpi:a text",
        "- 🟡 fired 09:10 (still firing) · kpi:b text",
    ]


def test_a_digest_lists_fired_resolved_and_still_firing():
    events = [
        event("kpi:a", "fired", 5),
        event("kpi:a", "resolved", 600, lasted=timedelta(hours=9)),
        event("kpi:b", "fired", 60, "critical"),
        event("kpi:c", "escalated", 70, "critical"),
    ]
    items = episodes(events, firing_now={"kpi:b", "kpi:c", "kpi:d"})
    still = [Firing("kpi:d", "info", T0 - timedelta(days=2), "kpi:d text")]
    day = T0.replace(hour=0)
    (text,) = digest_message(day, day + timedelta(days=1), items, still)
    assert text.splitlines() == [
        "📋 **Alert digest, 2021-06-01**",
        "**Fired**",
        "- 🔴 fired 2021-06-01 10:00 UTC (still firing) · kpi:b text",
        "**Resolved**",
        "- ✅ fired 2021-06-01 09:05 UTC, resolved 2021-06-01 19:00 UTC after 9 h · kpi:a text",
        "**Still firing**",
        "- 🔴 escalated to critical 2021-06-01 10:10 UTC (still firing) · kpi:c text",
        "- 🔵 firing since 2021-05-30 09:00 UTC · kpi:d text",
    ]


def test_long_batches_are_split_into_messages_under_the_limit():
    lines = [f"- line {number} " + "x" * 90 for number in range(100)]
    result = pages("header", lines)
    assert len(result) > 1 and all(len(page) <= MESSAGE_LIMIT for page in result)
    assert "\n".join(result).splitlines() == ["header", *lines]


@pytest.mark.parametrize(
    "span, words",
    [
        (timedelta(seconds=30), "under a minute"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=3, minutes=5), "3 h 5 min"),
        (timedelta(days=2, hours=4, minutes=10), "2 d 4 h"),
    ],
)
def test_durations_read_as_people_write_them(span, words):
    assert format_duration(span) == words


# -- compound conditions -----------------------------------------------------------------------


def resolve(name: str) -> str:
    return resolve_metric(name)


async def test_conditions_take_full_and_short_names_and_every_operator():
    written = "dau<100, streak_retention<=50,churn>20 ,top10>=40,wau=70,events!=0,conversion<12.5%"
    conditions = await parse_conditions(written, resolve)
    assert [(c.metric, c.op, c.value) for c in conditions] == [
        ("daily_active_users", "<", 100),
        ("streak_retention", "<=", 50),
        ("churn_rate", ">", 20),
        ("top_10_concentration", ">=", 40),
        ("weekly_active_users", "=", 70),
        ("triggered_event_rate", "!=", 0),
        ("new_user_conversion", "<", 12.5),
    ]


async def test_names_resolve_through_the_callable_even_an_async_one():
    custom = {"engagement score": "engagement score"}

    async def resolve_custom(name: str) -> str:
        if name.casefold() in custom:
            return custom[name.casefold()]
        return resolve_metric(name)

    conditions = await parse_conditions("Engagement Score > 300,dau<5", resolve_custom)
    assert [c.metric for c in conditions] == ["engagement score", "daily_active_users"]


@pytest.mark.parametrize(
    "written, message",
    [
        ("dau<<100", '"dau<<100": expected a number after "<" (character 5)'),
        (
            "dau<100,streak<<50",
            '"streak<<50": expected a number after "<" (condition 2, character 16)',
        ),
        ("dau", '"dau": expected an operator (<, <=, >, >=, = or !=) after "dau" (character 4)'),
        ("<100", '"<100": expected a metric name before "<" (character 1)'),
        ("dau<", '"dau<": expected a number after "<" (character 5)'),
        ("dau!5", '"dau!5": expected "=" after "!" (character 5)'),
        ("dau<100x", '"dau<100x": unexpected "x" after "100" (character 8)'),
        ("dau<1 00", '"dau<1 00": unexpected "0" after "1" (character 7)'),
        (
            "dau<100,,wau>1",
            "condition 2 is empty; remove the extra comma or write one like `dau<100`",
        ),
        ("", "no conditions were given; write them like `dau<100,streak<50`"),
        (",".join(["dau<1"] * 11), "11 conditions is too many; a compound alert takes at most 10"),
    ],
)
def test_malformed_conditions_are_refused_with_position_and_reason(written, message):
    with pytest.raises(ConditionError) as caught:
        parse_syntax(written)
    assert str(caught.value) == message


async def test_an_unknown_metric_is_refused_with_its_position_and_a_suggestion():
    with pytest.raises(ConditionError) as caught:
        await parse_conditions("dau<100, daily_activ<5", resolve)
    assert str(caught.value) == (
        '"daily_activ<5" (condition 2, character 10): `daily_activ` is not a metric. '
        "Did you mean `daily_active_users`?"
    )
    with pytest.raises(UnknownMetricError):
        resolve("daily_activ")


async def test_a_long_condition_is_quoted_clipped_in_its_error():
    with pytest.raises(ConditionError) as caught:
        parse_syntax("dau<100," + "x" * 3000)
    message = str(caught.value)
    assert message.startswith('"' + "x" * 59 + '…": expected an operator') and len(message) < 250
    with pytest.raises(ConditionError) as caught:
        await parse_conditions("dau<100," + "y" * 3000 + "<5", resolve)
    message = str(caught.value)
    assert message.startswith('"' + "y" * 59 + '…" (condition 2, character 9): ')
    assert len(message) < 400


def test_a_kpi_alert_not_yet_recovered_says_where_it_recovers():
    spec = kpi_spec(
        "streak_retention", 70, 80, "day", METRICS["streak_retention"], KpiAlertSettings()
    )
    unsettled = spec.observe({"day": {"streak_retention": 58}})
    assert unsettled.reading is Reading.UNSETTLED
    assert unsettled.text == "`streak_retention` is 58.0% (alert line 56.0%, recovers at 59.5%)"
    recovered = spec.observe({"day": {"streak_retention": 60}})
    assert recovered.text == ("`streak_retention` is 60.0% (alert line 56.0%, recovered at 59.5%)")


AND, OR = "AND", "OR"
TRUE, FALSE, UNKNOWN = 1.0, 10.0, None  # values of `x<5`: 1 holds, 10 does not, None no data


@pytest.mark.parametrize(
    "a, b, logic, expected",
    [
        (TRUE, TRUE, AND, True),
        (TRUE, FALSE, AND, False),
        (FALSE, TRUE, AND, False),
        (FALSE, FALSE, AND, False),
        (TRUE, UNKNOWN, AND, None),
        (UNKNOWN, TRUE, AND, None),
        (FALSE, UNKNOWN, AND, False),
        (UNKNOWN, UNKNOWN, AND, None),
        (TRUE, TRUE, OR, True),
        (TRUE, FALSE, OR, True),
        (FALSE, TRUE, OR, True),
        (FALSE, FALSE, OR, False),
        (TRUE, UNKNOWN, OR, True),
        (UNKNOWN, FALSE, OR, None),
        (FALSE, UNKNOWN, OR, None),
        (UNKNOWN, UNKNOWN, OR, None),
    ],
)
def test_compound_truth_tables_with_metrics_that_have_no_data(a, b, logic, expected):
    conditions = [Condition("daily_active_users", "<", 5), Condition("streak_retention", "<", 5)]
    values = {"daily_active_users": a, "streak_retention": b}
    assert evaluate(conditions, logic, values) is expected
    # unknown is no data: it neither fires nor resolves
    assert read_truth(expected) is {True: B, False: R, None: N}[expected]


def test_equality_tolerates_float_noise():
    assert Condition("x", "=", 0.3).holds(0.1 + 0.2) is True
    assert Condition("x", "!=", 0.3).holds(0.1 + 0.2) is False
    assert Condition("x", "<", 5).holds(None) is None
