"""Alerts in a real Red with a fake clock: one message per change, anti-flap, batching,
escalation, routing, compound alerts, downtime, reloads and failed deliveries."""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

import discord
import pytest
import time_machine
from discord.ext.test import backend

from alert_helpers import (
    Clock,
    alert_cog,
    channel,
    claims,
    evaluate_every,
    posted,
    record_payloads,
)
from kpi_helpers import history_rows, texts, utc
from kpitracker import schema
from kpitracker.sqlite_store import SqliteStore

pytestmark = pytest.mark.cogs("kpitracker")

DAY1, DAY2, DAY3, DAY4, DAY5 = (utc(2021, 6, day) for day in range(1, 6))
H = timedelta(hours=1)
MIN = timedelta(minutes=1)

FIRED = (
    "🟡 **Warning alert** · `daily_active_users` is 0, below its alert line of 8 "
    "(80% of the 10 target, week)"
)


def resolved(fired: str, lasted: str) -> str:
    return (
        "✅ **Resolved** · `daily_active_users` is 10 (alert line 8, recovered at 8.50). "
        f"It fired at {fired} and lasted {lasted}."
    )


async def _three_hour_gap(red, clock):
    """Ten claimers at 09:00 on day one and again at 12:00 on day two: on day two the daily
    active users are 0 from just after 09:00 until just after 12:00."""
    cog = await alert_cog(red, clock)
    await claims(cog, red.guild.id, range(1, 11), DAY1 + 9 * H)
    await claims(cog, red.guild.id, range(1, 11), DAY2 + 12 * H)
    alerts = channel(red, "alerts")
    await red.send("!kpi set metric:dau target:10 alert_threshold:80", author=red.admin)
    await red.send(f"!kpi role-alerts set severity:all channel:<#{alerts.id}>", author=red.admin)
    return cog, alerts


async def test_a_three_hour_breach_posts_one_fire_and_one_resolve(red):
    clock = Clock(DAY2)
    cog, alerts = await _three_hour_gap(red, clock)
    start = len(red.sent)

    count = await evaluate_every(cog, clock, DAY2 + 8 * H, DAY2 + 14 * H)

    assert count == 73
    assert posted(red, alerts.id, start) == [FIRED, resolved("2021-06-02 09:05 UTC", "3 h")]
    await cog.evaluate_alerts()  # again in the same minute
    assert len(posted(red, alerts.id, start)) == 2


async def test_a_reload_in_the_middle_of_a_breach_repeats_nothing(red):
    clock = Clock(DAY2)
    cog, alerts = await _three_hour_gap(red, clock)
    start = len(red.sent)
    await evaluate_every(cog, clock, DAY2 + 8 * H, DAY2 + 10 * H + 30 * MIN)

    before = cog
    with time_machine.travel(DAY2 + 10 * H + 31 * MIN, tick=False):
        await red.reload("kpitracker")
        cog = await alert_cog(red)  # its start-up evaluation ran at 10:31
    assert not before.alert_loop.is_running() and cog is not before
    cog.clock = clock.at(DAY2 + 10 * H + 31 * MIN)
    await cog.evaluate_alerts()
    await evaluate_every(cog, clock, DAY2 + 10 * H + 35 * MIN, DAY2 + 14 * H)

    assert posted(red, alerts.id, start) == [FIRED, resolved("2021-06-02 09:05 UTC", "3 h")]


async def test_changes_during_downtime_fire_once_and_resolve_once_on_start(red):
    clock = Clock(DAY2)
    cog, alerts = await _three_hour_gap(red, clock)
    start = len(red.sent)
    await evaluate_every(cog, clock, DAY2 + 8 * H, DAY2 + 8 * H + 30 * MIN)
    await red.unload("kpitracker")  # down from 08:30; the breach begins at 09:05

    with time_machine.travel(DAY2 + 10 * H, tick=False):
        await red.load("kpitracker")
        cog = await alert_cog(red)
    assert posted(red, alerts.id, start) == [FIRED]
    cog.clock = clock
    await evaluate_every(cog, clock, DAY2 + 10 * H, DAY2 + 10 * H + 30 * MIN)
    await red.unload("kpitracker")  # down again; the breach ends at 12:00

    with time_machine.travel(DAY2 + 15 * H, tick=False):
        await red.load("kpitracker")
        cog = await alert_cog(red)
    # it was seen firing from 10:00 and already recovered half an hour before the start
    assert posted(red, alerts.id, start) == [FIRED, resolved("2021-06-02 10:00 UTC", "4 h 30 min")]


