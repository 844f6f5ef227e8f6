"""Scheduled reports in a real Red with a fake clock: when they post, once, late, and problems."""

from __future__ import annotations

import asyncio
import importlib
import logging
from datetime import datetime, time, timedelta

import discord
import pytest
import time_machine
from discord.ext.test import backend

from kpi_helpers import HISTORY, kpi_cog, send_with_file, texts, utc
from redharness import slash_payload_problems

pytestmark = pytest.mark.cogs("kpitracker", "reports")

NO_REPORT = "No report is scheduled on this server."
ADMINS_ONLY = (
    "Only server admins (the bot's admin role or the Manage Server permission) can use `{}`."
)
WEDNESDAY = utc(2021, 11, 17, 10)  # when the report is scheduled
MONDAY = utc(2021, 11, 22, 9)  # its first weekly run, Monday 09:00 UTC


def schedule_module():
    """The schedule module as the loaded cog uses it (Red reloads a cog's modules)."""
    return importlib.import_module("reports.schedule")


def reports_cog(red):
    return red.bot.get_cog("Reports")


def posts(replies, channel) -> list:
    """The first message of each report posted in `channel`."""
    return [
        reply
        for reply in replies
        if reply.channel_id == channel.id and "KPI report**" in reply.content
    ]


async def _scheduled(red, traveller, command="frequency:weekly day:monday", channel=None):
    """A `stats` channel with a weekly report scheduled on Wednesday for Monday 09:00."""
    channel = channel or backend.make_text_channel("stats", red.guild)
    traveller.move_to(WEDNESDAY)
    replies = await red.send(
        f"!reports schedule {command} channel:{channel.mention}", author=red.admin
    )
    assert replies[0].content.startswith("Scheduled a ")
    return channel


async def _run_at(red, traveller, moment: datetime) -> list:
    traveller.move_to(moment)
    start = len(red.sent)
    await reports_cog(red).run_due_reports()
    return red.sent[start:]


# -- commands --------------------------------------------------------------------------------


async def test_schedule_view_and_disable_as_prefix(red):
    with time_machine.travel(WEDNESDAY, tick=False):
        assert texts(await red.send("!reports", author=red.member)) == [NO_REPORT]
        assert texts(await red.send("!reports list", author=red.member)) == [NO_REPORT]
        channel = backend.make_text_channel("admin-stats", red.guild)
        replies = await red.send(
            f"!reports schedule frequency:weekly channel:{channel.mention} day:monday",
            author=red.admin,
        )
        assert texts(replies) == [
            f"Scheduled a weekly KPI report every Monday at 09:00 UTC in {channel.mention}. "
            f"Next: 2021-11-22 09:00 UTC (<t:{int(MONDAY.timestamp())}:R>)."
        ]
        view = texts(await red.send("!reports", author=red.member))[0]
        assert view.splitlines() == [
            f"**Weekly report** every Monday at 09:00 UTC in {channel.mention}, "
            "with charts over 90 days.",
            f"Next: 2021-11-22 09:00 UTC (<t:{int(MONDAY.timestamp())}:R>)",
        ]

        await red.send(
            "!reports schedule frequency:monthly day:31 time:18:30 days:30", author=red.admin
        )
        view = texts(await red.send("!reports"))[0]
        assert view.startswith(
            "**Monthly report** on day 31 of every month (or the month's last day, if earlier) "
            f"at 18:30 UTC in {red.channel.mention}, with charts over 30 days."
        )
        assert "Next: 2021-11-30 18:30 UTC" in view  # November has 30 days

        assert texts(await red.send("!reports disable", author=red.admin)) == [
            "Scheduled reports are off; `reports schedule` turns them back on."
        ]
        assert texts(await red.send("!reports")) == [NO_REPORT]
        assert texts(await red.send("!reports disable", author=red.admin)) == [NO_REPORT]


BAD_OPTIONS = [
    ("frequency:hourly", "`hourly` is not a frequency; use `daily`, `weekly` or `monthly`."),
    (
        "frequency:weekly day:funday",
        "`funday` is not a weekday; a weekly report takes a day like `day:monday`.",
    ),
    (
        "frequency:monthly day:32",
        "`32` is not a day of the month; a monthly report takes `day:1` to `day:31` or "
        "`day:last`.",
    ),
    (
        "frequency:daily day:monday",
        "`day:` is for weekly and monthly reports; leave it out for daily ones.",
    ),
    (
        "frequency:weekly time:25:00",
        "`25:00` is not a time of day; write it as HH:MM in UTC, like `time:09:00`.",
    ),
    (
        "frequency:weekly days:3",
        "`3` is not a number of days from 7 to 365; write it like `days:90`.",
    ),
    (
        "frequency:weekly channel:nowhere",
        "`nowhere` is not a channel of this server; mention one, like `#reports`.",
    ),
    (
        "day:monday",
        "The option `frequency:` is required; `!help reports schedule` shows an example.",
    ),
    ("frequency:", "The option `frequency:` needs a value after the colon."),
    (
        "frequency:daily bogus:1",
        "`bogus:` is not an option of `reports schedule`; its options are `frequency:`, "
        "`channel:`, `day:`, `time:`, `days:`.",
    ),
]


