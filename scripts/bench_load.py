"""Generated ledgers written into SQLite in bulk, with their rollups, and cached under .bench/.

Rows are written straight into the ledger table with its indexes dropped, then the indexes
are rebuilt and the rollups computed with numpy: much faster than sending millions of rows
through the live write path, and the same tables (`tests/test_bench_smoke.py` checks it).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import numpy as np

from kpitracker.ingest import BLOCK_DAYS
from kpitracker.ledger import DAY_MS, Kind
from kpitracker.sqlite_store import SqliteStore
from scripts.bench_data import CACHE, Columns, Shape, generate


def _groups(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order that sorts rows by `keys` (first key outermost) and where each group starts."""
    order = np.lexsort(keys[::-1])
    change = np.zeros(len(order), dtype=bool)
    if len(order):
        change[0] = True
        for key in keys:
            sorted_key = key[order]
            change[1:] |= sorted_key[1:] != sorted_key[:-1]
    return order, np.flatnonzero(change)


ROLLUP_COLUMNS = {
    "daily_user": (
        "server_id",
        "day",
        "user_id",
        "claims",
        "rewards",
        "ltz_in",
        "ltz_out",
        "events",
        "voice_sessions",
        "streak",
    ),
    "members": (
        "server_id",
        "user_id",
        "first_join_ts",
        "first_seen_ts",
        "first_engage_ts",
        "first_reward_ts",
        "balance",
    ),
    "servers": ("server_id", "first_ts", "last_ts", "max_voice_ms"),
    "daily_server": ("server_id", "day", "claimers", "continued", "ltz_in", "events"),
    "block_user": (
        "server_id",
        "block",
        "user_id",
        "claim_days",
        "reward_days",
        "engage_days",
        "voice_days",
        "event_days",
        "event2_days",
        "event3_days",
        "net",
    ),
}


def rollup_rows(columns: Columns) -> dict[str, list[tuple]]:
    """The rows of `daily_user`, `members` and `servers` for a whole ledger, in key order.

    The same tables the live write path keeps (`kpitracker/ingest.py`), computed in bulk; the
    benchmark's smoke test checks that both give identical tables.
    """
    server, user, ts, kind, amount = (
        columns.server,
        columns.user,
        columns.ts,
        columns.kind.astype(np.int64),
        columns.amount,
    )
    pays = ((kind == Kind.CLAIM) | (kind == Kind.REWARD)) & (amount > 0)
    spend = kind == Kind.SPEND

    counted = np.isin(kind, [Kind.CLAIM, Kind.REWARD, Kind.SPEND, Kind.EVENT, Kind.VOICE])
    s, u, d = server[counted], user[counted], ts[counted] // DAY_MS
    k, a, p = kind[counted], amount[counted], pays[counted]
    order, starts = _groups(s, u, d)

    def total(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values[order], starts) if len(order) else values[:0]

    claims = total((k == Kind.CLAIM).astype(np.int64))
    day_s, day_u, day_d = s[order][starts], u[order][starts], d[order][starts]
    # Streak: along one user's claim days, a new run starts wherever a day is skipped.
    streak = np.zeros(len(starts), dtype=np.int64)
    claim_rows = np.flatnonzero(claims > 0)
    if len(claim_rows):
        cs, cu, cd = day_s[claim_rows], day_u[claim_rows], day_d[claim_rows]
        new_run = np.ones(len(claim_rows), dtype=bool)
        new_run[1:] = (cs[1:] != cs[:-1]) | (cu[1:] != cu[:-1]) | (cd[1:] != cd[:-1] + 1)
        run_start = np.flatnonzero(new_run)[np.cumsum(new_run) - 1]
        streak[claim_rows] = np.arange(len(claim_rows)) - run_start + 1
    rewards, ltz_in = total(p.astype(np.int64)), total(np.where(p, a, 0.0))
    ltz_out = total(np.where(k == Kind.SPEND, a, 0.0))
    events, voice = total((k == Kind.EVENT).astype(np.int64)), total(
        (k == Kind.VOICE).astype(np.int64)
    )
    daily = np.lexsort((day_u, day_d, day_s))
    daily_rows = list(
        zip(
            day_s[daily].tolist(),
            day_d[daily].tolist(),
            day_u[daily].tolist(),
            claims[daily].tolist(),
            rewards[daily].tolist(),
            ltz_in[daily].tolist(),
            ltz_out[daily].tolist(),
            events[daily].tolist(),
            voice[daily].tolist(),
            streak[daily].tolist(),
        )
    )

    order, starts = _groups(day_s, day_d)
    daily_server_rows = (
        list(
            zip(
                day_s[order][starts].tolist(),
                day_d[order][starts].tolist(),
                np.add.reduceat((claims > 0)[order].astype(np.int64), starts).tolist(),
                np.add.reduceat(
                    ((claims > 0) & (streak >= 2))[order].astype(np.int64), starts
                ).tolist(),
                np.add.reduceat(ltz_in[order], starts).tolist(),
                np.add.reduceat(events[order], starts).tolist(),
            )
        )
        if len(order)
        else []
    )

    block = day_d // BLOCK_DAYS
    bit = np.left_shift(np.int64(1), (day_d % BLOCK_DAYS).astype(np.int64))
    order, starts = _groups(day_s, block, day_u)
    engaged = (claims > 0) | (rewards > 0) | (events > 0) | (voice > 0)
    flags = [claims > 0, rewards > 0, engaged, voice > 0, events > 0, events > 1, events > 2]
    net = ltz_in - ltz_out
    block_user_rows = (
        list(
            zip(
                day_s[order][starts].tolist(),
                block[order][starts].tolist(),
                day_u[order][starts].tolist(),
                *(
                    np.add.reduceat(np.where(flag, bit, 0)[order], starts).tolist()
                    for flag in flags
                ),
                np.add.reduceat(net[order], starts).tolist(),
            )
        )
        if len(order)
        else []
    )

    order, starts = _groups(server, user)
    never = np.iinfo(np.int64).max

    def first(mask: np.ndarray) -> list:
        times = np.minimum.reduceat(np.where(mask, ts, never)[order], starts)
        return [None if value == never else value for value in times.tolist()]

    engages = np.isin(kind, [Kind.CLAIM, Kind.REWARD, Kind.EVENT])
    net = np.where(pays, amount, np.where(spend, -amount, 0.0))
    member_rows = list(
        zip(
            server[order][starts].tolist(),
            user[order][starts].tolist(),
            first(kind == Kind.JOIN),
            first(np.ones(len(ts), dtype=bool)),
            first(engages),
            first(pays),
            np.add.reduceat(net[order], starts).tolist(),
        )
    )

    order, starts = _groups(server)
    voice_ms = np.where(kind == Kind.VOICE, (amount * 1000).astype(np.int64), 0)
    server_rows = list(
        zip(
            server[order][starts].tolist(),
            np.minimum.reduceat(ts[order], starts).tolist(),
            np.maximum.reduceat(ts[order], starts).tolist(),
            np.maximum.reduceat(voice_ms[order], starts).tolist(),
        )
    )
    return {
        "daily_user": daily_rows,
        "members": member_rows,
        "servers": server_rows,
        "daily_server": daily_server_rows,
        "block_user": block_user_rows,
    }


