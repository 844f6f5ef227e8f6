"""Presets in a real Red: built-in templates, saved configurations across servers, and undo."""

from __future__ import annotations

import discord
import pytest
from discord.ext.test import backend

from kpi_helpers import kpi_cog, texts, utc
from redharness import slash_payload_problems

pytestmark = pytest.mark.cogs("kpitracker")

NOW = utc(2024, 5, 6, 12, 0)


def settings(target, alert=None, period="week", active=True) -> dict:
    return {
        "target_value": float(target),
        "period": period,
        "alert_threshold": None if alert is None else float(alert),
        "is_active": active,
    }


def other_server(red, name="Other Guild"):
    """A second server with a channel, the bot, and an admin of its own."""
    guild = backend.make_guild(name)
    channel = backend.make_text_channel("general", guild)
    backend.make_member(backend.get_state().user, guild)
    role = backend.make_role(
        "Managers", guild, permissions=discord.Permissions(manage_guild=True).value
    )
    admin = backend.make_member(backend.make_user("Other Admin", 7), guild, roles=[role])
    return guild, channel, admin


async def test_list_shows_every_type_and_view_shows_a_template(red):
    await kpi_cog(red, now=NOW)

    listing = texts(await red.send("!kpi preset list"))[0]

    titles = [line for line in listing.splitlines() if line.startswith("**")]
    assert titles == ["**Industry templates**", "**KPI sets**", "**Alert configs**"]
    for name in (
        "Gaming Community",
        "NFT Project",
        "DeFi Protocol",
        "Creator Community",
        "Education",
        "Start Simple",
        "Growing Communities",
        "Recommended Alert Thresholds",
    ):
        assert f"- {name}: " in listing
    assert texts(await red.send('!kpi preset view name:"Gaming Community"')) == [
        "**Gaming Community** · industry template · built-in\n"
        "Daily play, streaks, voice and events for game servers and guilds.\n"
        "KPIs:\n"
        "- `churn_rate`: target 20.0% per week, alert at 120%\n"
        "- `daily_active_users`: target 100 per week, alert at 80%\n"
        "- `events_per_active_user`: target 2.50 per week\n"
        "- `streak_retention`: target 60.0% per week, alert at 75%\n"
        "- `voice_participation`: target 30.0% per week, alert at 80%"
    ]
    assert texts(await red.send('!kpi preset view name:"gaming   community"'))[0].startswith(
        "**Gaming Community**"
    )
    assert texts(await red.send('!kpi preset view name:"Speedrunners"')) == [
        "There is no preset called `Speedrunners`; `kpi preset list` shows them."
    ]


