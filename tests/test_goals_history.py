"""Two goals on the real 2021 history, replayed day by day: one reached, one missed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from goals_helpers import announcement_channel, chart_points, goals_cog, posted_in
from kpi_helpers import HISTORY, history_rows, send_with_file, utc
from kpitracker.ledger import to_ms
from reference_metrics import reference_metrics

pytestmark = pytest.mark.cogs("kpitracker", "goals")

SET_AT = utc(2021, 9, 1, 0, 0, 5)
FIRST_CHECK = utc(2021, 9, 2, 0, 5)
LAST_CHECK = utc(2021, 11, 2, 0, 5)


def ltz_since(rows, start, end) -> float:
    return sum(
        row.amount
        for row in rows
        if row.kind.label in ("claim", "reward")
        and row.amount > 0
        and to_ms(start) <= row.ts_ms < to_ms(end)
    )


def first_check_reaching(checks, value_at, threshold):
    return next(moment for moment in checks if value_at(moment) >= threshold)


async def test_a_reached_and_a_missed_goal_on_the_real_history(red):
    rows = history_rows(red.guild.id)
    with time_machine.travel(SET_AT, tick=False) as clock:
        cog = await goals_cog(red)
        await send_with_file(red, "!kpi import", HISTORY)
        channel = await announcement_channel(red)
        await red.send("!goals settings celebrate:true", author=red.admin)
        for command in (
            '!goals set name:"Autumn giving" type:ltz_distributed target:800 deadline:2021-10-31',
            '!goals set name:"Back to 100" type:users target:100 deadline:2021-10-31',
        ):
            await red.send(command, author=red.admin)

        checks = []
        moment = FIRST_CHECK
        while moment <= LAST_CHECK:
            clock.move_to(moment)
            await cog.check_goals()
            checks.append(moment)
            moment += timedelta(days=1)
        [progress] = await red.send("!goals progress")
        lines = await cog.goal_report_lines(red.guild)

    def giving_at(moment):
        return ltz_since(rows, SET_AT, moment)

    claims = [(row.ts_ms, row.user_id) for row in rows if row.kind.label == "claim"]

    def users_at(moment):  # claimers in the week before: weekly_active_users
        end = to_ms(moment)
        return len({user for ts, user in claims if end - 7 * 86_400_000 <= ts < end})

    posted = posted_in(red, channel)
    crossings = [first_check_reaching(checks, giving_at, mark * 8) for mark in (25, 50, 75, 100)]
    assert len(set(crossings)) == 4  # each milestone on its own day, in this history
    expected_giving = [
        f"🎯 **Autumn giving** is {mark}% of the way: {giving_at(when):,.0f} of 800 LTZ."
        for mark, when in zip((25, 50, 75), crossings)
    ] + [f"🏁 **Autumn giving** reached its target: {giving_at(crossings[3]):,.0f} of 800 LTZ."]
    assert [line for line in posted if "Autumn giving" in line] == expected_giving
    final_users = users_at(utc(2021, 11, 1))
    assert (
        final_users == reference_metrics(rows, to_ms(utc(2021, 11, 1)), 7)["weekly_active_users"]
    )
    assert final_users < 100 and max(users_at(moment) for moment in checks[:-2]) < 100
    assert posted[-1] == (
        f"⏰ **Back to 100** missed its deadline of 2021-10-31: it ended at {final_users:.0f} of "
        f"100 users ({final_users:.1f}%)."
    )
    assert sum("missed" in line for line in posted) == 1
    celebration = [reply for reply in red.sent if reply.channel_id == channel.id and reply.embeds]
    assert [reply.embeds[0].title for reply in celebration] == ["🎉 Goal reached: Autumn giving!"]

    assert [file.filename for file in progress.files] == [
        "goal-1-autumn-giving.png",
        "goal-2-back-to-100.png",
    ]
    giving_chart = chart_points(progress.files[0].data)
    day_ends = [utc(2021, 9, 2) + timedelta(days=day) for day in range(61)]
    assert [moment for moment, _ in giving_chart["values"]] == [
        end.isoformat() for end in day_ends
    ]
    assert [value for _, value in giving_chart["values"]] == [giving_at(end) for end in day_ends]
    assert [embed.title for embed in progress.embeds] == ["🏆 Autumn giving", "⛔ Back to 100"]
    assert lines == [
        f"Autumn giving: {giving_at(utc(2021, 11, 1)) / 8:.1f}% of 800 LTZ · achieved",
        f"Back to 100: {final_users:.1f}% of 100 users · missed",
    ]
