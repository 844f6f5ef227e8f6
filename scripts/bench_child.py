"""Measurements that need a process of their own, so that its peak memory is theirs alone.

`python -m scripts.bench_child fast DB SERVER CASES` computes the full metric set through
the store for every case; `... pandas DB SERVER CASES RUNS` loads the server's rows into
pandas and computes there, RUNS times for the first case (timed) and once for each other
case. CASES is a JSON list of [at_ms, period_days]. Each prints one JSON line: times, peak
resident memory, and the values (for the comparison between both paths).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import time


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike getrusage, not inherited at fork)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _fast(path: str, server_id: int, cases: list) -> dict:
    from kpitracker.sqlite_store import SqliteStore

    store = await SqliteStore.open(path)
    try:
        before = _peak_mb()
        values = [await store.metrics(server_id, at, days) for at, days in cases]
        return {"peak_mb": _peak_mb(), "ready_mb": before, "values": values}
    finally:
        await store.close()


def _pandas(path: str, server_id: int, cases: list, runs: int) -> dict:
    from scripts import bench_pandas

    ready = _peak_mb()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        seconds, loads = [], []
        for _ in range(runs):
            started = time.perf_counter()
            frame = bench_pandas.load(conn, server_id)
            loaded = time.perf_counter()
            first = bench_pandas.metrics(frame, *cases[0])
            seconds.append(time.perf_counter() - started)
            loads.append(loaded - started)
            if len(seconds) < runs:
                del frame
        values = [first] + [bench_pandas.metrics(frame, at, days) for at, days in cases[1:]]
    finally:
        conn.close()
    return {
        "seconds": statistics.median(seconds),
        "load_seconds": statistics.median(loads),
        "peak_mb": _peak_mb(),
        "ready_mb": ready,
        "rows": len(frame),
        "values": values,
    }


def main(argv: list[str]) -> None:
    mode, path, server_id, cases = argv[0], argv[1], int(argv[2]), json.loads(argv[3])
    if mode == "fast":
        result = asyncio.run(_fast(path, server_id, cases))
    else:
        result = _pandas(path, server_id, cases, int(argv[4]))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
