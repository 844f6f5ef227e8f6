"""The full KPI report, one renderer for `kpi report` and the scheduled reports.

A report is every active KPI judged (actual, target, achievement, status), its change against
the previous period, the sections other features add (comparisons, goals, alerts) and charts
drawn from the daily snapshots. It comes back as messages that each fit Discord's limits.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import discord
import numpy as np
import pandas as pd

from . import charts
from .catalogue import PERIOD_DAYS, MetricInfo, ValueType
from .kpis import Kpi, Status, alert_line, status
from .report import EMBED_COLOUR, KpiReading, report_embeds
from .report_messages import (
    DEFAULT_UPLOAD_LIMIT,
    Block,
    RenderedReport,
    ReportFile,
    image_block,
    line_blocks,
    pack,
)

log = logging.getLogger("red.kpicogs.kpitracker.report")

DEFAULT_DAYS = 90

STATUS_KEYS = {
    Status.ACHIEVED: "achieved",
    Status.BEHIND: "behind",
    Status.ALERT: "alert",
    Status.NO_DATA: "no data",
}
STATUS_COLOURS = {
    Status.ACHIEVED: discord.Colour(0x57F287),
    Status.BEHIND: discord.Colour(0xFEE75C),
    Status.ALERT: discord.Colour(0xED4245),
    Status.NO_DATA: discord.Colour(0x949BA4),
}
PREVIOUS = {
    "day": "the day before",
    "week": "the week before",
    "month": "the 30 days before",
    "quarter": "the 90 days before",
}


@dataclass
class ChartRequest:
    filename: str
    kind: str  # "trend" or "dashboard"
    arguments: dict


async def render_report(
    cog,
    guild: discord.Guild,
    *,
    at: datetime | None = None,
    days: int = DEFAULT_DAYS,
    since: datetime | None = None,
    title: str | None = None,
    upload_limit: int | None = None,
) -> RenderedReport:
    """The full report of `guild` at `at` (default: the cog's clock), charts over `days` days.

    `since` starts the window of the alerts section (default: a week before `at`).
    """
    at = at or cog.clock()
    since = since or at - timedelta(days=7)
    title = title or f"KPI report · {guild.name}"
    limit = upload_limit or getattr(guild, "filesize_limit", None) or DEFAULT_UPLOAD_LIMIT

    kpis = sorted(
        (kpi for kpi in await cog.get_kpis(guild) if kpi.is_active), key=lambda kpi: kpi.metric
    )
    infos = {kpi.metric: await cog.metric_info(guild, kpi.metric) for kpi in kpis}
    now_values: dict[str, dict] = {}
    before_values: dict[str, dict] = {}
    for period in sorted({kpi.period for kpi in kpis}):
        now_values[period] = await cog.metric_values(guild, at, period)
        before = at - timedelta(days=PERIOD_DAYS[period])
        before_values[period] = await cog.metric_values(guild, before, period)
    readings = [KpiReading(kpi, now_values[kpi.period].get(kpi.metric)) for kpi in kpis]

    footer = (
        f"Values at {at:%Y-%m-%d %H:%M} UTC over each KPI's trailing period · "
        "holdings from the ledger"
    )
    blocks = [Block([embed]) for embed in report_embeds(title, readings, footer)]
    if kpis:
        lines = [
            change_line(
                kpi,
                infos[kpi.metric],
                now_values[kpi.period].get(kpi.metric),
                before_values[kpi.period].get(kpi.metric),
            )
            for kpi in kpis
        ]
        blocks += line_blocks("Change against the previous period", lines)
    for heading, lines in await feature_sections(cog, guild, since, at):
        blocks += line_blocks(heading, lines)

    if kpis:
        end = (at.astimezone(timezone.utc) - timedelta(days=1)).date()
        start = end - timedelta(days=days - 1)
        snapshots = await cog.store.snapshots(guild.id, start.isoformat(), end.isoformat())
        frame = snapshot_frame(snapshots, kpis, start, end)
        blocks += await chart_blocks(kpis, infos, readings, frame, days, end, limit)
    return RenderedReport(pack(blocks, limit), at)


# -- sections --------------------------------------------------------------------------------


def change_line(kpi: Kpi, info: MetricInfo, now: float | None, before: float | None) -> str:
    """`metric`: the value now against the value one period earlier, and which way is better."""
    text = f"`{kpi.metric}` {info.format(now)} vs {info.format(before)} {PREVIOUS[kpi.period]}"
    if now is None or before is None:
        return f"➖ {text}"
    delta = now - before
    if info.value_type is ValueType.PERCENTAGE:
        change = f"{delta:+.1f} pp"
    elif info.value_type is ValueType.HOURS:
        change = f"{delta:+.1f} h"
    elif info.value_type is ValueType.DAYS:
        change = f"{delta:+.1f} d"
    else:
        change = f"{delta:+,.2f}".rstrip("0").rstrip(".")
        if before:
            change += f" ({100 * delta / abs(before):+.0f}%)"
    if delta == 0:
        return f"➖ {text}: unchanged"
    better = (delta > 0) is info.higher_is_better
    return f"{'📈' if delta > 0 else '📉'} {text}: {change}, {'better' if better else 'worse'}"


async def feature_sections(
    cog, guild: discord.Guild, since: datetime, at: datetime | None = None
) -> list[tuple[str, list]]:
    """The lines that comparisons, goals and alerts add, where those features are installed.

    Each section is computed for the report's instant `at`, so that a report posted late
    shows the same values throughout; a source that cannot take the instant reads its own clock.
    """
    sources = [
        ("Comparisons against baselines", getattr(cog, "comparison_report_lines", None), ()),
        ("Goals", getattr(cog.bot.get_cog("Goals"), "goal_report_lines", None), ()),
        (
            f"Alerts since {since:%Y-%m-%d %H:%M} UTC",
            getattr(cog, "alert_report_lines", None),
            (since,),
        ),
    ]
    sections = []
    for heading, source, extra in sources:
        if not callable(source):
            continue
        try:
            lines = source(guild, *extra, **instant_arguments(source, at))
            if inspect.isawaitable(lines):
                lines = await lines
        except Exception:
            log.warning(
                "Left the %s section out of guild %s's report", heading, guild.id, exc_info=True
            )
            continue
        lines = [str(line) for line in lines or ()]
        if lines:
            sections.append((heading, lines))
    return sections


def instant_arguments(source, at: datetime | None) -> dict:
    """`at=` or `until=` for a section source whose signature takes the report's instant."""
    if at is None:
        return {}
    try:
        parameters = inspect.signature(source).parameters
    except (TypeError, ValueError):
        return {}
    for name in ("at", "until"):
        parameter = parameters.get(name)
        if parameter is not None and parameter.kind is not inspect.Parameter.POSITIONAL_ONLY:
            return {name: at}
    return {}


# -- charts ----------------------------------------------------------------------------------


def snapshot_frame(snapshots, kpis: list[Kpi], start: date, end: date) -> pd.DataFrame:
    """Each KPI's daily value from the snapshots, one row per day from `start` to `end`.

    A day without a snapshot, or whose snapshot has no value for the KPI, is NaN. A snapshot
    counts only if it measured the KPI over the same period as now; the week values that
    every snapshot keeps stand in for a week KPI created after that day.
    """
    records = []
    for snapshot in snapshots:
        kept = snapshot.metrics.get("kpis", {})
        values = snapshot.metrics.get("values", {})
        record = {"day": pd.Timestamp(snapshot.snapshot_date)}
        for kpi in kpis:
            reading = kept.get(kpi.metric)
            if reading is not None and reading.get("period", kpi.period) == kpi.period:
                record[kpi.metric] = reading.get("value")
            elif reading is None and kpi.period == "week":
                record[kpi.metric] = values.get(kpi.metric)
        records.append(record)
    index = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    columns = [kpi.metric for kpi in kpis]
    if not records:
        return pd.DataFrame(np.nan, index=index, columns=columns, dtype=float)
    frame = pd.DataFrame.from_records(records).set_index("day")
    frame = frame.reindex(columns=columns).astype(float)
    return frame[~frame.index.duplicated(keep="last")].reindex(index)


async def chart_blocks(
    kpis: list[Kpi],
    infos: dict[str, MetricInfo],
    readings: list[KpiReading],
    frame: pd.DataFrame,
    days: int,
    end: date,
    upload_limit: int,
) -> list[Block]:
    """The dashboard and a trend chart per KPI with data, drawn in a worker thread."""
    charted = [kpi for kpi in kpis if frame[kpi.metric].notna().any()]
    if not charted:
        embed = discord.Embed(
            title="Charts",
            description=(
                "Charts appear once daily snapshots exist; the first is taken at midnight UTC."
            ),
            colour=EMBED_COLOUR,
        )
        return [Block([embed])]

    value_of = {reading.kpi.metric: reading.value for reading in readings}
    requests = [
        ChartRequest(
            "kpi-dashboard.png",
            "dashboard",
            {
                "panels": [
                    charts.Panel(
                        title=f"{kpi.metric}  {infos[kpi.metric].format(value_of[kpi.metric])}",
                        series=frame[kpi.metric],
                        target=kpi.target_value,
                        alert_line=alert_line(kpi),
                        higher_is_better=infos[kpi.metric].higher_is_better,
                        unit=infos[kpi.metric].unit,
                        status=STATUS_KEYS[status(kpi, value_of[kpi.metric])],
                    )
                    for kpi in kpis
                ],
                "title": f"KPI dashboard · {days} days to {end:%Y-%m-%d}",
            },
        )
    ]
    for kpi in charted:
        info = infos[kpi.metric]
        requests.append(
            ChartRequest(
                f"kpi-trend-{_file_part(kpi.metric)}.png",
                "trend",
                {
                    "series": frame[kpi.metric],
                    "title": f"{kpi.metric} · {days} days to {end:%Y-%m-%d}",
                    "target": kpi.target_value,
                    "alert_line": alert_line(kpi),
                    "higher_is_better": info.higher_is_better,
                    "unit": info.unit,
                },
            )
        )
    images = await asyncio.to_thread(draw_charts, requests)

    dashboard = discord.Embed(
        title=f"Dashboard · last {days} days",
        description=(
            "Blue is the daily value, the dashed green line the target and the red band the "
            "alert zone; a frame's colour is the KPI's status now."
        ),
        colour=EMBED_COLOUR,
    )
    blocks = [image_block(dashboard, images[0], upload_limit)]
    for kpi, image in zip(charted, images[1:]):
        series = frame[kpi.metric]
        info = infos[kpi.metric]
        known = series.dropna()
        embed = discord.Embed(
            title=f"{kpi.metric} · last {days} days",
            description=(
                f"{len(known)} of {days} days with a value · lowest {info.format(known.min())}, "
                f"highest {info.format(known.max())}, latest {info.format(known.iloc[-1])} "
                f"({known.index[-1]:%Y-%m-%d})"
            ),
            colour=STATUS_COLOURS[status(kpi, value_of[kpi.metric])],
        )
        blocks.append(image_block(embed, image, upload_limit))
    return blocks


def draw_charts(requests: list[ChartRequest]) -> list[ReportFile]:
    """Draw every requested chart; meant for a worker thread, as drawing blocks."""
    images = []
    for request in requests:
        if request.kind == "dashboard":
            data = charts.dashboard_png(**request.arguments)
        else:
            data = charts.trend_chart_png(**request.arguments)
        images.append(ReportFile(request.filename, data))
    return images


def _file_part(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "kpi"
