"""The benchmark's retention: a two-year ledger compacted to one year of raw rows."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from kpitracker import retention
from kpitracker.ledger import DAY_MS
from kpitracker.sqlite_store import SqliteStore
from scripts import bench_pandas
from scripts.bench_reads import end_of_history


def _size(path: Path) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path.stat().st_size


async def compaction(path: Path, scratch: Path, server_id: int, keep_days: int) -> dict:
    """Sizes before, after compaction and after VACUUM; metric values before and after."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(path, scratch)
    end = end_of_history(path)
    horizon_day = end // DAY_MS - keep_days
    # Midnights across the whole history (compacted or not), and instants inside the kept
    # year whose windows (up to a quarter's churn, 180 days) begin after the horizon.
    instants = [day * DAY_MS for day in range(end // DAY_MS - 700, end // DAY_MS + 1, 50)]
    instants += [end - days * DAY_MS + 13 * 3_600_000 for days in (1, 20, 150)]
    periods = (1, 7, 30, 90)

    before_bytes = _size(scratch)
    store = await SqliteStore.open(scratch)
    try:
        rows_before = (await store._one("SELECT COUNT(*) FROM ledger", []))[0]
        before = {
            (at, days): await store.metrics(server_id, at, days)
            for at in instants
            for days in periods
        }
        started = time.perf_counter()
        deleted = await retention.compact(store, server_id, horizon_day)
        seconds = time.perf_counter() - started
        changed = [
            (at, days)
            for (at, days), values in before.items()
            if bench_pandas.same_values(await store.metrics(server_id, at, days), values)
        ]
        kept_old = (
            await store._one("SELECT COUNT(*) FROM ledger WHERE ts < ?", [horizon_day * DAY_MS])
        )[0]
    finally:
        await store.close()
    compacted_bytes = _size(scratch)
    conn = sqlite3.connect(scratch, isolation_level=None)
    try:
        conn.execute("VACUUM")
    finally:
        conn.close()
    vacuumed_bytes = _size(scratch)
    return {
        "rows_before": rows_before,
        "deleted": deleted,
        "kept_old_rows": kept_old,
        "seconds": seconds,
        "checked": len(before),
        "changed": len(changed),
        "bytes_before": before_bytes,
        "bytes_compacted": compacted_bytes,
        "bytes_vacuumed": vacuumed_bytes,
    }
