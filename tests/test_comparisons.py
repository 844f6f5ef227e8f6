"""Period comparisons in a real Red: baselines from snapshots and the ledger, checked by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kpi_helpers import HISTORY, history_rows, kpi_cog, live, send_with_file, texts, utc
from kpitracker.ledger import Kind, to_ms
from redharness import slash_payload_problems
from reference_metrics import reference_metrics

pytestmark = pytest.mark.cogs("kpitracker")

NOW = utc(2021, 11, 19, 9, 30)
OCTOBER = [date(2021, 10, 1) + timedelta(days=offset) for offset in range(31)]


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def claimers_on(rows, day: date) -> int:
    """Daily active users of `day`: distinct users with a claim that day (UTC)."""
    start = to_ms(utc(day.year, day.month, day.day))
    return len(
        {
            row.user_id
            for row in rows
            if row.kind == Kind.CLAIM and start <= row.ts_ms < start + 86_400_000
        }
    )


def end_of(day: date) -> int:
    return to_ms(utc(day.year, day.month, day.day)) + 86_400_000


def change(current: float, baseline: float) -> str:
    return f"{(current - baseline) / abs(baseline) * 100:+.1f}%"


async def with_history(red, now=NOW):
    cog = await kpi_cog(red, now=now)
    await send_with_file(red, "!kpi import", HISTORY)
    return cog


async def test_a_baseline_month_from_the_ledger(red):
    cog = await with_history(red)
    rows = history_rows(red.guild.id)
    baseline = sum(claimers_on(rows, day) for day in OCTOBER) / len(OCTOBER)
    current = reference_metrics(rows, to_ms(NOW), 7)["daily_active_users"]

    replies = await red.send(
        "!kpi compare set metric:dau baseline_start:2021-10-01 baseline_end:2021-10-31",
        author=red.admin,
    )

    assert texts(replies) == [
        f"Baseline of `daily_active_users` set to 2021-10-01 to 2021-10-31: {baseline:,.2f} "
        "(week), the mean of 31 days with data out of 31. Reports now compare with it."
    ]
    assert await cog.config.guild(red.guild).comparisons() == {
        "daily_active_users": {"baseline_start": "2021-10-01", "baseline_end": "2021-10-31"}
    }
    arrow = "↑" if current > baseline else "↓"
    verdict = "better" if current > baseline else "worse"
    line = (
        f"`daily_active_users` (week): now **{current:,.0f}** · baseline {baseline:,.2f} "
        f"(2021-10-01 to 2021-10-31) · {arrow} {change(current, baseline)} ({verdict})"
    )
    assert await cog.comparison_report_lines(red.guild) == [line]
    assert texts(await red.send("!kpi compare")) == [
        f"**Compared with baseline** (values now at 2021-11-19 09:30 UTC)\n{line}"
    ]


async def test_snapshots_are_used_where_they_exist_and_the_ledger_elsewhere(red):
    cog = await with_history(red)
    rows = history_rows(red.guild.id)
    Snapshot = live("store").Snapshot
    await red.send("!kpi set metric:streak_retention target:50 period:month", author=red.admin)
    # Stored snapshots for 1-5 October whose values differ from the ledger's, on purpose.
    for offset, day in enumerate(OCTOBER[:5]):
        content = {
            "kpis": {"streak_retention": {"value": 10.0 + offset, "period": "month"}},
            "values": {"daily_active_users": 1000.0 + offset, "streak_retention": 99.0},
            "stats": {},
        }
        await cog.store.put_snapshot(Snapshot(red.guild.id, day.isoformat(), "daily", content))

    await red.send(
        "!kpi compare set metric:dau baseline_start:2021-10-01 baseline_end:2021-10-10",
        author=red.admin,
    )
    await red.send(
        "!kpi compare set metric:streak_retention baseline_start:2021-10-01 baseline_end:2021-10-10",
        author=red.admin,
    )

    dau = (
        sum(1000 + offset for offset in range(5))
        + sum(claimers_on(rows, d) for d in OCTOBER[5:10])
    ) / 10
    # streak_retention has a monthly KPI: the snapshot's KPI entry (same period) is used, and
    # the ledger is read over 30 days for the others, never the weekly `values`.
    ledger_streaks = [
        reference_metrics(rows, end_of(d), 30)["streak_retention"] for d in OCTOBER[5:10]
    ]
    streak = (sum(10.0 + offset for offset in range(5)) + sum(ledger_streaks)) / 10
    lines = await cog.comparison_report_lines(red.guild)
    assert f"baseline {dau:,.2f} (2021-10-01 to 2021-10-10)" in lines[0]
    assert lines[1].startswith("`streak_retention` (month): now **")
    assert f"baseline {streak:.1f}% (2021-10-01 to 2021-10-10)" in lines[1]


async def test_a_custom_metric_baseline_uses_its_formula_on_each_day(red):
    cog = await with_history(red)
    rows = history_rows(red.guild.id)
    await red.send(
        '!kpi custom-metric create name:"Engagement Score" formula:"dau*0.6+wau*0.4"',
        author=red.admin,
    )
    Snapshot = live("store").Snapshot
    first = OCTOBER[0]
    week_values = reference_metrics(rows, end_of(first), 7)
    altered = {**week_values, "daily_active_users": 500.0}
    await cog.store.put_snapshot(
        Snapshot(
            red.guild.id, first.isoformat(), "daily", {"kpis": {}, "values": altered, "stats": {}}
        )
    )

    await red.send(
        "!kpi compare set metric:engagement_score baseline_start:2021-10-01 baseline_end:2021-10-07",
        author=red.admin,
    )

    daily = [500 * 0.6 + week_values["weekly_active_users"] * 0.4]
    for day in OCTOBER[1:7]:
        values = reference_metrics(rows, end_of(day), 7)
        daily.append(values["daily_active_users"] * 0.6 + values["weekly_active_users"] * 0.4)
    expected = sum(daily) / 7
    (line,) = await cog.comparison_report_lines(red.guild)
    assert f"baseline {expected:,.2f} (2021-10-01 to 2021-10-07)" in line


async def test_a_zero_or_missing_baseline_shows_n_a(red):
    cog = await with_history(red)
    await red.send('!kpi custom-metric create name:"Nothing" formula:"dau * 0"', author=red.admin)
    await red.send(
        "!kpi compare set metric:nothing baseline_start:2021-10-01 baseline_end:2021-10-02",
        author=red.admin,
    )
    await red.send(
        "!kpi compare set metric:efficiency baseline_start:2021-10-01 baseline_end:2021-10-02",
        author=red.admin,
    )

    cog.clock = lambda: utc(2022, 6, 1)  # long after the history: nobody claims any more
    lines = await cog.comparison_report_lines(red.guild)

    assert lines[0] == (
        "`nothing` (week): now **0** · baseline 0 (2021-10-01 to 2021-10-02) · "
        "change n/a (baseline is 0)"
    )
    assert lines[1].startswith("`reward_efficiency` (week): now **no data** · baseline ")
    assert lines[1].endswith("· change n/a (no data now)")
    assert not any("inf" in line or "nan" in line for line in lines)


BAD_RANGES = [
    (
        "baseline_start:2021-10-31 baseline_end:2021-10-01",
        "`baseline_start` 2021-10-31 is after `baseline_end` 2021-10-01; swap them.",
    ),
    (
        "baseline_start:2021-12-01 baseline_end:2021-12-31",
        "The baseline 2021-12-01 to 2021-12-31 is in the future; choose days up to 2021-11-18.",
    ),
    (
        "baseline_start:2021-11-01 baseline_end:2021-11-19",
        "`baseline_end` 2021-11-19 has not ended yet; a baseline ends by yesterday, 2021-11-18.",
    ),
    (
        "baseline_start:2020-01-01 baseline_end:2021-03-01",
        "The baseline spans 426 days; the limit is 366 days.",
    ),
    (
        "baseline_start:2020-01-01 baseline_end:2020-01-31",
        "There is no data for `daily_active_users` from 2020-01-01 to 2020-01-31; choose days with activity.",
    ),
    (
        "baseline_start:2021-02-30 baseline_end:2021-03-01",
        "`2021-02-30` is not a date; write it as YYYY-MM-DD, like `2024-01-31`.",
    ),
    (
        "baseline_start:2021-10-01",
        "The option `baseline_end:` is required; `!help kpi compare set` shows an example.",
    ),
]


async def test_bad_ranges_are_refused_with_the_reason(red):
    cog = await with_history(red)
    for options, answer in BAD_RANGES:
        replies = await red.send(f"!kpi compare set metric:dau {options}", author=red.admin)
        assert texts(replies) == [answer], options
    assert await cog.config.guild(red.guild).comparisons() == {}


async def test_view_one_disable_and_member_rights(red):
    cog = await with_history(red)
    assert texts(await red.send("!kpi compare")) == [
        "No comparisons are set. Set one with `kpi compare set metric:<name> "
        "baseline_start:YYYY-MM-DD baseline_end:YYYY-MM-DD`."
    ]
    await red.send(
        "!kpi compare set metric:dau baseline_start:2021-10-01 baseline_end:2021-10-31",
        author=red.admin,
    )
    await red.send(
        "!kpi compare set metric:wau baseline_start:2021-09-01 baseline_end:2021-09-30",
        author=red.admin,
    )

    one = texts(await red.send("!kpi compare metric:wau"))[0]
    assert "`weekly_active_users`" in one and "daily_active_users" not in one
    assert texts(await red.send("!kpi compare metric:churn")) == [
        "There is no comparison for `churn_rate`; set one with `kpi compare set metric:churn_rate "
        "baseline_start:YYYY-MM-DD baseline_end:YYYY-MM-DD`."
    ]
    assert texts(await red.send("!kpi compare disable metric:dau", author=red.member)) == [
        "Only server admins (the bot's admin role or the Manage Server permission) "
        "can use `kpi compare disable`."
    ]
    assert texts(await red.send("!kpi compare disable metric:dau", author=red.admin)) == [
        "Comparison for `daily_active_users` is off."
    ]
    assert list(await cog.config.guild(red.guild).comparisons()) == ["weekly_active_users"]
    assert texts(await red.send("!kpi compare disable metric:dau", author=red.admin)) == [
        "There is no comparison for `daily_active_users`; `kpi compare` lists them."
    ]
    assert (
        "Only server admins"
        in texts(
            await red.send(
                "!kpi compare set metric:dau baseline_start:2021-10-01 baseline_end:2021-10-31"
            )
        )[0]
    )


async def test_compare_works_as_slash_with_view_as_the_listing(red):
    cog = await with_history(red)
    await red.enable_slash("kpitracker")
    payload = red.slash_payload()
    assert slash_payload_problems(payload) == []
    (kpi,) = [command for command in payload if command["name"] == "kpi"]
    (compare,) = [option for option in kpi["options"] if option["name"] == "compare"]
    assert {option["name"] for option in compare["options"]} == {"view", "set", "disable"}

    replies = await red.slash(
        "kpi compare set",
        author=red.admin,
        metric="dau",
        baseline_start="2021-10-01",
        baseline_end="2021-10-31",
    )
    assert texts(replies)[0].startswith(
        "Baseline of `daily_active_users` set to 2021-10-01 to 2021-10-31"
    )
    listing = texts(await red.slash("kpi compare view"))[0]
    assert listing.splitlines()[1] == (await cog.comparison_report_lines(red.guild))[0]
    assert (
        "`daily_active_users`"
        in texts(await red.slash("kpi compare view", metric="daily_active_users"))[0]
    )
    assert texts(await red.slash("kpi compare disable", author=red.admin, metric="dau")) == [
        "Comparison for `daily_active_users` is off."
    ]
    (help_page,) = (await red.send("!help kpi compare"))[0].embeds
    help_text = help_page.description + "".join(field.value for field in help_page.fields)
    assert "As a slash command the listing is `/kpi compare view`." in help_text


async def test_the_report_shows_a_preset_server_a_custom_metric_and_a_baseline_month(red):
    cog = await with_history(red)
    rows = history_rows(red.guild.id)
    await red.send('!kpi preset apply name:"Gaming Community"', author=red.admin)
    await red.send(
        '!kpi custom-metric create name:"Engagement Score" '
        'formula:"(daily_active_users*0.6)+(weekly_active_users*0.4)" unit:count target:500',
        author=red.admin,
    )
    await red.send(
        "!kpi compare set metric:daily_active_users baseline_start:2021-10-01 "
        "baseline_end:2021-10-31",
        author=red.admin,
    )

    replies = await red.send("!kpi report")

    embeds = [embed for reply in replies for embed in reply.embeds]
    fields = {
        field.name.split(" ", 1)[1]: field.value for embed in embeds for field in embed.fields
    }
    assert set(fields) == {
        "churn_rate",
        "daily_active_users",
        "engagement_score",
        "events_per_active_user",
        "streak_retention",
        "voice_participation",
    }
    week = reference_metrics(rows, to_ms(NOW), 7)
    score = week["daily_active_users"] * 0.6 + week["weekly_active_users"] * 0.4
    shown = f"{int(score):,}" if float(score).is_integer() else f"{score:,.2f}"
    assert fields["engagement_score"].startswith(f"**{shown}** of 500 (week)")
    (line,) = await cog.comparison_report_lines(red.guild)
    baseline = sum(claimers_on(rows, day) for day in OCTOBER) / len(OCTOBER)
    assert f"baseline {baseline:,.2f} (2021-10-01 to 2021-10-31)" in line
    assert any(line in (embed.description or "") for embed in embeds)


async def test_stray_text_after_kpi_compare_is_refused(red):
    await with_history(red)
    await red.send(
        "!kpi compare set metric:dau baseline_start:2021-10-01 baseline_end:2021-10-31",
        author=red.admin,
    )
    sentence = (
        "`{}` is not an option of `kpi compare`; write `metric:<name>` to see one metric, or "
        "nothing to see them all."
    )
    assert texts(await red.send("!kpi compare bogus")) == [sentence.format("bogus")]
    assert texts(await red.send("!kpi compare dau metric:dau")) == [sentence.format("dau")]
    assert texts(await red.send("!kpi compare bogus:1")) == [
        "`bogus:` is not an option of `kpi compare`; its options are `metric:`."
    ]
    assert "`daily_active_users`" in texts(await red.send("!kpi compare"))[0]
