"""The benchmark's write side: bursts of activity through `SqliteStore.add`, one claim alone."""

from __future__ import annotations

import asyncio
import gc
import shutil
import sqlite3
import statistics
import time
from pathlib import Path

import numpy as np

from kpitracker import ingest
from kpitracker.ledger import DAY_MS, Kind, LedgerRow, make_row
from kpitracker.sqlite_store import SqliteStore
from scripts.bench_reads import _probe, end_of_history


def _members(path: Path, server_id: int) -> np.ndarray:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = conn.execute("SELECT user_id FROM members WHERE server_id = ?", [server_id])
        return np.array([row[0] for row in found], dtype=np.int64)
    finally:
        conn.close()


def _burst_rows(
    members: np.ndarray, server_id: int, start_ms: int, count: int, seed: int
) -> list[LedgerRow]:
    """Live-looking activity of a busy hour: claims, events and rewards of the server's
    members, the most active ones far more often than the rest."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(members) + 1)
    users = rng.choice(members, size=count, p=weights / weights.sum())
    times = start_ms + np.sort(rng.integers(0, 3_600_000, count))
    kinds = rng.choice([Kind.CLAIM, Kind.EVENT, Kind.REWARD], count, p=[0.5, 0.35, 0.15])
    rows = []
    for user, when, kind in zip(users.tolist(), times.tolist(), kinds.tolist()):
        kind = Kind(kind)
        amount = 10.0 if kind is not Kind.EVENT else None
        detail = "quiz_won" if kind is Kind.EVENT else None
        rows.append(make_row(server_id, user, when / 1000, kind, amount, detail))
    return rows


async def recording(path: Path, scratch: Path, server_id: int, bursts: int, size: int) -> dict:
    """Bursts of single-row `add` calls as listeners make them, a probe, and lone claims."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(path, scratch)
    start = end_of_history(path) + DAY_MS  # a fresh day after the generated history
    rows = _burst_rows(_members(path, server_id), server_id, start, bursts * size, seed=11)
    # The benchmark holds all its rows from the start; keep the garbage collector from
    # walking them again and again (a bot's activity arrives and goes).
    gc.collect()
    gc.freeze()
    store = await SqliteStore.open(scratch)
    stop, worst = asyncio.Event(), [0.0]
    probe = asyncio.create_task(_probe(stop, worst))
    claim_seconds: list[float] = []

    async def lone_claims() -> None:
        user = 10**17 + 1
        while not stop.is_set():
            row = LedgerRow(server_id, user, start + len(claim_seconds), Kind.CLAIM, 5.0)
            started = time.perf_counter()
            await store.add([row])
            claim_seconds.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)

    try:
        claims = asyncio.create_task(lone_claims())
        started = time.perf_counter()
        for number in range(bursts):
            burst = rows[number * size : (number + 1) * size]
            for index, row in enumerate(burst):
                last = index == len(burst) - 1
                if last:
                    await store.add([row])  # batches are written in order: all are durable
                else:
                    await store.add([row], wait=False)
                if index % 100 == 99:
                    await asyncio.sleep(0)  # a producer (the gateway) yields between events
        seconds = time.perf_counter() - started
        stop.set()
        await claims
        during = list(claim_seconds)

        idle = []
        for number in range(20):
            row = LedgerRow(server_id, 10**17 + 3, start + 7_200_000 + number, Kind.CLAIM, 5.0)
            began = time.perf_counter()
            await store.add([row])
            idle.append(time.perf_counter() - began)

        naive_rows = rows[:2_000]
        naive = [
            LedgerRow(r.server_id, r.user_id, r.ts_ms + DAY_MS, r.kind, r.amount, r.detail)
            for r in naive_rows
        ]
        began = time.perf_counter()
        for row in naive:
            await store.transaction(lambda conn, row=row: ingest.ingest(conn, [row]))
        naive_rate = len(naive) / (time.perf_counter() - began)
    finally:
        stop.set()
        await probe
        await store.close()
        gc.unfreeze()
    return {
        "rows": len(rows),
        "rows_per_second": len(rows) / seconds,
        "worst_loop_wait_ms": 1000 * worst[0],
        "claim_during_bursts_ms": 1000 * max(during) if during else None,
        "claim_idle_median_ms": 1000 * statistics.median(idle),
        "claim_idle_worst_ms": 1000 * max(idle),
        "naive_rows_per_second": naive_rate,
    }
