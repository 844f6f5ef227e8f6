"""The benchmark's report: `render_report` for a server with 20 KPIs and 90 days of snapshots.

The report renderer is the cog's own (`kpitracker/report_render.py`); it is driven here with a
small stand-in for the cog (its store, KPIs, metric names and values) instead of a bot.
Sixteen KPIs are the built-in metrics, four more are custom metrics computed from them.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from kpitracker.catalogue import METRICS, PERIOD_DAYS, MetricInfo, ValueType
from kpitracker.kpis import Kpi
from kpitracker.ledger import DAY_MS, to_ms
from kpitracker.report_render import render_report
from kpitracker.sqlite_store import SqliteStore
from scripts.bench_reads import SnapshotRunner, _probe, end_of_history

CUSTOM = {
    "claims_per_member": ("daily_active_users", "weekly_active_users"),
    "events_per_claimer": ("triggered_event_rate", "daily_active_users"),
    "reward_per_event": ("reward_efficiency", "events_per_active_user"),
    "streak_health": ("streak_retention", "streak_break_frequency"),
}
PERIOD_OF = ["day", "week", "week", "week", "month", "quarter", "week", "month"]


def _kpis() -> list[Kpi]:
    names = list(METRICS) + list(CUSTOM)
    return [
        Kpi(name, 10.0 + number, PERIOD_OF[number % len(PERIOD_OF)], 80.0)
        for number, name in enumerate(names)
    ]


def _info(name: str) -> MetricInfo:
    if name in METRICS:
        return METRICS[name]
    return MetricInfo(name, name, "a custom ratio", "ratio", ValueType.COUNT, True)


class _Guild:
    def __init__(self, guild_id: int) -> None:
        self.id = guild_id
        self.name = "Benchmark server"
        self.filesize_limit = 25 * 1024 * 1024


class _Bot:
    def get_cog(self, name: str):
        return None


class ReportCog(SnapshotRunner):
    """What `render_report` asks of the cog, over a store."""

    def __init__(self, store: SqliteStore, now: datetime) -> None:
        super().__init__(store)
        self.bot = _Bot()
        self.clock = lambda: now
        self.kpis = _kpis()

    async def get_kpis(self, guild) -> list[Kpi]:
        return self.kpis

    async def metric_info(self, guild, name: str) -> MetricInfo:
        return _info(name)

    async def metric_values(self, guild, at, period: str) -> dict:
        guild_id = getattr(guild, "id", guild)
        values = await self.store.metrics(guild_id, to_ms(at), PERIOD_DAYS[period])
        for name, (top, bottom) in CUSTOM.items():
            a, b = values.get(top), values.get(bottom)
            values[name] = a / b if a is not None and b else None
        return values


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def reports(path: Path, server_id: int, count: int) -> dict:
    """Median seconds per report, the loop's worst wait, and memory before and after."""
    store = await SqliteStore.open(path)
    try:
        end = end_of_history(path)
        now = datetime.fromtimestamp(end / 1000, tz=timezone.utc) - timedelta(hours=9)
        cog = ReportCog(store, now)
        last_day = date(1970, 1, 1) + timedelta(days=end // DAY_MS - 1)
        done = await store.snapshot_dates(server_id)
        for back in range(90):
            day = last_day - timedelta(days=back)
            if day.isoformat() not in done:
                await store.put_snapshot(await cog.build_snapshot(server_id, day, cog.kpis, None))

        guild = _Guild(server_id)
        stop, worst = asyncio.Event(), [0.0]
        probe = asyncio.create_task(_probe(stop, worst))
        seconds, memory, images = [], [], 0
        try:
            for number in range(count):
                started = time.perf_counter()
                report = await render_report(cog, guild, at=now, days=90)
                seconds.append(time.perf_counter() - started)
                images = sum(len(message.attachments) for message in report.messages)
                del report
                if number in (9, count - 1):
                    gc.collect()
                    memory.append(_rss_mb())
        finally:
            stop.set()
            await probe
    finally:
        await store.close()
    return {
        "reports": count,
        "seconds": statistics.median(seconds),
        "images": images,
        "worst_loop_wait_ms": 1000 * worst[0],
        "rss_after_10_mb": memory[0] if memory else None,
        "rss_at_end_mb": memory[-1] if memory else None,
    }
