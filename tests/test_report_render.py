"""The full KPI report on the real history: values, changes, sections, charts and splitting."""

from __future__ import annotations

import logging
import threading
from datetime import date, timedelta

import discord
import numpy as np
import pytest
from redbot.core import commands

from kpi_helpers import HISTORY, history_rows, kpi_cog, live, send_with_file, texts, utc
from kpitracker.ledger import to_ms
from reference_metrics import reference_metrics

pytestmark = pytest.mark.cogs("kpitracker")

AT = utc(2021, 11, 19)
LAST_DAY = date(2021, 11, 18)
KPIS = [  # metric, target, period, alert threshold
    ("weekly_active_users", 70, "month", None),
    ("daily_active_users", 30, "week", 80),
    ("churn_rate", 50, "week", 120),
    ("streak_retention", 40, "month", None),
]


async def _tracked(red, kpis=KPIS, first_day=date(2021, 8, 20)):
    """The real history imported, KPIs set, and a daily snapshot from `first_day` to 18 Nov."""
    next_day = first_day + timedelta(days=1)
    cog = await kpi_cog(red, now=utc(next_day.year, next_day.month, next_day.day, 0, 0, 5))
    await send_with_file(red, "!kpi import", HISTORY)
    for metric, target, period, threshold in kpis:
        alert = f" alert_threshold:{threshold}" if threshold else ""
        await red.send(
            f"!kpi set metric:{metric} target:{target} period:{period}{alert}", author=red.admin
        )
    await cog.write_snapshots()
    cog.clock = lambda: utc(2021, 11, 19, 0, 0, 5)
    await cog.write_snapshots()
    return cog


def _count(value) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _all(rendered, what):
    return [item for message in rendered.messages for item in getattr(message, what)]


async def test_every_kpi_is_judged_against_independent_values(red):
    cog = await _tracked(red, first_day=date(2021, 11, 10))
    rows = history_rows(red.guild.id)
    month, week = reference_metrics(rows, to_ms(AT), 30), reference_metrics(rows, to_ms(AT), 7)

    rendered = await cog.render_report(red.guild, at=AT)

    summary = rendered.messages[0].embeds[0]
    assert summary.title == f"KPI report · {red.guild.name}"
    fields = {field.name.split(" ", 1)[1]: field.value for field in summary.fields}
    assert list(fields) == sorted(metric for metric, *_ in KPIS)
    assert fields["weekly_active_users"] == "**73** of 70 (month) · 104% of target · achieved"
    dau = week["daily_active_users"]
    assert fields["daily_active_users"].startswith(f"**{_count(dau)}** of 30 (week) · ")
    assert f"{100 * dau / 30:.0f}% of target" in fields["daily_active_users"]
    churn = week["churn_rate"]
    assert fields["churn_rate"].startswith(f"**{churn:.1f}%** of 50.0% (week) · ")
    assert f"{100 * 50 / churn:.0f}% of target" in fields["churn_rate"]
    assert fields["streak_retention"].startswith(f"**{month['streak_retention']:.1f}%** of 40.0%")


async def test_change_against_the_previous_period(red):
    cog = await _tracked(red, first_day=date(2021, 11, 10))
    rows = history_rows(red.guild.id)

    rendered = await cog.render_report(red.guild, at=AT)

    (embed,) = [
        e for e in _all(rendered, "embeds") if e.title == "Change against the previous period"
    ]
    lines = {line.split("`")[1]: line for line in embed.description.splitlines()}
    assert list(lines) == sorted(metric for metric, *_ in KPIS)
    for metric, _, period, _ in KPIS:
        days = {"week": 7, "month": 30}[period]
        now = reference_metrics(rows, to_ms(AT), days)[metric]
        before = reference_metrics(rows, to_ms(AT - timedelta(days=days)), days)[metric]
        line = lines[metric]
        if metric in ("churn_rate", "streak_retention"):
            assert f"{now:.1f}% vs {before:.1f}%" in line
            assert f"{now - before:+.1f} pp" in line
        else:
            assert f"{_count(now)} vs {_count(before)}" in line
            assert f"({100 * (now - before) / before:+.0f}%)" in line
        lower_is_better = metric == "churn_rate"
        better = (now > before) != lower_is_better
        assert line.endswith("better" if better else "worse"), line
        assert line.startswith("📈" if now > before else "📉")