async def test_a_value_swinging_around_the_threshold_for_a_day_posts_once(red):
    clock = Clock(DAY2)
    cog = await alert_cog(red, clock)
    # Two claimers at each odd hour of day one (they drop out at that hour of day two) and
    # two new ones at each even hour of day two: 26 and 24 daily active users, by turns.
    for hour in range(1, 24, 2):
        await claims(cog, red.guild.id, [1000 + hour, 2000 + hour], DAY1 + hour * H)
    for hour in range(0, 24, 2):
        await claims(cog, red.guild.id, [3000 + hour, 4000 + hour], DAY2 + hour * H)
    alerts = channel(red, "alerts")
    await red.send("!kpi set metric:dau target:50 alert_threshold:50", author=red.admin)
    await red.send(f"!kpi alert-config metric:dau channel:<#{alerts.id}>", author=red.admin)
    start = len(red.sent)

    values = []
    clock.at(DAY2 + 15 * MIN)
    while clock.now < DAY3:
        values.append(
            (await cog.metric_values(red.guild, clock.now, "week"))["daily_active_users"]
        )
        await cog.evaluate_alerts()
        clock.advance(minutes=15)

    below = [value < 25 for value in values]
    crossings = sum(1 for before, after in zip(below, below[1:]) if before != after)
    assert set(values) == {24, 26} and crossings == 23
    assert posted(red, alerts.id, start) == [
        "🟡 **Warning alert** · `daily_active_users` is 24, below its alert line of 25 "
        "(50% of the 50 target, week)"
    ]


async def test_the_pages_streak_retention_and_churn_examples_on_real_values(red):
    clock = Clock(DAY1)
    cog = await alert_cog(red, clock)
    noon = 12 * H
    await claims(cog, red.guild.id, range(1, 11), DAY1 + noon)
    await claims(cog, red.guild.id, [*range(1, 6), *range(11, 16)], DAY2 + noon)
    await claims(cog, red.guild.id, [*range(1, 6), *range(11, 14)], DAY3 + noon)
    alerts = channel(red, "alerts")
    replies = await red.send(
        "!kpi set metric:streak_retention target:70 alert_threshold:80 period:day",
        author=red.admin,
    )
    assert "Alerts when it is below 56.0% (80% of target)." in replies[0].content
    replies = await red.send(
        "!kpi set metric:churn target:20 alert_threshold:120 period:day", author=red.admin
    )
    assert "Alerts when it is above 24.0% (120% of target)." in replies[0].content
    await red.send(
        f"!kpi role-alerts set severity:warning channel:<#{alerts.id}>", author=red.admin
    )
    start = len(red.sent)

    # Day two: 5 of day one's 10 claimers claimed again, so retention 50 % and churn 50 %.
    # Day three: 8 of day two's 10, so retention 80 % and churn 20 %.
    for moment in (DAY3 + 10 * MIN, DAY3 + 11 * MIN, DAY4 + 10 * MIN, DAY4 + 45 * MIN):
        clock.at(moment)
        await cog.evaluate_alerts()

    assert posted(red, alerts.id, start) == [
        "🟡 **Warning alert** · `streak_retention` is 50.0%, below its alert line of 56.0% "
        "(80% of the 70.0% target, day)",
        "🟡 **Warning alert** · `churn_rate` is 50.0%, above its alert line of 24.0% "
        "(120% of the 20.0% target, day)",
        # Churn's trailing day half an hour before 00:10 already held day three's claims:
        # settled at once. Retention's last complete day was still day two: settled at 00:45.
        "✅ **Resolved** · `churn_rate` is 20.0% (alert line 24.0%, recovered at 23.0%). "
        "It fired at 2021-06-03 00:10 UTC and lasted 23 h 30 min.",
        "✅ **Resolved** · `streak_retention` is 80.0% (alert line 56.0%, recovered at 59.5%). "
        "It fired at 2021-06-03 00:10 UTC and lasted 1 d.",
    ]


