"""The Reports cog: scheduled summaries of the metrics that KPI Tracker follows."""

from __future__ import annotations

from typing import Literal

from redbot.core import commands
from redbot.core.bot import Red

DataRequester = Literal["discord_deleted_user", "owner", "user", "user_strict"]


class Reports(commands.Cog):
    """Scheduled KPI reports for the server."""

    def __init__(self, bot: Red) -> None:
        super().__init__()
        self.bot = bot

    async def red_delete_data_for_user(self, *, requester: DataRequester, user_id: int) -> None:
        # Nothing to delete: this cog stores no data about users.
        return

    @commands.hybrid_group(name="reports", fallback="list")
    @commands.guild_only()
    async def reports(self, ctx: commands.Context) -> None:
        """List the reports scheduled on this server.

        Example:
        - `[p]reports`
        """
        await ctx.send("No report is scheduled on this server.")