async def test_apply_reports_added_changed_unchanged_and_can_be_undone(red):
    cog = await kpi_cog(red, now=NOW)
    await red.send("!kpi set metric:dau target:150", author=red.admin)
    await red.send("!kpi set metric:streak target:60 alert_threshold:75", author=red.admin)
    await red.send("!kpi set metric:wau target:70", author=red.admin)
    before = await cog.config.guild(red.guild).kpis()

    replies = await red.send('!kpi preset apply name:"Gaming Community"', author=red.admin)

    undo = "Before Gaming Community 2024-05-06 12:00"
    assert texts(replies) == [
        "Applied **Gaming Community** (industry template).\n"
        "Added (3):\n"
        "- `voice_participation`: target 30.0% per week, alert at 80%\n"
        "- `events_per_active_user`: target 2.50 per week\n"
        "- `churn_rate`: target 20.0% per week, alert at 120%\n"
        "Changed (1):\n"
        "- `daily_active_users`: target 150 → 100, alert none → 80%\n"
        "Unchanged (1): `streak_retention`\n"
        f"The configuration before is saved as **{undo}**; undo with "
        f'`!kpi preset apply name:"{undo}"`.'
    ]
    after = await cog.config.guild(red.guild).kpis()
    assert after == {
        "daily_active_users": settings(100, 80),
        "streak_retention": settings(60, 75),
        "weekly_active_users": settings(70),  # not in the template: left alone
        "voice_participation": settings(30, 80),
        "events_per_active_user": settings(2.5),
        "churn_rate": settings(20, 120),
    }
    assert texts(
        await red.send('!kpi preset apply name:"Gaming Community"', author=red.admin)
    ) == [
        "**Gaming Community** matches this server's configuration; nothing changed.\n"
        "Unchanged (5): `daily_active_users`, `streak_retention`, `voice_participation`, "
        "`events_per_active_user`, `churn_rate`"
    ]

    replies = await red.send(f'!kpi preset apply name:"{undo}"', author=red.admin)

    assert "Removed (3): `churn_rate`, `events_per_active_user`, `voice_participation`" in (
        texts(replies)[0]
    )
    assert "- `daily_active_users`: target 100 → 150, alert 80% → none" in texts(replies)[0]
    assert await cog.config.guild(red.guild).kpis() == before
    private = await cog.config.guild(red.guild).presets()
    assert [data["name"] for data in private.values()] == [
        undo,
        "Before Gaming Community 2024-05-06 12:00 (2)",  # the undo of an undo is not nested
    ]
    assert all(data["automatic"] and not data["public"] for data in private.values())


async def test_an_alert_config_changes_only_thresholds_of_existing_kpis(red):
    cog = await kpi_cog(red, now=NOW)
    await red.send("!kpi set metric:dau target:40", author=red.admin)
    await red.send("!kpi set metric:churn target:25 alert_threshold:150", author=red.admin)

    replies = await red.send(
        '!kpi preset apply name:"Recommended Alert Thresholds"', author=red.admin
    )

    text = texts(replies)[0]
    assert (
        "Changed (2):\n- `daily_active_users`: alert none → 80%\n- `churn_rate`: alert 150% → 120%"
        in text
    )
    assert (
        "Skipped: `streak_retention` (no KPI for it here), `new_user_conversion` (no KPI for it here)"
        in text
    )
    assert await cog.config.guild(red.guild).kpis() == {
        "daily_active_users": settings(40, 80),
        "churn_rate": settings(25, 120),
    }