async def test_hourly_batches_and_daily_digests(red):
    clock = Clock(DAY2)
    cog = await alert_cog(red, clock)
    # Daily active users are 0 on day two from 09:05 to 09:30, and on day three from 09:35.
    await claims(cog, red.guild.id, range(1, 11), DAY1 + 9 * H)
    await claims(cog, red.guild.id, range(1, 11), DAY2 + 9 * H + 30 * MIN)
    hourly, digest = channel(red, "hourly"), channel(red, "digest")
    await red.send("!kpi set metric:dau target:10 alert_threshold:80", author=red.admin)
    await red.send(
        f"!kpi alert-config metric:dau frequency:hourly resolve_after:0 channel:<#{hourly.id}>",
        author=red.admin,
    )
    replies = await red.send(
        '!kpi compound-alert create name:"Quiet day" conditions:dau<8 frequency:daily_digest '
        f"resolve_after:0 channel:<#{digest.id}>",
        author=red.admin,
    )
    assert texts(replies)[0].startswith("Created the compound alert `Quiet day`")
    start = len(red.sent)

    await evaluate_every(cog, clock, DAY2 + 8 * H, DAY2 + 11 * H)
    await evaluate_every(cog, clock, DAY3 + 5 * MIN, DAY3 + 5 * MIN)
    await evaluate_every(cog, clock, DAY3 + 8 * H, DAY3 + 10 * H + 5 * MIN)
    for day in (DAY4, DAY5):
        await evaluate_every(cog, clock, day + 5 * MIN, day + 6 * MIN, step=MIN)

    dau = "`daily_active_users` is 0, below its alert line of 8 (80% of the 10 target, week)"
    assert posted(red, hourly.id, start) == [
        # fired and resolved inside the hour: one line
        "🕐 **Alert changes, 2021-06-02, 09:00–10:00 UTC**\n"
        f"- ✅ fired 09:05, resolved 09:35 after 30 min · {dau}",
        "🕐 **Alert changes, 2021-06-03, 09:00–10:00 UTC**\n"
        f"- 🟡 fired 09:35 (still firing) · {dau}",
    ]
    quiet = "**Quiet day** (AND, conditions hold): `daily_active_users<8` 0 ✓"
    assert posted(red, digest.id, start) == [
        "📋 **Alert digest, 2021-06-02**\n**Resolved**\n"
        f"- ✅ fired 2021-06-02 09:05 UTC, resolved 2021-06-02 09:35 UTC after 30 min · {quiet}",
        "📋 **Alert digest, 2021-06-03**\n**Fired**\n"
        f"- 🟡 fired 2021-06-03 09:35 UTC (still firing) · {quiet}",
        "📋 **Alert digest, 2021-06-04**\n**Still firing**\n"
        f"- 🟡 firing since 2021-06-03 09:35 UTC · {quiet}",
    ]


async def _retention_changing_at_midnight(red, clock):
    cog = await alert_cog(red, clock)
    # Retention (last complete day against the one before): 100 % on 06-01, 50 % on 06-02,
    # 100 % on 06-03 and 0 % on 06-04, so it changes exactly at midnight, before the
    # evaluation at 00:03.
    may30, may31 = utc(2021, 5, 30), utc(2021, 5, 31)
    for day, users in ((may30, range(1, 11)), (may31, range(1, 11)), (DAY1, range(1, 6))):
        await claims(cog, red.guild.id, users, day + MIN)
    await claims(cog, red.guild.id, range(1, 6), DAY2 + MIN)
    digest = channel(red, "digest")
    await red.send(
        "!kpi set metric:streak_retention target:70 alert_threshold:80 period:day",
        author=red.admin,
    )
    await red.send(
        "!kpi alert-config metric:streak_retention frequency:daily_digest resolve_after:0 "
        f"channel:<#{digest.id}>",
        author=red.admin,
    )
    start = len(red.sent)

    # every 5 minutes from hh:03 around each midnight, every hour at hh:03 in between
    for day in (DAY1, DAY2, DAY3):
        await evaluate_every(cog, clock, day + 3 * MIN, day + H, step=5 * MIN)
        await evaluate_every(cog, clock, day + 63 * MIN, day + 22 * H, step=H)
        await evaluate_every(cog, clock, day + 23 * H + 3 * MIN, day + 24 * H, step=5 * MIN)
    await evaluate_every(cog, clock, DAY4 + 3 * MIN, DAY4 + 3 * MIN)
    return cog, digest, start


