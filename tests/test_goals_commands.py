"""The goals commands, prefix and slash: admin checks, clear refusals, and KPI Tracker missing."""

from __future__ import annotations

from datetime import date

import pytest

from goals.models import GoalType, new_goal
from goals_helpers import chart_points, goals_cog
from kpi_helpers import texts, utc
from redharness import slash_payload_problems

pytestmark = pytest.mark.cogs("kpitracker", "goals")

NOW = utc(2024, 1, 10, 15)
ADMIN_ONLY = (
    "goals set name:A type:dau target:5 deadline:2024-02-01",
    "goals edit name:Launch target:9",
    "goals remove name:Launch",
    "goals record name:Launch value:3",
    "goals settings celebrate:true",
    "goals celebrate name:Launch",
)


async def _with_a_goal(red):
    cog = await goals_cog(red, now=NOW)
    replies = await red.send(
        '!goals set name:"Launch" type:custom target:100 deadline:2024-01-31', author=red.admin
    )
    assert texts(replies) == [
        "Goal `Launch` set: 100 (recorded by hand) from 2024-01-10 to the end of 2024-01-31 "
        "UTC. Record its progress with `goals record`."
    ]
    return cog


async def test_commands_that_change_goals_are_for_admins(red):
    cog = await _with_a_goal(red)
    before = await cog.config.guild(red.guild).all()

    for command in ADMIN_ONLY:
        replies = await red.send(f"!{command}", author=red.member)

        name = command.split(" name:")[0].split(" celebrate:")[0]
        assert texts(replies) == [
            "Only server admins (the bot's admin role or the Manage Server permission) can use "
            f"`{name}`."
        ], command
    assert await cog.config.guild(red.guild).all() == before


async def test_members_can_list_and_follow_progress(red):
    await _with_a_goal(red)

    listed = await red.send("!goals")
    [progress] = await red.send("!goals progress")

    assert texts(listed) == [
        "**Community goals**\n- **Launch** · custom (recorded by hand) · target 100 · "
        "2024-01-10 → 2024-01-31 · active, 21.4 days left"
    ]
    [embed] = progress.embeds
    assert embed.title == "⚪ Launch"
    assert embed.image.url == "attachment://goal-1-launch.png"
    assert [file.filename for file in progress.files] == ["goal-1-launch.png"]


BAD_INPUT = [
    (
        "goals set name:Q1 type:users target:10 deadline:2024-01-09",
        "The deadline 2024-01-09 is in the past; give today (2024-01-10) or a later day.",
    ),
    (
        "goals set name:Q1 type:users target:10 deadline:2024-03-01 start:2024-01-01",
        "The start date 2024-01-01 is in the past; give today (2024-01-10) or a later day.",
    ),
    (
        "goals set name:Q1 type:users target:10 deadline:2024-02-01 start:2024-02-02",
        "The deadline 2024-02-01 is before the start 2024-02-02; give a later deadline.",
    ),
    (
        "goals set name:Q1 type:users target:0 deadline:2024-02-01",
        "The target must be greater than 0, not 0; give the value to reach, like "
        "`target:1000`.",
    ),
    (
        "goals set name:Q1 type:users target:lots deadline:2024-02-01",
        "`lots` is not a number; give `target` as a number, like `target:1000`.",
    ),
    (
        "goals set name:launch type:users target:10 deadline:2024-02-01",
        "A goal named `launch` already exists; pick another name or change it with "
        "`goals edit`.",
    ),
    (
        "goals set name:Q1 type:members target:10 deadline:2024-02-01",
        "`members` is not a goal type (did you mean `users`?); use users, dau, "
        "ltz_distributed, streak_retention or "
        "custom.",
    ),
    (
        "goals set name:Q1 type:users target:10 deadline:31/03/2024",
        "`31/03/2024` is not a date; write it as YYYY-MM-DD, like `2024-03-31`.",
    ),
    (
        "goals set name:Q1 type:custom metric:dailyusers target:10 deadline:2024-02-01",
        "`dailyusers` is not a metric. Did you mean `daily_active_users`?",
    ),
    (
        "goals set name:Q1 type:users target:10",
        "The option `deadline:` is required; `!help goals set` shows an example.",
    ),
    ("goals progress name:Nope", "There is no goal named `Nope`; the goals are: `Launch`."),
    (
        "goals edit name:Launch",
        "Give at least one of `target:`, `deadline:` or `rename:` to change.",
    ),
    (
        "goals record name:Launch",
        "Give either `value:` (the value now) or `add:` (an amount to add).",
    ),
    ("goals settings celebrate:maybe", "`maybe` is not true or false; use `true` or `false`."),
    (
        "goals set name:A type:dau target:5 deadline:9999-12-31",
        "The deadline 9999-12-31 is more than 5 years away; give a day up to 2029-01-10.",
    ),
    (
        "goals set name:A type:dau target:5 deadline:2040-01-01 start:2035-01-01",
        "The start date 2035-01-01 is more than 5 years away; give a day up to 2029-01-10.",
    ),
    (
        "goals edit name:Launch deadline:9999-12-31",
        "The deadline 9999-12-31 is more than 5 years away; give a day up to 2029-01-10.",
    ),
    (
        "goals celebrate name:Launch",
        "`Launch` is not achieved yet: it has no data yet, with 21.4 days left, so it cannot be "
        "celebrated.",
    ),
]


