"""`kpi retention`: how many days of raw activity a server keeps, and the nightly compaction."""

from __future__ import annotations

import asyncio
import logging
import time as timer
from datetime import time, timezone
from typing import Optional

from discord.ext import tasks
from discord.ext.commands import flag
from redbot.core import commands

from . import retention
from .commands import Flags, KpiCommands
from .converters import unquote
from .ledger import DAY_MS, from_ms, to_ms

log = logging.getLogger("red.kpicogs.kpitracker.retention")

# After the snapshot job (00:00:05), so that the day just ended is in a snapshot first.
COMPACTION_TIME = time(0, 30, tzinfo=timezone.utc)


class RetentionDays(commands.Converter):
    """A number of days (at least the minimum), or `off`."""

    async def convert(self, ctx: commands.Context, argument: str) -> int:
        text = unquote(argument).lower()
        if text in ("off", "none", "0", "forever"):
            return 0
        try:
            days = int(text)
        except ValueError:
            raise commands.BadArgument(
                f"`{argument}` is not a number of days; give `days:` as a whole number like "
                f"`days:400`, or `days:off` to keep every row."
            ) from None
        if not retention.MIN_HORIZON_DAYS <= days <= retention.MAX_HORIZON_DAYS:
            raise commands.BadArgument(
                f"`days:` must be between {retention.MIN_HORIZON_DAYS} and "
                f"{retention.MAX_HORIZON_DAYS:,} (a quarter's churn reads raw rows from 180 days "
                "back), or `off`."
            )
        return days


class RetentionFlags(Flags):
    days: Optional[int] = flag(
        converter=RetentionDays,
        default=None,
        description=f"Days of raw rows to keep, {retention.MIN_HORIZON_DAYS} or more, or off",
    )


class RetentionCommands:
    """Compacting raw activity rows older than a server's retention into the rollups."""

    def register_retention_settings(self) -> None:
        self.config.register_guild(retention_days=None)

    def start_retention_job(self) -> None:
        self.retention_loop.start()

    def stop_retention_job(self) -> None:
        self.retention_loop.cancel()

    @tasks.loop(time=COMPACTION_TIME)
    async def retention_loop(self) -> None:
        await self.compact_history()

    @retention_loop.error
    async def _retention_loop_failed(self, error: BaseException) -> None:
        log.exception("The nightly compaction failed", exc_info=error)

    async def compact_history(self) -> dict[int, int]:
        """Compact every server that has a retention set; return rows deleted per server."""
        started = timer.perf_counter()
        today = to_ms(self.clock()) // DAY_MS
        deleted: dict[int, int] = {}
        for guild_id, settings in (await self.config.all_guilds()).items():
            days = settings.get("retention_days")
            if not days:
                continue
            try:
                deleted[guild_id] = await retention.compact(self.store, guild_id, today - days)
            except Exception:
                log.warning("Skipped the compaction of guild %s", guild_id, exc_info=True)
            await asyncio.sleep(0)
        if deleted:
            log.info(
                "Compaction: %d guilds, %d raw rows deleted in %.2f s",
                len(deleted),
                sum(deleted.values()),
                timer.perf_counter() - started,
            )
        return deleted

    @KpiCommands.kpi.command(name="retention")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_retention(self, ctx: commands.Context, *, options: RetentionFlags) -> None:
        """Keep raw activity rows for a number of days; older ones are compacted each night.

        Compacted rows stay counted in the daily rollups, so snapshots, charts and every
        metric read at midnight keep their values; see the README for what else changes.
        Without options, shows the current setting.

        **Options**
        - `days:` how many days of raw rows to keep, 200 or more, or `off` (the default)

        **Example**
        - `[p]kpi retention days:400`
        - `[p]kpi retention days:off`
        """
        settings = self.config.guild(ctx.guild)
        if options.days is None:
            days = await settings.retention_days()
            before = await retention.compacted_before(self.store, ctx.guild.id)
            text = (
                f"Raw activity rows are kept for {days} days."
                if days
                else "Raw activity rows are kept forever (retention is off)."
            )
            if before is not None:
                text += f" Rows before {from_ms(before):%Y-%m-%d} were compacted."
            await ctx.send(text)
            return
        if options.days == 0:
            await settings.retention_days.set(None)
            await ctx.send(
                "Retention is off: raw activity rows are kept from now on (rows compacted "
                "before stay compacted)."
            )
            return
        await settings.retention_days.set(options.days)
        log.info("Guild %s keeps %d days of raw activity rows", ctx.guild.id, options.days)
        await ctx.send(
            f"Raw activity rows older than {options.days} days will be compacted into the "
            "daily rollups each night at 00:30 UTC; rows that old are no longer imported."
        )