async def test_a_public_preset_round_trips_to_another_server_and_back(red):
    cog = await kpi_cog(red, now=NOW)
    await red.send(
        '!kpi custom-metric create name:"Engagement Score" formula:"dau*0.6+wau*0.4" target:500',
        author=red.admin,
    )
    await red.send(
        "!kpi set metric:streak target:65 alert_threshold:75 period:month", author=red.admin
    )
    await red.send("!kpi set metric:churn target:15", author=red.admin)
    await red.send("!kpi disable metric:churn", author=red.admin)
    source_kpis = await cog.config.guild(red.guild).kpis()

    replies = await red.send(
        '!kpi preset create name:"My Server Config" description:"Optimized for our community" public:true',
        author=red.admin,
    )
    assert texts(replies) == [
        "Saved preset **My Server Config** with 3 KPIs and 1 custom metrics; admins of every "
        "server on this bot can apply it."
    ]
    await red.send('!kpi preset create name:"Secret Config" public:false', author=red.admin)

    guild, channel, admin = other_server(red)
    await red.send("!kpi set metric:wau target:70", author=admin, channel=channel)
    await red.send("!kpi set metric:churn target:30", author=admin, channel=channel)
    other_before = await cog.config.guild(guild).kpis()

    listing = texts(await red.send("!kpi preset list", author=admin, channel=channel))[0]
    assert (
        f"- My Server Config (shared by {red.guild.name} ({red.guild.id})): Optimized for our community"
        in listing
    )
    assert "Secret Config" not in listing
    replies = await red.send(
        '!kpi preset apply name:"Secret Config"', author=admin, channel=channel
    )
    assert texts(replies) == [
        "There is no preset called `Secret Config`; `kpi preset list` shows them."
    ]

    replies = await red.send(
        '!kpi preset apply name:"my server config"', author=admin, channel=channel
    )
    text = texts(replies)[0]
    assert (
        "Added (2):\n- `engagement_score`: target 500 per week\n- `streak_retention`: target 65.0% per month, alert at 75%"
        in text
    )
    assert "- `churn_rate`: target 30 → 15, disabled" in text
    assert "Removed (1): `weekly_active_users`" in text
    assert "Custom metrics added: `engagement_score`" in text
    assert await cog.config.guild(guild).kpis() == source_kpis
    assert (
        await cog.config.guild(guild).custom_metrics()
        == await cog.config.guild(red.guild).custom_metrics()
    )
    assert (await cog.metric_values(guild, NOW))["engagement_score"] is None  # no activity yet

    # Names are unique per owner: the other server's own preset of that name is its own.
    await red.send(
        '!kpi preset create name:"My Server Config" public:true', author=admin, channel=channel
    )
    public = await cog.config.public_presets()
    assert sorted((data["owner_id"], data["name"]) for data in public.values()) == sorted(
        [(red.guild.id, "My Server Config"), (guild.id, "My Server Config")]
    )
    shared = texts(await red.send('!kpi preset view name:"My Server Config"'))[0]
    assert shared.startswith("**My Server Config** · custom preset · this server, public")
    replies = await red.send(
        '!kpi preset delete name:"Secret Config"', author=admin, channel=channel
    )
    assert texts(replies) == [
        "There is no preset called `Secret Config`; `kpi preset list` shows them."
    ]
    await red.send('!kpi preset delete name:"My Server Config"', author=admin, channel=channel)
    replies = await red.send(
        '!kpi preset delete name:"My Server Config"', author=admin, channel=channel
    )
    assert texts(replies) == [
        "`My Server Config` is another server's preset; a server can delete only its own."
    ]
    assert [data["owner_id"] for data in (await cog.config.public_presets()).values()] == [
        red.guild.id
    ]

    undo = "Before My Server Config 2024-05-06 12:00"
    await red.send(f'!kpi preset apply name:"{undo}"', author=admin, channel=channel)
    assert await cog.config.guild(guild).kpis() == other_before
    assert await cog.config.guild(red.guild).kpis() == source_kpis  # the source is untouched


async def test_alert_settings_are_restored_only_on_their_own_server(red):
    cog = await kpi_cog(red, now=NOW)
    await red.send("!kpi set metric:dau target:40 alert_threshold:80", author=red.admin)
    await red.send(
        f"!kpi alert-config metric:dau frequency:immediate severity:critical "
        f"channel:<#{red.channel.id}>",
        author=red.admin,
    )
    saved = await cog.config.guild(red.guild).alert_settings()
    assert saved["daily_active_users"]["channel_id"] == red.channel.id
    await red.send('!kpi preset create name:"With Alerts" public:true', author=red.admin)
    await cog.config.guild(red.guild).alert_settings.set({})

    replies = await red.send('!kpi preset apply name:"With Alerts"', author=red.admin)
    assert texts(replies)[0].startswith(
        "Applied **With Alerts** (custom preset).\nUnchanged (1): `daily_active_users`\n"
        "Alert settings restored: `alert_settings`\n"
    )
    assert await cog.config.guild(red.guild).alert_settings() == saved

    guild, channel, admin = other_server(red)
    replies = await red.send('!kpi preset apply name:"With Alerts"', author=admin, channel=channel)
    assert "Alert settings restored" not in texts(replies)[0]
    assert await cog.config.guild(guild).alert_settings() == {}
    assert await cog.config.guild(guild).kpis() == await cog.config.guild(red.guild).kpis()


