"""The alert commands in a real Red: `kpi alert-config`, `kpi role-alerts` and
`kpi compound-alert`, as prefix and slash commands, with admin checks and clear refusals."""

from __future__ import annotations

import discord
import pytest

from alert_helpers import Clock, alert_cog, channel, slash_with_options
from kpi_helpers import texts, utc
from redharness import slash_payload_problems

pytestmark = pytest.mark.cogs("kpitracker")

NOW = utc(2021, 6, 1)
NOWHERE = (
    "⚠️ Alerts with no channel of their own have nowhere to go: no route matches them. "
    "Add one with `kpi role-alerts set severity:all channel:#alerts`."
)


async def test_alert_config_saves_every_option_and_shares_the_kpis_threshold(red):
    cog = await alert_cog(red, Clock(NOW))
    alerts = channel(red, "alerts")
    admin_role = red.make_role("Admin", discord.Permissions.none())
    await red.send("!kpi set metric:streak target:70 alert_threshold:80", author=red.admin)

    replies = await red.send(
        f"!kpi alert-config metric:streak_retention threshold:75 frequency:immediate "
        f"severity:critical channel:<#{alerts.id}> escalation_days:3 "
        f"escalation_role:<@&{admin_role.id}> recovery_margin:2.5 resolve_after:10 cooldown:120",
        author=red.admin,
    )

    assert texts(replies) == [
        "Saved the alert of `streak_retention`: alerts below 52.5% (75% of 70.0%, week), "
        "resolves once back to 54.2% for 10 min, then waits 2 h before it may fire again · "
        "🔴 critical · immediate · "
        f"→ <#{alerts.id}> · escalates after 3 d, mentioning <@&{admin_role.id}>"
    ]
    assert (await cog.config.guild(red.guild).kpis())["streak_retention"]["alert_threshold"] == 75
    assert (await cog.config.guild(red.guild).alert_settings())["streak_retention"] == {
        "frequency": "immediate",
        "severity": "critical",
        "channel_id": alerts.id,
        "escalation_days": 3.0,
        "escalation_role_id": admin_role.id,
        "recovery_margin": 2.5,
        "resolve_after": 10.0,
        "cooldown": 120.0,
    }
    assert "alert at 75%" in texts(await red.send("!kpi list"))[0]

    # a threshold set with `kpi set` is the same threshold
    await red.send("!kpi set metric:streak target:70 alert_threshold:80", author=red.admin)
    shown = texts(await red.send("!kpi alert-config metric:streak", author=red.admin))
    assert shown[0].startswith(
        "**Alert of `streak_retention`**: alerts below 56.0% (80% of 70.0%, week)"
    )

    replies = await red.send("!kpi alert-config metric:streak reset:true", author=red.admin)
    assert texts(replies)[0].endswith(
        "resolves once back to 59.5% for 30 min · 🟡 warning · immediate"
    )


async def test_churn_threshold_above_100_alerts_above_the_line(red):
    await alert_cog(red, Clock(NOW))
    await red.send("!kpi set metric:churn target:20", author=red.admin)
    replies = await red.send("!kpi alert-config metric:churn threshold:120", author=red.admin)
    assert texts(replies)[0].startswith(
        "Saved the alert of `churn_rate`: alerts above 24.0% (120% of 20.0%, week), "
        "resolves once back to 23.0% for 30 min"
    )


async def test_the_listing_says_once_that_alerts_have_nowhere_to_go(red):
    await alert_cog(red, Clock(NOW))
    assert texts(await red.send("!kpi alert-config", author=red.admin)) == [
        "No alerts are configured. Give a KPI a threshold with "
        "`kpi alert-config metric:daily_active_users threshold:80`."
    ]
    for command in (
        "!kpi set metric:dau target:100 alert_threshold:80",
        "!kpi set metric:wau target:500 alert_threshold:80",
        "!kpi set metric:churn target:20",
        '!kpi compound-alert create name:"Low" conditions:"dau<10"',
    ):
        await red.send(command, author=red.admin)

    listing = "\n".join(texts(await red.send("!kpi alert-config", author=red.admin)))

    assert listing.splitlines()[0] == "**KPI alerts**"
    assert listing.count(NOWHERE) == 1
    assert "- `churn_rate`" not in listing  # no threshold and no settings: no alert
    assert "**Compound alerts**: 1 (1 enabled); `kpi compound-alert list` shows them." in listing

    alerts = channel(red, "alerts")
    await red.send(f"!kpi role-alerts set severity:all channel:<#{alerts.id}>", author=red.admin)
    listing = "\n".join(texts(await red.send("!kpi alert-config", author=red.admin)))
    assert NOWHERE not in listing
    assert f"- 📣 `all` posts in <#{alerts.id}>" in listing
    assert listing.count(f"→ <#{alerts.id}>") == 2