async def test_bad_input_gets_one_clear_sentence(red):
    await _with_a_goal(red)

    for command, answer in BAD_INPUT:
        assert texts(await red.send(f"!{command}", author=red.admin)) == [answer], command


async def test_every_command_works_as_a_slash_command(red):
    await _with_a_goal(red)
    await red.enable_slash("goals")

    created = await red.slash(
        "goals set",
        author=red.admin,
        name="Daily",
        goal_type="dau",
        target="12",
        deadline="2024-02-29",
        start="2024-01-11",
    )
    recorded = await red.slash("goals record", author=red.admin, name="Launch", add="30")
    edited = await red.slash(
        "goals edit", author=red.admin, name="Launch", rename="Lift-off", target="60"
    )
    listed = await red.slash("goals list")
    progress = await red.slash("goals progress", name="lift-off")
    refused = await red.slash("goals celebrate", author=red.admin, name="Lift-off")
    # The harness's own `channel` argument takes the name of this option: set it by prefix.
    await red.send(f"!goals settings channel:{red.channel.id}", author=red.admin)
    settings = await red.slash("goals settings", author=red.admin, celebrate="true")
    removed = await red.slash("goals remove", author=red.admin, name="Daily")
    not_admin = await red.slash("goals remove", author=red.member, name="Lift-off")
    bad = await red.slash(
        "goals set",
        author=red.admin,
        name="X",
        goal_type="dau",
        target="-3",
        deadline="2024-02-29",
    )

    assert texts(created) == [
        "Goal `Daily` set: 12 users (`daily_active_users`) from 2024-01-11 to the end of "
        "2024-02-29 UTC."
    ]
    assert texts(recorded) == ["`Launch` is now at 30 of 100 (30.0%)."]
    assert texts(edited) == ["Goal `Lift-off` now aims for 60 by the end of 2024-01-31 UTC."]
    assert "**Lift-off**" in listed[0].content and "**Daily**" in listed[0].content
    assert "not started" in listed[0].content
    chart = chart_points(progress[-1].files[0].data)
    assert chart["title"] == "Lift-off" and chart["target"] == 60
    assert chart["now"] == [NOW.isoformat(), 30.0]
    assert texts(refused) == [
        "`Lift-off` is not achieved yet: it is at 50.0% (30 of 60) with 21.4 days left, so it "
        "cannot be celebrated."
    ]
    assert texts(settings) == [
        f"Goal announcements now go to {red.channel.mention}; automatic celebrations are on."
    ]
    assert texts(removed) == ["Removed goal `Daily` and its 0 daily values."]
    assert texts(not_admin) == [
        "Only server admins (the bot's admin role or the Manage Server permission) can use "
        "`goals remove`."
    ]
    assert texts(bad) == [
        "The target must be greater than 0, not -3; give the value to reach, like `target:1000`."
    ]
    assert all(reply.route in ("response", "followup", "edit") for reply in created + progress)


