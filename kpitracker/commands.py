"""The `kpi` commands for setting, listing and reporting KPIs."""

from __future__ import annotations

import logging
import re
from typing import Optional

import discord
from discord import app_commands
from discord.ext.commands import FlagConverter, flag
from redbot.core import commands
from redbot.core.utils.chat_formatting import pagify

from .catalogue import METRICS, PERIOD_DAYS, SHORT_NAMES
from .converters import ChartDays, MetricName, Period, Target, Threshold, clip
from .kpis import Kpi, alert_line, setting_problem
from .report import KpiReading

log = logging.getLogger("red.kpicogs.kpitracker")

# Replies that echo what admins typed (names, formulas, descriptions) never ping anyone.
NO_MENTIONS = discord.AllowedMentions.none()


class Flags(FlagConverter, prefix="", delimiter=":", case_insensitive=True):
    """Options are written `key:value`, as in `metric:daily_active_users`."""

    @classmethod
    async def convert(cls, ctx: commands.Context, argument: str):
        known = {name.lower() for name in cls.get_flags()}
        for word in option_words(argument):
            if word.lower() not in known:
                listed = ", ".join(f"`{name}:`" for name in cls.get_flags())
                raise commands.BadArgument(
                    f"`{clip(word)}:` is not an option of `{ctx.command.qualified_name}`; "
                    f"its options are {listed}."
                )
        return await super().convert(ctx, argument)


def option_words(argument: str) -> list[str]:
    """The `key` of every `key:` in a prefix command's text, leaving quoted values out."""
    unquoted = re.sub(r'"[^"]*"|“[^”]*”', '""', argument)
    return re.findall(r"(?:^|\s)([A-Za-z_][\w-]*):", unquoted)


PERIOD_CHOICES = [app_commands.Choice(name=name, value=name) for name in PERIOD_DAYS]


class SetFlags(Flags):
    metric: str = flag(converter=MetricName, description="The metric, e.g. daily_active_users")
    target: float = flag(converter=Target, description="The target value, e.g. 500")
    period: Optional[str] = flag(
        converter=Period, default=None, description="day, week, month or quarter (default week)"
    )
    alert_threshold: Optional[float] = flag(
        converter=Threshold, default=None, description="Alert past this % of target, e.g. 80"
    )


class MetricFlags(Flags):
    metric: str = flag(converter=MetricName, description="The metric, e.g. daily_active_users")


class ReportFlags(Flags):
    days: int = flag(
        converter=ChartDays, default=90, description="Days of history in the charts, 7 to 365"
    )