async def test_bad_input_gets_one_sentence(red):
    for options, answer in BAD_OPTIONS:
        replies = await red.send(f"!reports schedule {options}", author=red.admin)
        assert texts(replies) == [answer], options
    assert not await reports_cog(red).config.guild(red.guild).schedule()


async def test_members_without_admin_rights_cannot_schedule_or_preview(red):
    for command in ("reports schedule frequency:weekly", "reports preview", "reports disable"):
        name = " ".join(command.split()[:2])
        replies = await red.send(f"!{command}", author=red.member)
        assert texts(replies) == [ADMINS_ONLY.format(name)]
    assert not await reports_cog(red).config.guild(red.guild).schedule()


async def test_a_channel_the_bot_cannot_post_in_is_refused(red):
    channel = backend.make_text_channel("locked", red.guild)
    backend.update_text_channel(
        channel, red.guild.default_role, discord.PermissionOverwrite(attach_files=False)
    )
    replies = await red.send(
        f"!reports schedule frequency:daily channel:{channel.mention}", author=red.admin
    )
    assert texts(replies) == [
        f"I need the Attach Files permission in {channel.mention} to post reports there; "
        "grant it and run the command again."
    ]


async def test_every_command_works_as_slash_with_a_valid_payload(red):
    await red.enable_slash("reports")
    assert slash_payload_problems(red.slash_payload()) == []
    (payload,) = [command for command in red.slash_payload() if command["name"] == "reports"]
    assert {option["name"] for option in payload["options"]} == {
        "list",
        "schedule",
        "preview",
        "disable",
    }

    with time_machine.travel(WEDNESDAY, tick=False):
        channel = backend.make_text_channel("stats", red.guild)
        replies = await red.slash(
            "reports schedule",
            author=red.admin,
            frequency="weekly",
            channel=channel,
            day="fri",
            time="18:30",
        )
        assert texts(replies)[0].startswith(
            f"Scheduled a weekly KPI report every Friday at 18:30 UTC in {channel.mention}. "
            "Next: 2021-11-19 18:30 UTC"
        )
        assert texts(await red.slash("reports list"))[0].startswith(
            "**Weekly report** every Friday"
        )
        assert texts(
            await red.slash("reports schedule", author=red.admin, frequency="yearly")
        ) == ["`yearly` is not a frequency; use `daily`, `weekly` or `monthly`."]
        assert texts(await red.slash("reports disable", author=red.member)) == [
            ADMINS_ONLY.format("reports disable")
        ]
        preview = await red.slash("reports preview", author=red.admin)
        assert preview and all(reply.ephemeral for reply in preview)
        assert preview[0].content.startswith("📊 **Weekly KPI report** for Harness Guild")
        assert texts(await red.slash("reports disable", author=red.admin)) == [
            "Scheduled reports are off; `reports schedule` turns them back on."
        ]


# -- scheduling ------------------------------------------------------------------------------


async def test_weekly_reports_post_on_the_right_weekday_and_time(red):
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        channel = await _scheduled(red, traveller)
        posted_at = []
        moment = WEDNESDAY
        while moment < utc(2021, 12, 1):
            sent = await _run_at(red, traveller, moment)
            posted_at += [moment] * len(posts(sent, channel))
            moment += timedelta(minutes=30)

    assert posted_at == [MONDAY, MONDAY + timedelta(days=7)]
    assert all(when.weekday() == 0 and when.time() == time(9) for when in posted_at)


async def test_once_per_period_across_reloads_and_reconnects(red):
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        channel = await _scheduled(red, traveller)

        first = posts(await _run_at(red, traveller, MONDAY), channel)
        assert [reply.content.splitlines()[0] for reply in first] == [
            "📊 **Weekly KPI report** for Harness Guild · values at 2021-11-22 09:00 UTC"
        ]
        assert posts(await _run_at(red, traveller, MONDAY + timedelta(minutes=1)), channel) == []

        start = len(red.sent)
        await red.reload("reports")  # the new cog's loop runs at once
        await red.reload("kpitracker")
        await reports_cog(red).run_due_reports()
        cog = reports_cog(red)
        cog.report_loop.restart()  # as after a reconnect
        await asyncio.gather(cog.run_due_reports(), cog.run_due_reports())
        assert posts(red.sent[start:], channel) == []

        # Two runs at once at the next due time still post once.
        traveller.move_to(MONDAY + timedelta(days=7))
        start = len(red.sent)
        await asyncio.gather(cog.run_due_reports(), cog.run_due_reports())
        assert len(posts(red.sent[start:], channel)) == 1


