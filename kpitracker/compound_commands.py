"""The `kpi compound-alert` group: alerts on several metrics at once, under AND or OR."""

from __future__ import annotations

import difflib
import logging
import re
from typing import Optional

import discord
from discord import app_commands
from discord.ext.commands import flag
from redbot.core import commands
from redbot.core.utils.chat_formatting import pagify

from .alert_commands import SEVERITY_CHOICES, cannot_post, channel_text, state_text
from .alert_messages import history_line
from .alert_rules import (
    COMPOUND_PREFIX,
    MAX_COMPOUND_ALERTS,
    CompoundAlert,
    compound_key,
    compound_spec,
    conditions_text,
)
from .alerts import FREQUENCIES, SEVERITY_ICONS, route
from .commands import NO_MENTIONS, Flags, KpiCommands
from .conditions import ConditionError, parse_conditions
from .converters import Choice, Switch, parse_number, unquote

log = logging.getLogger("red.kpicogs.kpitracker")

HISTORY_LINES = 15
_NAME = re.compile(r"^[^`*~|\\@<>:\n]{1,100}$")


class AlertName(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> str:
        name = " ".join(unquote(argument).split())
        if not name:
            raise commands.BadArgument(
                'The `name:` is empty; give the alert a name, like `name:"Low Engagement"`.'
            )
        if len(name) > 100:
            raise commands.BadArgument(
                f"The name is {len(name)} characters long; use at most 100."
            )
        if not _NAME.match(name):
            raise commands.BadArgument(
                "A compound alert's name cannot hold ` * ~ | \\ @ < > or :; use letters, "
                "digits and spaces."
            )
        return name


class Minutes(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> float:
        return parse_number("resolve_after", argument, minimum=0, maximum=10080, example="30")


class CreateFlags(Flags):
    name: str = flag(converter=AlertName, description="A name for the alert, e.g. Low Engagement")
    conditions: str = flag(description="Comma-separated metric<op>value, e.g. dau<100,streak<50")
    logic: str = flag(
        converter=Choice("logic", "and", "or"),
        default="and",
        description="AND: all conditions must hold; OR: any one (default AND)",
    )
    severity: str = flag(
        converter=Choice("severity", *SEVERITY_CHOICES),
        default="warning",
        description="critical, warning or info (default warning)",
    )
    frequency: str = flag(
        converter=Choice("frequency", *FREQUENCIES),
        default="immediate",
        description="immediate, hourly or daily_digest (default immediate)",
    )
    channel: Optional[discord.TextChannel] = flag(
        default=None, description="Post it here instead of its severity's route"
    )
    resolve_after: float = flag(
        converter=Minutes,
        default=30.0,
        description="Minutes the conditions must stay false before it resolves (default 30)",
    )


class NameFlags(Flags):
    name: str = flag(converter=AlertName, description="The compound alert's name")


class ToggleFlags(Flags):
    name: str = flag(converter=AlertName, description="The compound alert's name")
    enable: bool = flag(converter=Switch, description="true to enable it, false to disable it")


class HistoryFlags(Flags):
    name: Optional[str] = flag(
        converter=AlertName, default=None, description="Only this alert's history (default all)"
    )


class CompoundCommands:
    """Create, inspect and manage compound alerts."""

    @KpiCommands.kpi.group(name="compound-alert")
    async def kpi_compound_alert(self, ctx: commands.Context) -> None:
        """Alerts that fire when several metrics meet conditions together."""
        if ctx.invoked_subcommand is None:
            await ctx.send_help()

    async def _find_compound(self, ctx: commands.Context, name: str) -> CompoundAlert | None:
        alerts = await self.compound_alerts(ctx.guild)
        found = alerts.get(compound_key(name))
        if found is None:
            names = [alert.name for alert in alerts.values()]
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            await ctx.send(
                f"There is no compound alert named `{name}`; `kpi compound-alert list` shows "
                f"them.{hint}"
            )
        return found

    @kpi_compound_alert.command(name="create")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_compound_create(self, ctx: commands.Context, *, options: CreateFlags) -> None:
        """Create an alert that fires when several metric conditions hold together.

        Conditions are comma-separated `metric<op>value`, with `<`, `<=`, `>`, `>=`, `=` or
        `!=`, full or short metric names (`dau`, `streak`, `churn`…) or custom metrics. Each
        metric is read over its KPI's period, or a week when it has no KPI. A metric with no
        data makes its condition unknown: the alert then neither fires nor resolves.

        **Options**
        - `name:` the alert's name
        - `conditions:` e.g. `dau<100,streak<50`
        - `logic:` AND (all conditions) or OR (any one), default AND
        - `severity:` critical, warning or info (default warning)
        - `frequency:` immediate, hourly or daily_digest (default immediate)
        - `channel:` post here instead of the route for its severity
        - `resolve_after:` minutes the conditions must stay false before it resolves (default 30)

        **Example**
        - `[p]kpi compound-alert create name:"Low Engagement Alert" conditions:"dau<100,streak<50" logic:AND severity:critical`
        """
        written = unquote(options.conditions)
        try:
            conditions = await parse_conditions(
                written, lambda name: self.resolve_metric_name(ctx.guild, name)
            )
        except ConditionError as error:
            reason = str(error)
            await ctx.send(
                f"The conditions were not saved: {reason}{'' if reason[-1] in '.?!' else '.'}"
            )
            return
        key = compound_key(options.name)
        async with self.config.guild(ctx.guild).compound_alerts() as stored:
            if key in stored:
                await ctx.send(
                    f"A compound alert named `{stored[key]['name']}` exists; remove it first or "
                    "choose another name."
                )
                return
            if len(stored) >= MAX_COMPOUND_ALERTS:
                await ctx.send(
                    f"This server has {len(stored)} compound alerts, the most it can have; "
                    "remove one first."
                )
                return
            alert = CompoundAlert(
                options.name,
                conditions,
                options.logic.upper(),
                options.severity,
                options.frequency,
                options.channel.id if options.channel else None,
                True,
                written,
                options.resolve_after,
            )
            stored[key] = alert.to_config()
        await ctx.send(
            f"Created the compound alert `{alert.name}`: {SEVERITY_ICONS[alert.severity]} "
            f"{alert.severity}, {alert.frequency}, when `{conditions_text(alert)}`."
            f"{cannot_post(ctx.guild, options.channel)}",
            allowed_mentions=NO_MENTIONS,
        )

    @kpi_compound_alert.command(name="list")
    async def kpi_compound_list(self, ctx: commands.Context) -> None:
        """List this server's compound alerts and their states.

        **Example**
        - `[p]kpi compound-alert list`
        """
        alerts = await self.compound_alerts(ctx.guild)
        if not alerts:
            await ctx.send(
                "No compound alerts are set. Create one with `kpi compound-alert create "
                'name:"Low Engagement" conditions:"dau<100,streak<50"`.'
            )
            return
        stored, _ = await self.alert_store.load(ctx.guild.id)
        lines = ["**Compound alerts**"]
        for alert in sorted(alerts.values(), key=lambda item: item.name.casefold()):
            found = stored.get(alert.key)
            if not alert.enabled:
                state = "disabled"
            elif found is None:
                state = "not evaluated yet"
            else:
                state = state_text(found.state)
            lines.append(
                f"- {SEVERITY_ICONS[alert.severity]} **{alert.name}** · "
                f"`{conditions_text(alert)}`"
                f" · {alert.severity}, {alert.frequency} · {state}"
            )
        for page in pagify("\n".join(lines)):
            await ctx.send(page, allowed_mentions=NO_MENTIONS)

    @kpi_compound_alert.command(name="view")
    async def kpi_compound_view(self, ctx: commands.Context, *, options: NameFlags) -> None:
        """Show a compound alert: its conditions, settings, state and current values.

        **Example**
        - `[p]kpi compound-alert view name:"Low Engagement Alert"`
        """
        alert = await self._find_compound(ctx, options.name)
        if alert is None:
            return
        kpis = [kpi for kpi in await self.get_kpis(ctx.guild) if kpi.is_active]
        spec = compound_spec(alert, {kpi.metric: kpi.period for kpi in kpis})
        now = self.clock()
        values = {
            period: await self.metric_values(ctx.guild, now, period)
            for period in spec.needed_periods()
        }
        sight = spec.observe(values)
        routes = await self.alert_routes(ctx.guild)
        destination = route(alert.severity, alert.channel_id, routes)
        stored, _ = await self.alert_store.load(ctx.guild.id)
        found = stored.get(alert.key)
        state = (
            "disabled"
            if not alert.enabled
            else (state_text(found.state) if found else "not evaluated yet")
        )
        where = channel_text(destination.channel_id) if destination.channel_id else None
        where = where or "nowhere (no channel or route)"
        lines = [
            f"**{alert.name}** · {SEVERITY_ICONS[alert.severity]} {alert.severity} · "
            f"{alert.frequency} · {state}",
            f"Conditions ({alert.logic}): `{conditions_text(alert)}`",
            f"Now: {sight.text.split(': ', 1)[-1]}",
            f"Goes to: {where}",
            f"Resolves after the conditions stay false for {alert.resolve_after:g} min.",
        ]
        if found is not None and found.delivery_error:
            lines.append(
                f"⚠️ A message could not be posted: {found.delivery_error}; it is retried."
            )
        await ctx.send("\n".join(lines), allowed_mentions=NO_MENTIONS)

    @kpi_compound_alert.command(name="toggle")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_compound_toggle(self, ctx: commands.Context, *, options: ToggleFlags) -> None:
        """Enable or disable a compound alert without losing it.

        **Example**
        - `[p]kpi compound-alert toggle name:"Low Engagement Alert" enable:true`
        """
        alert = await self._find_compound(ctx, options.name)
        if alert is None:
            return
        word = "enabled" if options.enable else "disabled"
        if alert.enabled is options.enable:
            await ctx.send(f"`{alert.name}` is already {word}.")
            return
        async with self.config.guild(ctx.guild).compound_alerts() as stored:
            stored[compound_key(alert.name)]["enabled"] = options.enable
        await ctx.send(f"`{alert.name}` is {word}.")

    @kpi_compound_alert.command(name="remove")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_compound_remove(self, ctx: commands.Context, *, options: NameFlags) -> None:
        """Delete a compound alert; its history stays.

        **Example**
        - `[p]kpi compound-alert remove name:"Low Engagement Alert"`
        """
        alert = await self._find_compound(ctx, options.name)
        if alert is None:
            return
        async with self.config.guild(ctx.guild).compound_alerts() as stored:
            stored.pop(compound_key(alert.name), None)
        await ctx.send(f"Removed the compound alert `{alert.name}`.")

    @kpi_compound_alert.command(name="history")
    async def kpi_compound_history(self, ctx: commands.Context, *, options: HistoryFlags) -> None:
        """Show when compound alerts triggered and resolved, with every condition's value.

        **Options**
        - `name:` only this alert (default: all of them)

        **Example**
        - `[p]kpi compound-alert history`
        - `[p]kpi compound-alert history name:"Low Engagement Alert"`
        """
        key = None
        if options.name is not None:
            key = COMPOUND_PREFIX + compound_key(options.name)
        events = await self.alert_store.history(ctx.guild.id, COMPOUND_PREFIX, HISTORY_LINES, key)
        if not events:
            if options.name:
                await ctx.send(f"`{options.name}` has not triggered yet.")
            else:
                await ctx.send("No compound alert has triggered yet.")
            return
        title = f"**History of {options.name}**" if options.name else "**Compound alert history**"
        lines = [f"{title} (latest first)"] + [history_line(event) for event in events]
        for page in pagify("\n".join(lines)):
            await ctx.send(page, allowed_mentions=NO_MENTIONS)

    for _command in (
        kpi_compound_view,
        kpi_compound_toggle,
        kpi_compound_remove,
        kpi_compound_history,
    ):

        @_command.autocomplete("name")
        async def _compound_name_autocomplete(self, interaction, current):
            return await autocomplete_compound(interaction, current)

    del _command


async def autocomplete_compound(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    tracker = interaction.client.get_cog("KPITracker")
    if tracker is None or interaction.guild is None:
        return []
    typed = current.casefold().strip()
    alerts = await tracker.compound_alerts(interaction.guild)
    names = [alert.name for alert in alerts.values() if typed in alert.name.casefold()][:25]
    return [app_commands.Choice(name=name, value=name) for name in names]