async def test_charts_are_the_snapshot_values_and_embedded_in_their_message(red):
    cog = await _tracked(red)
    charts, render = live("charts"), live("report_render")

    rendered = await cog.render_report(red.guild, at=AT)

    names = [file.filename for file in _all(rendered, "attachments")]
    assert names == ["kpi-dashboard.png"] + [
        f"kpi-trend-{metric}.png" for metric in sorted(metric for metric, *_ in KPIS)
    ]
    for message in rendered.messages:
        attached = {file.filename for file in message.attachments}
        shown = {e.image.url.removeprefix("attachment://") for e in message.embeds if e.image}
        assert shown == attached  # every image is in the message that shows it
    files = {file.filename: file.data for file in _all(rendered, "attachments")}
    assert charts.png_size(files["kpi-dashboard.png"]) == (960, 672)  # 2 x 2 panels

    # The chart is drawn from the stored snapshots, value for value.
    snapshots = {s.snapshot_date: s.metrics for s in await cog.store.snapshots(red.guild.id)}
    kpis = sorted((k for k in await cog.get_kpis(red.guild)), key=lambda k: k.metric)
    frame = render.snapshot_frame(
        list((await cog.store.snapshots(red.guild.id))), kpis, date(2021, 8, 21), LAST_DAY
    )
    assert len(frame) == 90
    for kpi in kpis:
        expected = [
            snapshots[f"{day:%Y-%m-%d}"]["kpis"][kpi.metric]["value"] for day in frame.index
        ]
        expected = np.array([np.nan if v is None else v for v in expected], dtype=float)
        assert np.array_equal(frame[kpi.metric].to_numpy(), expected, equal_nan=True)

        info = await cog.metric_info(red.guild, kpi.metric)
        line = (
            None if kpi.alert_threshold is None else kpi.target_value * kpi.alert_threshold / 100
        )
        arguments = dict(
            title=f"{kpi.metric} · 90 days to 2021-11-18",
            target=kpi.target_value,
            alert_line=line,
            higher_is_better=info.higher_is_better,
            unit=info.unit,
        )
        axes = charts.trend_figure(frame[kpi.metric], **arguments).axes[0]
        (actual,) = [artist for artist in axes.lines if artist.get_gid() == "actual"]
        assert np.array_equal(np.asarray(actual.get_ydata(), float), expected, equal_nan=True)
        (target,) = [artist for artist in axes.lines if artist.get_gid() == "target"]
        assert set(target.get_ydata()) == {kpi.target_value}

        data = files[f"kpi-trend-{kpi.metric}.png"]
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and charts.png_size(data) == (1200, 600)
        assert data == charts.trend_chart_png(frame[kpi.metric], **arguments)  # that very chart


async def test_missing_days_are_gaps_in_the_series(red):
    cog = await kpi_cog(red, now=AT)
    await send_with_file(red, "!kpi import", HISTORY)
    await red.send("!kpi set metric:wau target:70", author=red.admin)
    kpis = await cog.get_kpis(red.guild)
    stored = [LAST_DAY - timedelta(days=n) for n in (0, 1, 2, 5, 6, 9)]
    for day in stored:
        await cog.store.put_snapshot(await cog.build_snapshot(red.guild.id, day, kpis, None))

    rendered = await cog.render_report(red.guild, at=AT, days=14)

    frame = live("report_render").snapshot_frame(
        await cog.store.snapshots(red.guild.id), kpis, LAST_DAY - timedelta(days=13), LAST_DAY
    )
    present = [
        day.date() for day in frame.index if not np.isnan(frame.loc[day, "weekly_active_users"])
    ]
    assert sorted(present) == sorted(stored)
    rows = history_rows(red.guild.id)
    for day in stored:
        end = to_ms(utc(day.year, day.month, day.day) + timedelta(days=1))
        value = frame.loc[str(day), "weekly_active_users"]
        assert value == reference_metrics(rows, end, 7)["weekly_active_users"]
    (trend,) = [
        e for e in _all(rendered, "embeds") if e.title == "weekly_active_users · last 14 days"
    ]
    assert trend.description.startswith("6 of 14 days with a value")


