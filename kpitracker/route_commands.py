"""The `kpi role-alerts` group: where alerts of each severity go and whom they notify."""

from __future__ import annotations

from typing import Optional

import discord
from discord.ext.commands import flag
from redbot.core import commands

from .alert_commands import SEVERITY_CHOICES, cannot_post, channel_text, route_text
from .alerts import ROUTE_SEVERITIES, SEVERITY_ICONS, Route, route
from .commands import NO_MENTIONS, Flags, KpiCommands
from .converters import Choice, Switch


class RouteFlags(Flags):
    severity: str = flag(
        converter=Choice("severity", *ROUTE_SEVERITIES),
        description="critical, warning, info or all",
    )
    role: Optional[discord.Role] = flag(default=None, description="The role to notify")
    channel: Optional[discord.TextChannel] = flag(
        default=None, description="Where these alerts go"
    )
    mention: Optional[bool] = flag(
        converter=Switch, default=None, description="true pings the role (the default with a role)"
    )


class RouteSeverityFlags(Flags):
    severity: str = flag(
        converter=Choice("severity", *ROUTE_SEVERITIES),
        description="critical, warning, info or all",
    )


class RouteCommands:
    """Route alerts to roles and channels by severity."""

    @KpiCommands.kpi.group(name="role-alerts")
    async def kpi_role_alerts(self, ctx: commands.Context) -> None:
        """Route alerts to roles and channels by severity."""
        if ctx.invoked_subcommand is None:
            await ctx.send_help()

    @kpi_role_alerts.command(name="set")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_role_alerts_set(self, ctx: commands.Context, *, options: RouteFlags) -> None:
        """Send alerts of one severity (or all) to a channel, a role, or both.

        An alert goes to its own channel if it has one, else to the route for its severity,
        else to the `all` route. The role of the severity's route (else of `all`) is pinged
        when the alert fires, if the route says `mention:true`.

        **Options**
        - `severity:` critical, warning, info, or all
        - `role:` the role to notify
        - `channel:` the channel these alerts go to
        - `mention:` true pings the role (the default when a role is given), false names it

        **Example**
        - `[p]kpi role-alerts set severity:critical role:@Admin channel:#critical-alerts mention:true`
        - `[p]kpi role-alerts set severity:all channel:#all-alerts`
        """
        role, channel = options.role, options.channel
        if role is None and channel is None:
            await ctx.send(
                "Give a `role:`, a `channel:` or both, like "
                "`kpi role-alerts set severity:critical role:@Admin channel:#alerts`."
            )
            return
        if role is not None and role.is_default():
            await ctx.send("`@everyone` cannot be an alert role; name a role, like `role:@Admin`.")
            return
        if options.mention and role is None:
            await ctx.send("`mention:true` needs a `role:` to mention, like `role:@Admin`.")
            return
        mention = options.mention if options.mention is not None else role is not None
        item = Route(channel.id if channel else None, role.id if role else None, mention)
        async with self.config.guild(ctx.guild).alert_routes() as routes:
            routes[options.severity] = item.to_config()
        await ctx.send(
            f"Saved the route: {route_text(options.severity, item)}."
            f"{cannot_post(ctx.guild, channel)}",
            allowed_mentions=NO_MENTIONS,
        )

    @kpi_role_alerts.command(name="list")
    async def kpi_role_alerts_list(self, ctx: commands.Context) -> None:
        """Show where alerts of each severity go.

        **Example**
        - `[p]kpi role-alerts list`
        """
        routes = await self.alert_routes(ctx.guild)
        if not routes:
            await ctx.send(
                "No alert routes are set; alerts go only to their own channels. Add one with "
                "`kpi role-alerts set severity:all channel:#alerts`."
            )
            return
        lines = ["**Alert routes**"]
        lines += [
            f"- {route_text(severity, routes[severity])}"
            for severity in ROUTE_SEVERITIES
            if severity in routes
        ]
        for severity in SEVERITY_CHOICES:
            if severity not in routes:
                fallback = route(severity, None, routes)
                where = (
                    f"it goes to {channel_text(fallback.channel_id)}"
                    if fallback.channel_id
                    else "unless an alert has its own channel, it has nowhere to go"
                )
                lines.append(
                    f"- {SEVERITY_ICONS[severity]} `{severity}` has no route of its "
                    f"own: {where}"
                )
        await ctx.send("\n".join(lines), allowed_mentions=NO_MENTIONS)

    @kpi_role_alerts.command(name="remove")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_role_alerts_remove(
        self, ctx: commands.Context, *, options: RouteSeverityFlags
    ) -> None:
        """Remove the route of one severity.

        **Example**
        - `[p]kpi role-alerts remove severity:critical`
        """
        async with self.config.guild(ctx.guild).alert_routes() as routes:
            removed = routes.pop(options.severity, None)
        if removed is None:
            await ctx.send(
                f"There is no `{options.severity}` route; `kpi role-alerts list` shows the routes."
            )
            return
        await ctx.send(f"Removed the `{options.severity}` route.")