async def test_role_routes_are_set_listed_and_removed(red):
    cog = await alert_cog(red, Clock(NOW))
    critical, everything = channel(red, "critical"), channel(red, "all-alerts")
    admin_role = red.make_role("Admin", discord.Permissions.none())
    mods = red.make_role("Moderators", discord.Permissions.none())

    answers = [
        texts(await red.send(command, author=red.admin))[0]
        for command in (
            f"!kpi role-alerts set severity:critical role:<@&{admin_role.id}> "
            f"channel:<#{critical.id}> mention:true",
            f"!kpi role-alerts set severity:warning role:<@&{mods.id}> mention:false",
            f"!kpi role-alerts set severity:all channel:<#{everything.id}>",
        )
    ]

    assert answers == [
        f"Saved the route: 🔴 `critical` posts in <#{critical.id}> and mentions <@&{admin_role.id}>.",
        f"Saved the route: 🟡 `warning` names, without pinging, <@&{mods.id}>.",
        f"Saved the route: 📣 `all` posts in <#{everything.id}>.",
    ]
    assert texts(await red.send("!kpi role-alerts list")) == [
        "**Alert routes**\n"
        f"- 🔴 `critical` posts in <#{critical.id}> and mentions <@&{admin_role.id}>\n"
        f"- 🟡 `warning` names, without pinging, <@&{mods.id}>\n"
        f"- 📣 `all` posts in <#{everything.id}>\n"
        f"- 🔵 `info` has no route of its own: it goes to <#{everything.id}>"
    ]
    assert texts(await red.send("!kpi role-alerts remove severity:warning", author=red.admin)) == [
        "Removed the `warning` route."
    ]
    assert set(await cog.config.guild(red.guild).alert_routes()) == {"critical", "all"}


async def test_compound_alerts_are_created_listed_viewed_toggled_and_removed(red):
    cog = await alert_cog(red, Clock(NOW))
    replies = await red.send(
        '!kpi compound-alert create name:"Low Engagement Alert" conditions:"dau<100,streak<50" '
        "logic:AND severity:critical",
        author=red.admin,
    )
    assert texts(replies) == [
        "Created the compound alert `Low Engagement Alert`: 🔴 critical, immediate, when "
        "`daily_active_users<100 AND streak_retention<50`."
    ]
    stored = (await cog.config.guild(red.guild).compound_alerts())["low engagement alert"]
    assert stored["conditions"] == [
        {"metric": "daily_active_users", "op": "<", "value": 100.0},
        {"metric": "streak_retention", "op": "<", "value": 50.0},
    ]
    assert (stored["logic"], stored["severity"], stored["written"]) == (
        "AND",
        "critical",
        "dau<100,streak<50",
    )

    assert texts(await red.send("!kpi compound-alert list")) == [
        "**Compound alerts**\n- 🔴 **Low Engagement Alert** · "
        "`daily_active_users<100 AND streak_retention<50` · critical, immediate · not evaluated yet"
    ]
    view = texts(await red.send('!kpi compound-alert view name:"low engagement alert"'))[0]
    assert view.splitlines()[1:4] == [
        "Conditions (AND): `daily_active_users<100 AND streak_retention<50`",
        "Now: `daily_active_users<100` no data · `streak_retention<50` no data",
        "Goes to: nowhere (no channel or route)",
    ]
    answers = [
        texts(await red.send(command, author=red.admin))[0]
        for command in (
            '!kpi compound-alert toggle name:"Low Engagement Alert" enable:false',
            '!kpi compound-alert toggle name:"Low Engagement Alert" enable:false',
            '!kpi compound-alert toggle name:"Low Engagement Alert" enable:true',
            '!kpi compound-alert remove name:"Low Engagement Alert"',
        )
    ]
    assert answers == [
        "`Low Engagement Alert` is disabled.",
        "`Low Engagement Alert` is already disabled.",
        "`Low Engagement Alert` is enabled.",
        "Removed the compound alert `Low Engagement Alert`.",
    ]
    assert await cog.config.guild(red.guild).compound_alerts() == {}
    assert texts(await red.send("!kpi compound-alert history")) == [
        "No compound alert has triggered yet."
    ]


