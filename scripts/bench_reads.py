"""The benchmark's read side: metric sets, their baseline and check, the nightly snapshot."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from kpitracker.catalogue import PERIOD_DAYS
from kpitracker.kpis import Kpi
from kpitracker.ledger import DAY_MS, to_ms
from kpitracker.snapshots import SnapshotJob
from kpitracker.sqlite_store import SqliteStore
from scripts import bench_pandas

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Instant:
    label: str
    offset_ms: int  # from the end of the generated history (midnight after its last day)


INSTANTS = [
    Instant("latest midnight", 0),
    Instant("last day 14:37", -DAY_MS + 14 * HOUR_MS + 37 * 60_000),
    Instant("90 days back, 05:00", -90 * DAY_MS + 5 * HOUR_MS),
    Instant("mid-history midnight", -180 * DAY_MS),
]
PERIODS = list(PERIOD_DAYS.items())  # day, week, month, quarter


def end_of_history(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        last = conn.execute("SELECT MAX(last_ts) FROM servers").fetchone()[0]
    finally:
        conn.close()
    return (last // DAY_MS + 1) * DAY_MS


def cases(path: Path) -> list[tuple[Instant, str, int, int]]:
    end = end_of_history(path)
    return [
        (instant, period, end + instant.offset_ms, days)
        for instant in INSTANTS
        for period, days in PERIODS
    ]


async def _probe(stop: asyncio.Event, worst: list[float]) -> None:
    """Sleep 2 ms again and again; record the longest extra wait the loop imposed."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.002)
        worst[0] = max(worst[0], time.perf_counter() - started - 0.002)


async def time_metric_sets(path: Path, server_id: int, runs: int) -> dict:
    """Median milliseconds of the full metric set per case, and the loop's worst wait."""
    store = await SqliteStore.open(path)
    stop, worst = asyncio.Event(), [0.0]
    probe = asyncio.create_task(_probe(stop, worst))
    try:
        result = []
        for instant, period, at, days in cases(path):
            await store.metrics(server_id, at, days)  # warm the page cache for this case
            seconds = []
            for _ in range(runs):
                started = time.perf_counter()
                await store.metrics(server_id, at, days)
                seconds.append(time.perf_counter() - started)
            result.append((instant.label, period, 1000 * statistics.median(seconds)))
    finally:
        stop.set()
        await probe
        await store.close()
    return {"cases": result, "worst_loop_wait_ms": 1000 * worst[0]}


def _child(*arguments: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench_child", *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def fast_memory(path: Path, server_id: int) -> dict:
    """Peak memory of a process that computes every case through the store."""
    chosen = [[at, days] for _, _, at, days in cases(path)]
    return _child("fast", str(path), str(server_id), json.dumps(chosen))


def pandas_baseline(path: Path, server_id: int, runs: int, checked: list[int]) -> dict:
    """The naive path in its own process: timed on the first case, values for the checked."""
    everything = cases(path)
    typical = next(
        i
        for i, (instant, period, _, _) in enumerate(everything)
        if instant.label == "last day 14:37" and period == "week"
    )
    chosen = [typical] + [i for i in checked if i != typical]
    result = _child(
        "pandas",
        str(path),
        str(server_id),
        json.dumps([[everything[i][2], everything[i][3]] for i in chosen]),
        str(runs),
    )
    result["case"] = everything[typical][0].label + ", " + everything[typical][1]
    result["checked"] = chosen
    return result


def compare(path: Path, fast_values: list[dict], baseline: dict) -> list[str]:
    """Every case where the fast path and the direct computation disagree."""
    everything = cases(path)
    problems = []
    for index, direct in zip(baseline["checked"], baseline["values"]):
        instant, period, _, _ = everything[index]
        different = bench_pandas.same_values(fast_values[index], direct)
        if different:
            problems.append(f"{instant.label}, {period}: {', '.join(different)}")
    return problems


# -- the nightly snapshot ----------------------------------------------------------------------


class SnapshotRunner(SnapshotJob):
    """The cog's snapshot content path (`SnapshotJob.build_snapshot`) over a bare store."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    async def metric_values(self, guild_id: int, at, period: str) -> dict:
        return await self.store.metrics(guild_id, to_ms(at), PERIOD_DAYS[period])


async def nightly_snapshot(path: Path, kpis: list[Kpi], write: bool) -> dict:
    """Build (and optionally write) every server's snapshot of the history's last day."""
    store = await SqliteStore.open(path)
    try:
        servers = await store.server_ids()
        day = date(1970, 1, 1) + timedelta(days=end_of_history(path) // DAY_MS - 1)
        runner = SnapshotRunner(store)
        started = time.perf_counter()
        for server_id in servers:
            snapshot = await runner.build_snapshot(server_id, day, kpis, None)
            if write:
                await store.put_snapshot(snapshot)
        seconds = time.perf_counter() - started
        if write:
            await store.transaction(
                lambda conn: conn.execute(
                    "DELETE FROM discord_kpi_snapshots WHERE snapshot_date = ?", [day.isoformat()]
                )
            )
    finally:
        await store.close()
    return {"servers": len(servers), "seconds": seconds}


def pandas_snapshot_estimate(path: Path, sample: int) -> dict:
    """Seconds the naive path would take for every server, from an even sample of them."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        servers = [
            row[0]
            for row in conn.execute(
                "SELECT server_id FROM members GROUP BY server_id ORDER BY COUNT(*)"
            )
        ]
        at = end_of_history(path)
        step = max(1, len(servers) // sample)
        chosen = servers[::step]
        started = time.perf_counter()
        for server_id in chosen:
            bench_pandas.metrics(bench_pandas.load(conn, server_id), at, 7)
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return {"sampled": len(chosen), "seconds": seconds * len(servers) / len(chosen)}
