"""The `kpi compare` commands and the comparison lines that reports show."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timezone
from typing import Optional

import discord
from discord.ext.commands import flag
from redbot.core import commands
from redbot.core.utils.chat_formatting import pagify

from .catalogue import DEFAULT_PERIOD
from .commands import Flags, KpiCommands, autocomplete_metric
from .comparisons import (
    Baseline,
    Comparison,
    ComparisonError,
    builtin_values_from_snapshot,
    check_range,
    comparison_line,
    day_end,
    mean_baseline,
    value_from_snapshot,
)
from .converters import Day, MetricName, clip
from .custom_metrics import compute
from .ledger import to_ms

log = logging.getLogger("red.kpicogs.kpitracker")


class CompareSetFlags(Flags):
    metric: str = flag(converter=MetricName, description="The metric, e.g. daily_active_users")
    baseline_start: date = flag(converter=Day, description="First baseline day, YYYY-MM-DD")
    baseline_end: date = flag(converter=Day, description="Last baseline day, YYYY-MM-DD")


class CompareViewFlags(Flags):
    metric: Optional[str] = flag(
        converter=MetricName, default=None, description="One metric; leave out to see all"
    )

    @classmethod
    async def convert(cls, ctx: commands.Context, argument: str):
        # Text before the first `key:` would otherwise be dropped and everything listed.
        stray = re.split(r"(?:^|\s)[A-Za-z_][\w-]*:", argument, maxsplit=1)[0].strip()
        if stray:
            raise commands.BadArgument(
                f"`{clip(stray)}` is not an option of `kpi compare`; write `metric:<name>` to "
                "see one metric, or nothing to see them all."
            )
        return await super().convert(ctx, argument)


class CompareMetricFlags(Flags):
    metric: str = flag(converter=MetricName, description="The metric, e.g. daily_active_users")


class ComparisonCommands:
    """Baselines: compare a metric's current value with its mean over a range of past days."""

    async def comparison_period(self, guild: discord.Guild, metric: str) -> str:
        """The period a comparison reads its metric over: its KPI's, else a week."""
        kpi = (await self.config.guild(guild).kpis()).get(metric)
        return kpi.get("period", DEFAULT_PERIOD) if kpi else DEFAULT_PERIOD

    async def baseline(
        self, guild: discord.Guild, comparison: Comparison, period: str, day_values: dict
    ) -> Baseline:
        """The comparison's baseline; `day_values` caches ledger reads across comparisons."""
        snapshots = {
            snapshot.snapshot_date: snapshot.metrics
            for snapshot in await self.store.snapshots(
                guild.id, comparison.start.isoformat(), comparison.end.isoformat()
            )
        }
        definitions = await self.custom_metric_definitions(guild)
        span = await self.store.span(guild.id)
        daily: list[tuple[float | None, bool]] = []
        for day in comparison.days:
            content = snapshots.get(day.isoformat())
            if content is not None:
                found, value = self._snapshot_value(
                    content, comparison.metric, period, definitions
                )
                if found:
                    daily.append((value, True))
                    continue
            if span is None or to_ms(day_end(day)) <= span[0]:
                daily.append((None, False))  # before the ledger's first row: not tracked yet
                continue
            key = (day, period)
            if key not in day_values:
                day_values[key] = await self.metric_values(guild, day_end(day), period)
            daily.append((day_values[key].get(comparison.metric), False))
        return mean_baseline(daily)

    @staticmethod
    def _snapshot_value(
        content: dict, metric: str, period: str, definitions
    ) -> tuple[bool, float | None]:
        if metric not in definitions:
            return value_from_snapshot(content, metric, period)
        # A custom metric is its current formula applied to the day's built-in values.
        values = builtin_values_from_snapshot(content, period)
        if values is None:
            return False, None
        return True, compute(definitions, values)[metric].value

    async def comparison_lines_for(
        self, guild: discord.Guild, comparisons: list[Comparison], at: datetime | None = None
    ) -> list[str]:
        """One line per comparison, its current value read at `at` (default: now)."""
        at = at or self.clock()
        lines = []
        day_values: dict = {}
        current_values: dict[str, dict] = {}
        for comparison in comparisons:
            period = await self.comparison_period(guild, comparison.metric)
            if period not in current_values:
                current_values[period] = await self.metric_values(guild, at, period)
            baseline = await self.baseline(guild, comparison, period, day_values)
            try:
                info = await self.metric_info(guild, comparison.metric)
            except ValueError:
                continue  # a custom metric removed from under the comparison
            current = current_values[period].get(comparison.metric)
            lines.append(comparison_line(info, comparison, period, current, baseline))
        return lines

    async def get_comparisons(self, guild: discord.Guild) -> list[Comparison]:
        stored = await self.config.guild(guild).comparisons()
        return [Comparison.from_config(metric, data) for metric, data in sorted(stored.items())]

    async def comparison_report_lines(
        self, guild: discord.Guild, at: datetime | None = None
    ) -> list[str]:
        """One line per comparison for reports: current value at `at` (default: now), baseline
        value, change in percent and trend arrow; "n/a" where the baseline is zero or has no data.
        """
        return await self.comparison_lines_for(guild, await self.get_comparisons(guild), at)

    @KpiCommands.kpi.group(name="compare", fallback="view")
    async def kpi_compare(self, ctx: commands.Context, *, options: CompareViewFlags) -> None:
        """Show how metrics compare with their baselines; `set` and `disable` manage them.

        `[p]kpi compare` lists every comparison and `[p]kpi compare metric:<name>` shows one.
        As a slash command the listing is `/kpi compare view`.

        **Options**
        - `metric:` show only this metric's comparison (optional)

        **Example**
        - `[p]kpi compare`
        - `[p]kpi compare metric:daily_active_users`
        """
        comparisons = await self.get_comparisons(ctx.guild)
        if options.metric is not None:
            comparisons = [item for item in comparisons if item.metric == options.metric]
            if not comparisons:
                await ctx.send(
                    f"There is no comparison for `{options.metric}`; set one with "
                    f"`kpi compare set metric:{options.metric} baseline_start:YYYY-MM-DD "
                    "baseline_end:YYYY-MM-DD`."
                )
                return
        elif not comparisons:
            await ctx.send(
                "No comparisons are set. Set one with `kpi compare set metric:<name> "
                "baseline_start:YYYY-MM-DD baseline_end:YYYY-MM-DD`."
            )
            return
        at = self.clock()
        async with ctx.typing():
            lines = await self.comparison_lines_for(ctx.guild, comparisons, at)
        heading = f"**Compared with baseline** (values now at {at:%Y-%m-%d %H:%M} UTC)"
        for page in pagify("\n".join([heading, *lines])):
            await ctx.send(page)

    @kpi_compare.command(name="set")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_compare_set(self, ctx: commands.Context, *, options: CompareSetFlags) -> None:
        """Set a metric's baseline: the range of past days its current value is compared with.

        The baseline value is the mean of the metric's daily values over the range, from the
        daily snapshots where they exist and from the activity ledger where not.

        **Options**
        - `metric:` the metric (built-in or custom)
        - `baseline_start:` / `baseline_end:` the first and last day, YYYY-MM-DD, up to yesterday

        **Example**
        - `[p]kpi compare set metric:dau baseline_start:2024-01-01 baseline_end:2024-01-31`
        """
        comparison = Comparison(options.metric, options.baseline_start, options.baseline_end)
        try:
            check_range(
                comparison.start, comparison.end, self.clock().astimezone(timezone.utc).date()
            )
        except ComparisonError as error:
            await ctx.send(str(error))
            return
        period = await self.comparison_period(ctx.guild, comparison.metric)
        async with ctx.typing():
            baseline = await self.baseline(ctx.guild, comparison, period, {})
        if baseline.value is None:
            await ctx.send(
                f"There is no data for `{comparison.metric}` from {comparison.label}; "
                "choose days with activity."
            )
            return
        await self.config.guild(ctx.guild).comparisons.set_raw(
            comparison.metric, value=comparison.to_config()
        )
        info = await self.metric_info(ctx.guild, comparison.metric)
        log.info("Comparison for %s set in guild %s", comparison.metric, ctx.guild.id)
        await ctx.send(
            f"Baseline of `{comparison.metric}` set to {comparison.label}: "
            f"{info.format(baseline.value)} ({period}), the mean of {baseline.days_with_data} "
            f"days with data out of {baseline.days}. Reports now compare with it."
        )

    @kpi_compare.command(name="disable")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_compare_disable(
        self, ctx: commands.Context, *, options: CompareMetricFlags
    ) -> None:
        """Stop comparing a metric with its baseline and forget the baseline range.

        **Example**
        - `[p]kpi compare disable metric:daily_active_users`
        """
        stored = await self.config.guild(ctx.guild).comparisons()
        if options.metric not in stored:
            await ctx.send(
                f"There is no comparison for `{options.metric}`; `kpi compare` lists them."
            )
            return
        await self.config.guild(ctx.guild).comparisons.clear_raw(options.metric)
        await ctx.send(f"Comparison for `{options.metric}` is off.")

    for _command in (kpi_compare, kpi_compare_set, kpi_compare_disable):

        @_command.autocomplete("metric")
        async def _metric_autocomplete(self, interaction, current):
            return await autocomplete_metric(interaction, current)

    del _command
