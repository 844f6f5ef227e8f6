"""The nightly snapshot: every server's KPI values for the day that just ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time as timer
from datetime import date, datetime, time, timedelta, timezone

import discord
from discord.ext import tasks

from .kpis import Kpi, is_achieved
from .ledger import DAY_MS
from .store import Snapshot

log = logging.getLogger("red.kpicogs.kpitracker.snapshots")

MIDNIGHT = time(0, 0, 5, tzinfo=timezone.utc)
# How far back a server's first run, or a run after a long outage, fills missing days.
MAX_BACKFILL_DAYS = 400


def snapshot_content(kpis: list[Kpi], values: dict[str, dict], stats: dict) -> dict:
    """The JSON stored for one day: each active KPI judged, every metric, server stats."""
    return {
        "kpis": {
            kpi.metric: {
                "value": values[kpi.period].get(kpi.metric),
                "target": kpi.target_value,
                "period": kpi.period,
                "alert_threshold": kpi.alert_threshold,
                "achieved": is_achieved(kpi, values[kpi.period].get(kpi.metric)),
            }
            for kpi in kpis
            if kpi.is_active
        },
        "values": values["week"],
        "stats": stats,
    }


class SnapshotJob:
    """Writes one `daily` snapshot per server and day, and fills days missed while down."""

    def start_snapshot_job(self) -> None:
        self.snapshot_loop.start()
        self._catch_up = asyncio.create_task(self._catch_up_after_start())

    def stop_snapshot_job(self) -> None:
        self.snapshot_loop.cancel()
        catch_up = getattr(self, "_catch_up", None)
        if catch_up is not None:
            catch_up.cancel()

    async def _catch_up_after_start(self) -> None:
        await self.bot.wait_until_red_ready()
        with contextlib.suppress(asyncio.CancelledError):
            await self.write_snapshots()

    @tasks.loop(time=MIDNIGHT)
    async def snapshot_loop(self) -> None:
        await self.write_snapshots()

    @snapshot_loop.error
    async def _snapshot_loop_failed(self, error: BaseException) -> None:
        log.exception("The nightly snapshot job failed", exc_info=error)

    async def write_snapshots(self) -> dict[int, int]:
        """Write every missing daily snapshot up to yesterday; return days written per guild."""
        started = timer.perf_counter()
        today = self.clock().astimezone(timezone.utc).date()
        midnight = datetime(today.year, today.month, today.day, tzinfo=timezone.utc)
        await self.store.split_voice_sessions(int(midnight.timestamp()) * 1000)
        written: dict[int, int] = {}
        for guild in list(self.bot.guilds):
            try:
                written[guild.id] = await self.snapshot_guild(guild, today)
            except Exception:
                log.warning("Skipped the snapshot of guild %s", guild.id, exc_info=True)
        log.info(
            "Snapshot job: %d guilds, %d days written in %.2f s",
            len(written),
            sum(written.values()),
            timer.perf_counter() - started,
        )
        return written

    async def snapshot_guild(self, guild: discord.Guild, today: date) -> int:
        """Write the missing snapshots of one guild for the days before `today`."""
        span = await self.store.span(guild.id)
        kpis = await self.get_kpis(guild)
        if span is None and not kpis:
            return 0
        # Snapshots start on the day before the first run that finds something to record;
        # history imported later is not back-filled into years of snapshots.
        settings = self.config.guild(guild)
        since_text = await settings.tracking_since()
        if since_text is None:
            since_text = (today - timedelta(days=1)).isoformat()
            await settings.tracking_since.set(since_text)

        yesterday = today - timedelta(days=1)
        if date.fromisoformat(since_text) > yesterday:
            # Left by a run whose clock was wrong; snapshots go on from now.
            since_text = yesterday.isoformat()
            await settings.tracking_since.set(since_text)
        first = max(date.fromisoformat(since_text), today - timedelta(days=MAX_BACKFILL_DAYS))
        done = await self.store.snapshot_dates(guild.id)
        count = 0
        day = first
        while day < today:
            if day.isoformat() not in done:
                members = guild.member_count if day == today - timedelta(days=1) else None
                await self.store.put_snapshot(
                    await self.build_snapshot(guild.id, day, kpis, members)
                )
                count += 1
            day += timedelta(days=1)
        return count

    async def build_snapshot(
        self, guild_id: int, day: date, kpis: list[Kpi], members: int | None
    ) -> Snapshot:
        """The snapshot of `day`: every metric read at 00:00 UTC of the next day."""
        end = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
        end_ms = int(end.timestamp()) * 1000
        periods = {"week"} | {kpi.period for kpi in kpis if kpi.is_active}
        values = {
            period: await self.metric_values(guild_id, end, period) for period in sorted(periods)
        }
        stats = {
            "members": members,
            "users_seen": await self.store.users_seen(guild_id, end_ms),
            "day_start_ms": end_ms - DAY_MS,
        }
        return Snapshot(guild_id, day.isoformat(), "daily", snapshot_content(kpis, values, stats))
