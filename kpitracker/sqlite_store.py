"""The embedded store: one SQLite file in WAL mode, reached through aiosqlite.

All writes go through one connection, one transaction at a time, behind an asyncio lock, so
two jobs never compete for SQLite's write lock. Live activity is queued and written in
batches by a background task; reads use a second connection and see a consistent snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections import deque
from pathlib import Path
from typing import Awaitable, Callable

import aiosqlite

from . import ingest, schema
from .ledger import Kind, LedgerRow
from .sqlite_metrics import MetricReader, window_per_user
from .store import Snapshot

log = logging.getLogger("red.kpicogs.kpitracker.store")

# Rows per write transaction when activity queues up: a large batch writes each index page
# it touches once for many rows (about 60,000 rows/s into a ledger of a million rows).
BATCH_ROWS = 20_000


class SqliteStore:
    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self._read_lock = self._write_lock if reader is writer else asyncio.Lock()
        # Batches not yet being written: their rows, and one future that all their callers share.
        self._pending: deque[tuple[list[LedgerRow], asyncio.Future]] = deque()
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task | None = None
        self._outstanding: set[asyncio.Future] = set()

    @classmethod
    async def open(cls, path: str | Path) -> "SqliteStore":
        """Open (creating or migrating) the database at `path`; ":memory:" for a scratch one."""
        in_memory = str(path) == ":memory:"
        writer = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            await _configure(writer, in_memory)
            await _migrate(writer)
            await writer.executescript(ingest.TEMP_TABLES)
            reader = writer
            if not in_memory:
                reader = await aiosqlite.connect(str(path), isolation_level=None)
                await _configure(reader, in_memory)
                await reader.execute("PRAGMA query_only = ON")
        except BaseException:
            await writer.close()
            raise
        store = cls(writer, reader)
        store._flusher = asyncio.create_task(
            store._flush_forever(), name="kpitracker-ledger-writer"
        )
        return store

    async def close(self) -> None:
        if self._flusher is not None:
            self._wake.set()
            await self._drain()
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._reader is not self._writer:
            await self._reader.close()
        await self._writer.close()

    # -- writing -----------------------------------------------------------------------------

    async def transaction(self, work: Callable[[aiosqlite.Connection], Awaitable]):
        """Run `work(connection)` as the only writer, in one immediate transaction."""
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                result = await work(self._writer)
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")
            return result

    async def add(self, rows: list[LedgerRow], *, wait: bool = True) -> None:
        if not rows:
            return
        # Rows join the last batch waiting to be written while it has room: a burst of
        # single rows is a few batches and a few futures, not one future a row.
        if self._pending and len(self._pending[-1][0]) < BATCH_ROWS:
            batch, future = self._pending[-1]
        else:
            batch, future = [], asyncio.get_running_loop().create_future()
            self._pending.append((batch, future))
            self._outstanding.add(future)
            future.add_done_callback(self._outstanding.discard)
            future.add_done_callback(_consume)
        batch.extend(rows)
        self._wake.set()
        if wait:
            await asyncio.shield(future)

    async def flush(self) -> None:
        """Wait until every row queued so far is written (or has failed)."""
        if self._outstanding:
            await asyncio.gather(*self._outstanding, return_exceptions=True)

    async def import_rows(self, rows: list[LedgerRow]) -> int:
        return await self.transaction(lambda conn: ingest.ingest(conn, rows, from_file=True))

    async def _write_live(self, rows: list[LedgerRow]) -> int:
        return await self.transaction(lambda conn: ingest.ingest(conn, rows))

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._drain()

    async def _drain(self) -> None:
        while self._pending:
            batch, future = self._pending.popleft()
            try:
                await self._write_live(batch)
            except Exception as error:
                log.exception("Could not write %d ledger rows", len(batch))
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(None)

    # -- reading -----------------------------------------------------------------------------

    async def read(self, work: Callable[[aiosqlite.Connection], Awaitable]):
        """Run `work(connection)` inside one read transaction, so every query sees one state."""
        async with self._read_lock:
            await self._reader.execute("BEGIN")
            try:
                return await work(self._reader)
            finally:
                await self._reader.execute("COMMIT")

    async def metrics(self, server_id: int, at_ms: int, period_days: int) -> dict:
        return await self.read(
            lambda conn: MetricReader(conn, server_id, at_ms, period_days).compute()
        )

    async def ltz_distributed(self, server_id: int, start_ms: int, end_ms: int) -> float:
        """LTZ paid out by claims and rewards in `[start_ms, end_ms)`: rollups for whole days,
        raw ledger rows for the partial days at either end."""
        if end_ms <= start_ms:
            return 0.0
        per_user, params = window_per_user(server_id, start_ms, end_ms)

        async def work(conn):
            sql = f"SELECT COALESCE(SUM(ltz_in), 0) FROM ({per_user})"
            cursor = await conn.execute(sql, params)
            row = await cursor.fetchone()
            await cursor.close()
            return float(row[0])

        return await self.read(work)

    async def _one(self, sql: str, params: list) -> tuple | None:
        async def work(conn):
            cursor = await conn.execute(sql, params)
            return await cursor.fetchone()

        return await self.read(work)

    async def _all(self, sql: str, params: list) -> list[tuple]:
        async def work(conn):
            cursor = await conn.execute(sql, params)
            return list(await cursor.fetchall())

        return await self.read(work)

    async def span(self, server_id: int) -> tuple[int, int] | None:
        return await self._one(
            "SELECT first_ts, last_ts FROM servers WHERE server_id = ?", [server_id]
        )

    async def server_ids(self) -> list[int]:
        return [row[0] for row in await self._all("SELECT server_id FROM servers", [])]

    async def users_seen(self, server_id: int, before_ms: int) -> int:
        row = await self._one(
            "SELECT COUNT(*) FROM members WHERE server_id = ? AND first_seen_ts < ?",
            [server_id, before_ms],
        )
        return row[0]

    async def count_rows(
        self, server_id: int, start_ms: int | None = None, end_ms: int | None = None
    ) -> int:
        row = await self._one(
            "SELECT COUNT(*) FROM ledger INDEXED BY ledger_time "
            "WHERE server_id = ? AND ts >= ? AND ts < ?",
            [server_id, start_ms or 0, end_ms if end_ms is not None else 2**62],
        )
        return row[0]

    async def ledger_rows(
        self, server_id: int, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[LedgerRow]:
        rows = await self._all(
            "SELECT server_id, user_id, ts, kind, amount, detail FROM ledger "
            "WHERE server_id = ? AND ts >= ? AND ts < ? ORDER BY ts, id",
            [server_id, start_ms or 0, end_ms if end_ms is not None else 2**62],
        )
        return await asyncio.to_thread(_as_ledger_rows, rows)

    # -- snapshots ---------------------------------------------------------------------------

    async def put_snapshot(self, snapshot: Snapshot) -> bool:
        async def work(conn):
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO discord_kpi_snapshots "
                "(server_id, snapshot_date, snapshot_type, metrics, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    snapshot.server_id,
                    snapshot.snapshot_date,
                    snapshot.snapshot_type,
                    json.dumps(snapshot.metrics, allow_nan=False),
                    int(time.time() * 1000),
                ],
            )
            return cursor.rowcount == 1

        return await self.transaction(work)

    async def snapshots(
        self,
        server_id: int,
        start: str | None = None,
        end: str | None = None,
        snapshot_type: str = "daily",
    ) -> list[Snapshot]:
        rows = await self._all(
            "SELECT snapshot_date, metrics FROM discord_kpi_snapshots "
            "WHERE server_id = ? AND snapshot_type = ? AND snapshot_date >= ? "
            "AND snapshot_date <= ? ORDER BY snapshot_date",
            [server_id, snapshot_type, start or "0000-00-00", end or "9999-99-99"],
        )
        return [Snapshot(server_id, date, snapshot_type, json.loads(data)) for date, data in rows]

    async def snapshot_dates(self, server_id: int, snapshot_type: str = "daily") -> set[str]:
        rows = await self._all(
            "SELECT snapshot_date FROM discord_kpi_snapshots "
            "WHERE server_id = ? AND snapshot_type = ?",
            [server_id, snapshot_type],
        )
        return {row[0] for row in rows}

    # -- voice sessions in progress ----------------------------------------------------------

    async def voice_started(self, server_id: int, user_id: int, start_ms: int) -> None:
        """Remember that a session began; a session already open keeps its start."""

        async def work(conn):
            await conn.execute(
                "INSERT OR IGNORE INTO voice_open (server_id, user_id, start_ts) VALUES (?, ?, ?)",
                [server_id, user_id, start_ms],
            )

        await self.transaction(work)

    async def voice_ended(self, server_id: int, user_id: int, end_ms: int) -> LedgerRow | None:
        """Close an open session and record it as a voice row, in one transaction."""

        async def work(conn):
            cursor = await conn.execute(
                "DELETE FROM voice_open WHERE server_id = ? AND user_id = ? RETURNING start_ts",
                [server_id, user_id],
            )
            found = await cursor.fetchone()
            await cursor.close()
            if found is None:
                return None
            start = found[0]
            row = LedgerRow(server_id, user_id, start, Kind.VOICE, max(0, end_ms - start) / 1000)
            await ingest.ingest(conn, [row])
            return row

        return await self.transaction(work)

    async def split_voice_sessions(self, at_ms: int) -> int:
        """End every session open since before `at_ms` there and continue it from `at_ms`.

        Run at midnight, this puts each day's voice time into that day's snapshot.
        """

        async def work(conn):
            cursor = await conn.execute(
                "SELECT server_id, user_id, start_ts FROM voice_open WHERE start_ts < ?", [at_ms]
            )
            sessions = list(await cursor.fetchall())
            rows = [
                LedgerRow(server, user, start, Kind.VOICE, (at_ms - start) / 1000)
                for server, user, start in sessions
            ]
            if rows:
                await ingest.ingest(conn, rows)
                await conn.execute(
                    "UPDATE voice_open SET start_ts = ? WHERE start_ts < ?", [at_ms, at_ms]
                )
            return len(rows)

        return await self.transaction(work)

    async def open_voice_sessions(self) -> list[tuple[int, int, int]]:
        return await self._all("SELECT server_id, user_id, start_ts FROM voice_open", [])

    async def get_meta(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM meta WHERE key = ?", [key])
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        async def work(conn):
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )

        await self.transaction(work)

    # -- deletion ----------------------------------------------------------------------------

    async def delete_user(self, user_id: int) -> int:
        # Rows about the user still queued would otherwise land after the deletion.
        await self.flush()

        async def work(conn):
            cursor = await conn.execute(
                "SELECT server_id FROM members WHERE user_id = ?", [user_id]
            )
            servers = [row[0] for row in await cursor.fetchall()]
            removed = 0
            for server_id in servers:
                cursor = await conn.execute(
                    "DELETE FROM ledger WHERE server_id = ? AND user_id = ?", [server_id, user_id]
                )
                removed += cursor.rowcount
                # The server's daily totals of the user's days are counted again without them.
                await conn.execute("DELETE FROM temp.touched_days")
                await conn.execute(
                    "INSERT INTO temp.touched_days SELECT server_id, day FROM daily_user "
                    "WHERE server_id = ? AND user_id = ?",
                    [server_id, user_id],
                )
                for table in ("daily_user", "members", "block_user"):
                    await conn.execute(
                        f"DELETE FROM {table} WHERE server_id = ? AND user_id = ?",
                        [server_id, user_id],
                    )
                for statement in ingest.REFRESH_DAILY_SERVER:
                    await conn.execute(statement)
                await _refresh_server_span(conn, server_id)
            await conn.execute("DELETE FROM voice_open WHERE user_id = ?", [user_id])
            return removed

        return await self.transaction(work)

    async def delete_server(self, server_id: int) -> None:
        async def work(conn):
            for table in (
                "ledger",
                "daily_user",
                "members",
                "servers",
                "voice_open",
                "discord_kpi_snapshots",
                "compaction",
                "daily_server",
                "block_user",
            ):
                await conn.execute(f"DELETE FROM {table} WHERE server_id = ?", [server_id])

        await self.transaction(work)


async def _refresh_server_span(conn: aiosqlite.Connection, server_id: int) -> None:
    # `members` keeps each user's first time even where compaction removed the raw rows.
    cursor = await conn.execute(
        "SELECT (SELECT MIN(first_seen_ts) FROM members WHERE server_id = ?), "
        "(SELECT MAX(ts) FROM ledger WHERE server_id = ?)",
        [server_id, server_id],
    )
    first, last = await cursor.fetchone()
    if first is None:
        await conn.execute("DELETE FROM servers WHERE server_id = ?", [server_id])
    else:
        await conn.execute(
            "UPDATE servers SET first_ts = ?, last_ts = coalesce(?, last_ts) WHERE server_id = ?",
            [first, last, server_id],
        )


async def _configure(conn: aiosqlite.Connection, in_memory: bool) -> None:
    if not in_memory:
        await conn.execute("PRAGMA journal_mode = WAL")
    # FULL makes every committed batch survive a power cut; batches keep commits few.
    await conn.execute("PRAGMA synchronous = FULL")
    await conn.execute("PRAGMA busy_timeout = 10000")
    await conn.execute("PRAGMA temp_store = MEMORY")
    await conn.execute("PRAGMA cache_size = -32000")


async def _migrate(conn: aiosqlite.Connection) -> None:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        cursor = await conn.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        for version, script in schema.pending_steps(current):
            for statement in _statements(script):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [str(version)],
            )
            log.info("KPI database migrated to schema version %d", version)
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [statement for statement in statements if statement]


def _as_ledger_rows(rows: list[tuple]) -> list[LedgerRow]:
    return [LedgerRow(s, u, ts, Kind(k), a, d) for s, u, ts, k, a, d in rows]


def _consume(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
