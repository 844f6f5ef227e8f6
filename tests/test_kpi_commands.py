"""The `kpi` commands in a real Red: prefix and slash forms, permissions and refusals."""

from __future__ import annotations

import pytest

from kpi_helpers import HISTORY, kpi_cog, texts, utc
from redharness import slash_payload_problems

pytestmark = pytest.mark.cogs("kpitracker")


async def test_set_list_enable_disable_remove_as_prefix(red):
    cog = await kpi_cog(red)

    assert texts(
        await red.send("!kpi set metric:dau target:500 period:week", author=red.admin)
    ) == ["Created KPI `daily_active_users`: target 500 per week."]
    replies = await red.send(
        '!kpi set metric:"streak_retention" target:70 alert_threshold:80', author=red.admin
    )
    assert texts(replies) == [
        "Created KPI `streak_retention`: target 70.0% per week. "
        "Alerts when it is below 56.0% (80% of target)."
    ]
    replies = await red.send(
        "!kpi set metric:churn target:20 alert_threshold:120", author=red.admin
    )
    assert "Alerts when it is above 24.0% (120% of target)." in replies[0].content

    assert texts(await red.send("!kpi disable metric:churn_rate", author=red.admin)) == [
        "KPI `churn_rate` is disabled."
    ]
    listing = texts(await red.send("!kpi list"))[0]
    assert listing.index("**Active**") < listing.index("daily_active_users")
    assert listing.index("**Inactive**") < listing.index("churn_rate")

    await red.send("!kpi enable metric:churn_rate", author=red.admin)
    assert texts(await red.send("!kpi remove metric:dau", author=red.admin)) == [
        "Removed KPI `daily_active_users`."
    ]
    stored = await cog.config.guild(red.guild).kpis()
    assert stored == {
        "streak_retention": {
            "target_value": 70.0,
            "period": "week",
            "alert_threshold": 80.0,
            "is_active": True,
        },
        "churn_rate": {
            "target_value": 20.0,
            "period": "week",
            "alert_threshold": 120.0,
            "is_active": True,
        },
    }


@pytest.mark.parametrize(
    "command, answer",
    [
        (
            "!kpi set metric:daily_activ target:100",
            "`daily_activ` is not a metric. Did you mean `daily_active_users`?",
        ),
        (
            "!kpi set metric:dau target:abc",
            "`abc` is not a number; give `target` as a number, like `target:500`.",
        ),
        ("!kpi set metric:dau target:-5", "`target` must be at least 0, not -5."),
        (
            "!kpi set metric:dau target:5 period:fortnight",
            "`fortnight` is not a period; use one of day, week, month or quarter.",
        ),
        (
            "!kpi set metric:dau target:5 alert_threshold:0",
            "`alert_threshold` must be at least 1, not 0.",
        ),
        (
            "!kpi set target:5",
            "The option `metric:` is required; `!help kpi set` shows an example.",
        ),
        ("!kpi set metric:dau target:", "The option `target:` needs a value after the colon."),
        (
            "!kpi enable metric:wau",
            "There is no KPI for `weekly_active_users`; create it with `kpi set metric:weekly_active_users target:<value>`.",
        ),
        (
            "!kpi remove metric:wau",
            "There is no KPI for `weekly_active_users`; `kpi list` shows the KPIs set.",
        ),
        ("!kpi export format:xlsx", "`xlsx` is not a valid format; use `csv`, `json`."),
        (
            "!kpi export start_date:2024-02-30",
            "`2024-02-30` is not a date; write it as YYYY-MM-DD, like `2024-01-31`.",
        ),
        (
            "!kpi export start_date:2024-03-01 end_date:2024-02-01",
            "`start_date` 2024-03-01 is after `end_date` 2024-02-01; swap them.",
        ),
        ("!kpi economy enabled:maybe", "`maybe` is not true or false; use `true` or `false`."),
        (
            "!kpi import",
            "Attach a CSV or JSON file of activity to import, then run the command again.",
        ),
        (
            "!kpi set metric:churn target:20 alert_threshold:80",
            "`churn_rate` is better when lower, so it alerts above a multiple of its target: give a threshold of at least 100, like 120, not 80.",
        ),
        (
            "!kpi set metric:dau target:100 alert_threshold:150",
            "`daily_active_users` is better when higher, so it alerts below a share of its target: give a threshold of at most 100, like 80, not 150.",
        ),
        (
            "!kpi set metric:streak_retention target:150",
            "`streak_retention` is a percentage, so its target must be at most 100, not 150.",
        ),
        (
            "!kpi export formt:json",
            "`formt:` is not an option of `kpi export`; its options are `format:`, `data:`, `start_date:`, `end_date:`.",
        ),
        (
            "!kpi set metric:dau target:5 foo:bar",
            "`foo:` is not an option of `kpi set`; its options are `metric:`, `target:`, `period:`, `alert_threshold:`.",
        ),
        ("!kpi enable", "The option `metric:` is required; `!help kpi enable` shows an example."),
        ("!kpi set metric:" + "x" * 1900 + " target:5", "`" + "x" * 59 + "…` is not a metric."),
    ],
)
async def test_bad_input_gets_one_sentence(red, command, answer):
    await kpi_cog(red)
    assert texts(await red.send(command, author=red.admin)) == [answer]
    assert await red.bot.get_cog("KPITracker").config.guild(red.guild).kpis() == {}