LOW_RETENTION = (
    "`streak_retention` is 50.0%, below its alert line of 56.0% (80% of the 70.0% target, day)"
)


async def test_a_change_at_the_first_evaluation_after_midnight_belongs_to_the_new_day(red):
    cog, digest, start = await _retention_changing_at_midnight(red, Clock(DAY1))

    back = "`streak_retention` is 100.0% (alert line 56.0%, recovered at 59.5%)"
    # nothing for 06-01, when it was ok throughout; each change listed once, in its own day
    assert posted(red, digest.id, start) == [
        "📋 **Alert digest, 2021-06-02**\n**Fired**\n"
        f"- 🟡 fired 2021-06-02 00:03 UTC (still firing) · {LOW_RETENTION}",
        "📋 **Alert digest, 2021-06-03**\n**Resolved**\n"
        f"- ✅ resolved 2021-06-03 00:03 UTC after 1 d · {back}",
    ]


async def test_report_lines_for_an_instant_read_the_alerts_as_they_were_then(red):
    cog, _, _ = await _retention_changing_at_midnight(red, Clock(DAY1))

    assert await cog.alert_report_lines(red.guild, DAY2, until=DAY2 + 12 * H) == [
        f"- 🟡 fired 2021-06-02 00:03 UTC (still firing) · {LOW_RETENTION}"
    ]
    assert await cog.alert_report_lines(red.guild, DAY2 + H, until=DAY3 - H) == [
        f"- 🟡 firing since 2021-06-02 00:03 UTC · {LOW_RETENTION}"
    ]
    assert await cog.alert_report_lines(red.guild, DAY3 + H, until=DAY3 + 2 * H) == []
    # without an instant: as of now, after no claims on 06-03 made it fire again
    assert await cog.alert_report_lines(red.guild, DAY2) == [
        "- 🟡 fired 2021-06-02 00:03 UTC, resolved 2021-06-03 00:03 UTC after 1 d, "
        f"fired 2021-06-04 00:03 UTC (still firing) · {LOW_RETENTION}"
    ]


async def test_escalation_after_n_days_mentions_the_role_once(red):
    payloads = record_payloads(red)
    clock = Clock(DAY2)
    cog = await alert_cog(red, clock)
    await claims(cog, red.guild.id, [1], DAY1 - timedelta(days=10))
    alerts = channel(red, "alerts")
    oncall = red.make_role("On call", discord.Permissions.none())
    await red.send("!kpi set metric:dau target:10 alert_threshold:80", author=red.admin)
    await red.send(
        f"!kpi alert-config metric:dau severity:warning channel:<#{alerts.id}> "
        f"escalation_days:2 escalation_role:<@&{oncall.id}>",
        author=red.admin,
    )
    start, first_payload = len(red.sent), len(payloads)

    await evaluate_every(cog, clock, DAY2, DAY2 + timedelta(days=6), step=timedelta(hours=6))

    assert posted(red, alerts.id, start) == [
        FIRED,
        f"<@&{oncall.id}> ⏫ **Escalated to critical** · still firing after 2 d "
        "(since 2021-06-02 00:00 UTC) · `daily_active_users` is 0, below its alert line of 8 "
        "(80% of the 10 target, week)",
    ]
    mentions = [body["allowed_mentions"] for _, body in payloads[first_payload:]]
    assert mentions == [{"parse": [], "roles": []}, {"parse": [], "roles": [oncall.id]}]
    replies = await red.send("!kpi alert-config metric:dau", author=red.admin)
    assert "**firing** since 2021-06-02 00:00 UTC (last 0, escalated 1×)" in replies[0].content


