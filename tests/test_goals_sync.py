"""Synced goals read the same numbers as KPI Tracker, for every goal type."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from goals_helpers import Clock, chart_points, goals_cog
from kpi_helpers import utc
from kpitracker.ledger import make_row, to_ms
from reference_metrics import reference_metrics

pytestmark = pytest.mark.cogs("kpitracker", "goals")

FIRST_DAY = utc(2024, 3, 1)
USERS = range(1001, 1013)
SET_AT = utc(2024, 3, 5, 10, 30)
NOW = utc(2024, 3, 12, 15, 30)


def activity(server_id: int) -> list:
    """Twelve users over two weeks: claims (some paying LTZ), rewards and events."""
    rows = []
    for day in range(14):
        midnight = FIRST_DAY + timedelta(days=day)
        for user in USERS:
            if (user + day) % 3:
                when = midnight + timedelta(hours=7, minutes=user % 60)
                rows.append(make_row(server_id, user, when, "claim", user % 5 or None))
            if (user * (day + 1)) % 7 == 0:
                when = midnight + timedelta(hours=15, minutes=day)
                rows.append(make_row(server_id, user, when, "reward", 2.5, "badge"))
            if (user + 2 * day) % 4 == 0:
                when = midnight + timedelta(hours=20)
                rows.append(make_row(server_id, user, when, "event", None, "post"))
    return rows


def ltz_between(rows, start: datetime, end: datetime) -> float:
    return sum(
        row.amount
        for row in rows
        if row.kind.label in ("claim", "reward")
        and row.amount > 0
        and to_ms(start) <= row.ts_ms < to_ms(end)
    )


async def _goals_on_activity(red):
    cog = await goals_cog(red, now=SET_AT)
    kpi = red.bot.get_cog("KPITracker")
    rows = activity(red.guild.id)
    await kpi.store.import_rows(rows)
    replies = await red.send(
        '!kpi custom-metric create name:"Twice DAU" formula:"dau*2"', author=red.admin
    )
    assert "Twice DAU" in replies[0].content, replies
    for command in (
        "!goals set name:Reach type:users target:20 deadline:2024-03-31",
        "!goals set name:Daily type:dau target:10 deadline:2024-03-31",
        "!goals set name:Habit type:streak_retention target:80 deadline:2024-03-31",
        "!goals set name:Giving type:ltz_distributed target:400 deadline:2024-03-31",
        "!goals set name:Efficiency type:custom metric:efficiency target:5 deadline:2024-03-31",
        '!goals set name:Doubled type:custom metric:"Twice DAU" target:30 deadline:2024-03-31',
    ):
        replies = await red.send(command, author=red.admin)
        assert replies[0].content.startswith("Goal `"), replies
    return cog, rows


async def _chart(red, name: str) -> dict:
    replies = await red.send(f"!goals progress name:{name}")
    [reply] = replies
    [file] = reply.files
    return chart_points(file.data)


SYNCED = {
    "Reach": "weekly_active_users",
    "Daily": "daily_active_users",
    "Habit": "streak_retention",
    "Efficiency": "reward_efficiency",
}


async def test_a_synced_goal_is_its_metric_now_and_at_each_day_end(red):
    cog, rows = await _goals_on_activity(red)
    Clock(red, NOW).install()

    await cog.check_goals()

    day_ends = [utc(2024, 3, day) for day in range(6, 13)]  # 03-05 to 03-11 have ended
    for goal, metric in SYNCED.items():
        plotted = await _chart(red, goal)
        expected_now = reference_metrics(rows, to_ms(NOW), 7)[metric]
        assert plotted["now"] == [NOW.isoformat(), pytest.approx(expected_now)], goal
        assert [moment for moment, _ in plotted["values"]] == [end.isoformat() for end in day_ends]
        for (moment, value), end in zip(plotted["values"], day_ends):
            expected = reference_metrics(rows, to_ms(end), 7)[metric]
            assert value == pytest.approx(expected), (goal, moment)


async def test_a_custom_metric_goal_follows_the_servers_formula(red):
    cog, rows = await _goals_on_activity(red)
    Clock(red, NOW).install()

    await cog.check_goals()
    plotted = await _chart(red, "Doubled")

    dau = reference_metrics(rows, to_ms(NOW), 7)["daily_active_users"]
    assert plotted["now"][1] == pytest.approx(2 * dau)
    assert plotted["values"][0][1] == pytest.approx(
        2 * reference_metrics(rows, to_ms(utc(2024, 3, 6)), 7)["daily_active_users"]
    )
    assert await cog.goals_using_metric(red.guild, "twice_dau") == ["Doubled"]
    refused = await red.send('!kpi custom-metric remove name:"Twice DAU"', author=red.admin)
    assert "goal `Doubled`" in refused[0].content


async def test_ltz_distributed_is_the_running_total_since_the_goals_start(red):
    cog, rows = await _goals_on_activity(red)
    Clock(red, NOW).install()

    await cog.check_goals()
    plotted = await _chart(red, "Giving")
    [embed] = (await red.send("!goals progress name:giving"))[0].embeds

    expected = ltz_between(rows, SET_AT, NOW)
    assert expected > 0
    assert plotted["now"][1] == pytest.approx(expected)
    first_day_end = utc(2024, 3, 6)
    assert plotted["values"][0] == [
        first_day_end.isoformat(),
        ltz_between(rows, SET_AT, first_day_end),
    ]
    assert plotted["pace"][0] == [SET_AT.isoformat(), 0.0]  # the pace line starts at nothing
    assert f"{expected / 400 * 100:.1f}%" in embed.description


async def test_the_store_sums_ltz_over_whole_and_partial_days(red):
    await goals_cog(red)
    kpi = red.bot.get_cog("KPITracker")
    rows = activity(red.guild.id)
    await kpi.store.import_rows(rows)

    for start, end in (
        (utc(2024, 3, 1), utc(2024, 3, 15)),  # whole days only
        (utc(2024, 3, 2, 7, 30), utc(2024, 3, 9, 15, 3)),  # partial at both ends
        (utc(2024, 3, 4, 6), utc(2024, 3, 4, 16)),  # inside one day
        (utc(2024, 3, 4, 16), utc(2024, 3, 4, 6)),  # an empty span
    ):
        assert await kpi.ltz_distributed(red.guild, start, end) == pytest.approx(
            ltz_between(rows, start, end)
        ), (start, end)


async def test_a_hand_recorded_goal_shows_what_was_recorded(red):
    cog = await goals_cog(red, now=SET_AT)
    await red.send(
        "!goals set name:Badges type:custom target:40 deadline:2024-03-31", author=red.admin
    )
    await red.send("!goals record name:Badges value:10", author=red.admin)
    Clock(red, SET_AT + timedelta(days=1)).install()
    await red.send("!goals record name:Badges add:6", author=red.admin)
    Clock(red, SET_AT + timedelta(days=2)).install()
    await cog.check_goals()

    plotted = await _chart(red, "Badges")

    assert plotted["values"] == [
        ["2024-03-06T00:00:00+00:00", 10.0],
        ["2024-03-07T00:00:00+00:00", 16.0],
    ]
    assert plotted["now"] == [(SET_AT + timedelta(days=2)).isoformat(), 16.0]