BAD_INPUT = [
    (
        "!kpi alert-config threshold:80",
        "Name the KPI whose alert to configure with `metric:`, like `kpi alert-config metric:daily_active_users threshold:80`.",
    ),
    (
        "!kpi alert-config metric:wau threshold:80",
        "There is no KPI for `weekly_active_users`; create it first with `kpi set metric:weekly_active_users target:<value> alert_threshold:80`.",
    ),
    (
        "!kpi alert-config metric:daily_activ",
        "`daily_activ` is not a metric. Did you mean `daily_active_users`?",
    ),
    ("!kpi alert-config metric:dau threshold:0", "`threshold` must be at least 1, not 0."),
    (
        "!kpi alert-config metric:dau threshold:lots",
        "`lots` is not a number; give `threshold` as a number, like `threshold:80`.",
    ),
    (
        "!kpi alert-config metric:dau frequency:weekly",
        "`weekly` is not a valid frequency; use `immediate`, `hourly`, `daily_digest`.",
    ),
    (
        "!kpi alert-config metric:dau severity:urgent",
        "`urgent` is not a valid severity; use `critical`, `warning`, `info`.",
    ),
    (
        "!kpi alert-config metric:dau escalation_days:-1",
        "`escalation_days` must be at least 0, not -1.",
    ),
    (
        "!kpi alert-config metric:dau recovery_margin:150",
        "`recovery_margin` must be at most 100, not 150.",
    ),
    (
        "!kpi alert-config metric:dau resolve_after:soon",
        "`soon` is not a number; give `resolve_after` as a number, like `resolve_after:30`.",
    ),
    ("!kpi alert-config metric:dau channel:#nowhere", 'Channel "#nowhere" not found.'),
    (
        "!kpi alert-config metric:dau escalation_role:@everyone",
        "`@everyone` cannot be an escalation role; name a role, like `escalation_role:@Admin`.",
    ),
    ("!kpi alert-config metric:dau escalation_role:Nobody", 'Role "Nobody" not found.'),
    (
        "!kpi alert-config metric:dau reset:maybe",
        "`maybe` is not true or false; use `true` or `false`.",
    ),
    (
        "!kpi role-alerts set severity:all",
        "Give a `role:`, a `channel:` or both, like `kpi role-alerts set severity:critical role:@Admin channel:#alerts`.",
    ),
    (
        "!kpi role-alerts set severity:urgent role:@everyone",
        "`urgent` is not a valid severity; use `critical`, `warning`, `info`, `all`.",
    ),
    (
        "!kpi role-alerts set severity:critical role:@everyone",
        "`@everyone` cannot be an alert role; name a role, like `role:@Admin`.",
    ),
    (
        "!kpi role-alerts set severity:critical channel:general mention:true",
        "`mention:true` needs a `role:` to mention, like `role:@Admin`.",
    ),
    (
        "!kpi role-alerts set role:@everyone",
        "The option `severity:` is required; `!help kpi role-alerts set` shows an example.",
    ),
    (
        "!kpi role-alerts remove severity:info",
        "There is no `info` route; `kpi role-alerts list` shows the routes.",
    ),
    (
        '!kpi compound-alert create name:"X" conditions:"dau<<100"',
        'The conditions were not saved: "dau<<100": expected a number after "<" (character 5).',
    ),
    (
        '!kpi compound-alert create name:"X" conditions:"dau<100,streak=>5"',
        'The conditions were not saved: "streak=>5": expected a number after "=" (condition 2, character 16).',
    ),
    (
        '!kpi compound-alert create name:"X" conditions:"dau<100,streek<5"',
        'The conditions were not saved: "streek<5" (condition 2, character 9): `streek` is not a metric. Did you mean `streak`?',
    ),
    (
        '!kpi compound-alert create name:"X" conditions:"dau<100,"',
        "The conditions were not saved: condition 2 is empty; remove the extra comma or write one like `dau<100`.",
    ),
    (
        '!kpi compound-alert create name:"X" conditions:"dau<100" logic:xor',
        "`xor` is not a valid logic; use `and`, `or`.",
    ),
    (
        '!kpi compound-alert create name:"<@&1>" conditions:"dau<100"',
        "A compound alert's name cannot hold ` * ~ | \\ @ < > or :; use letters, digits and spaces.",
    ),
    (
        '!kpi compound-alert create conditions:"dau<100"',
        "The option `name:` is required; `!help kpi compound-alert create` shows an example.",
    ),
    (
        '!kpi compound-alert view name:"Nope"',
        "There is no compound alert named `Nope`; `kpi compound-alert list` shows them.",
    ),
    (
        '!kpi compound-alert toggle name:"Nope" enable:yes',
        "There is no compound alert named `Nope`; `kpi compound-alert list` shows them.",
    ),
    (
        '!kpi compound-alert toggle name:"Nope" enable:perhaps',
        "`perhaps` is not true or false; use `true` or `false`.",
    ),
    (
        '!kpi compound-alert remove name:"Nope"',
        "There is no compound alert named `Nope`; `kpi compound-alert list` shows them.",
    ),
]