async def test_a_report_missed_while_down_is_posted_late_within_a_day(red, caplog):
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        channel = await _scheduled(red, traveller)

        traveller.move_to(utc(2021, 11, 22, 8))
        await red.unload("reports")  # down from 08:00 to 15:00 on Monday
        traveller.move_to(utc(2021, 11, 22, 15))
        start = len(red.sent)
        await red.load("reports")
        await reports_cog(red).run_due_reports()
        late = posts(red.sent[start:], channel)
        assert [reply.content for reply in late] == [
            "📊 **Weekly KPI report** for Harness Guild · values at 2021-11-22 09:00 UTC\n"
            "⏰ Posted late: this report was due at 2021-11-22 09:00 UTC, while the bot was "
            "offline."
        ]
        assert posts(await _run_at(red, traveller, utc(2021, 11, 22, 16)), channel) == []

        traveller.move_to(utc(2021, 11, 29, 8))
        await red.unload("reports")  # down for 26 hours over the next Monday's run
        traveller.move_to(utc(2021, 11, 30, 10))
        start = len(red.sent)
        with caplog.at_level(logging.WARNING, logger="red.kpicogs.reports"):
            await red.load("reports")
            await reports_cog(red).run_due_reports()
        assert posts(red.sent[start:], channel) == []
        assert (
            f"Skipped 1 scheduled reports of guild {red.guild.id} due from "
            "2021-11-29T09:00:00+00:00" in caplog.text
        )

        on_time = posts(await _run_at(red, traveller, utc(2021, 12, 6, 9)), channel)
        assert len(on_time) == 1 and "Posted late" not in on_time[0].content


async def test_preview_is_exactly_the_scheduled_post(red):
    with time_machine.travel(utc(2021, 11, 15, 0, 0, 5), tick=False) as traveller:
        tracker = await kpi_cog(red)
        await send_with_file(red, "!kpi import", HISTORY)
        await red.send("!kpi set metric:wau target:70 alert_threshold:80", author=red.admin)
        await red.send("!kpi set metric:churn target:40 alert_threshold:120", author=red.admin)
        await tracker.write_snapshots()  # snapshots from 14 November on
        channel = await _scheduled(red, traveller)
        traveller.move_to(MONDAY)
        await tracker.write_snapshots()

        replies = await red.send("!reports preview", author=red.admin)
        start = len(red.sent)
        await reports_cog(red).run_due_reports()
        posted = red.sent[start:]

    # As a prefix command the preview comes privately, with a note in the channel.
    *preview, note = replies
    assert (note.channel_id, note.content) == (
        red.channel.id,
        "I sent you the preview in a direct message.",
    )
    direct = red.admin.dm_channel
    assert direct is not None
    assert [reply.channel_id for reply in preview] == [direct.id] * len(preview)
    assert [reply.channel_id for reply in posted] == [channel.id] * len(posted)
    assert len(posted) == len(preview) >= 1
    for shown, sent in zip(preview, posted):
        assert shown.content == sent.content
        assert [e.to_dict() for e in shown.embeds] == [e.to_dict() for e in sent.embeds]
        assert [(f.filename, f.data) for f in shown.files] == [
            (f.filename, f.data) for f in sent.files
        ]
    names = [f.filename for reply in posted for f in reply.files]
    assert names == [
        "kpi-dashboard.png",
        "kpi-trend-churn_rate.png",
        "kpi-trend-weekly_active_users.png",
    ]
    assert posted[0].embeds[0].title == "Weekly KPI report · Harness Guild"
    # Where alerts are tracked, the weekly report lists those of the week before it.
    alerts = [e.title for reply in posted for e in reply.embeds if e.title.startswith("Alerts")]
    assert alerts in ([], ["Alerts since 2021-11-15 09:00 UTC"])


