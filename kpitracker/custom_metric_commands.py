"""The `kpi custom-metric` commands: formula metrics a server defines from the built-in ones."""

from __future__ import annotations

import inspect
import logging
from typing import Optional

import discord
from discord import app_commands
from discord.ext.commands import flag
from redbot.core import commands
from redbot.core.utils.chat_formatting import pagify

from .catalogue import DEFAULT_PERIOD, MetricInfo, ValueType
from .commands import NO_MENTIONS, Flags, KpiCommands
from .converters import Choice, Period, Switch, Target, unquote
from .custom_metrics import (
    CustomMetric,
    CustomMetricError,
    Definitions,
    check,
    compute,
    definitions_from_config,
    dependents,
    find,
    labelled_mentions,
    new_key,
    resolve_unit,
    resolver,
)
from .formula import FormulaError, evaluate, parse_formula
from .kpis import Kpi, setting_problem

log = logging.getLogger("red.kpicogs.kpitracker")

# Config keys of alert settings that may name a metric, and what to call one of their entries.
ALERT_SETTING_KEYS = {
    "alert_settings": "alert",
    "alerts": "alert",
    "compound_alerts": "compound alert",
}
# Replies echo names and formulas that users wrote; they never ping anyone.
PLAIN_NUMBER = MetricInfo("formula", "formula", "a formula's result", "", ValueType.COUNT, True)


class Text(commands.Converter):
    """Free text; the quotes a prefix command keeps around a value are removed."""

    async def convert(self, ctx: commands.Context, argument: str) -> str:
        return unquote(argument)


