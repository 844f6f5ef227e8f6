"""The Reports cog: the KPI report with its charts, posted on a schedule in a server's channel."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Literal

from redbot.core import Config, commands
from redbot.core.bot import Red

from .commands import ReportCommands
from .delivery import ReportDelivery
from .errors import explain_input_error

DataRequester = Literal["discord_deleted_user", "owner", "user", "user_strict"]


class Reports(ReportCommands, ReportDelivery, commands.Cog):
    """Scheduled KPI reports with charts, drawn by KPI Tracker."""

    def __init__(self, bot: Red) -> None:
        super().__init__()
        self.bot = bot
        self.config = Config.get_conf(self, identifier=0x52504B49, force_registration=True)
        # `handled` is the key of the last period whose report was posted or skipped.
        self.config.register_guild(schedule={}, handled=None, last_posted=None, problem={})
        self.clock = lambda: datetime.now(timezone.utc)
        self._run_lock = asyncio.Lock()

    async def cog_load(self) -> None:
        self.start_report_loop()

    async def cog_unload(self) -> None:
        self.stop_report_loop()

    async def cog_command_error(self, ctx: commands.Context, error: Exception) -> None:
        message = explain_input_error(ctx, error)
        if message is None:
            self.bot.dispatch("command_error", ctx, error, unhandled_by_cog=True)
            return
        await ctx.send(message)

    async def red_delete_data_for_user(self, *, requester: DataRequester, user_id: int) -> None:
        # Nothing to delete: schedules name channels and times, never users.
        return