async def autocomplete_metric(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    typed = current.lower().strip()
    names = [name for name in METRICS if typed in name]
    names += [SHORT_NAMES[short] for short in SHORT_NAMES if typed and short.startswith(typed)]
    client = getattr(interaction, "client", None)
    tracker = client.get_cog("KPITracker") if client is not None else None
    if tracker is not None and interaction.guild is not None:
        custom = await tracker.custom_metric_definitions(interaction.guild)
        names += [key for key in custom if typed in key]
    unique = list(dict.fromkeys(names))[:25]
    return [app_commands.Choice(name=name, value=name) for name in unique]


class KpiCommands:
    """Setting, listing and reporting KPIs."""

    @commands.hybrid_group(name="kpi")
    @commands.guild_only()
    async def kpi(self, ctx: commands.Context) -> None:
        """Track KPIs for this server's loyalty program."""
        if ctx.invoked_subcommand is None:
            await ctx.send_help()

    @kpi.command(name="set")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.choices(period=PERIOD_CHOICES)
    async def kpi_set(self, ctx: commands.Context, *, options: SetFlags) -> None:
        """Create or change a KPI: a target for a metric over a period.

        **Options**
        - `metric:` one of the sixteen metrics (full or short name)
        - `target:` the value to reach (or to stay under, for churn_rate and the like)
        - `period:` day, week, month or quarter (default week)
        - `alert_threshold:` alert past this percentage of the target (optional): below it for
          metrics where higher is better (at most 100), above it for churn_rate and the other
          lower-is-better metrics (at least 100)

        Options left out of a change keep their current values.

        **Example**
        - `[p]kpi set metric:daily_active_users target:500 period:week`
        - `[p]kpi set metric:streak_retention target:70 alert_threshold:80`
        """
        info = await self.metric_info(ctx.guild, options.metric)
        async with self.config.guild(ctx.guild).kpis() as kpis:
            existing = kpis.get(options.metric)
            # Options left out keep the KPI's current settings.
            kpi = Kpi.from_config(options.metric, existing or {"target_value": 0}, info)
            kpi.target_value = options.target
            if options.period is not None:
                kpi.period = options.period
            if options.alert_threshold is not None:
                kpi.alert_threshold = options.alert_threshold
            problem = setting_problem(info, kpi.target_value, kpi.alert_threshold)
            if problem is None:
                kpis[kpi.metric] = kpi.to_config()
        if problem is not None:
            await ctx.send(problem)
            return
        verb = "Updated" if existing else "Created"
        info = kpi.info
        message = (
            f"{verb} KPI `{kpi.metric}`: target {info.format(kpi.target_value)} per {kpi.period}."
        )
        line = alert_line(kpi)
        if line is not None:
            direction = "below" if info.higher_is_better else "above"
            message += (
                f" Alerts when it is {direction} {info.format(line)} "
                f"({kpi.alert_threshold:g}% of target)."
            )
        await ctx.send(message)

    @kpi_set.autocomplete("metric")
    async def _set_metric_autocomplete(self, interaction, current):
        return await autocomplete_metric(interaction, current)

    @kpi.command(name="list")
    async def kpi_list(self, ctx: commands.Context) -> None:
        """Show every KPI of this server, active and inactive."""
        kpis = await self.get_kpis(ctx.guild)
        if not kpis:
            await ctx.send(
                "No KPIs are set. Create one with `kpi set metric:<name> target:<value>`."
            )
            return
        lines = []
        for title, active in (("Active", True), ("Inactive", False)):
            chosen = [kpi for kpi in kpis if kpi.is_active is active]
            if not chosen:
                continue
            lines.append(f"**{title}**")
            for kpi in sorted(chosen, key=lambda item: item.metric):
                info = kpi.info
                threshold = (
                    f", alert at {kpi.alert_threshold:g}%"
                    if kpi.alert_threshold is not None
                    else ""
                )
                lines.append(
                    f"- `{kpi.metric}`: target {info.format(kpi.target_value)} per {kpi.period}"
                    f"{threshold}"
                )
        for page in pagify("\n".join(lines)):
            await ctx.send(page)

    @kpi.command(name="report")
    async def kpi_report(self, ctx: commands.Context, *, options: ReportFlags) -> None:
        """Show each active KPI's value, target, achievement and status, with trend charts.

        The report also compares each KPI with the previous period and adds the sections of
        comparisons, goals and alerts where those are set. Charts come from the daily snapshots.

        **Options**
        - `days:` how many days of history the charts show, 7 to 365 (default 90)

        **Example**
        - `[p]kpi report`
        - `[p]kpi report days:30`
        """
        async with ctx.typing():
            rendered = await self.render_report(ctx.guild, days=options.days)
        await rendered.send(ctx)

    async def current_readings(self, guild: discord.Guild) -> tuple[list[KpiReading], object]:
        at = self.clock()
        active = [kpi for kpi in await self.get_kpis(guild) if kpi.is_active]
        values_by_period: dict[str, dict] = {}
        for period in {kpi.period for kpi in active}:
            values_by_period[period] = await self.metric_values(guild, at, period)
        readings = [
            KpiReading(kpi, values_by_period[kpi.period].get(kpi.metric))
            for kpi in sorted(active, key=lambda item: item.metric)
        ]
        return readings, at

    async def _set_active(self, ctx: commands.Context, metric: str, active: bool) -> None:
        async with self.config.guild(ctx.guild).kpis() as kpis:
            if metric not in kpis:
                await ctx.send(
                    f"There is no KPI for `{metric}`; create it with "
                    f"`kpi set metric:{metric} target:<value>`."
                )
                return
            kpis[metric]["is_active"] = active
        state = "enabled" if active else "disabled"
        await ctx.send(f"KPI `{metric}` is {state}.")

    @kpi.command(name="enable")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_enable(self, ctx: commands.Context, *, options: MetricFlags) -> None:
        """Turn a KPI back on, so reports and snapshots include it.

        **Example**
        - `[p]kpi enable metric:daily_active_users`
        """
        await self._set_active(ctx, options.metric, True)

    @kpi.command(name="disable")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_disable(self, ctx: commands.Context, *, options: MetricFlags) -> None:
        """Pause a KPI without losing its settings.

        **Example**
        - `[p]kpi disable metric:churn_rate`
        """
        await self._set_active(ctx, options.metric, False)

    @kpi.command(name="remove")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_remove(self, ctx: commands.Context, *, options: MetricFlags) -> None:
        """Delete a KPI and its settings; its past snapshots stay.

        **Example**
        - `[p]kpi remove metric:churn_rate`
        """
        async with self.config.guild(ctx.guild).kpis() as kpis:
            removed = kpis.pop(options.metric, None)
        if removed is None:
            await ctx.send(
                f"There is no KPI for `{options.metric}`; `kpi list` shows the KPIs set."
            )
            return
        await ctx.send(f"Removed KPI `{options.metric}`.")

    for _command in (kpi_enable, kpi_disable, kpi_remove):

        @_command.autocomplete("metric")
        async def _metric_autocomplete(self, interaction, current):
            return await autocomplete_metric(interaction, current)

    del _command