async def test_routing_by_severity_with_fallbacks_pings_only_the_named_roles(red):
    payloads = record_payloads(red)
    clock = Clock(DAY2)
    cog = await alert_cog(red, clock)
    await claims(cog, red.guild.id, [1], DAY1 - timedelta(days=10))
    critical, everything, own = (
        channel(red, "critical"),
        channel(red, "all-alerts"),
        channel(red, "events"),
    )
    admins = red.make_role("Alert admins", discord.Permissions.none())
    mods = red.make_role("Alert mods", discord.Permissions.none())
    for command in (
        f"!kpi role-alerts set severity:critical role:<@&{admins.id}> channel:<#{critical.id}> mention:true",
        f"!kpi role-alerts set severity:warning role:<@&{mods.id}>",
        f"!kpi role-alerts set severity:all channel:<#{everything.id}>",
        "!kpi set metric:dau target:10 alert_threshold:80",
        "!kpi alert-config metric:dau severity:critical",
        "!kpi set metric:wau target:10 alert_threshold:80",
        "!kpi set metric:events target:10 alert_threshold:80",
        f"!kpi alert-config metric:events severity:info channel:<#{own.id}>",
    ):
        await red.send(command, author=red.admin)
    start, first_payload = len(red.sent), len(payloads)

    clock.at(DAY2)
    await cog.evaluate_alerts()

    # critical: its route's channel and role; warning: the all route's channel, its own
    # route's role; info: its own channel, and no role anywhere to ping
    assert [content.split(" · ")[0] for content in posted(red, critical.id, start)] == [
        f"<@&{admins.id}> 🔴 **Critical alert**"
    ]
    assert [content.split(" · ")[0] for content in posted(red, everything.id, start)] == [
        f"<@&{mods.id}> 🟡 **Warning alert**"
    ]
    assert [content.split(" · ")[0] for content in posted(red, own.id, start)] == [
        "🔵 **Info alert**"
    ]
    roles = {
        channel_id: body["allowed_mentions"]["roles"]
        for channel_id, body in payloads[first_payload:]
    }
    assert roles == {critical.id: [admins.id], everything.id: [mods.id], own.id: []}

    await red.send("!kpi role-alerts remove severity:all", author=red.admin)
    listing = "\n".join(texts(await red.send("!kpi alert-config", author=red.admin)))
    assert listing.count("have nowhere to go") == 1


async def test_compound_alerts_fire_resolve_and_keep_a_history_with_every_value(red):
    clock = Clock(DAY2)
    cog = await alert_cog(red, clock)
    await claims(cog, red.guild.id, [99], DAY1 - timedelta(days=30))
    alerts = channel(red, "alerts")
    await red.send(f"!kpi role-alerts set severity:all channel:<#{alerts.id}>", author=red.admin)
    for name, logic in (("Both low", "AND"), ("Either low", "OR")):
        await red.send(
            f'!kpi compound-alert create name:"{name}" conditions:"dau<5, streak<50" logic:{logic}',
            author=red.admin,
        )
    start = len(red.sent)

    # Day two: no one claims, and there is no streak data: AND is unknown, OR holds.
    clock.at(DAY2)
    await cog.evaluate_alerts()
    # Six claimers on day two and three. On day three at 13:00 the daily active users are 6,
    # but day two was the first complete day with claimers: retention has no data yet, so
    # OR is unknown and does not resolve. On day four at 01:00 retention is 100 %.
    await claims(cog, red.guild.id, range(1, 7), DAY2 + 12 * H)
    await claims(cog, red.guild.id, range(1, 7), DAY3 + 12 * H)
    for moment in (DAY3 + 13 * H, DAY4 + 1 * H):
        clock.at(moment)
        await cog.evaluate_alerts()

    assert posted(red, alerts.id, start) == [
        "🟡 **Warning alert** · **Either low** (OR, conditions hold): "
        "`daily_active_users<5` 0 ✓ · `streak_retention<50` no data",
        "✅ **Resolved** · **Either low** (OR, conditions do not hold): "
        "`daily_active_users<5` 6 ✗ · `streak_retention<50` 100 ✗. "
        "It fired at 2021-06-02 00:00 UTC and lasted 2 d.",
    ]
    history = texts(await red.send("!kpi compound-alert history"))
    assert history == [
        "**Compound alert history** (latest first)\n"
        "✅ 2021-06-04 01:00 UTC · resolved after 2 d · **Either low** (OR, conditions do not "
        "hold): `daily_active_users<5` 6 ✗ · `streak_retention<50` 100 ✗\n"
        "🟡 2021-06-02 00:00 UTC · triggered · **Either low** (OR, conditions hold): "
        "`daily_active_users<5` 0 ✓ · `streak_retention<50` no data"
    ]
    assert texts(await red.send('!kpi compound-alert history name:"Both low"')) == [
        "`Both low` has not triggered yet."
    ]