async def test_sixteen_kpis_split_within_discord_limits(red):
    catalogue = live("catalogue")
    every = [(name, 10, "week", None) for name in catalogue.METRICS]
    cog = await _tracked(red, kpis=every, first_day=date(2021, 11, 10))

    rendered = await live("report_render").render_report(
        cog, red.guild, at=AT, days=14, upload_limit=600_000
    )

    assert len(rendered.messages) > 1
    for message in rendered.messages:
        assert len(message.embeds) <= 10 and len(message.attachments) <= 10
        assert sum(len(embed) for embed in message.embeds) <= 6000
        assert sum(len(file.data) for file in message.attachments) <= 600_000
    names = [file.filename for file in _all(rendered, "attachments")]
    assert len(names) == len(set(names)) == 17  # the dashboard and one trend per KPI
    summary = [e for e in _all(rendered, "embeds") if e.title.startswith("KPI report")]
    assert sum(len(embed.fields) for embed in summary) == 16


def test_packing_keeps_images_with_their_embed_and_respects_the_upload_limit():
    messages = live("report_messages")
    blocks = [
        messages.Block(
            [discord.Embed(title=f"chart {n}")], [messages.ReportFile(f"{n}.png", b"x" * 400)]
        )
        for n in range(5)
    ]
    packed = messages.pack(blocks, upload_limit=1000)
    assert [[file.filename for file in m.attachments] for m in packed] == [
        ["0.png", "1.png"],
        ["2.png", "3.png"],
        ["4.png"],
    ]
    assert [[e.title for e in m.embeds] for m in packed] == [
        ["chart 0", "chart 1"],
        ["chart 2", "chart 3"],
        ["chart 4"],
    ]

    too_big = messages.image_block(
        discord.Embed(title="big", description="d"),
        messages.ReportFile("big.png", b"x" * 2000),
        1000,
    )
    assert too_big.attachments == [] and too_big.embeds[0].image.url is None
    assert "upload limit" in too_big.embeds[0].description

    lines = [f"line {n} " + "x" * 990 for n in range(10)]
    pages = messages.line_blocks("Alerts", lines)
    assert [block.embeds[0].title for block in pages] == [
        "Alerts (1/3)",
        "Alerts (2/3)",
        "Alerts (3/3)",
    ]
    assert all(len(block.embeds[0].description) <= 4096 for block in pages)


class Goals(commands.Cog):
    async def goal_report_lines(self, guild):
        return ["🎯 Q4 growth: 812 of 1,000 users (81%)"]


async def test_comparisons_goals_and_alerts_appear_when_those_features_exist(red, caplog):
    cog = await kpi_cog(red, now=AT)
    await red.send("!kpi set metric:wau target:70", author=red.admin)
    asked = []

    async def comparisons(guild):
        return ["`weekly_active_users` 73 vs baseline 60 (+22%)"]

    def alerts(guild, since):
        asked.append(since)
        return ["🔴 daily_active_users fell below 24 on 2021-11-17"]

    await red.bot.add_cog(Goals())
    cog.comparison_report_lines = comparisons
    cog.alert_report_lines = alerts

    rendered = await cog.render_report(red.guild, at=AT, since=utc(2021, 11, 12))

    sections = {e.title: e.description for e in _all(rendered, "embeds")}
    assert (
        sections["Comparisons against baselines"]
        == "`weekly_active_users` 73 vs baseline 60 (+22%)"
    )
    assert sections["Goals"] == "🎯 Q4 growth: 812 of 1,000 users (81%)"
    assert sections["Alerts since 2021-11-12 00:00 UTC"].startswith("🔴 daily_active_users")
    assert asked == [utc(2021, 11, 12)]

    async def broken(guild):
        raise RuntimeError("comparison store unavailable")

    cog.comparison_report_lines = broken
    with caplog.at_level(logging.WARNING, logger="red.kpicogs.kpitracker.report"):
        rendered = await cog.render_report(red.guild, at=AT)
    titles = [e.title for e in _all(rendered, "embeds")]
    assert "Comparisons against baselines" not in titles and "Goals" in titles
    assert f"guild {red.guild.id}" in caplog.text