class Unit(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> str:
        try:
            return resolve_unit(unquote(argument))
        except CustomMetricError as error:
            raise commands.BadArgument(str(error)) from None


class CreateFlags(Flags):
    name: str = flag(converter=Text, description="The metric's name, e.g. Engagement Score")
    formula: str = flag(
        converter=Text, description="Arithmetic over metrics, e.g. dau*0.6+wau*0.4"
    )
    unit: str = flag(
        converter=Unit, default="count", description="count, percentage, hours or days"
    )
    target: Optional[float] = flag(
        converter=Target, default=None, description="Also make it a KPI with this target"
    )
    period: str = flag(
        converter=Period,
        default=DEFAULT_PERIOD,
        description="The KPI's period: day, week, month or quarter",
    )
    better: str = flag(
        converter=Choice("better", "higher", "lower"),
        default="higher",
        description="higher or lower: which way is good",
    )


class TestFlags(Flags):
    formula: str = flag(converter=Text, description="Arithmetic over metrics, e.g. dau * 2")
    period: str = flag(
        converter=Period, default=DEFAULT_PERIOD, description="day, week, month or quarter"
    )


class NameFlags(Flags):
    name: str = flag(converter=Text, description="The custom metric's name")


class RemoveFlags(Flags):
    name: str = flag(converter=Text, description="The custom metric's name")
    force: bool = flag(
        converter=Switch,
        default=False,
        description="true to remove it although goals could not be checked",
    )


class EditFlags(Flags):
    name: str = flag(converter=Text, description="The custom metric's name")
    formula: Optional[str] = flag(converter=Text, default=None, description="The new formula")
    unit: Optional[str] = flag(
        converter=Unit, default=None, description="count, percentage, hours or days"
    )
    better: Optional[str] = flag(
        converter=Choice("better", "higher", "lower"),
        default=None,
        description="higher or lower: which way is good",
    )
    force: bool = flag(
        converter=Switch,
        default=False,
        description="true to change it although KPIs or alerts use it",
    )


async def autocomplete_custom_metric(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    client = getattr(interaction, "client", None)
    cog = client.get_cog("KPITracker") if client is not None else None
    if cog is None or interaction.guild is None:
        return []
    typed = current.lower().strip()
    definitions = await cog.custom_metric_definitions(interaction.guild)
    return [
        app_commands.Choice(name=metric.name[:100], value=metric.key)
        for metric in definitions.values()
        if typed in metric.key or typed in metric.name.lower()
    ][:25]


class CustomMetricCommands:
    """Formula metrics: create, test, list, view, edit and remove them."""

    async def custom_metric_definitions(self, guild) -> Definitions:
        """The custom metrics of a server (a guild or its id), by key."""
        guild_id = guild if isinstance(guild, int) else guild.id
        return definitions_from_config(await self.config.guild_from_id(guild_id).custom_metrics())

    async def custom_metric_users(self, guild: discord.Guild, key: str) -> list[str]:
        """Everything that uses a custom metric: KPIs, alerts, goals, comparisons, formulas."""
        settings = self.config.guild(guild)
        users = []
        if key in await settings.kpis():
            users.append(f"KPI `{key}`")
        for config_key, kind in ALERT_SETTING_KEYS.items():
            stored = await settings.get_raw(config_key, default=None)
            users += labelled_mentions(kind, stored, key)
        if key in await settings.comparisons():
            users.append(f"comparison `{key}`")
        definitions = await self.custom_metric_definitions(guild)
        users += [f"custom metric `{other}`" for other in dependents(definitions, key)]
        goals = self.bot.get_cog("Goals")
        finder = getattr(goals, "goals_using_metric", None)
        if finder is not None:
            try:
                found = finder(guild, key)
                found = await found if inspect.isawaitable(found) else found
                users += [f"goal `{name}`" for name in found or ()]
            except Exception:
                log.warning("Could not ask the goals cog about metric %s", key, exc_info=True)
        return users

    def goals_checkable(self) -> bool:
        """Whether the goals cog is loaded and can say which goals use a metric."""
        return callable(getattr(self.bot.get_cog("Goals"), "goals_using_metric", None))

    async def _custom_metric(self, ctx: commands.Context, name: str) -> CustomMetric | None:
        definitions = await self.custom_metric_definitions(ctx.guild)
        key = find(definitions, name)
        if key is None:
            known = ", ".join(f"`{metric.name}`" for metric in definitions.values())
            hint = (
                f" This server has {known}." if known else " `kpi custom-metric list` shows them."
            )
            await ctx.send(
                f"There is no custom metric called `{name}`.{hint}", allowed_mentions=NO_MENTIONS
            )
            return None
        return definitions[key]

    @KpiCommands.kpi.group(name="custom-metric")
    async def kpi_custom_metric(self, ctx: commands.Context) -> None:
        """Formula metrics built from the sixteen metrics, usable as KPIs."""
        if ctx.invoked_subcommand is None:
            await ctx.send_help()

    @kpi_custom_metric.command(name="create")
    @commands.admin_or_permissions(manage_guild=True)
    async def custom_metric_create(self, ctx: commands.Context, *, options: CreateFlags) -> None:
        """Create a metric from a formula over other metrics, optionally as a KPI with a target.

        A formula uses metric names (full or short, and other custom metrics), numbers,
        `+ - * / **`, parentheses and `min`, `max`, `abs`, `round`. A division by zero or an
        input with no data makes the value "no data".

        **Options**
        - `name:` the metric's name; formulas and commands use it lower-cased with `_`
        - `formula:` the arithmetic
        - `unit:` count, percentage, hours or days (default count)
        - `target:` also create a KPI with this target (optional); `period:` its period
        - `better:` higher or lower (default higher)

        **Example**
        - `[p]kpi custom-metric create name:"Engagement Score" formula:"dau*0.6+wau*0.4"`
        - `[p]kpi custom-metric create name:"Reward per user" formula:"efficiency/dau" target:5`
        """
        definitions = await self.custom_metric_definitions(ctx.guild)
        try:
            key = new_key(options.name, definitions)
            metric = CustomMetric(
                key, options.name, options.formula, options.unit, options.better == "higher"
            )
            parse_formula(metric.formula, resolver({**definitions, key: metric}))
            check({**definitions, key: metric})
        except (CustomMetricError, FormulaError) as error:
            await ctx.send(str(error), allowed_mentions=NO_MENTIONS)
            return

        if options.target is not None:
            problem = setting_problem(metric.info, options.target, None)
            if problem is not None:
                await ctx.send(problem, allowed_mentions=NO_MENTIONS)
                return

        settings = self.config.guild(ctx.guild)
        await settings.custom_metrics.set_raw(key, value=metric.to_config())
        message = f"Created custom metric `{key}` ({metric.name}) = `{metric.formula}`."
        period = options.period
        if options.target is not None:
            kpi = Kpi(key, options.target, period, metric_info=metric.info)
            await settings.kpis.set_raw(key, value=kpi.to_config())
            target = metric.info.format(kpi.target_value)
            message += f" Created KPI `{key}`: target {target} per {period}."
        value = (await self.metric_values(ctx.guild, None, period)).get(key)
        message += f" Its value now ({period}): {metric.info.format(value)}."
        log.info("Custom metric %s created in guild %s", key, ctx.guild.id)
        await ctx.send(message, allowed_mentions=NO_MENTIONS)

    @kpi_custom_metric.command(name="test")
    @commands.admin_or_permissions(manage_guild=True)
    async def custom_metric_test(self, ctx: commands.Context, *, options: TestFlags) -> None:
        """Evaluate a formula on this server's current values without saving it.

        Shows each metric the formula reads beside the result.

        **Options**
        - `formula:` the arithmetic
        - `period:` the trailing period the metrics are read over (default week)

        **Example**
        - `[p]kpi custom-metric test formula:"daily_active_users * 2"`
        """
        definitions = await self.custom_metric_definitions(ctx.guild)
        try:
            formula = parse_formula(options.formula, resolver(definitions))
        except FormulaError as error:
            await ctx.send(f"The formula is refused. {error}", allowed_mentions=NO_MENTIONS)
            return
        values = await self.metric_values(ctx.guild, None, options.period)
        result = evaluate(formula, values)
        if result.value is None:
            shown = f"**no data** ({result.reason})"
        else:
            shown = f"**{PLAIN_NUMBER.format(result.value)}**"
        lines = [f"`{formula.text}` = {shown}, over the trailing {options.period}.", "Inputs:"]
        for metric in formula.metrics:
            info = await self.metric_info(ctx.guild, metric)
            lines.append(f"- `{metric}`: {info.format(values.get(metric))}")
        for page in pagify("\n".join(lines)):
            await ctx.send(page, allowed_mentions=NO_MENTIONS)

    @kpi_custom_metric.command(name="list")
    async def custom_metric_list(self, ctx: commands.Context) -> None:
        """Show this server's custom metrics and their formulas.

        **Example**
        - `[p]kpi custom-metric list`
        """
        definitions = await self.custom_metric_definitions(ctx.guild)
        if not definitions:
            await ctx.send(
                "No custom metrics yet. Create one with "
                "`kpi custom-metric create name:<name> formula:<formula>`."
            )
            return
        lines = [f"**Custom metrics** ({len(definitions)})"]
        for metric in sorted(definitions.values(), key=lambda item: item.key):
            better = "higher" if metric.higher_is_better else "lower"
            lines.append(
                f"- **{metric.name}** (`{metric.key}`, {metric.unit}, {better} is better): "
                f"`{metric.formula}`"
            )
        for page in pagify("\n".join(lines)):
            await ctx.send(page, allowed_mentions=NO_MENTIONS)

    @kpi_custom_metric.command(name="view")
    async def custom_metric_view(self, ctx: commands.Context, *, options: NameFlags) -> None:
        """Show one custom metric: formula, unit, current value and what uses it.

        **Example**
        - `[p]kpi custom-metric view name:"Engagement Score"`
        """
        metric = await self._custom_metric(ctx, options.name)
        if metric is None:
            return
        kpis = await self.config.guild(ctx.guild).kpis()
        period = kpis.get(metric.key, {}).get("period", DEFAULT_PERIOD)
        definitions = await self.custom_metric_definitions(ctx.guild)
        values = await self.metric_values(ctx.guild, None, period)
        result = compute(definitions, values)[metric.key]
        info = metric.info
        shown = info.format(result.value)
        if result.value is None and result.reason:
            shown += f" ({result.reason})"
        lines = [
            f"**{metric.name}** (`{metric.key}`)",
            f"Formula: `{metric.formula}`",
            f"Unit: {metric.unit} · {'higher' if metric.higher_is_better else 'lower'} is better",
            f"Value now ({period}): {shown}",
        ]
        if metric.key in kpis:
            lines.append(
                f"KPI target: {info.format(kpis[metric.key]['target_value'])} per {period}"
            )
        users = await self.custom_metric_users(ctx.guild, metric.key)
        lines.append("Used by: " + (", ".join(users) if users else "nothing yet"))
        for page in pagify("\n".join(lines)):
            await ctx.send(page, allowed_mentions=NO_MENTIONS)

    @kpi_custom_metric.command(name="edit")
    @commands.admin_or_permissions(manage_guild=True)
    async def custom_metric_edit(self, ctx: commands.Context, *, options: EditFlags) -> None:
        """Change a custom metric's formula, unit or direction.

        A metric that KPIs, alerts, goals or comparisons use is changed only with `force:true`,
        and the answer lists what the change affects.

        **Options**
        - `name:` the custom metric
        - `formula:`, `unit:`, `better:` what to change (at least one)
        - `force:` true to change it although something uses it

        **Example**
        - `[p]kpi custom-metric edit name:"Engagement Score" formula:"dau*0.5+wau*0.5"`
        """
        metric = await self._custom_metric(ctx, options.name)
        if metric is None:
            return
        if options.formula is None and options.unit is None and options.better is None:
            await ctx.send("Give at least one of `formula:`, `unit:` or `better:` to change.")
            return
        changed = CustomMetric(
            metric.key,
            metric.name,
            options.formula if options.formula is not None else metric.formula,
            options.unit or metric.unit,
            (options.better == "higher") if options.better else metric.higher_is_better,
        )
        definitions = await self.custom_metric_definitions(ctx.guild)
        try:
            parse_formula(changed.formula, resolver({**definitions, metric.key: changed}))
            check({**definitions, metric.key: changed})
        except (CustomMetricError, FormulaError) as error:
            await ctx.send(str(error), allowed_mentions=NO_MENTIONS)
            return
        kpi = (await self.config.guild(ctx.guild).kpis()).get(metric.key)
        if kpi is not None:
            # Not even `force:true` may leave a KPI whose target or threshold cannot work.
            problem = setting_problem(
                changed.info, kpi["target_value"], kpi.get("alert_threshold")
            )
            if problem is not None:
                await ctx.send(
                    f"{problem} Change KPI `{metric.key}` with `kpi set` first (a threshold of "
                    "100 suits either direction).",
                    allowed_mentions=NO_MENTIONS,
                )
                return
        users = [
            user
            for user in await self.custom_metric_users(ctx.guild, metric.key)
            if not user.startswith("custom metric")
        ]
        if users and not options.force:
            await ctx.send(
                f"`{metric.key}` is used by {', '.join(users)}; nothing was changed. "
                "Add `force:true` to change it anyway.",
                allowed_mentions=NO_MENTIONS,
            )
            return
        await self.config.guild(ctx.guild).custom_metrics.set_raw(
            metric.key, value=changed.to_config()
        )
        message = f"Updated custom metric `{metric.key}` = `{changed.formula}` ({changed.unit})."
        if users:
            message += f" This changes the values of {', '.join(users)}."
        log.info("Custom metric %s edited in guild %s", metric.key, ctx.guild.id)
        await ctx.send(message, allowed_mentions=NO_MENTIONS)

    @kpi_custom_metric.command(name="remove")
    @commands.admin_or_permissions(manage_guild=True)
    async def custom_metric_remove(self, ctx: commands.Context, *, options: RemoveFlags) -> None:
        """Delete a custom metric that nothing uses any more.

        A metric used by a KPI, alert, goal, comparison or another formula is refused, with the
        list of what uses it. While the goals cog is not loaded, goals cannot be checked and the
        removal needs `force:true`.

        **Options**
        - `name:` the custom metric
        - `force:` true to remove it although goals could not be checked

        **Example**
        - `[p]kpi custom-metric remove name:"Engagement Score"`
        """
        metric = await self._custom_metric(ctx, options.name)
        if metric is None:
            return
        users = await self.custom_metric_users(ctx.guild, metric.key)
        if users:
            await ctx.send(
                f"`{metric.key}` is used by {', '.join(users)}; remove those first, "
                "then remove the metric.",
                allowed_mentions=NO_MENTIONS,
            )
            return
        unchecked = not self.goals_checkable()
        if unchecked and not options.force:
            await ctx.send(
                f"Goals could not be checked for `{metric.key}` because the goals cog is not "
                "loaded; nothing was removed, add `force:true` to remove it anyway."
            )
            return
        await self.config.guild(ctx.guild).custom_metrics.clear_raw(metric.key)
        log.info("Custom metric %s removed in guild %s", metric.key, ctx.guild.id)
        message = f"Removed custom metric `{metric.key}` ({metric.name})."
        if unchecked:
            message += " Goals were not checked because the goals cog is not loaded."
        await ctx.send(message, allowed_mentions=NO_MENTIONS)

    for _command in (custom_metric_view, custom_metric_edit, custom_metric_remove):

        @_command.autocomplete("name")
        async def _name_autocomplete(self, interaction, current):
            return await autocomplete_custom_metric(interaction, current)

    del _command