@pytest.mark.parametrize(
    "command",
    [
        "!kpi set metric:dau target:5",
        "!kpi enable metric:dau",
        "!kpi disable metric:dau",
        "!kpi remove metric:dau",
        "!kpi export",
        "!kpi import",
        "!kpi economy enabled:true",
    ],
)
async def test_members_without_admin_rights_cannot_change_settings(red, command):
    await kpi_cog(red)
    name = command[1:].split(" metric")[0].split(" enabled")[0]
    assert texts(await red.send(command, author=red.member)) == [
        "Only server admins (the bot's admin role or the Manage Server permission) "
        f"can use `{name}`."
    ]


async def test_members_can_read(red):
    await kpi_cog(red)
    await red.send("!kpi set metric:wau target:10", author=red.admin)
    assert "weekly_active_users" in texts(await red.send("!kpi list", author=red.member))[0]
    replies = await red.send("!kpi report", author=red.member)
    assert replies[0].embeds[0].fields[0].name == "⚪ weekly_active_users"


async def test_every_command_works_as_slash(red):
    cog = await kpi_cog(red, now=utc(2021, 11, 19))
    await red.enable_slash("kpitracker")

    replies = await red.slash(
        "kpi set", author=red.admin, metric="wau", target="70", period="month"
    )
    assert texts(replies) == ["Created KPI `weekly_active_users`: target 70 per month."]
    assert texts(await red.slash("kpi set", author=red.admin, metric="wau", target="x")) == [
        "`x` is not a number; give `target` as a number, like `target:500`."
    ]
    assert "weekly_active_users" in texts(await red.slash("kpi list"))[0]
    assert texts(await red.slash("kpi disable", author=red.admin, metric="wau")) == [
        "KPI `weekly_active_users` is disabled."
    ]
    assert texts(await red.slash("kpi enable", author=red.admin, metric="wau")) == [
        "KPI `weekly_active_users` is enabled."
    ]
    assert texts(await red.slash("kpi economy", author=red.admin, enabled="true"))[0].startswith(
        "Successful `payday` commands now count as claims"
    )
    assert texts(await red.slash("kpi set", author=red.member, metric="wau", target="1"))[
        0
    ].startswith("Only server admins")

    assert texts(await red.slash("kpi import", author=red.admin, file=HISTORY)) == [
        "Imported 15,480 new rows from `cardano_stackexchange.csv`; 0 were already in the ledger."
    ]
    report = await red.slash("kpi report")
    field = report[0].embeds[0].fields[0]
    # 73 distinct claimers in the 7 days before 2021-11-19, checked against the reference
    assert field.name == "✅ weekly_active_users"
    assert field.value == "**73** of 70 (month) · 104% of target · achieved"

    exported = await red.slash(
        "kpi export",
        author=red.admin,
        format="csv",
        data="ledger",
        start_date="2021-11-01",
        end_date="2021-11-01",
    )
    assert exported[0].files[0].filename == f"kpi-ledger-{red.guild.id}.csv"
    assert texts(await red.slash("kpi remove", author=red.admin, metric="wau")) == [
        "Removed KPI `weekly_active_users`."
    ]
    assert await cog.config.guild(red.guild).kpis() == {}


async def test_slash_payload_is_valid_and_metrics_autocomplete(red):
    await kpi_cog(red)
    await red.enable_slash("kpitracker")

    payload = red.slash_payload()

    assert slash_payload_problems(payload) == []
    (kpi,) = [command for command in payload if command["name"] == "kpi"]
    names = {option["name"] for option in kpi["options"]}
    assert {
        "set",
        "list",
        "report",
        "enable",
        "disable",
        "remove",
        "export",
        "import",
        "economy",
    } <= names
    (set_command,) = [option for option in kpi["options"] if option["name"] == "set"]
    metric = set_command["options"][0]
    assert metric["name"] == "metric" and metric["required"] and metric["autocomplete"]
    period = [option for option in set_command["options"] if option["name"] == "period"][0]
    assert [choice["value"] for choice in period["choices"]] == ["day", "week", "month", "quarter"]

    command = red.bot.tree.get_command("kpi").get_command("set")
    choices = await command._params["metric"].autocomplete(command.binding, None, "stre")
    assert [choice.value for choice in choices] == [
        "streak_retention",
        "avg_streak_length",
        "streak_break_frequency",
    ]


async def test_a_change_keeps_the_settings_it_does_not_name(red):
    cog = await kpi_cog(red)
    await red.send(
        "!kpi set metric:dau target:500 period:month alert_threshold:80", author=red.admin
    )
    await red.send("!kpi disable metric:dau", author=red.admin)

    replies = await red.send("!kpi set metric:dau target:600", author=red.admin)

    assert texts(replies) == [
        "Updated KPI `daily_active_users`: target 600 per month. "
        "Alerts when it is below 480 (80% of target)."
    ]
    assert await cog.config.guild(red.guild).kpis() == {
        "daily_active_users": {
            "target_value": 600.0,
            "period": "month",
            "alert_threshold": 80.0,
            "is_active": False,
        }
    }