async def _two_servers_in_breach(red, clock):
    """This server and another, both with a daily-active-users alert that fires on DAY2."""
    cog = await alert_cog(red, clock)
    other = backend.make_guild("Other Guild")
    backend.make_member(red.bot.user, other)
    other_alerts = backend.make_text_channel("alerts", other)
    for guild in (red.guild, other):
        await claims(cog, guild.id, [1], DAY1 - timedelta(days=10))
    alerts = channel(red, "alerts")
    await red.send("!kpi set metric:dau target:10 alert_threshold:80", author=red.admin)
    await red.send(f"!kpi role-alerts set severity:all channel:<#{alerts.id}>", author=red.admin)
    await cog.config.guild(other).kpis.set(
        {
            "daily_active_users": {
                "target_value": 10,
                "period": "week",
                "alert_threshold": 80,
                "is_active": True,
            }
        }
    )
    await cog.config.guild(other).alert_routes.set(
        {"all": {"channel_id": other_alerts.id, "role_id": None, "mention": False}}
    )
    return cog, alerts, other_alerts


async def test_a_server_whose_evaluation_fails_does_not_stop_the_others(red, caplog):
    clock = Clock(DAY2)
    cog, alerts, other_alerts = await _two_servers_in_breach(red, clock)
    real = cog.metric_values

    async def broken_here(guild, at=None, period="week"):
        if getattr(guild, "id", guild) == red.guild.id:
            raise RuntimeError("disk on fire")
        return await real(guild, at, period)

    cog.metric_values = broken_here
    start = len(red.sent)
    with caplog.at_level(logging.WARNING, logger="red.kpicogs.kpitracker.alerts"):
        await cog.evaluate_alerts()

    assert f"Skipped the alerts of guild {red.guild.id}" in caplog.text
    assert posted(red, other_alerts.id, start) == [FIRED]
    cog.metric_values = real
    await cog.evaluate_alerts()
    assert posted(red, alerts.id, start) == [FIRED]
    assert posted(red, other_alerts.id, start) == [FIRED]


async def test_failed_deliveries_are_recorded_retried_and_never_stop_other_servers(red, caplog):
    clock = Clock(DAY2)
    cog, alerts, other_alerts = await _two_servers_in_breach(red, clock)
    everyone = red.guild.default_role
    backend.update_text_channel(alerts, everyone, discord.PermissionOverwrite(send_messages=False))
    start = len(red.sent)

    with caplog.at_level(logging.WARNING, logger="red.kpicogs.kpitracker.alerts"):
        clock.at(DAY2)
        await cog.evaluate_alerts()

    assert posted(red, other_alerts.id, start) == [FIRED]
    assert posted(red, alerts.id, start) == []
    assert (
        f"in guild {red.guild.id} (attempt 1): missing permission to post in #alerts"
        in caplog.text
    )
    listing = texts(await red.send("!kpi alert-config", author=red.admin))[0]
    assert (
        "⚠️ a message could not be posted (2021-06-02 00:00 UTC): missing permission to post "
        "in #alerts; it is retried" in listing
    )

    clock.advance(minutes=2)  # not due again yet
    await cog.evaluate_alerts()
    backend.update_text_channel(alerts, everyone, None)
    clock.advance(minutes=4)
    await cog.evaluate_alerts()
    assert posted(red, alerts.id, start) == [FIRED]
    assert posted(red, other_alerts.id, start) == [FIRED]
    assert "⚠️" not in texts(await red.send("!kpi alert-config", author=red.admin))[0]

    # A deleted channel: the resolution fails, is retried for a day, then given up.
    await claims(cog, red.guild.id, range(1, 11), DAY2 + 1 * H)
    backend.delete_channel(alerts)
    clock.at(DAY2 + 2 * H)
    await cog.evaluate_alerts()
    key = f"resolved:kpi:daily_active_users:{int(DAY2.timestamp()) * 1000}"
    status, attempts, error = await cog.alert_store.notification(red.guild.id, key)
    assert (status, attempts, error) == ("failed", 1, f"the channel {alerts.id} no longer exists")
    clock.at(DAY3 + 3 * H)
    await cog.evaluate_alerts()
    assert (await cog.alert_store.notification(red.guild.id, key))[:2] == ("expired", 2)


