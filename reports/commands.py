"""The `reports` commands: schedule, view, preview and disable a server's report."""

from __future__ import annotations

import re

from datetime import datetime
from datetime import time as dt_time
from typing import Optional

import discord
from discord.ext.commands import FlagConverter, flag
from redbot.core import commands

from .converters import ChartDays, Frequency, TimeOfDay, parse_month_day, parse_weekday
from .delivery import NO_MENTIONS, ReportUnavailable, missing_permissions
from .schedule import DEFAULT_DAYS, DEFAULT_TIME, Schedule

NO_REPORT = "No report is scheduled on this server."


class Flags(FlagConverter, prefix="", delimiter=":", case_insensitive=True):
    """Options are written `key:value`, as in `frequency:weekly`."""

    @classmethod
    async def convert(cls, ctx: commands.Context, argument: str):
        # Without this, an unknown `key:` would become part of the previous option's value.
        known = {name.lower() for name in cls.get_flags()}
        for word in option_words(argument):
            if word.lower() not in known:
                listed = ", ".join(f"`{name}:`" for name in cls.get_flags())
                raise commands.BadArgument(
                    f"`{word[:40]}:` is not an option of `{ctx.command.qualified_name}`; "
                    f"its options are {listed}."
                )
        return await super().convert(ctx, argument)


def option_words(argument: str) -> list[str]:
    """The `key` of every `key:` in a prefix command's text, leaving quoted values out."""
    unquoted = re.sub(r'"[^"]*"|“[^”]*”', '""', argument)
    return re.findall(r"(?:^|\s)([A-Za-z_][\w-]*):", unquoted)


class ScheduleFlags(Flags):
    frequency: str = flag(converter=Frequency, description="daily, weekly or monthly")
    channel: Optional[discord.TextChannel] = flag(
        default=None, description="Where to post the report (default: this channel)"
    )
    day: Optional[str] = flag(
        default=None, description="Weekly: a weekday, e.g. monday; monthly: 1 to 31 or last"
    )
    time: Optional[dt_time] = flag(
        converter=TimeOfDay, default=None, description="Time of day in UTC, HH:MM (default 09:00)"
    )
    days: int = flag(
        converter=ChartDays,
        default=DEFAULT_DAYS,
        description="Days of history in the charts, 7 to 365 (default 90)",
    )


def _when(moment: datetime) -> str:
    """A UTC time as text, followed by Discord's relative timestamp (`in 2 days`)."""
    return f"{moment:%Y-%m-%d %H:%M} UTC (<t:{int(moment.timestamp())}:R>)"