async def test_the_slash_payload_is_valid_for_discord(red):
    await red.enable_slash("goals")

    payload = red.slash_payload()

    [goals] = payload
    assert slash_payload_problems(payload) == []
    assert {option["name"] for option in goals["options"]} == {
        "list",
        "set",
        "progress",
        "celebrate",
        "edit",
        "remove",
        "record",
        "settings",
    }
    set_options = next(option for option in goals["options"] if option["name"] == "set")
    assert [option["name"] for option in set_options["options"]] == [
        "name",
        "type",
        "target",
        "deadline",
        "start",
        "metric",
    ]


async def test_every_command_says_how_to_load_kpitracker_when_it_is_missing(red):
    await _with_a_goal(red)
    await red.enable_slash("goals")
    await red.unload("kpitracker")
    sentence = (
        "Goals read their numbers from the KPITracker cog, which is not loaded; a bot owner can "
        "load it with `!load kpitracker`."
    )

    for command in ("goals", "goals progress", "goals celebrate", *ADMIN_ONLY):
        assert texts(await red.send(f"!{command}", author=red.admin)) == [sentence], command
    assert texts(await red.slash("goals list")) == [sentence]
    assert texts(await red.slash("goals progress", name="Launch")) == [sentence]
    cog = red.bot.get_cog("Goals")
    await cog.check_goals()  # the periodic check waits quietly for kpitracker
    assert await cog.goal_report_lines(red.guild) == []


async def test_help_lists_the_commands_while_kpitracker_is_not_loaded(red):
    await goals_cog(red)
    await red.unload("kpitracker")

    [help_page] = await red.send("!help goals", author=red.admin)

    listed = help_page.embeds[0].fields[-1].value if help_page.embeds else help_page.content
    for name in ("celebrate", "edit", "progress", "record", "remove", "set", "settings"):
        assert f"**{name}**" in listed, name


async def test_a_goal_stored_with_impossible_dates_breaks_no_other_goal(red, caplog):
    cog = await _with_a_goal(red)
    await red.send("!goals record name:Launch value:30", author=red.admin)
    far = new_goal("Far", GoalType.CUSTOM, 5, date(2024, 2, 1), NOW).to_config()
    far["deadline"] = "9999-12-31"  # stored before such deadlines were refused
    far["recorded"], far["values"] = 2.0, {"2024-01-10": 2.0}
    broken = dict(far, name="Broken", start="not a date")
    async with cog.config.guild(red.guild).goals() as stored:
        stored["far"], stored["broken"] = far, broken

    listed = await red.send("!goals")
    [progress] = await red.send("!goals progress")
    recorded = await red.send("!goals record name:Launch value:40", author=red.admin)
    await cog.check_goals()
    report = await cog.goal_report_lines(red.guild)

    assert "**Launch**" in listed[0].content and "**Far**" in listed[0].content
    assert "9999-12-31 · active" in listed[0].content
    assert [embed.title for embed in progress.embeds] == ["⚪ Launch", "⚪ Far"]
    assert len(progress.files) == 2
    assert texts(recorded) == ["`Launch` is now at 40 of 100 (40.0%)."]
    assert [line.split(":")[0] for line in report] == ["Launch", "Far"]
    assert f"Skipped an unreadable stored goal of guild {red.guild.id}" in caplog.text
    assert "OverflowError" not in caplog.text


async def test_help_is_the_manual(red):
    cog = await goals_cog(red)

    for command in cog.walk_commands():
        summary = command.help.splitlines()[0]
        assert 0 < len(summary) < 100, command.qualified_name
        assert "**Example**" in command.help and "[p]goals" in command.help, command.name
    assert "numpy.polyfit" in cog.goals_progress.help


async def test_a_deletion_request_forgets_who_set_goals(red):
    cog = await _with_a_goal(red)
    await red.send("!goals set name:Other type:dau target:5 deadline:2024-02-01", author=red.owner)

    await red.bot.handle_data_deletion_request(requester="user", user_id=red.admin.id)

    stored = await cog.config.guild(red.guild).goals()
    assert stored["launch"]["created_by"] is None
    assert stored["other"]["created_by"] == red.owner.id
    [progress] = await red.send("!goals progress name:Launch")
    assert "set by" not in progress.embeds[0].fields[2].value


async def test_the_check_runs_by_itself_every_quarter_hour(red):
    cog = await goals_cog(red)

    assert cog.goal_loop.is_running()
    assert cog.goal_loop.minutes == 15