async def test_bad_input_gets_one_sentence_and_changes_nothing(red):
    cog = await alert_cog(red, Clock(NOW))
    await red.send("!kpi set metric:dau target:100", author=red.admin)
    before = await cog.config.guild(red.guild).all()

    answers = [texts(await red.send(command, author=red.admin)) for command, _ in BAD_INPUT]

    assert answers == [[answer] for _, answer in BAD_INPUT]
    assert await cog.config.guild(red.guild).all() == before


async def test_a_long_malformed_condition_gets_a_short_reply(red):
    cog = await alert_cog(red)
    written = "dau<100," + "d" * 1900 + "<5"
    replies = await red.send(
        f'!kpi compound-alert create name:"X" conditions:"{written}"', author=red.admin
    )
    reply = texts(replies)[0]
    assert reply.startswith('The conditions were not saved: "' + "d" * 59 + '…" (condition 2')
    assert len(reply) < 400
    assert await cog.config.guild(red.guild).compound_alerts() == {}


async def test_a_duplicate_compound_name_is_refused_whatever_its_case(red):
    await alert_cog(red, Clock(NOW))
    await red.send('!kpi compound-alert create name:"Low" conditions:"dau<100"', author=red.admin)
    assert texts(
        await red.send(
            '!kpi compound-alert create name:"LOW" conditions:"wau<5"', author=red.admin
        )
    ) == ["A compound alert named `Low` exists; remove it first or choose another name."]
    assert texts(await red.send('!kpi compound-alert view name:"Lwo"')) == [
        "There is no compound alert named `Lwo`; `kpi compound-alert list` shows them. "
        "Did you mean `Low`?"
    ]


ADMIN_ONLY = [
    "!kpi alert-config",
    "!kpi alert-config metric:dau threshold:80",
    "!kpi role-alerts set severity:all channel:general",
    "!kpi role-alerts remove severity:all",
    '!kpi compound-alert create name:"X" conditions:"dau<1"',
    '!kpi compound-alert toggle name:"X" enable:false',
    '!kpi compound-alert remove name:"X"',
]


async def test_members_without_admin_rights_cannot_change_alerts(red):
    cog = await alert_cog(red, Clock(NOW))
    before = await cog.config.guild(red.guild).all()

    answers = [texts(await red.send(command, author=red.member)) for command in ADMIN_ONLY]

    names = [
        command[1:].split(":")[0].rsplit(" ", 1)[0] if ":" in command else command[1:]
        for command in ADMIN_ONLY
    ]
    assert answers == [
        [
            f"Only server admins (the bot's admin role or the Manage Server permission) can use `{name}`."
        ]
        for name in names
    ]
    assert await cog.config.guild(red.guild).all() == before


async def test_members_can_read_routes_and_compound_alerts(red):
    await alert_cog(red, Clock(NOW))
    await red.send('!kpi compound-alert create name:"Low" conditions:"dau<100"', author=red.admin)
    for command in (
        "!kpi role-alerts list",
        "!kpi compound-alert list",
        '!kpi compound-alert view name:"Low"',
        "!kpi compound-alert history",
    ):
        assert not texts(await red.send(command, author=red.member))[0].startswith(
            "Only server admins"
        )


