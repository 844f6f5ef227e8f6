"""The `kpi alert-config` command: how each KPI's alert behaves, and the listing of every
alert. Also the small pieces of text the other alert commands share."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Optional

import discord
from discord.ext.commands import flag
from redbot.core import commands
from redbot.core.utils.chat_formatting import pagify

from .alert_messages import format_duration, format_time
from .alert_rules import KPI_PREFIX, KpiAlertSettings
from .alerts import (
    DEFAULT_COOLDOWN_MINUTES,
    FREQUENCIES,
    ROUTE_SEVERITIES,
    SEVERITIES,
    SEVERITY_ICONS,
    Route,
    State,
    alert_line,
    current_severity,
    recovery_line,
    route,
)
from .commands import NO_MENTIONS, Flags, KpiCommands, autocomplete_metric
from .converters import Choice, MetricName, Switch, parse_number
from .kpis import setting_problem

log = logging.getLogger("red.kpicogs.kpitracker")

SEVERITY_CHOICES = tuple(reversed(SEVERITIES))  # critical first, as people list them
NOWHERE_NOTE = (
    "⚠️ Alerts with no channel of their own have nowhere to go: no route matches them. "
    "Add one with `kpi role-alerts set severity:all channel:#alerts`."
)


class Number(commands.Converter):
    """A number option with bounds, each refusal one sentence."""

    def __init__(self, name: str, minimum: float, maximum: float, example: str) -> None:
        self.name, self.minimum, self.maximum, self.example = name, minimum, maximum, example

    async def convert(self, ctx: commands.Context, argument: str) -> float:
        return parse_number(
            self.name, argument, minimum=self.minimum, maximum=self.maximum, example=self.example
        )


class AlertConfigFlags(Flags):
    metric: Optional[str] = flag(
        converter=MetricName, default=None, description="The KPI's metric, e.g. daily_active_users"
    )
    threshold: Optional[float] = flag(
        converter=Number("threshold", 1, 1000, "80"),
        default=None,
        description="Alert past this % of target, e.g. 80 (120 for churn_rate)",
    )
    frequency: Optional[str] = flag(
        converter=Choice("frequency", *FREQUENCIES),
        default=None,
        description="immediate, hourly or daily_digest",
    )
    severity: Optional[str] = flag(
        converter=Choice("severity", *SEVERITY_CHOICES),
        default=None,
        description="critical, warning or info",
    )
    channel: Optional[discord.TextChannel] = flag(
        default=None, description="Post this alert here instead of its severity's route"
    )
    escalation_days: Optional[float] = flag(
        converter=Number("escalation_days", 0, 365, "3"),
        default=None,
        description="Escalate after this many days of firing; 0 turns escalation off",
    )
    escalation_role: Optional[discord.Role] = flag(
        default=None, description="The role mentioned when the alert escalates"
    )
    recovery_margin: Optional[float] = flag(
        converter=Number("recovery_margin", 0, 100, "5"),
        default=None,
        description="Points of target past the line before it resolves (default 5)",
    )
    resolve_after: Optional[float] = flag(
        converter=Number("resolve_after", 0, 10080, "30"),
        default=None,
        description="Minutes it must stay recovered before it resolves (default 30)",
    )
    cooldown: Optional[float] = flag(
        converter=Number("cooldown", 0, 10080, "60"),
        default=None,
        description="Minutes after it resolves before it may fire again (default 60)",
    )
    reset: Optional[bool] = flag(
        converter=Switch,
        default=None,
        description="true puts every setting but the threshold back to its default",
    )


def channel_text(channel_id: int | None) -> str:
    return f"<#{channel_id}>" if channel_id else "no channel"


def role_text(role_id: int | None) -> str:
    return f"<@&{role_id}>"


def route_text(severity: str, item: Route) -> str:
    icon = SEVERITY_ICONS.get(severity, "📣")
    parts = []
    if item.channel_id:
        parts.append(f"posts in {channel_text(item.channel_id)}")
    if item.role_id:
        parts.append(
            ("mentions " if item.mention else "names, without pinging, ") + role_text(item.role_id)
        )
    return f"{icon} `{severity}` " + " and ".join(parts)


def cannot_post(guild: discord.Guild, channel: discord.abc.GuildChannel | None) -> str:
    if channel is None:
        return ""
    allowed = channel.permissions_for(guild.me)
    if allowed.send_messages or allowed.administrator:
        return ""
    return f" I cannot post in {channel.mention} yet; give me Send Messages there."


class AlertCommands:
    """Configure KPI alerts and route them by severity."""

    # -- kpi alert-config -----------------------------------------------------------------------

    @KpiCommands.kpi.command(name="alert-config")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_alert_config(self, ctx: commands.Context, *, options: AlertConfigFlags) -> None:
        """Configure a KPI's alert, or list every alert's configuration.

        No options: list every alert. Only `metric:`: show that one.

        **Options**
        - `metric:` the KPI's metric (create the KPI first with `kpi set`)
        - `threshold:` alert past this % of target (120 for churn_rate: above 24 if target 20)
        - `frequency:` immediate, hourly or daily_digest
        - `severity:` critical, warning or info (default warning)
        - `channel:` post here instead of the severity's route
        - `escalation_days:` `escalation_role:` still firing after N days: raise the severity
          and mention the role
        - `recovery_margin:` points of target past the line to resolve (default 5)
        - `resolve_after:` minutes recovered before it resolves (default 30)
        - `cooldown:` minutes after it resolves before it may fire again (default 60)
        - `reset:true` back to the defaults, threshold kept

        **Example**
        - `[p]kpi alert-config metric:dau threshold:80 frequency:daily_digest severity:warning`
        - `[p]kpi alert-config metric:streak threshold:75 severity:critical channel:#alerts escalation_days:3 escalation_role:@Admin`
        """
        given = {
            name: getattr(options, name)
            for name in (
                "threshold",
                "frequency",
                "severity",
                "channel",
                "escalation_days",
                "escalation_role",
                "recovery_margin",
                "resolve_after",
                "cooldown",
                "reset",
            )
            if getattr(options, name) is not None
        }
        if options.metric is None:
            if given:
                await ctx.send(
                    "Name the KPI whose alert to configure with `metric:`, like "
                    "`kpi alert-config metric:daily_active_users threshold:80`."
                )
                return
            await self._send_alert_overview(ctx)
            return

        metric = options.metric
        kpis = await self.config.guild(ctx.guild).kpis()
        if metric not in kpis:
            await ctx.send(
                f"There is no KPI for `{metric}`; create it first with "
                f"`kpi set metric:{metric} target:<value> alert_threshold:80`."
            )
            return
        if not given:
            await self._send_alert_detail(ctx, metric)
            return
        role = options.escalation_role
        if role is not None and role.is_default():
            await ctx.send(
                "`@everyone` cannot be an escalation role; name a role, like "
                "`escalation_role:@Admin`."
            )
            return

        if options.threshold is not None:
            info = await self.metric_info(ctx.guild, metric)
            problem = setting_problem(info, kpis[metric]["target_value"], options.threshold)
            if problem is not None:
                await ctx.send(problem)
                return
            async with self.config.guild(ctx.guild).kpis() as stored:
                stored[metric]["alert_threshold"] = options.threshold
        async with self.config.guild(ctx.guild).alert_settings() as all_settings:
            settings = (
                KpiAlertSettings()
                if options.reset
                else KpiAlertSettings.from_config(all_settings.get(metric))
            )
            if options.frequency is not None:
                settings.frequency = options.frequency
            if options.severity is not None:
                settings.severity = options.severity
            if options.channel is not None:
                settings.channel_id = options.channel.id
            if options.escalation_days is not None:
                settings.escalation_days = options.escalation_days or None
            if role is not None:
                settings.escalation_role_id = role.id
            if options.recovery_margin is not None:
                settings.recovery_margin = options.recovery_margin
            if options.resolve_after is not None:
                settings.resolve_after = options.resolve_after
            if options.cooldown is not None:
                settings.cooldown = options.cooldown
            all_settings[metric] = settings.to_config()

        summary = await self._alert_summary(ctx.guild, metric)
        note = cannot_post(ctx.guild, options.channel)
        if settings.escalation_role_id and not settings.escalation_days:
            note += " The escalation role is mentioned once `escalation_days:` is set."
        await ctx.send(
            f"Saved the alert of `{metric}`: {summary}{note}", allowed_mentions=NO_MENTIONS
        )

    @kpi_alert_config.autocomplete("metric")
    async def _alert_config_metric_autocomplete(self, interaction, current):
        return await autocomplete_metric(interaction, current)

    async def _alert_summary(self, guild: discord.Guild, metric: str) -> str:
        """One line: the alert's line, behaviour, destination and state."""
        kpi = next(kpi for kpi in await self.get_kpis(guild) if kpi.metric == metric)
        settings = KpiAlertSettings.from_config(
            (await self.config.guild(guild).alert_settings()).get(metric)
        )
        info = kpi.info
        routes = await self.alert_routes(guild)
        stored, _ = await self.alert_store.load(guild.id)
        found = stored.get(KPI_PREFIX + metric)
        if kpi.alert_threshold is None:
            line = (
                f"no threshold yet, so it never fires; add one with "
                f"`kpi alert-config metric:{metric} threshold:80`"
            )
        else:
            side = "below" if info.higher_is_better else "above"
            limit = alert_line(kpi.target_value, kpi.alert_threshold)
            back = recovery_line(
                kpi.target_value,
                kpi.alert_threshold,
                settings.recovery_margin,
                info.higher_is_better,
            )
            line = (
                f"alerts {side} {info.format(limit)} ({kpi.alert_threshold:g}% of "
                f"{info.format(kpi.target_value)}, {kpi.period}), resolves once back to "
                f"{info.format(back)}{settling_text(settings.resolve_after)}"
                f"{cooldown_text(settings.cooldown)}"
            )
        severity = current_severity(found.state if found else None, settings.behaviour)
        destination = route(severity, settings.channel_id, routes)
        parts = [
            line,
            f"{SEVERITY_ICONS[settings.severity]} {settings.severity}",
            settings.frequency,
        ]
        if destination.channel_id:
            where = f"→ {channel_text(destination.channel_id)}"
            if destination.ping_role_id:
                where += f" pinging {role_text(destination.ping_role_id)}"
            parts.append(where)
        if settings.escalation_days:
            role = (
                role_text(settings.escalation_role_id)
                if settings.escalation_role_id
                else "no role"
            )
            parts.append(f"escalates after {settings.escalation_days:g} d, mentioning {role}")
        if not kpi.is_active:
            parts.append("paused with its KPI")
        elif found is not None:
            parts.append(state_text(found.state, info.format(found.last_value)))
        text = " · ".join(parts)
        if found is not None and found.delivery_error:
            text += (
                f"\n  ⚠️ a message could not be posted "
                f"({format_time(found.delivery_error_at)}): "
                f"{found.delivery_error}; it is retried"
            )
        return text

    async def _send_alert_overview(self, ctx: commands.Context) -> None:
        guild = ctx.guild
        kpis = sorted(await self.get_kpis(guild), key=lambda kpi: kpi.metric)
        settings = await self.config.guild(guild).alert_settings()
        chosen = [kpi for kpi in kpis if kpi.alert_threshold is not None or kpi.metric in settings]
        compounds = await self.compound_alerts(guild)
        routes = await self.alert_routes(guild)
        if not chosen and not compounds:
            await ctx.send(
                "No alerts are configured. Give a KPI a threshold with "
                "`kpi alert-config metric:daily_active_users threshold:80`."
            )
            return
        lines = ["**KPI alerts**"] if chosen else []
        for kpi in chosen:
            lines.append(f"- `{kpi.metric}`: {await self._alert_summary(guild, kpi.metric)}")
        if compounds:
            enabled = sum(alert.enabled for alert in compounds.values())
            lines.append(
                f"**Compound alerts**: {len(compounds)} ({enabled} enabled); "
                "`kpi compound-alert list` shows them."
            )
        if routes:
            lines.append("**Routes**")
            lines += [
                f"- {route_text(severity, routes[severity])}"
                for severity in ROUTE_SEVERITIES
                if severity in routes
            ]
        if await self._alerts_with_nowhere_to_go(guild, chosen, settings, compounds, routes):
            lines.append(NOWHERE_NOTE)
        for page in pagify("\n".join(lines)):
            await ctx.send(page, allowed_mentions=NO_MENTIONS)

    async def _alerts_with_nowhere_to_go(self, guild, kpis, settings, compounds, routes) -> bool:
        owns = [
            KpiAlertSettings.from_config(settings.get(kpi.metric))
            for kpi in kpis
            if kpi.alert_threshold is not None
        ]
        candidates = [(item.severity, item.channel_id) for item in owns]
        candidates += [(alert.severity, alert.channel_id) for alert in compounds.values()]
        return any(
            route(severity, channel, routes).channel_id is None for severity, channel in candidates
        )

    async def _send_alert_detail(self, ctx: commands.Context, metric: str) -> None:
        summary = await self._alert_summary(ctx.guild, metric)
        routes = await self.alert_routes(ctx.guild)
        settings = KpiAlertSettings.from_config(
            (await self.config.guild(ctx.guild).alert_settings()).get(metric)
        )
        text = f"**Alert of `{metric}`**: {summary}"
        kpis = await self.config.guild(ctx.guild).kpis()
        has_threshold = kpis.get(metric, {}).get("alert_threshold") is not None
        if (
            has_threshold
            and route(settings.severity, settings.channel_id, routes).channel_id is None
        ):
            text += "\n" + NOWHERE_NOTE
        await ctx.send(text, allowed_mentions=NO_MENTIONS)


def settling_text(minutes: float) -> str:
    if minutes <= 0:
        return ""
    return f" for {format_duration(timedelta(minutes=minutes))}"


def cooldown_text(minutes: float) -> str:
    """Said only when it differs from the default, which the README explains."""
    if minutes == DEFAULT_COOLDOWN_MINUTES:
        return ""
    if minutes <= 0:
        return ", and may fire again at once"
    return f", then waits {format_duration(timedelta(minutes=minutes))} before it may fire again"


def state_text(state, value_text: str | None = None) -> str:
    last = f"last {value_text}" if value_text is not None else ""
    if state.state is State.FIRING:
        details = ", ".join(
            part
            for part in (last, f"escalated {state.escalations}×" if state.escalations else "")
            if part
        )
        return f"**firing** since {format_time(state.fired_at)}" + (
            f" ({details})" if details else ""
        )
    if state.state is State.NO_DATA:
        return "no data"
    return f"ok ({last})" if last else "ok"
