"""The Goals cog: community goals that follow KPI Tracker's numbers, with pace and milestones."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Literal

import discord
from redbot.core import Config, commands
from redbot.core.bot import Red

from .checker import GoalChecker
from .commands import GoalCommands
from .manage_commands import GoalManagement
from .errors import explain
from .messages import report_line

log = logging.getLogger("red.kpicogs.goals")

DataRequester = Literal["discord_deleted_user", "owner", "user", "user_strict"]


class Goals(GoalCommands, GoalManagement, GoalChecker, commands.Cog):
    """Set community goals, follow their progress and pace, and celebrate them."""

    def __init__(self, bot: Red) -> None:
        super().__init__()
        self.bot = bot
        self.config = Config.get_conf(self, identifier=0x474F414C53, force_registration=True)
        self.config.register_guild(goals={}, channel=None, auto_celebrate=False)
        self.clock = lambda: datetime.now(timezone.utc)
        # One check or change of goals at a time, so an announcement is decided once.
        self._lock = asyncio.Lock()
        self.last_check: datetime | None = None  # when check_goals last ran to the end

    async def cog_load(self) -> None:
        self.start_goal_loop()

    async def cog_unload(self) -> None:
        self.stop_goal_loop()

    async def cog_command_error(self, ctx: commands.Context, error: Exception) -> None:
        message = explain(ctx, error)
        if message is None:
            self.bot.dispatch("command_error", ctx, error, unhandled_by_cog=True)
            return
        await ctx.send(message, allowed_mentions=discord.AllowedMentions.none())

    # -- for the reports cog and KPI Tracker's custom metrics -----------------------------------

    async def goal_report_lines(self, guild: discord.Guild) -> list[str]:
        """One line per goal: its name, progress against the target and pace verdict."""
        kpi = self.kpitracker()
        if kpi is None:
            return []
        now = self.clock()
        lines = []
        for goal in await self.all_goals(guild):
            try:
                pace, _, _ = await self.evaluate(kpi, guild, goal, now)
                lines.append(report_line(goal, pace, await self.goal_unit(kpi, guild, goal)))
            except Exception:
                log.warning("Left a goal of guild %s out of the report", guild.id, exc_info=True)
        return lines

    async def goals_using_metric(self, guild: discord.Guild, name: str) -> list[str]:
        """The names of the custom goals that follow the metric `name`."""
        wanted = name.strip().casefold()
        return [
            goal.name
            for goal in await self.all_goals(guild)
            if goal.metric is not None and goal.metric.casefold() == wanted
        ]

    # -- privacy -------------------------------------------------------------------------------

    async def red_delete_data_for_user(self, *, requester: DataRequester, user_id: int) -> None:
        """Forget who set a goal: the setter's user ID is the only user data stored."""
        cleared = 0
        async with self._lock:
            for guild_id, data in (await self.config.all_guilds()).items():
                goals = data.get("goals") or {}
                for key, stored in goals.items():
                    if stored.get("created_by") == user_id:
                        await self.config.guild_from_id(guild_id).goals.set_raw(
                            key, "created_by", value=None
                        )
                        cleared += 1
        log.info("Removed a user's ID from %d goals on a %s request", cleared, requester)