async def test_kpi_report_sends_the_rendered_report_on_both_routes(red):
    cog = await _tracked(red, first_day=date(2021, 11, 4))
    cog.clock = lambda: AT
    await red.enable_slash("kpitracker")

    expected = await cog.render_report(red.guild, at=AT)
    prefix = await red.send("!kpi report")
    slash = await red.slash("kpi report")

    for replies in (prefix, slash):
        assert len(replies) == len(expected.messages)
        for reply, message in zip(replies, expected.messages):
            assert [e.to_dict() for e in reply.embeds] == [e.to_dict() for e in message.embeds]
            assert [(f.filename, f.data) for f in reply.files] == [
                (f.filename, f.data) for f in message.attachments
            ]
    assert texts(await red.send("!kpi report days:3")) == ["`days` must be at least 7, not 3."]
    short = await red.send("!kpi report days:7")
    titles = [e.title for reply in short for e in reply.embeds]
    assert sorted(title for title in titles if title.endswith("· last 7 days")) == [
        "Dashboard · last 7 days",
        *(f"{metric} · last 7 days" for metric, *_ in sorted(KPIS)),
    ]


async def test_files_are_fresh_for_every_send_and_drawn_off_the_event_loop(red, monkeypatch):
    cog = await _tracked(red, first_day=date(2021, 11, 10))
    render = live("report_render")
    drawn_in = []
    draw = render.draw_charts

    def recording(requests):
        drawn_in.append(threading.get_ident())
        return draw(requests)

    monkeypatch.setattr(render, "draw_charts", recording)
    rendered = await cog.render_report(red.guild, at=AT)

    assert drawn_in and threading.get_ident() not in drawn_in
    first, second = rendered.messages[0].files(), rendered.messages[0].files()
    assert all(a is not b and a.fp is not b.fp for a, b in zip(first, second))
    start = len(red.sent)
    await rendered.send(red.channel)
    await rendered.send(red.channel)  # a sent discord.File is closed; new ones are made
    sent = red.sent[start:]
    half = len(sent) // 2
    assert half == len(rendered.messages)
    assert [[f.data for f in r.files] for r in sent[:half]] == [
        [f.data for f in r.files] for r in sent[half:]
    ]
    assert sent[0].files[0].data.startswith(b"\x89PNG")


async def test_every_section_of_a_late_report_is_computed_for_the_report_instant(red):
    cog = await kpi_cog(red, now=utc(2021, 11, 19, 20))  # the report of 00:00, posted at 20:00
    await send_with_file(red, "!kpi import", HISTORY)
    await red.send("!kpi set metric:wau target:70", author=red.admin)
    await red.send(
        "!kpi compare set metric:wau baseline_start:2021-11-01 baseline_end:2021-11-07",
        author=red.admin,
    )
    read_at = []
    metric_values = cog.metric_values

    async def recording(guild, at, period):
        read_at.append(at)
        return await metric_values(guild, at, period)

    asked = {}

    class Goals(commands.Cog):
        async def goal_report_lines(self, guild, at=None):
            asked["goals"] = at
            return ["🎯 Q4 growth"]

    def alerts(guild, since, until=None):
        asked["alerts"] = until
        return ["🔴 daily_active_users fell"]

    await red.bot.add_cog(Goals())
    cog.alert_report_lines = alerts
    cog.metric_values = recording

    rendered = await cog.render_report(red.guild, at=AT)

    sections = {e.title: e.description for e in _all(rendered, "embeds")}
    assert sections["Comparisons against baselines"].startswith("`weekly_active_users`")
    assert asked == {"goals": AT, "alerts": AT}
    assert read_at and all(moment <= AT for moment in read_at)
    cog.metric_values = metric_values
    assert await cog.comparison_report_lines(red.guild, at=AT) == (
        await cog.comparison_lines_for(red.guild, await cog.get_comparisons(red.guild), AT)
    )


async def test_sections_that_cannot_take_the_instant_are_called_as_before(red):
    cog = await kpi_cog(red, now=AT)
    await red.send("!kpi set metric:wau target:70", author=red.admin)

    class Goals(commands.Cog):
        async def goal_report_lines(self, guild):
            return ["🎯 Q4 growth"]

    await red.bot.add_cog(Goals())
    cog.alert_report_lines = lambda guild, since: ["🔴 daily_active_users fell"]
    rendered = await cog.render_report(red.guild, at=AT)
    titles = [e.title for e in _all(rendered, "embeds")]
    assert "Goals" in titles and any(title.startswith("Alerts since") for title in titles)
