"""The Goals cog: targets for the metrics that KPI Tracker follows."""

from __future__ import annotations

from typing import Literal

from redbot.core import commands
from redbot.core.bot import Red

DataRequester = Literal["discord_deleted_user", "owner", "user", "user_strict"]


class Goals(commands.Cog):
    """Goals for the server's KPI metrics."""

    def __init__(self, bot: Red) -> None:
        super().__init__()
        self.bot = bot

    async def red_delete_data_for_user(self, *, requester: DataRequester, user_id: int) -> None:
        # Nothing to delete: this cog stores no data about users.
        return

    @commands.hybrid_group(name="goals", fallback="list")
    @commands.guild_only()
    async def goals(self, ctx: commands.Context) -> None:
        """List the goals set on this server.

        Example:
        - `[p]goals`
        """
        await ctx.send("No goals are set on this server.")