class ReportCommands:
    """Scheduling, previewing and stopping the server's report."""

    @commands.hybrid_group(name="reports", fallback="list", invoke_without_command=True)
    @commands.guild_only()
    async def reports(self, ctx: commands.Context) -> None:
        """Show this server's report schedule, its next run and any delivery problem.

        **Example**
        - `[p]reports`
        """
        settings = await self.config.guild(ctx.guild).all()
        if not settings["schedule"]:
            await ctx.send(NO_REPORT)
            return
        schedule = Schedule.from_config(settings["schedule"])
        channel = ctx.guild.get_channel(schedule.channel_id)
        where = channel.mention if channel else "a channel that no longer exists"
        lines = [
            f"**{schedule.frequency.capitalize()} report** {schedule.describe()} in {where}, "
            f"with charts over {schedule.days} days.",
        ]
        upcoming = schedule.next_due(self.clock())
        if upcoming is not None:
            lines.append(f"Next: {_when(upcoming)}")
        if settings["last_posted"]:
            lines.append(f"Last posted: {_when(datetime.fromisoformat(settings['last_posted']))}")
        problem = settings["problem"]
        if problem:
            since = datetime.fromisoformat(problem["at"])
            message = problem["message"]
            lines.append(f"⚠️ Delivery problem at {since:%Y-%m-%d %H:%M} UTC: {message}")
        await ctx.send("\n".join(lines), allowed_mentions=NO_MENTIONS)

    @reports.command(name="schedule")
    @commands.admin_or_permissions(manage_guild=True)
    async def reports_schedule(self, ctx: commands.Context, *, options: ScheduleFlags) -> None:
        """Post the KPI report with its charts in a channel, daily, weekly or monthly.

        Times are UTC. A weekly report takes a weekday (default Monday), a monthly one a day
        of the month (default 1; 29 to 31 fall on the last day of shorter months, or `last`).

        **Options**
        - `frequency:` daily, weekly or monthly
        - `channel:` where to post (default: this channel)
        - `day:` weekly: monday to sunday; monthly: 1 to 31 or last
        - `time:` time of day in UTC, HH:MM (default 09:00)
        - `days:` how many days of history the charts show, 7 to 365 (default 90)

        **Example**
        - `[p]reports schedule frequency:weekly channel:#admin-stats day:monday`
        - `[p]reports schedule frequency:monthly day:last time:18:00`
        """
        channel = options.channel or ctx.channel
        if not isinstance(channel, discord.TextChannel):
            await ctx.send("Reports are posted in a text channel; name one with `channel:`.")
            return
        weekday = day = None
        if options.day is not None and options.frequency == "daily":
            await ctx.send(
                "`day:` is for weekly and monthly reports; leave it out for daily ones."
            )
            return
        try:
            if options.frequency == "weekly":
                weekday = parse_weekday(options.day) if options.day is not None else 0
            elif options.frequency == "monthly":
                day = parse_month_day(options.day) if options.day is not None else 1
        except commands.BadArgument as error:
            await ctx.send(str(error))
            return
        missing = missing_permissions(channel, ctx.guild.me)
        if missing:
            await ctx.send(
                f"I need the {', '.join(missing)} permission in {channel.mention} to post "
                "reports there; grant it and run the command again."
            )
            return

        schedule = Schedule(
            frequency=options.frequency,
            channel_id=channel.id,
            since=self.clock(),
            at=options.time or DEFAULT_TIME,
            weekday=weekday,
            day=day,
            days=options.days,
        )
        settings = self.config.guild(ctx.guild)
        await settings.schedule.set(schedule.to_config())
        await settings.handled.set(None)
        await settings.problem.set({})
        upcoming = schedule.next_due(self.clock())
        await ctx.send(
            f"Scheduled a {schedule.frequency} KPI report {schedule.describe()} in "
            f"{channel.mention}. Next: {_when(upcoming)}.",
            allowed_mentions=NO_MENTIONS,
        )

    @reports.command(name="preview")
    @commands.admin_or_permissions(manage_guild=True)
    async def reports_preview(self, ctx: commands.Context) -> None:
        """Show you the report exactly as the schedule would post it now.

        Without a schedule, it shows the weekly report. The preview is for you alone: as a slash
        command only you see it, and as a prefix command it comes by direct message.

        **Example**
        - `[p]reports preview`
        """
        now = self.clock()
        stored = await self.config.guild(ctx.guild).schedule()
        schedule = (
            Schedule.from_config(stored)
            if stored
            else Schedule("weekly", ctx.channel.id, since=now, weekday=0)
        )
        try:
            async with ctx.typing(ephemeral=True):
                text, rendered = await self.render_post(ctx.guild, schedule, now)
        except ReportUnavailable as error:
            await ctx.send(str(error), ephemeral=True)
            return
        if ctx.interaction is not None:
            await rendered.send(ctx, content=text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        try:
            await rendered.send(ctx.author, content=text, allowed_mentions=NO_MENTIONS)
        except discord.Forbidden:
            await ctx.send(
                "Your direct messages are closed, so the preview is posted here instead."
            )
            await rendered.send(ctx, content=text, allowed_mentions=NO_MENTIONS)
            return
        await ctx.send("I sent you the preview in a direct message.")

    @reports.command(name="disable")
    @commands.admin_or_permissions(manage_guild=True)
    async def reports_disable(self, ctx: commands.Context) -> None:
        """Stop posting this server's scheduled report.

        **Example**
        - `[p]reports disable`
        """
        settings = self.config.guild(ctx.guild)
        if not await settings.schedule():
            await ctx.send(NO_REPORT)
            return
        await settings.schedule.set({})
        await settings.problem.set({})
        await ctx.send("Scheduled reports are off; `reports schedule` turns them back on.")