BAD_COMMANDS = [
    (
        '!kpi preset create name:"Gaming Community"',
        "`Gaming Community` is a built-in preset; choose another name.",
    ),
    (
        '!kpi preset create name:"Mine" public:perhaps',
        "`perhaps` is not true or false; use `true` or `false`.",
    ),
    (
        '!kpi preset create name:"Empty"',
        "This server has no KPIs to save; set some with `kpi set` first.",
    ),
    (
        '!kpi preset delete name:"Education"',
        "`Education` is a built-in preset; a server can delete only its own.",
    ),
    (
        '!kpi preset apply name:"Nope"',
        "There is no preset called `Nope`; `kpi preset list` shows them.",
    ),
    (
        "!kpi preset apply",
        "The option `name:` is required; `!help kpi preset apply` shows an example.",
    ),
]


async def test_bad_preset_commands_get_one_sentence(red):
    cog = await kpi_cog(red, now=NOW)
    for command, answer in BAD_COMMANDS:
        assert texts(await red.send(command, author=red.admin)) == [answer], command
    assert await cog.config.guild(red.guild).presets() == {}


ADMIN_COMMANDS = [
    '!kpi preset apply name:"Education"',
    '!kpi preset create name:"x"',
    '!kpi preset delete name:"x"',
]


async def test_members_cannot_apply_create_or_delete(red):
    await kpi_cog(red, now=NOW)
    for command in ADMIN_COMMANDS:
        name = " ".join(command[1:].split()[:3])
        assert texts(await red.send(command, author=red.member)) == [
            "Only server admins (the bot's admin role or the Manage Server permission) "
            f"can use `{name}`."
        ]


async def test_every_preset_command_works_as_slash(red):
    cog = await kpi_cog(red, now=NOW)
    await red.enable_slash("kpitracker")
    assert slash_payload_problems(red.slash_payload()) == []

    assert "**Industry templates**" in texts(await red.slash("kpi preset list"))[0]
    assert texts(await red.slash("kpi preset view", name="NFT Project"))[0].startswith(
        "**NFT Project** · industry template · built-in"
    )
    replies = await red.slash("kpi preset apply", author=red.admin, name="Start Simple")
    assert texts(replies)[0].startswith("Applied **Start Simple** (KPI set).\nAdded (3):")
    assert set(await cog.config.guild(red.guild).kpis()) == {
        "daily_active_users",
        "streak_retention",
        "new_user_conversion",
    }
    replies = await red.slash("kpi preset create", author=red.admin, name="Ours", public="false")
    assert texts(replies)[0].startswith("Saved preset **Ours** with 3 KPIs")
    assert texts(await red.slash("kpi preset delete", author=red.admin, name="Ours")) == [
        "Deleted preset **Ours**."
    ]
    assert texts(await red.slash("kpi preset apply", author=red.member, name="Education"))[
        0
    ].startswith("Only server admins")
    command = red.bot.tree.get_command("kpi").get_command("preset").get_command("apply")
    interaction = type("Interaction", (), {"client": red.bot, "guild": red.guild})()
    choices = await command._params["name"].autocomplete(command.binding, interaction, "comm")
    assert [choice.value for choice in choices] == [
        "Gaming Community",
        "Creator Community",
        "Growing Communities",
        "Recommended Alert Thresholds",
    ]


async def _shared_score(red, cog, formula="dau*2"):
    """This server shares a public custom preset "Shared" holding the custom metric `score`."""
    await red.send(
        f'!kpi custom-metric create name:Score formula:"{formula}" target:50', author=red.admin
    )
    await red.send("!kpi preset create name:Shared public:true", author=red.admin)