def _bulk_insert(path: Path, columns: Columns) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # A scratch file being filled: no journal, no syncing; WAL again at the end.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -400000")
        conn.execute("PRAGMA temp_store = MEMORY")
        # Filling a table and then indexing it is much faster than indexing row by row.
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger' "
            "AND sql IS NOT NULL"
        ).fetchall()
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        names = columns.details
        conn.executemany(
            "INSERT INTO ledger (server_id, user_id, ts, kind, amount, detail, seq) "
            "VALUES (?, ?, ?, ?, ?, ?, 0)",
            zip(
                columns.server.tolist(),
                columns.user.tolist(),
                columns.ts.tolist(),
                columns.kind.tolist(),
                columns.amount.tolist(),
                [names[index] for index in columns.detail.tolist()],
            ),
        )
        for _, sql in indexes:
            conn.execute(sql)
        tables = rollup_rows(columns)
        for table, names in ROLLUP_COLUMNS.items():
            marks = ", ".join("?" * len(names))
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", tables[table]
            )
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


async def _create_schema(path: Path) -> None:
    store = await SqliteStore.open(path)
    await store.close()


def build_database(shape: Shape, path: Path, columns: Columns | None = None) -> Columns:
    """Write a generated ledger with its rollups to a new database file at `path`."""
    columns = generate(shape) if columns is None else columns
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    asyncio.run(_create_schema(path))
    _bulk_insert(path, columns)
    return columns


def cached_database(shape: Shape, log=print) -> tuple[Path, dict]:
    """The database of a shape under `.bench/`, generating it on the first run."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{shape.name}.sqlite3"
    done = CACHE / f"{shape.name}.done"
    if path.exists() and done.exists():
        return path, _facts(path, done.read_text())
    started = time.perf_counter()
    columns = generate(shape)
    generated = time.perf_counter() - started
    build_database(shape, path, columns)
    seconds = time.perf_counter() - started
    log(
        f"  generated {len(columns):,} rows for {shape.name} in {generated:.1f} s, "
        f"loaded with rollups in {seconds - generated:.1f} s"
    )
    done.write_text(f"{seconds:.1f}")
    return path, _facts(path, f"{seconds:.1f}")


def _facts(path: Path, seconds: str) -> dict:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]
        rollup = conn.execute("SELECT COUNT(*) FROM daily_user").fetchone()[0]
        members = conn.execute("SELECT COUNT(*) FROM members").fetchone()[0]
        servers = conn.execute(
            "SELECT server_id, last_ts FROM servers ORDER BY "
            "(SELECT COUNT(*) FROM members AS m WHERE m.server_id = servers.server_id) DESC"
        ).fetchall()
    finally:
        conn.close()
    return {
        "rows": rows,
        "daily_user": rollup,
        "members": members,
        "servers": len(servers),
        "largest_server": servers[0][0],
        "build_seconds": float(seconds),
        "bytes": path.stat().st_size,
    }
