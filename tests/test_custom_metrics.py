"""Custom formula metrics in a real Red: definitions, values, KPIs on them, and their users."""

from __future__ import annotations

import pytest

from kpi_helpers import HISTORY, history_rows, kpi_cog, live, send_with_file, texts, utc
from kpitracker.ledger import to_ms
from redharness import slash_payload_problems
from reference_metrics import reference_metrics

pytestmark = pytest.mark.cogs("kpitracker")

NOW = utc(2021, 11, 19)
PAGE_EXAMPLE = (
    '!kpi custom-metric create name:"Engagement Score" '
    'formula:"(daily_active_users*0.6)+(weekly_active_users*0.4)" unit:count target:500'
)


def expected_week(now=NOW):
    return reference_metrics(history_rows(1), to_ms(now), 7)


def count(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


async def with_history(red, now=NOW):
    cog = await kpi_cog(red, now=now)
    await send_with_file(red, "!kpi import", HISTORY)
    return cog


async def test_the_page_example_creates_a_metric_and_a_kpi_that_reports_use(red):
    cog = await with_history(red)
    week = expected_week()
    score = week["daily_active_users"] * 0.6 + week["weekly_active_users"] * 0.4

    replies = await red.send(PAGE_EXAMPLE, author=red.admin)

    assert texts(replies) == [
        "Created custom metric `engagement_score` (Engagement Score) = "
        "`(daily_active_users*0.6)+(weekly_active_users*0.4)`. Created KPI `engagement_score`: "
        f"target 500 per week. Its value now (week): {count(score)}."
    ]
    assert await cog.config.guild(red.guild).custom_metrics() == {
        "engagement_score": {
            "name": "Engagement Score",
            "formula": "(daily_active_users*0.6)+(weekly_active_users*0.4)",
            "unit": "count",
            "higher_is_better": True,
        }
    }
    values = await cog.metric_values(red.guild, NOW, "week")
    assert values["engagement_score"] == pytest.approx(score)

    report = await red.send("!kpi report")
    (field,) = report[0].embeds[0].fields
    achieved = 100 * score / 500
    assert field.name == "🟡 engagement_score"
    assert (
        field.value
        == f"**{count(score)}** of 500 (week) · {achieved:.0f}% of target · behind target"
    )
    assert "`engagement_score`: target 500 per week" in texts(await red.send("!kpi list"))[0]


async def test_custom_metrics_are_metric_names_everywhere(red):
    cog = await with_history(red)
    await red.send(PAGE_EXAMPLE, author=red.admin)
    await red.send(
        '!kpi custom-metric create name:"Steady Share" formula:"(streak + conversion) / 2" '
        "unit:percentage",
        author=red.admin,
    )

    replies = await red.send(
        '!kpi set metric:"Steady Share" target:40 alert_threshold:80', author=red.admin
    )
    assert texts(replies) == [
        "Created KPI `steady_share`: target 40.0% per week. Alerts when it is below 32.0% "
        "(80% of target)."
    ]
    assert await cog.resolve_metric_name(red.guild, "engagement score") == "engagement_score"
    assert await cog.resolve_metric_name(red.guild, "ENGAGEMENT_SCORE") == "engagement_score"
    assert await cog.resolve_metric_name(red.guild, "dau") == "daily_active_users"
    with pytest.raises(
        live("catalogue").UnknownMetricError, match="Did you mean `engagement_score`"
    ):
        await cog.resolve_metric_name(red.guild, "engagement_scor")
    info = await cog.metric_info(red.guild, "steady_share")
    assert (info.unit, info.value_type.value, info.higher_is_better) == ("%", "percentage", True)

    kpis = {kpi.metric: kpi for kpi in await cog.get_kpis(red.guild)}
    assert kpis["steady_share"].info.format(12.345) == "12.3%"
    assert texts(await red.send("!kpi disable metric:steady_share", author=red.admin)) == [
        "KPI `steady_share` is disabled."
    ]

    await red.enable_slash("kpitracker")
    command = red.bot.tree.get_command("kpi").get_command("set")
    interaction = type("Interaction", (), {"client": red.bot, "guild": red.guild})()
    choices = await command._params["metric"].autocomplete(command.binding, interaction, "score")
    assert [choice.value for choice in choices] == ["engagement_score"]


async def test_values_follow_dependencies_and_no_data_is_never_zero(red):
    cog = await with_history(red)
    week = expected_week()
    await red.send('!kpi custom-metric create name:"Doubled" formula:"dau * 2"', author=red.admin)
    await red.send(
        '!kpi custom-metric create name:"Base Rate" formula:"efficiency / dau"', author=red.admin
    )
    # Now the first one reads the second: values follow the dependencies, not creation order.
    replies = await red.send(
        '!kpi custom-metric edit name:"Doubled" formula:"base_rate * 2"', author=red.admin
    )
    assert texts(replies) == ["Updated custom metric `doubled` = `base_rate * 2` (count)."]
    assert list(await cog.config.guild(red.guild).custom_metrics()) == ["doubled", "base_rate"]
    replies = await red.send(
        '!kpi custom-metric create name:"Doubled" formula:"wau"', author=red.admin
    )
    assert texts(replies) == [
        "A custom metric `doubled` already exists; change it with `kpi custom-metric edit`."
    ]

    values = await cog.metric_values(red.guild, NOW, "week")
    rate = week["reward_efficiency"] / week["daily_active_users"]
    assert values["base_rate"] == pytest.approx(rate)
    assert values["doubled"] == pytest.approx(rate * 2)

    # Long after the history ends nobody claims: dau is 0 and efficiency has no data.
    later = await cog.metric_values(red.guild, utc(2022, 6, 1), "week")
    assert later["daily_active_users"] == 0 and later["reward_efficiency"] is None
    assert later["base_rate"] is None and later["doubled"] is None

    await red.send(
        '!kpi custom-metric create name:"Per Claimer" formula:"wau / dau"', author=red.admin
    )
    later = await cog.metric_values(red.guild, utc(2022, 6, 1), "week")
    assert later["per_claimer"] is None  # division by zero is no data, not 0


async def test_test_shows_each_input_beside_the_result(red):
    await with_history(red)
    week = expected_week()

    replies = await red.send(
        '!kpi custom-metric test formula:"(streak_retention + new_user_conversion) / 2"',
        author=red.admin,
    )

    mean = (week["streak_retention"] + week["new_user_conversion"]) / 2
    assert texts(replies) == [
        f"`(streak_retention + new_user_conversion) / 2` = **{count(mean)}**, over the trailing "
        "week.\nInputs:\n"
        f"- `streak_retention`: {week['streak_retention']:.1f}%\n"
        f"- `new_user_conversion`: {week['new_user_conversion']:.1f}%"
    ]
    replies = await red.send(
        '!kpi custom-metric test formula:"daily_active_users * 2"', author=red.admin
    )
    assert texts(replies)[0].startswith(
        f"`daily_active_users * 2` = **{count(week['daily_active_users'] * 2)}**"
    )
    replies = await red.send(
        '!kpi custom-metric test formula:"wau / (dau - dau)"', author=red.admin
    )
    assert texts(replies)[0].startswith(
        "`wau / (dau - dau)` = **no data** (division by zero at column 1), over the trailing week."
    )
    replies = await red.send("!kpi custom-metric test formula:dau.__class__", author=red.admin)
    assert texts(replies) == [
        "The formula is refused. Attribute access (at column 1) cannot be used; a formula uses "
        "metric names, numbers, + - * / **, parentheses and min, max, abs, round."
    ]


BAD_DEFINITIONS = [
    (
        'name:"Bad" formula:"__import__(\'os\')"',
        "`__import__` at column 1 is not an allowed function; use min, max, abs or round.",
    ),
    (
        'name:"Bad" formula:"10**10**10"',
        "The exponent at column 5 is 1e+10; the largest allowed is 100.",
    ),
    (
        'name:"Bad" formula:"dau + wua"',
        "Unknown name at column 7: `wua` is not a metric. Did you mean `wau`?",
    ),
    (
        'name:"Loop" formula:"loop + 1"',
        "The formulas depend on each other in a circle: `loop` → `loop`; a metric cannot use itself.",
    ),
    ('name:"dau" formula:"wau"', "`dau` is already a built-in name; choose another name."),
    (
        'name:"42 things" formula:"wau"',
        "`42 things` must start with a letter, like `Engagement Score`.",
    ),
    (
        'name:"Return" formula:"wau"',
        "`return` is a reserved word that a formula cannot read as a name; choose another name, "
        "like `Return Score`.",
    ),
    (
        'name:"Print" formula:"wau"',
        "`print` is a reserved word that a formula cannot read as a name; choose another name, "
        "like `Print Score`.",
    ),
    (
        'name:"Lambda" formula:"wau"',
        "`lambda` is a reserved word that a formula cannot read as a name; choose another name, "
        "like `Lambda Score`.",
    ),
    (
        'name:"Охват" formula:"wau"',
        "`Охват` cannot be written in a formula; use Latin letters, digits and underscores, "
        "like `Engagement Score`.",
    ),
    (
        'name:"Share" formula:"wau" unit:percentage target:500',
        "`share` is a percentage, so its target must be at most 100, not 500.",
    ),
    (
        'name:"Bad" formula:"wau" unit:parsecs',
        "`parsecs` is not a unit; use count, percentage, hours or days.",
    ),
    (
        'formula:"wau"',
        "The option `name:` is required; `!help kpi custom-metric create` shows an example.",
    ),
]


async def test_bad_definitions_get_one_sentence_and_store_nothing(red):
    cog = await kpi_cog(red, now=NOW)
    for command, answer in BAD_DEFINITIONS:
        replies = await red.send(f"!kpi custom-metric create {command}", author=red.admin)
        assert texts(replies) == [answer], command
    assert await cog.config.guild(red.guild).custom_metrics() == {}
    assert await cog.config.guild(red.guild).kpis() == {}


async def test_a_cycle_through_an_edit_is_refused(red):
    cog = await kpi_cog(red, now=NOW)
    await red.send('!kpi custom-metric create name:"First" formula:"dau + 1"', author=red.admin)
    await red.send('!kpi custom-metric create name:"Second" formula:"first * 2"', author=red.admin)

    replies = await red.send(
        '!kpi custom-metric edit name:first formula:"second - 1"', author=red.admin
    )

    assert texts(replies) == [
        "The formulas depend on each other in a circle: `first` → `second` → `first`; "
        "a metric cannot use itself."
    ]
    assert (await cog.config.guild(red.guild).custom_metrics())["first"]["formula"] == "dau + 1"


async def test_a_metric_in_use_is_not_edited_or_removed_silently(red):
    cog = await with_history(red)
    await red.send(PAGE_EXAMPLE, author=red.admin)
    await red.send(
        '!kpi custom-metric create name:"Half Score" formula:"engagement_score / 2"',
        author=red.admin,
    )
    await red.send(
        "!kpi alert-config metric:engagement_score threshold:80 frequency:daily_digest "
        "severity:warning",
        author=red.admin,
    )
    replies = await red.send(
        '!kpi compound-alert create name:"Low Engagement" '
        'conditions:"dau<100,engagement_score<50" logic:AND severity:critical',
        author=red.admin,
    )
    assert "Low Engagement" in texts(replies)[0]
    await red.load("goals")
    goals = red.bot.get_cog("Goals")

    async def goals_using_metric(guild, name):
        return ["Q1 Growth"] if name == "engagement_score" else []

    goals.goals_using_metric = goals_using_metric
    users = (
        "KPI `engagement_score`, alert `engagement_score`, compound alert `Low Engagement`, "
        "custom metric `half_score`, goal `Q1 Growth`"
    )

    replies = await red.send('!kpi custom-metric remove name:"Engagement Score"', author=red.admin)
    assert texts(replies) == [
        f"`engagement_score` is used by {users}; remove those first, then remove the metric."
    ]
    replies = await red.send(
        '!kpi custom-metric edit name:"Engagement Score" formula:"dau"', author=red.admin
    )
    assert texts(replies) == [
        "`engagement_score` is used by KPI `engagement_score`, alert `engagement_score`, "
        "compound alert `Low Engagement`, goal `Q1 Growth`; nothing was changed. "
        "Add `force:true` to change it anyway."
    ]
    view = texts(await red.send('!kpi custom-metric view name:"Engagement Score"'))[0]
    assert f"Used by: {users}" in view and "KPI target: 500 per week" in view

    replies = await red.send(
        '!kpi custom-metric edit name:"Engagement Score" formula:"dau" force:true',
        author=red.admin,
    )
    assert texts(replies) == [
        "Updated custom metric `engagement_score` = `dau` (count). This changes the values of "
        "KPI `engagement_score`, alert `engagement_score`, compound alert `Low Engagement`, "
        "goal `Q1 Growth`."
    ]
    values = await cog.metric_values(red.guild, NOW)
    assert values["engagement_score"] == expected_week()["daily_active_users"]
    assert values["half_score"] == expected_week()["daily_active_users"] / 2

    await red.send("!kpi custom-metric remove name:half_score", author=red.admin)
    await red.send("!kpi remove metric:engagement_score", author=red.admin)
    await red.send('!kpi compound-alert remove name:"Low Engagement"', author=red.admin)
    await cog.config.guild(red.guild).alert_settings.clear_raw("engagement_score")
    goals.goals_using_metric = lambda guild, name: []
    replies = await red.send('!kpi custom-metric remove name:"Engagement Score"', author=red.admin)
    assert texts(replies) == ["Removed custom metric `engagement_score` (Engagement Score)."]
    assert await cog.config.guild(red.guild).custom_metrics() == {}


async def test_list_and_view(red):
    await kpi_cog(red, now=NOW)
    assert texts(await red.send("!kpi custom-metric list")) == [
        "No custom metrics yet. Create one with "
        "`kpi custom-metric create name:<name> formula:<formula>`."
    ]
    await red.send(
        '!kpi custom-metric create name:"Wait Time" formula:"ttfr" unit:hours better:lower',
        author=red.admin,
    )
    assert texts(await red.send("!kpi custom-metric list")) == [
        "**Custom metrics** (1)\n- **Wait Time** (`wait_time`, hours, lower is better): `ttfr`"
    ]
    assert texts(await red.send('!kpi custom-metric view name:"wait time"')) == [
        "**Wait Time** (`wait_time`)\nFormula: `ttfr`\nUnit: hours · lower is better\n"
        "Value now (week): no data (`time_to_first_reward` has no data)\nUsed by: nothing yet"
    ]
    assert texts(await red.send('!kpi custom-metric view name:"Nope"')) == [
        "There is no custom metric called `Nope`. This server has `Wait Time`."
    ]


ADMIN_COMMANDS = [
    "!kpi custom-metric create name:x formula:dau",
    "!kpi custom-metric test formula:dau",
    "!kpi custom-metric edit name:x formula:dau",
    "!kpi custom-metric remove name:x",
]


async def test_members_cannot_change_custom_metrics(red):
    await kpi_cog(red, now=NOW)
    for command in ADMIN_COMMANDS:
        name = " ".join(command[1:].split()[:3])
        assert texts(await red.send(command, author=red.member)) == [
            "Only server admins (the bot's admin role or the Manage Server permission) "
            f"can use `{name}`."
        ]


async def test_every_custom_metric_command_works_as_slash(red):
    cog = await with_history(red)
    await red.enable_slash("kpitracker")
    assert slash_payload_problems(red.slash_payload()) == []
    week = expected_week()

    replies = await red.slash(
        "kpi custom-metric create",
        author=red.admin,
        name="Engagement Score",
        formula="(daily_active_users*0.6)+(weekly_active_users*0.4)",
        unit="count",
        target="500",
    )
    assert texts(replies)[0].startswith("Created custom metric `engagement_score`")
    replies = await red.slash("kpi custom-metric test", author=red.admin, formula="dau * 2")
    assert f"**{count(week['daily_active_users'] * 2)}**" in texts(replies)[0]
    assert "engagement_score" in texts(await red.slash("kpi custom-metric list"))[0]
    assert (
        "Formula: `(daily_active_users*0.6)"
        in texts(await red.slash("kpi custom-metric view", name="engagement_score"))[0]
    )
    replies = await red.slash(
        "kpi custom-metric edit",
        author=red.admin,
        name="engagement_score",
        formula="wau",
        force="true",
    )
    assert texts(replies)[0].startswith("Updated custom metric `engagement_score` = `wau`")
    assert texts(await red.slash("kpi remove", author=red.admin, metric="engagement_score")) == [
        "Removed KPI `engagement_score`."
    ]
    assert texts(
        await red.slash(
            "kpi custom-metric remove", author=red.admin, name="Engagement Score", force="true"
        )
    ) == [
        "Removed custom metric `engagement_score` (Engagement Score). Goals were not checked "
        "because the goals cog is not loaded."
    ]
    assert texts(
        await red.slash("kpi custom-metric create", author=red.member, name="x", formula="dau")
    )[0].startswith("Only server admins")
    assert await cog.config.guild(red.guild).custom_metrics() == {}


async def test_snapshots_store_custom_metric_kpis(red):
    cog = await with_history(red, now=utc(2021, 11, 19, 0, 0, 5))
    await red.send(PAGE_EXAMPLE, author=red.admin)

    assert await cog.write_snapshots() == {red.guild.id: 1}

    (snapshot,) = await cog.store.snapshots(red.guild.id)
    week = expected_week()
    score = week["daily_active_users"] * 0.6 + week["weekly_active_users"] * 0.4
    entry = snapshot.metrics["kpis"]["engagement_score"]
    assert entry["value"] == pytest.approx(score)
    assert entry["achieved"] is (score >= 500)
    assert snapshot.metrics["values"]["engagement_score"] == pytest.approx(score)


async def test_a_direction_or_unit_change_must_fit_the_kpi_on_the_metric(red):
    cog = await kpi_cog(red, now=NOW)
    await red.send(
        '!kpi custom-metric create name:Score formula:"dau" target:10', author=red.admin
    )
    await red.send("!kpi set metric:score target:10 alert_threshold:80", author=red.admin)
    before = await cog.config.guild(red.guild).custom_metrics()

    replies = await red.send(
        "!kpi custom-metric edit name:Score better:lower force:true", author=red.admin
    )
    assert texts(replies) == [
        "`score` is better when lower, so it alerts above a multiple of its target: give a "
        "threshold of at least 100, like 120, not 80. Change KPI `score` with `kpi set` first "
        "(a threshold of 100 suits either direction)."
    ]
    await red.send("!kpi set metric:score target:500", author=red.admin)
    replies = await red.send(
        "!kpi custom-metric edit name:Score unit:percentage force:true", author=red.admin
    )
    assert texts(replies)[0].startswith(
        "`score` is a percentage, so its target must be at most 100, not 500."
    )
    assert await cog.config.guild(red.guild).custom_metrics() == before


async def test_removal_without_the_goals_cog_says_goals_were_not_checked(red):
    cog = await kpi_cog(red, now=NOW)
    await red.send('!kpi custom-metric create name:Score formula:"dau"', author=red.admin)
    assert red.bot.get_cog("Goals") is None

    replies = await red.send("!kpi custom-metric remove name:Score", author=red.admin)
    assert texts(replies) == [
        "Goals could not be checked for `score` because the goals cog is not loaded; nothing "
        "was removed, add `force:true` to remove it anyway."
    ]
    assert "score" in await cog.config.guild(red.guild).custom_metrics()
    replies = await red.send("!kpi custom-metric remove name:Score force:true", author=red.admin)
    assert texts(replies) == [
        "Removed custom metric `score` (Score). Goals were not checked because the goals cog "
        "is not loaded."
    ]
    assert await cog.config.guild(red.guild).custom_metrics() == {}