async def test_report_lines_list_what_fired_resolved_or_still_fires(red):
    clock = Clock(DAY2)
    cog, alerts = await _three_hour_gap(red, clock)
    await red.send("!kpi set metric:wau target:100 alert_threshold:80", author=red.admin)
    await evaluate_every(cog, clock, DAY2 + 8 * H, DAY2 + 14 * H, step=timedelta(minutes=15))

    lines = await cog.alert_report_lines(red.guild, DAY2)

    wau = "`weekly_active_users` is 10, below its alert line of 80 (80% of the 100 target, week)"
    dau = "`daily_active_users` is 0, below its alert line of 8 (80% of the 10 target, week)"
    assert lines == [
        f"- 🟡 fired 2021-06-02 08:00 UTC (still firing) · {wau}",
        f"- ✅ fired 2021-06-02 09:15 UTC, resolved 2021-06-02 12:45 UTC after 3 h · {dau}",
    ]
    later = await cog.alert_report_lines(red.guild, DAY2 + 13 * H)
    assert later == [f"- 🟡 firing since 2021-06-02 08:00 UTC · {wau}"]


async def test_the_real_history_replayed_day_by_day_fires_and_resolves(red):
    """The shipped 2021 history, a weekly-active-users KPI of 60 with an 80 % threshold:
    the alert line is 48 and the recovery line 51. The expected days come from counting
    claimers straight from the file."""
    rows = history_rows(red.guild.id)
    claim_rows = [(row.ts_ms, row.user_id) for row in rows if row.kind == 3]

    def wau(at) -> int:
        end = int(at.timestamp() * 1000)
        return len({user for ts, user in claim_rows if end - 7 * 86_400_000 <= ts < end})

    clock = Clock(utc(2021, 5, 1))
    cog = await alert_cog(red, clock)
    await cog.store.import_rows(rows)
    alerts = channel(red, "alerts")
    await red.send("!kpi set metric:wau target:60 alert_threshold:80", author=red.admin)
    await red.send(f"!kpi alert-config metric:wau channel:<#{alerts.id}>", author=red.admin)
    start = len(red.sent)

    expected, firing, day = [], False, utc(2021, 5, 1)
    while day <= utc(2021, 10, 1):
        clock.at(day)
        await cog.evaluate_alerts()
        if not firing and wau(day) < 48:
            firing = True
            expected.append(("fired", day.date()))
        elif firing and wau(day) >= 51 and wau(day - timedelta(minutes=30)) >= 51:
            firing = False
            expected.append(("resolved", day.date()))
        day += timedelta(days=1)

    events = await cog.alert_store.history(red.guild.id, "kpi:", 50)
    assert [(event.kind, event.at.date()) for event in reversed(events)] == expected
    assert [(kind, str(day)) for kind, day in expected] == [
        ("fired", "2021-05-13"),
        ("resolved", "2021-05-26"),
        ("fired", "2021-06-12"),
        ("resolved", "2021-08-27"),
        ("fired", "2021-10-01"),
    ]
    messages = posted(red, alerts.id, start)
    assert len(messages) == len(expected)
    assert messages[0].startswith("🟡 **Warning alert** · `weekly_active_users` is ")
    assert messages[1].startswith("✅ **Resolved** · `weekly_active_users` is ")


async def test_a_version_1_database_gains_the_alert_tables(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(schema.MIGRATIONS[1]())
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
        conn.execute("INSERT INTO servers (server_id, first_ts, last_ts) VALUES (7, 1, 2)")

    store = await SqliteStore.open(path)
    await store.close()

    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        kept = conn.execute("SELECT server_id FROM servers").fetchall()
    assert {"alert_state", "alert_history", "alert_notifications", "alert_windows"} <= tables
    assert version == (str(schema.SCHEMA_VERSION),) and kept == [(7,)]
