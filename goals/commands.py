"""The `goals` commands: set, list, progress, celebrate, edit, remove, record and settings."""

from __future__ import annotations

import asyncio
import functools
import io
import logging
from datetime import date
from typing import Optional

import discord
from discord import app_commands
from discord.ext.commands import FlagConverter, flag
from redbot.core import commands
from redbot.core.utils.chat_formatting import pagify

from .charts import goal_chart
from .converters import Day, GoalName, GoalTypeName, MetricText, Target
from .errors import Refusal, kpitracker_missing_text
from .messages import (
    celebration_embed,
    chart_data,
    chart_filename,
    format_value,
    list_line,
    not_achieved_text,
    progress_embed,
    unreadable_embed,
    unreadable_line,
)
from .models import Goal, GoalError, GoalType, new_goal, utc_day
from .progress import Verdict

log = logging.getLogger("red.kpicogs.goals")

NO_GOALS = "No goals are set on this server."
EMBEDS_PER_MESSAGE = 5


def refusing(command):
    """Refuse the command while KPI Tracker is not loaded, and let its `GoalError` reach the
    user as a refusal, not as a failure of the bot.

    KPI Tracker is checked here rather than in a cog check so that `[p]help goals` still lists
    the commands while it is not loaded.
    """

    @functools.wraps(command)
    async def checked(self, ctx, *args, **kwargs):
        if self.kpitracker() is None:
            raise Refusal(await kpitracker_missing_text(self.bot, ctx))
        try:
            return await command(self, ctx, *args, **kwargs)
        except GoalError as error:
            raise Refusal(str(error)) from None

    return checked


class Flags(FlagConverter, prefix="", delimiter=":", case_insensitive=True):
    """Options are written `key:value`, as in `name:"Q1 Growth"`."""


class SetFlags(Flags):
    name: str = flag(converter=GoalName, description="The goal's name, e.g. Q1 Growth")
    goal_type: GoalType = flag(
        name="type",
        converter=GoalTypeName,
        description="users, dau, ltz_distributed, streak_retention or custom",
    )
    target: float = flag(converter=Target, description="The value to reach, e.g. 1000")
    deadline: date = flag(converter=Day, description="The last day of the goal, YYYY-MM-DD")
    start: Optional[date] = flag(
        converter=Day, default=None, description="The first day, YYYY-MM-DD (default: now)"
    )
    metric: Optional[str] = flag(
        converter=MetricText, default=None, description="Custom goals: a metric to follow"
    )


class NameFlags(Flags):
    name: str = flag(converter=GoalName, description="The goal's name")


class OptionalNameFlags(Flags):
    name: Optional[str] = flag(
        converter=GoalName, default=None, description="One goal's name (default: all goals)"
    )


async def autocomplete_goal(interaction: discord.Interaction, current: str):
    cog = interaction.client.get_cog("Goals")
    if cog is None or interaction.guild is None:
        return []
    typed = current.casefold().strip()
    names = [goal.name for goal in await cog.all_goals(interaction.guild)]
    return [
        app_commands.Choice(name=name, value=name) for name in names if typed in name.casefold()
    ][:25]