async def test_undo_restores_the_custom_metrics_as_they_were(red):
    cog = await kpi_cog(red, now=NOW)
    await _shared_score(red, cog)
    guild, channel, admin = other_server(red)
    await red.send("!kpi set metric:wau target:70", author=admin, channel=channel)
    await red.send(
        '!kpi custom-metric create name:Reach formula:"wau/2"', author=admin, channel=channel
    )
    kpis_before = await cog.config.guild(guild).kpis()
    metrics_before = await cog.config.guild(guild).custom_metrics()

    replies = await red.send('!kpi preset apply name:"Shared"', author=admin, channel=channel)
    assert "Custom metrics added: `score`" in texts(replies)[0]
    assert set(await cog.config.guild(guild).custom_metrics()) == {"reach", "score"}

    undo = "Before Shared 2024-05-06 12:00"
    text = texts(await red.send(f'!kpi preset apply name:"{undo}"', author=admin, channel=channel))
    assert "Custom metrics removed: `score`" in text[0]
    assert await cog.config.guild(guild).kpis() == kpis_before
    assert await cog.config.guild(guild).custom_metrics() == metrics_before


async def test_a_preset_changing_a_custom_metric_in_use_needs_force(red):
    cog = await kpi_cog(red, now=NOW)
    await _shared_score(red, cog)
    guild, channel, admin = other_server(red)
    await red.send(
        '!kpi custom-metric create name:Score formula:"wau+1" target:10',
        author=admin,
        channel=channel,
    )
    metrics_before = await cog.config.guild(guild).custom_metrics()

    replies = await red.send('!kpi preset apply name:"Shared"', author=admin, channel=channel)
    assert texts(replies) == [
        "Applying **Shared** would change custom metric `score` (formula `wau+1` → `dau*2`), "
        "used by KPI `score`; nothing was changed. Add `force:true` to apply it anyway."
    ]
    assert await cog.config.guild(guild).custom_metrics() == metrics_before
    assert [p.name for p in await cog.own_presets(guild)] == []  # no undo for a refusal

    replies = await red.send(
        '!kpi preset apply name:"Shared" force:true', author=admin, channel=channel
    )
    assert "Custom metrics changed: `score` (formula `wau+1` → `dau*2`)" in texts(replies)[0]
    assert (await cog.config.guild(guild).custom_metrics())["score"]["formula"] == "dau*2"


async def test_undo_names_stay_within_the_limit_and_are_not_nested(red):
    cog = await kpi_cog(red, now=NOW)
    await red.send("!kpi set metric:wau target:70", author=red.admin)
    long_name = "A" * 50
    await red.send(f'!kpi preset create name:"{long_name}"', author=red.admin)
    await red.send("!kpi set metric:dau target:5", author=red.admin)

    replies = await red.send(f'!kpi preset apply name:"{long_name}"', author=red.admin)
    names = [p.name for p in await cog.own_presets(red.guild) if p.automatic]
    assert len(names) == 1 and len(names[0]) <= 50 and names[0].startswith("Before AAA")
    assert f'name:"{names[0]}"' in texts(replies)[0]

    cog.clock = lambda: utc(2024, 5, 6, 12, 5)
    await red.send(f'!kpi preset apply name:"{names[0]}"', author=red.admin)
    newest = sorted(p.name for p in await cog.own_presets(red.guild) if p.automatic)
    assert all(len(name) <= 50 for name in newest)
    assert not any(name.startswith("Before Before") for name in newest)


async def test_preset_listings_never_ping_anyone(red):
    from alert_helpers import record_payloads

    await kpi_cog(red, now=NOW)
    guild, channel, admin = other_server(red)
    await red.send("!kpi set metric:wau target:70", author=red.admin)
    await red.send(
        f'!kpi preset create name:"Ping <@{red.bot.user.id}>" description:"hi <@{red.bot.user.id}>" '
        "public:true",
        author=red.admin,
    )
    payloads = record_payloads(red)
    await red.send("!kpi preset list", author=admin, channel=channel)
    await red.send(
        f'!kpi preset view name:"Ping <@{red.bot.user.id}>"', author=admin, channel=channel
    )
    assert len(payloads) == 2
    assert all(body["allowed_mentions"] == {"parse": []} for _, body in payloads)
