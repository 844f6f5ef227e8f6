"""Milestones and missed deadlines are announced once each: never again after a reload, a dip
and recovery, or a second check; reached goals are celebrated."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from goals_helpers import announcement_channel, goals_cog, posted_in, reload_and_wait
from kpi_helpers import utc

pytestmark = pytest.mark.cogs("kpitracker", "goals")

T0 = utc(2024, 5, 1, 9)


async def _claims(red, users: range, when):
    kpi = red.bot.get_cog("KPITracker")
    for user in users:
        await kpi.record_claim(red.guild, user, 1, when=when)


async def test_each_milestone_once_through_reloads_dips_and_recoveries(red):
    with time_machine.travel(T0, tick=False) as clock:
        cog = await goals_cog(red)
        channel = await announcement_channel(red)
        await red.send(
            "!goals set name:Daily type:dau target:8 deadline:2024-05-20", author=red.admin
        )

        await _claims(red, range(1, 3), utc(2024, 5, 1, 10))
        clock.move_to(utc(2024, 5, 1, 12))
        await cog.check_goals()
        await cog.check_goals()  # a second check finds nothing new
        await _claims(red, range(3, 5), utc(2024, 5, 1, 12, 30))
        clock.move_to(utc(2024, 5, 1, 13))
        await cog.check_goals()

        cog = await reload_and_wait(red, "kpitracker", "goals")  # a restart
        await cog.check_goals()

        clock.move_to(utc(2024, 5, 2, 13))  # yesterday's claims leave the 24 hours: 0 %
        await cog.check_goals()
        await _claims(red, range(5, 9), utc(2024, 5, 2, 14))  # back to 50 %
        clock.move_to(utc(2024, 5, 2, 15))
        await cog.check_goals()
        await _claims(red, range(9, 11), utc(2024, 5, 2, 15, 10))  # 75 %
        clock.move_to(utc(2024, 5, 2, 16))
        await cog.check_goals()
        await _claims(red, range(11, 13), utc(2024, 5, 2, 16, 10))  # 100 %
        clock.move_to(utc(2024, 5, 2, 17))
        await cog.check_goals()

        cog = await reload_and_wait(red, "goals")
        clock.move_to(utc(2024, 5, 21, 1))  # past the deadline: reached, so not missed
        await cog.check_goals()

    assert posted_in(red, channel) == [
        "🎯 **Daily** is 25% of the way: 2 of 8 users.",
        "🎯 **Daily** is 50% of the way: 4 of 8 users.",
        "🎯 **Daily** is 75% of the way: 6 of 8 users.",
        "🏁 **Daily** reached its target: 8 of 8 users.",
    ]
    stored = await cog.config.guild(red.guild).goals()
    assert stored["daily"]["announced"] == ["25", "50", "75", "100"]


async def test_a_missed_deadline_once_and_a_new_deadline_can_be_missed_again(red):
    with time_machine.travel(T0, tick=False) as clock:
        cog = await goals_cog(red)
        channel = await announcement_channel(red)
        await red.send(
            "!goals set name:Launch type:users target:50 deadline:2024-05-03", author=red.admin
        )
        await _claims(red, range(1, 4), utc(2024, 5, 2, 8))

        clock.move_to(utc(2024, 5, 4, 0, 10))
        await cog.check_goals()
        cog = await reload_and_wait(red, "goals")
        await cog.check_goals()
        replies = await red.send("!goals edit name:launch deadline:2024-05-10", author=red.admin)
        clock.move_to(utc(2024, 5, 9, 12))
        await cog.check_goals()
        clock.move_to(utc(2024, 5, 11, 0, 10))
        await cog.check_goals()
        await cog.check_goals()

    assert (
        replies[0].content == "Goal `Launch` now aims for 50 users by the end of 2024-05-10 UTC."
    )
    assert posted_in(red, channel) == [
        "⏰ **Launch** missed its deadline of 2024-05-03: it ended at 3 of 50 users (6.0%).",
        "⏰ **Launch** missed its deadline of 2024-05-10: it ended at 0 of 50 users (0.0%).",
    ]
    stored = (await cog.config.guild(red.guild).goals())["launch"]
    # One value per day from the start to the deadline, the days missed while down filled in.
    assert list(stored["values"]) == [f"2024-05-{day:02d}" for day in range(1, 11)]
    assert stored["values"]["2024-05-03"] == 3  # the users active in the week to 05-04 00:00


async def test_reaching_the_target_posts_the_celebration_when_turned_on(red):
    with time_machine.travel(T0, tick=False):
        await goals_cog(red)
        channel = await announcement_channel(red)
        settings = await red.send("!goals settings celebrate:true", author=red.admin)
        await red.send(
            "!goals set name:Badges type:custom target:40 deadline:2024-05-10", author=red.admin
        )

        recorded = await red.send("!goals record name:Badges value:40", author=red.admin)
        on_demand = await red.send("!goals celebrate", author=red.admin)

    assert settings[0].content == (
        f"Goal announcements now go to {channel.mention}; automatic celebrations are on."
    )
    assert recorded[0].content == "`Badges` is now at 40 of 40 (100.0%)."
    automatic = [reply for reply in recorded if reply.channel_id == channel.id]
    assert [reply.content for reply in automatic] == [
        "🏁 **Badges** reached its target: 40 of 40 (passing 25%, 50%, 75% on the way)."
    ]
    [embed] = automatic[0].embeds
    assert embed.title == "🎉 Goal reached: Badges!"
    assert "9 days before the deadline" in embed.description
    assert [reply.embeds[0].title for reply in on_demand if reply.channel_id == channel.id] == [
        "🎉 Goal reached: Badges!"
    ]
    assert on_demand[-1].content == f"Posted the celebration of `Badges` in {channel.mention}."


async def test_celebrate_refuses_a_goal_not_reached_and_says_how_far_it_is(red):
    with time_machine.travel(T0, tick=False) as clock:
        cog = await goals_cog(red)
        await red.send(
            "!goals set name:Badges type:custom target:40 deadline:2024-05-10", author=red.admin
        )
        await red.send("!goals record name:Badges value:10", author=red.admin)
        not_yet = await red.send("!goals celebrate name:badges", author=red.admin)
        clock.move_to(utc(2024, 5, 12))
        await cog.check_goals()
        too_late = await red.send("!goals celebrate name:Badges", author=red.admin)

    assert [reply.content for reply in not_yet] == [
        "`Badges` is not achieved yet: it is at 25.0% (10 of 40) with 9.6 days left, so it "
        "cannot be celebrated."
    ]
    assert [reply.content for reply in too_late] == [
        "`Badges` ended at 25.0% (10 of 40) without reaching its target, so it cannot be "
        "celebrated."
    ]


async def test_without_a_channel_announcements_are_kept_back_and_never_replayed(red):
    with time_machine.travel(T0, tick=False) as clock:
        cog = await goals_cog(red)
        red.guild._system_channel_id = None
        await red.send(
            "!goals set name:Badges type:custom target:40 deadline:2024-05-10", author=red.admin
        )
        before = len(red.sent)
        await red.send("!goals record name:Badges value:30", author=red.admin)
        channel = await announcement_channel(red)
        clock.move_to(T0 + timedelta(hours=1))
        await cog.check_goals()
        await red.send("!goals record name:Badges value:40", author=red.admin)

    posted = [reply.content for reply in red.sent[before:] if reply.channel_id == channel.id]
    assert posted == ["🏁 **Badges** reached its target: 40 of 40."]


async def test_a_raised_target_is_reached_and_announced_against_the_new_target(red):
    with time_machine.travel(T0, tick=False):
        await goals_cog(red)
        channel = await announcement_channel(red)
        await red.send(
            "!goals set name:Badges type:custom target:4 deadline:2024-05-10", author=red.admin
        )
        await red.send("!goals record name:Badges value:4", author=red.admin)
        await red.send("!goals edit name:Badges target:100", author=red.admin)
        await red.send("!goals record name:Badges value:60", author=red.admin)
        listed = await red.send("!goals")
        refused = await red.send("!goals celebrate name:Badges", author=red.admin)
        await red.send("!goals edit name:Badges target:4", author=red.admin)
        await red.send("!goals record name:Badges value:61", author=red.admin)
        lowered = await red.send("!goals")

    assert posted_in(red, channel) == [
        "🏁 **Badges** reached its target: 4 of 4 (passing 25%, 50%, 75% on the way).",
        "🎯 **Badges** is 50% of the way: 60 of 100 (passing 25% on the way).",
    ]
    assert "reached" not in listed[0].content and "active" in listed[0].content
    assert [reply.content for reply in refused] == [
        "`Badges` is not achieved yet: it is at 60.0% (60 of 100) with 9.6 days left, so it "
        "cannot be celebrated."
    ]
    assert "reached 🏆" in lowered[0].content  # 4 was reached before: not announced again