class GoalCommands:
    """Setting, following and celebrating community goals."""

    @commands.hybrid_group(name="goals", fallback="list")
    @commands.guild_only()
    @refusing
    async def goals(self, ctx: commands.Context) -> None:
        """List the community goals of this server with their state.

        **Example**
        - `[p]goals`
        """
        goals = await self.all_goals(ctx.guild)
        if not goals:
            await ctx.send(NO_GOALS)
            return
        now = self.clock()
        kpi = self.kpitracker()
        lines = ["**Community goals**"]
        for goal in goals:
            try:
                unit = await self.goal_unit(kpi, ctx.guild, goal)
                lines.append(list_line(goal, goal_state(goal, now), unit))
            except Exception:
                log.warning("Could not list a goal of guild %s", ctx.guild.id, exc_info=True)
                lines.append(unreadable_line(goal))
        for page in pagify("\n".join(lines)):
            await ctx.send(page, allowed_mentions=discord.AllowedMentions.none())

    @goals.command(name="set")
    @commands.admin_or_permissions(manage_guild=True)
    @refusing
    async def goals_set(self, ctx: commands.Context, *, options: SetFlags) -> None:
        """Create a community goal: a target for a tracked value, due by a deadline.

        Types: `users` follows weekly_active_users, `dau` daily_active_users,
        `streak_retention` streak_retention, `ltz_distributed` the LTZ given out since the
        start, and `custom` the metric named with `metric:` (a built-in or custom KPI Tracker
        metric) or, without one, a value recorded with `[p]goals record`.

        **Options**
        - `name:` the goal's name
        - `type:` users, dau, ltz_distributed, streak_retention or custom
        - `target:` the value to reach
        - `deadline:` the last day, YYYY-MM-DD; the goal is due at the end of it (UTC)
        - `start:` the first day, YYYY-MM-DD (default: now)
        - `metric:` for custom goals, the metric to follow (optional)

        **Example**
        - `[p]goals set name:"Q1 Growth" type:users target:1000 deadline:2024-03-31`
        - `[p]goals set name:"Hall of fame" type:custom target:50 deadline:2024-06-30`
        """
        kpi = self.kpitracker()
        metric = options.metric
        if metric is not None and options.goal_type is GoalType.CUSTOM:
            metric = await self.resolve_metric(kpi, ctx.guild, metric)
        async with self._lock:
            stored = await self.config.guild(ctx.guild).goals()
            goal = new_goal(
                options.name,
                options.goal_type,
                options.target,
                options.deadline,
                self.clock(),
                start_day=options.start,
                metric=metric,
                created_by=ctx.author.id,
                existing=list(stored),
            )
            await self.config.guild(ctx.guild).goals.set_raw(goal.key, value=goal.to_config())
        unit = await self.goal_unit(kpi, ctx.guild, goal)
        follow = goal.source()
        extra = " Record its progress with `goals record`." if goal.is_manual else ""
        await ctx.send(
            f"Goal `{goal.name}` set: {format_value(goal.target, unit)} ({follow}) from "
            f"{utc_day(goal.start)} to the end of {goal.deadline} UTC.{extra}",
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @goals.command(name="progress")
    @refusing
    async def goals_progress(self, ctx: commands.Context, *, options: OptionalNameFlags) -> None:
        """Show each goal's progress, time left and pace, with a chart.

        The pace verdict compares a forecast with the target: a straight line fitted
        (least squares, numpy.polyfit) to the goal's daily values and its value now, read at
        the deadline. At or above the target is on track, within 10 % below is at risk,
        further below is behind. The chart shows the daily values, the target line, the pace
        line from the start to the target at the deadline, and the forecast.

        **Options**
        - `name:` one goal (default: every goal)

        **Example**
        - `[p]goals progress`
        - `[p]goals progress name:"Q1 Growth"`
        """
        if options.name is not None:
            goals = [await self.require_goal(ctx.guild, options.name)]
        else:
            goals = await self.all_goals(ctx.guild)
        if not goals:
            await ctx.send(NO_GOALS)
            return
        kpi = self.kpitracker()
        now = self.clock()
        async with ctx.typing():
            items = []
            for number, goal in enumerate(goals, start=1):
                try:
                    items.append(await self.progress_item(kpi, ctx.guild, goal, now, number))
                except Exception:
                    log.warning(
                        "Could not show the progress of a goal of guild %s",
                        ctx.guild.id,
                        exc_info=True,
                    )
                    items.append((unreadable_embed(goal), None))
        for first in range(0, len(items), EMBEDS_PER_MESSAGE):
            batch = items[first : first + EMBEDS_PER_MESSAGE]
            await ctx.send(
                embeds=[embed for embed, _ in batch],
                files=[file for _, file in batch if file is not None],
            )

    @goals.command(name="celebrate")
    @commands.admin_or_permissions(manage_guild=True)
    @refusing
    async def goals_celebrate(self, ctx: commands.Context, *, options: OptionalNameFlags) -> None:
        """Post the celebration of a goal the community reached.

        It goes to the announcement channel (see `[p]goals settings`), or here when none is
        set. A goal that has not reached its target is refused, with how far it is.

        **Options**
        - `name:` the goal (may be left out when only one goal is reached)

        **Example**
        - `[p]goals celebrate name:"Q1 Growth"`
        """
        kpi = self.kpitracker()
        now = self.clock()
        goal = await self.goal_to_celebrate(kpi, ctx.guild, options.name, now)
        pace, _, _ = await self.evaluate(kpi, ctx.guild, goal, now)
        unit = await self.goal_unit(kpi, ctx.guild, goal)
        if pace.verdict is not Verdict.ACHIEVED:
            await ctx.send(not_achieved_text(goal, pace, unit, now))
            return
        embed = celebration_embed(goal, pace, unit, now)
        channel = await self.announcement_channel(ctx.guild)
        if channel is None or channel.id == ctx.channel.id:
            await ctx.send(embed=embed)
            return
        await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        await ctx.send(f"Posted the celebration of `{goal.name}` in {channel.mention}.")

    for _command in (goals_progress, goals_celebrate):

        @_command.autocomplete("name")
        async def _goal_autocomplete(self, interaction, current):
            return await autocomplete_goal(interaction, current)

    del _command

    # -- helpers -------------------------------------------------------------------------------

    async def progress_item(self, kpi, guild, goal: Goal, now, number: int):
        """A goal's progress embed and its chart as a file."""
        pace, history, current = await self.evaluate(kpi, guild, goal, now)
        unit = await self.goal_unit(kpi, guild, goal)
        filename = chart_filename(goal, number)
        data = chart_data(goal, pace, history, current, unit)
        png = await asyncio.to_thread(goal_chart, data)
        embed = progress_embed(goal, pace, unit, now, chart=filename)
        return embed, discord.File(io.BytesIO(png), filename=filename)

    async def require_goal(self, guild: discord.Guild, name: str) -> Goal:
        goal = await self.find_goal(guild, name)
        if goal is None:
            names = [goal.name for goal in await self.all_goals(guild)]
            known = ", ".join(f"`{known}`" for known in names[:10]) or "none yet"
            raise GoalError(f"There is no goal named `{name}`; the goals are: {known}.")
        return goal

    async def resolve_metric(self, kpi, guild: discord.Guild, name: str) -> str:
        try:
            return await kpi.resolve_metric_name(guild, name)
        except ValueError as error:
            raise GoalError(str(error)) from None

    async def goal_to_celebrate(self, kpi, guild, name: str | None, now) -> Goal:
        if name is not None:
            return await self.require_goal(guild, name)
        goals = await self.all_goals(guild)
        if not goals:
            raise GoalError(NO_GOALS)
        if len(goals) == 1:
            return goals[0]
        reached = [goal for goal in goals if goal.reached]
        if len(reached) == 1:
            return reached[0]
        raise GoalError("Name the goal to celebrate with `name:`; this server has several.")


def goal_state(goal: Goal, now) -> str:
    """The state a goal's stored record shows, without reading any metric."""
    if now < goal.start:
        return "not started"
    if goal.reached:
        return "reached 🏆"
    if now >= goal.due:
        return "missed" if goal.missed_key in goal.announced else "ended"
    days = (goal.due - now).total_seconds() / 86_400
    return f"active, {days:.1f} days left"