async def test_problems_are_logged_shown_and_leave_other_servers_alone(red, caplog):
    other = backend.make_guild("Other Guild")
    other_channel = backend.make_text_channel("reports", other)
    backend.make_member(red.bot.user, other)
    owner_there = backend.make_member(red.owner._user, other)
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        gone = await _scheduled(red, traveller)
        await red.send(
            "!reports schedule frequency:weekly", author=owner_there, channel=other_channel
        )
        backend.delete_channel(gone)

        with caplog.at_level(logging.WARNING, logger="red.kpicogs.reports"):
            sent = await _run_at(red, traveller, MONDAY)
        assert len(posts(sent, other_channel)) == 1
        assert (
            f"Could not post the scheduled report of guild {red.guild.id}: The report channel "
            "no longer exists" in caplog.text
        )
        view = texts(await red.send("!reports"))[0]
        assert "in a channel that no longer exists" in view
        assert view.splitlines()[-1] == (
            "⚠️ Delivery problem at 2021-11-22 09:00 UTC: The report channel no longer "
            "exists; choose another with `reports schedule`."
        )

        locked = backend.make_text_channel("locked", red.guild)
        await red.send(
            f"!reports schedule frequency:daily channel:{locked.mention}", author=red.admin
        )
        backend.update_text_channel(
            locked, red.guild.default_role, discord.PermissionOverwrite(embed_links=False)
        )
        await _run_at(red, traveller, utc(2021, 11, 23, 9))
        assert texts(await red.send("!reports"))[0].splitlines()[-1] == (
            "⚠️ Delivery problem at 2021-11-23 09:00 UTC: I lack the Embed Links permission "
            f"in {locked.mention}."
        )

        backend.update_text_channel(locked, red.guild.default_role, None)
        await red.unload("kpitracker")
        await _run_at(red, traveller, utc(2021, 11, 24, 9))
        assert texts(await red.send("!reports"))[0].endswith(
            "Reports need the KPI Tracker cog; the bot owner can load it with `load kpitracker`."
        )
        assert texts(await red.send("!reports preview", author=red.admin)) == [
            "Reports need the KPI Tracker cog; the bot owner can load it with `load kpitracker`."
        ]

        await red.load("kpitracker")
        posted = posts(await _run_at(red, traveller, utc(2021, 11, 25, 9)), locked)
        assert len(posted) == 1
        view = texts(await red.send("!reports"))[0]
        assert "Delivery problem" not in view and "Last posted: 2021-11-25 09:00 UTC" in view


# -- the scheduling maths --------------------------------------------------------------------


def test_monthly_days_past_a_short_month_fall_on_its_last_day():
    schedule = schedule_module()
    monthly = schedule.Schedule("monthly", 1, since=utc(2021, 1, 1), day=31)
    assert [due.date().isoformat() for due in monthly.rule()[:4]] == [
        "2021-01-31",
        "2021-02-28",
        "2021-03-31",
        "2021-04-30",
    ]
    last = schedule.Schedule("monthly", 1, since=utc(2024, 1, 1), day=-1, at=time(23, 59))
    assert [due.isoformat() for due in last.rule()[:2]] == [
        "2024-01-31T23:59:00+00:00",
        "2024-02-29T23:59:00+00:00",
    ]
    daily = schedule.Schedule("daily", 1, since=utc(2021, 3, 1, 9, 0, 30))
    assert daily.next_due(utc(2021, 3, 1, 9, 0, 30)) == utc(2021, 3, 2, 9)  # not 30 s ago


def test_the_late_rule_posts_only_the_latest_missed_report():
    schedule = schedule_module()
    daily = schedule.Schedule("daily", 1, since=utc(2021, 3, 1))
    handled = schedule.period_key(utc(2021, 3, 1, 9))

    decision = schedule.decide(daily, utc(2021, 3, 4, 20), handled)  # down for three days
    assert decision.due == utc(2021, 3, 4, 9) and decision.late
    assert decision.skipped == (utc(2021, 3, 2, 9), utc(2021, 3, 3, 9))
    assert schedule.decide(daily, utc(2021, 3, 4, 20), decision.key) == schedule.Decision()

    on_time = schedule.decide(daily, utc(2021, 3, 2, 9, 14), handled)
    assert on_time.due == utc(2021, 3, 2, 9) and not on_time.late
    assert schedule.decide(daily, utc(2021, 3, 2, 9, 16), handled).late

    weekly = schedule.Schedule("weekly", 1, since=utc(2021, 3, 2), weekday=0)
    too_late = schedule.decide(weekly, utc(2021, 3, 9, 9, 1), None)  # a day and a minute
    assert too_late.due is None and too_late.skipped == (utc(2021, 3, 8, 9),)
    assert too_late.key == "2021-03-08T09:00:00+00:00"


async def test_a_prefix_preview_falls_back_to_the_channel_when_direct_messages_are_closed(red):
    with time_machine.travel(MONDAY, tick=False):
        await kpi_cog(red)
        await red.send("!kpi set metric:wau target:70", author=red.admin)
        channel = await red.admin.create_dm()
        send_message = red.bot.http.send_message

        async def closed(channel_id, *, params):
            if int(channel_id) == channel.id:
                raise discord.Forbidden(backend.FakeRequest(403, "Cannot send to this user"), "")
            return await send_message(channel_id, params=params)

        red.bot.http.send_message = closed
        note, *preview = await red.send("!reports preview", author=red.admin)

    assert note.content == (
        "Your direct messages are closed, so the preview is posted here instead."
    )
    assert preview and all(reply.channel_id == red.channel.id for reply in preview)
    assert preview[0].content.startswith("📊 **Weekly KPI report**")
