"""The `goals` commands that manage goals: edit, remove, record by hand, and settings."""

from __future__ import annotations

from datetime import date
from typing import Optional

import discord
from discord.ext.commands import flag
from redbot.core import commands

from .commands import Flags, GoalCommands, NameFlags, autocomplete_goal, refusing
from .converters import Amount, Day, GoalName, Switch, Target
from .messages import format_percent, format_value
from .models import GoalError, check_dates, check_target, name_key, utc_day
from .progress import retarget_milestones

NOWHERE = "nowhere (no channel is set and I cannot post in a system channel)"


class EditFlags(Flags):
    name: str = flag(converter=GoalName, description="The goal to change")
    target: Optional[float] = flag(converter=Target, default=None, description="A new target")
    deadline: Optional[date] = flag(
        converter=Day, default=None, description="A new deadline, YYYY-MM-DD"
    )
    rename: Optional[str] = flag(converter=GoalName, default=None, description="A new name")


class RecordFlags(Flags):
    name: str = flag(converter=GoalName, description="The custom goal")
    value: Optional[float] = flag(
        converter=Amount("value"), default=None, description="The goal's value now, e.g. 250"
    )
    add: Optional[float] = flag(
        converter=Amount("add"), default=None, description="An amount to add to its value"
    )


class SettingsFlags(Flags):
    channel: Optional[discord.TextChannel] = flag(
        default=None, description="The channel for milestone announcements"
    )
    celebrate: Optional[bool] = flag(
        converter=Switch, default=None, description="true to celebrate reached goals by itself"
    )


class GoalManagement:
    """Changing goals and where their announcements go."""

    @GoalCommands.goals.command(name="edit")
    @commands.admin_or_permissions(manage_guild=True)
    @refusing
    async def goals_edit(self, ctx: commands.Context, *, options: EditFlags) -> None:
        """Change a goal's target, deadline or name; its history and announcements stay.

        **Options**
        - `name:` the goal to change
        - `target:` a new target
        - `deadline:` a new last day, YYYY-MM-DD
        - `rename:` a new name

        **Example**
        - `[p]goals edit name:"Q1 Growth" target:1200 deadline:2024-04-15`
        """
        if options.target is None and options.deadline is None and options.rename is None:
            raise GoalError("Give at least one of `target:`, `deadline:` or `rename:` to change.")
        async with self._lock:
            settings = self.config.guild(ctx.guild)
            goal = await self.require_goal(ctx.guild, options.name)
            old_key = goal.key
            if options.target is not None and options.target != goal.target:
                check_target(goal.goal_type, options.target)
                old_target, goal.target = goal.target, options.target
                # Reached and the milestones follow the new target (see retarget_milestones).
                pace, _, _ = await self.evaluate(self.kpitracker(), ctx.guild, goal, self.clock())
                goal.announced = retarget_milestones(
                    goal.announced, old_target, goal.target, pace.value
                )
            if options.deadline is not None:
                check_dates(goal.start, options.deadline, utc_day(self.clock()), start_given=False)
                goal.deadline = options.deadline
            if options.rename is not None:
                taken = name_key(options.rename) != old_key and (
                    await self.find_goal(ctx.guild, options.rename)
                )
                if taken:
                    raise GoalError(f"A goal named `{options.rename}` already exists.")
                goal.name = options.rename
            async with settings.goals() as stored:
                del stored[old_key]
                stored[goal.key] = goal.to_config()
        unit = await self.goal_unit(self.kpitracker(), ctx.guild, goal)
        await ctx.send(
            f"Goal `{goal.name}` now aims for {format_value(goal.target, unit)} by the end of "
            f"{goal.deadline} UTC.",
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @GoalCommands.goals.command(name="remove")
    @commands.admin_or_permissions(manage_guild=True)
    @refusing
    async def goals_remove(self, ctx: commands.Context, *, options: NameFlags) -> None:
        """Delete a goal with its daily values.

        **Example**
        - `[p]goals remove name:"Q1 Growth"`
        """
        async with self._lock:
            goal = await self.require_goal(ctx.guild, options.name)
            await self.config.guild(ctx.guild).goals.clear_raw(goal.key)
        await ctx.send(
            f"Removed goal `{goal.name}` and its {len(goal.values)} daily values.",
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @GoalCommands.goals.command(name="record")
    @commands.admin_or_permissions(manage_guild=True)
    @refusing
    async def goals_record(self, ctx: commands.Context, *, options: RecordFlags) -> None:
        """Record the progress of a custom goal that follows no metric.

        **Options**
        - `name:` the custom goal
        - `value:` its value now, or
        - `add:` an amount to add to its last value

        **Example**
        - `[p]goals record name:"Hall of fame" value:12`
        - `[p]goals record name:"Hall of fame" add:3`
        """
        if (options.value is None) == (options.add is None):
            raise GoalError("Give either `value:` (the value now) or `add:` (an amount to add).")
        async with self._lock:
            goal = await self.require_goal(ctx.guild, options.name)
            now = self.clock()
            if not goal.is_manual:
                raise GoalError(
                    f"`{goal.name}` follows {goal.source()} and updates by itself; only a custom "
                    "goal without `metric:` takes recorded values."
                )
            if now < goal.start:
                raise GoalError(f"`{goal.name}` starts on {utc_day(goal.start)}; record then.")
            if now >= goal.due:
                raise GoalError(f"`{goal.name}` ended on {goal.deadline}; its value is final.")
            if options.value is not None:
                goal.recorded = options.value
            else:
                goal.recorded = (goal.recorded or 0.0) + options.add
            goal.values[utc_day(now).isoformat()] = goal.recorded
            await self.config.guild(ctx.guild).goals.set_raw(goal.key, value=goal.to_config())
        percent = 100 * goal.recorded / goal.target
        await ctx.send(
            f"`{goal.name}` is now at {format_value(goal.recorded)} of "
            f"{format_value(goal.target)} ({format_percent(percent)}).",
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await self.check_guild_now(ctx.guild)

    @GoalCommands.goals.command(name="settings")
    @commands.admin_or_permissions(manage_guild=True)
    @refusing
    async def goals_settings(self, ctx: commands.Context, *, options: SettingsFlags) -> None:
        """Choose where milestones are announced and whether reached goals are celebrated.

        Without options, shows the current settings. Milestones (25, 50, 75 and 100 %) and a
        missed deadline are announced once each in this channel; when none is set, in the
        server's system channel.

        **Options**
        - `channel:` the announcement channel
        - `celebrate:` true to post the celebration by itself when a goal is reached

        **Example**
        - `[p]goals settings channel:#announcements celebrate:true`
        """
        settings = self.config.guild(ctx.guild)
        if options.channel is not None:
            allowed = options.channel.permissions_for(ctx.guild.me)
            if not allowed.send_messages:
                raise GoalError(
                    f"I cannot post in {options.channel.mention}; give me Send Messages there "
                    "or pick another channel."
                )
            await settings.channel.set(options.channel.id)
        if options.celebrate is not None:
            await settings.auto_celebrate.set(options.celebrate)
        channel = await self.announcement_channel(ctx.guild)
        where = channel.mention if channel else NOWHERE
        celebrate = "on" if await settings.auto_celebrate() else "off"
        changed = options.channel is not None or options.celebrate is not None
        await ctx.send(
            f"Goal announcements {'now ' if changed else ''}go to {where}; automatic "
            f"celebrations are {celebrate}."
        )

    for _command in (goals_edit, goals_remove, goals_record):

        @_command.autocomplete("name")
        async def _goal_autocomplete(self, interaction, current):
            return await autocomplete_goal(interaction, current)

    del _command
