"""The benchmark's own checks on a small generated ledger (no timing here).

The benchmark loads its large ledgers in bulk and checks the fast metric path against a
pandas computation over raw rows; these tests check, on a ledger small enough for the plain
reference, that the bulk load builds exactly the tables the live write path builds, that the
schema migration derives the same per-day and per-block rollups, and that the fast path, the
pandas computation and the reference agree.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3

import pytest

from kpitracker.sqlite_store import SqliteStore
from reference_metrics import reference_metrics
from scripts import bench_pandas, bench_reads
from scripts.bench_data import Shape, generate
from scripts.bench_load import ROLLUP_COLUMNS, build_database

SHAPE = Shape(12_000, servers=3, days=120, seed=5)


@pytest.fixture(scope="module")
def generated():
    return generate(SHAPE)


def _table(path, table: str) -> list[tuple]:
    names = ROLLUP_COLUMNS[table]
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            f"SELECT {', '.join(names)} FROM {table} ORDER BY {', '.join(names[:3])}"
        ).fetchall()
    finally:
        conn.close()


def _same_rows(left: list[tuple], right: list[tuple]) -> bool:
    return len(left) == len(right) and all(
        all(a == b or (isinstance(a, float) and math.isclose(a, b)) for a, b in zip(x, y))
        for x, y in zip(left, right)
    )


async def _live(path, rows) -> None:
    store = await SqliteStore.open(path)
    try:
        # In pieces, as a bot receives them, and each piece shuffled by user.
        for start in range(0, len(rows), 2_500):
            piece = sorted(rows[start : start + 2_500], key=lambda row: row.user_id)
            await store.import_rows(piece)
    finally:
        await store.close()


async def test_bulk_load_builds_the_tables_the_live_path_builds(generated, tmp_path):
    bulk, live = tmp_path / "bulk.sqlite3", tmp_path / "live.sqlite3"
    await asyncio.to_thread(build_database, SHAPE, bulk, generated)
    await _live(live, generated.rows())

    for table in ROLLUP_COLUMNS:
        assert _same_rows(_table(bulk, table), _table(live, table)), table
    assert len(_table(bulk, "daily_user")) > 2_000


async def test_migration_derives_the_same_day_and_block_rollups(generated, tmp_path):
    path = tmp_path / "live.sqlite3"
    await _live(path, generated.rows())
    kept = {table: _table(path, table) for table in ("daily_server", "block_user")}

    # The database as the release before the per-day and per-block rollups left it.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TABLE daily_server")
        conn.execute("DROP TABLE block_user")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    finally:
        conn.close()
    store = await SqliteStore.open(path)
    await store.close()

    for table, rows in kept.items():
        assert _same_rows(_table(path, table), rows), table
    assert any(row[-1] for row in kept["block_user"])  # the blocks' LTZ net


async def test_fast_path_equals_raw_rows_and_reference_on_generated_data(generated, tmp_path):
    path = tmp_path / "bulk.sqlite3"
    await asyncio.to_thread(build_database, SHAPE, path, generated)
    cases = bench_reads.cases(path)
    server = 1
    rows = [row for row in generated.rows() if row.server_id == server]

    store = await SqliteStore.open(path)
    try:
        fast = [await store.metrics(server, at, days) for _, _, at, days in cases]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        frame = bench_pandas.load(conn, server)
    finally:
        conn.close()
    direct = [bench_pandas.metrics(frame, at, days) for _, _, at, days in cases]

    # The benchmark's own comparison, then both against the plain reference.
    baseline = {"checked": list(range(len(cases))), "values": direct}
    assert bench_reads.compare(path, fast, baseline) == []
    for (instant, period, at, days), values in list(zip(cases, fast))[::3]:
        expected = reference_metrics(rows, at, days)
        assert bench_pandas.same_values(values, expected) == [], (instant.label, period)
    assert any(value for values in fast for value in values.values())