async def test_every_alert_command_works_as_slash(red):
    cog = await alert_cog(red, Clock(NOW))
    await red.enable_slash("kpitracker")
    alerts = channel(red, "alerts")
    admin_role = red.make_role("Admin", discord.Permissions.none())
    await red.slash("kpi set", author=red.admin, metric="streak", target="70")

    replies = await slash_with_options(
        red,
        "kpi alert-config",
        author=red.admin,
        options=dict(
            metric="streak",
            threshold="75",
            frequency="hourly",
            severity="critical",
            channel=alerts,
            escalation_days="3",
            escalation_role=admin_role,
        ),
    )
    assert texts(replies) == [
        "Saved the alert of `streak_retention`: alerts below 52.5% (75% of 70.0%, week), "
        "resolves once back to 56.0% for 30 min · 🔴 critical · hourly · "
        f"→ <#{alerts.id}> · escalates after 3 d, mentioning <@&{admin_role.id}>"
    ]
    assert texts(
        await red.slash("kpi alert-config", author=red.admin, metric="streak", severity="loud")
    ) == ["`loud` is not a valid severity; use `critical`, `warning`, `info`."]
    listing = texts(await red.slash("kpi alert-config", author=red.admin))[0]
    assert listing.startswith("**KPI alerts**\n- `streak_retention`: alerts below 52.5%")
    assert texts(await red.slash("kpi alert-config", author=red.member))[0].startswith(
        "Only server admins"
    )

    replies = await slash_with_options(
        red,
        "kpi role-alerts set",
        author=red.admin,
        options=dict(
            severity="critical",
            role=admin_role,
            channel=alerts,
            mention="true",
        ),
    )
    assert texts(replies) == [
        f"Saved the route: 🔴 `critical` posts in <#{alerts.id}> and mentions <@&{admin_role.id}>."
    ]
    assert texts(await red.slash("kpi role-alerts list"))[0].startswith(
        "**Alert routes**\n- 🔴 `critical`"
    )
    assert texts(
        await red.slash("kpi role-alerts remove", author=red.admin, severity="critical")
    ) == ["Removed the `critical` route."]

    replies = await red.slash(
        "kpi compound-alert create",
        author=red.admin,
        name="Low Engagement",
        conditions="dau<100,streak<50",
        logic="OR",
        severity="info",
    )
    assert texts(replies) == [
        "Created the compound alert `Low Engagement`: 🔵 info, immediate, when "
        "`daily_active_users<100 OR streak_retention<50`."
    ]
    replies = await red.slash(
        "kpi compound-alert create", author=red.admin, name="Bad", conditions="dau<<100"
    )
    assert texts(replies) == [
        'The conditions were not saved: "dau<<100": expected a number after "<" (character 5).'
    ]
    assert "**Low Engagement**" in texts(await red.slash("kpi compound-alert list"))[0]
    assert texts(await red.slash("kpi compound-alert view", name="low engagement"))[0].startswith(
        "**Low Engagement** · 🔵 info · immediate · not evaluated yet"
    )
    assert texts(
        await red.slash(
            "kpi compound-alert toggle", author=red.admin, name="Low Engagement", enable="false"
        )
    ) == ["`Low Engagement` is disabled."]
    assert texts(await red.slash("kpi compound-alert history", name="Low Engagement")) == [
        "`Low Engagement` has not triggered yet."
    ]
    assert texts(
        await red.slash("kpi compound-alert remove", author=red.admin, name="Low Engagement")
    ) == ["Removed the compound alert `Low Engagement`."]
    assert await cog.config.guild(red.guild).compound_alerts() == {}


async def test_the_slash_payload_is_valid_and_names_autocomplete(red):
    await alert_cog(red, Clock(NOW))
    await red.send(
        '!kpi compound-alert create name:"Low Engagement" conditions:"dau<1"', author=red.admin
    )
    await red.enable_slash("kpitracker")

    payload = red.slash_payload()

    assert slash_payload_problems(payload) == []
    (kpi,) = [command for command in payload if command["name"] == "kpi"]
    options = {option["name"]: option for option in kpi["options"]}
    assert {"alert-config", "role-alerts", "compound-alert"} <= set(options)
    assert {option["name"] for option in options["role-alerts"]["options"]} == {
        "set",
        "list",
        "remove",
    }
    assert {option["name"] for option in options["compound-alert"]["options"]} == {
        "create",
        "list",
        "view",
        "toggle",
        "remove",
        "history",
    }
    config_options = {option["name"]: option for option in options["alert-config"]["options"]}
    assert config_options["channel"]["type"] == discord.AppCommandOptionType.channel.value
    assert config_options["escalation_role"]["type"] == discord.AppCommandOptionType.role.value
    assert not any(option.get("required") for option in config_options.values())

    view = red.bot.tree.get_command("kpi").get_command("compound-alert").get_command("view")
    interaction = type("Interaction", (), {"client": red.bot, "guild": red.guild})()
    choices = await view._params["name"].autocomplete(view.binding, interaction, "eng")
    assert [choice.value for choice in choices] == ["Low Engagement"]
