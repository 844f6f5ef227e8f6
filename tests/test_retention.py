"""Compaction: old raw rows go, the rollups stay, and the values that promise to survive do.

Every expected value is computed by the plain reference on the full, uncompacted ledger.
"""

from __future__ import annotations

import sqlite3

import pytest

from kpi_helpers import HISTORY, history_rows, kpi_cog, send_with_file, texts, utc
from kpitracker import retention
from kpitracker.ledger import DAY_MS, Kind, LedgerRow, to_ms
from kpitracker.sqlite_store import SqliteStore
from reference_metrics import reference_metrics
from scripts.bench_data import Shape, generate
from scripts.bench_pandas import same_values

SERVER = 1
SHAPE = Shape(6_000, servers=1, days=90, seed=11)
PERIODS = (1, 7, 30, 90)
DERIVED = ("daily_user", "members", "daily_server", "block_user", "servers")


@pytest.fixture(scope="module")
def ledger() -> list[LedgerRow]:
    return generate(SHAPE).rows()


def _first_day(rows) -> int:
    return min(row.ts_ms for row in rows) // DAY_MS


async def _tables(store) -> dict[str, list]:
    async def work(conn):
        found = {}
        for table in DERIVED:
            cursor = await conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
            found[table] = await cursor.fetchall()
        return found

    return await store.read(work)


def _clean(at: int, days: int, horizon_ms: int) -> bool:
    """Whether every raw row a read at `at` needs lies after the horizon: a midnight needs
    none from before it; otherwise the earliest partial day is that of churn (2L) or wau."""
    return at % DAY_MS == 0 or at - max(2 * days, 7) * DAY_MS >= horizon_ms


async def test_values_whose_windows_are_past_the_horizon_are_unchanged(ledger):
    horizon_day = _first_day(ledger) + 45
    horizon = horizon_day * DAY_MS
    first = _first_day(ledger)
    midnights = [(first + day) * DAY_MS for day in range(1, 100, 4)]
    later = [horizon + days * DAY_MS + 9 * 3_600_000 + 123 for days in (7, 14, 30, 44)]

    store = await SqliteStore.open(":memory:")
    try:
        await store.import_rows(ledger)
        kept_before = await _tables(store)
        deleted = await retention.compact(store, SERVER, horizon_day)

        old = await store.ledger_rows(SERVER, None, horizon)
        assert deleted > len(ledger) / 4
        assert len(old) == len(ledger) - deleted - len(await store.ledger_rows(SERVER, horizon))
        # What stays of the compacted days: sessions running past midnight, and the first
        # activity after joining of members active before their join row.
        crossing = [
            row
            for row in old
            if row.kind is Kind.VOICE and row.ts_ms + row.amount * 1000 > (row.day + 1) * DAY_MS
        ]
        assert crossing and len(crossing) < len(old)
        assert {row.kind for row in old} - {Kind.VOICE} <= {Kind.CLAIM, Kind.REWARD, Kind.EVENT}
        assert await _tables(store) == kept_before

        checked = 0
        for at in midnights + later:
            for days in PERIODS:
                if not _clean(at, days, horizon):
                    continue
                expected = reference_metrics(ledger, at, days)
                assert same_values(await store.metrics(SERVER, at, days), expected) == [], (
                    (at - first * DAY_MS) / DAY_MS,
                    days,
                )
                checked += 1
        assert checked == len(midnights) * len(PERIODS) + 7
    finally:
        await store.close()


async def test_older_rows_are_refused_newer_ones_taken(ledger):
    horizon_day = _first_day(ledger) + 45
    store = await SqliteStore.open(":memory:")
    try:
        await store.import_rows(ledger)
        await retention.compact(store, SERVER, horizon_day)
        assert await retention.compacted_before(store, SERVER) == horizon_day * DAY_MS
        before = await _tables(store)

        # The whole file again: nothing new, and the rollups do not count anything twice.
        assert await store.import_rows(ledger) == 0
        assert await _tables(store) == before
        new_user = 10**17 + 99
        late = horizon_day * DAY_MS - 1
        await store.add([LedgerRow(SERVER, new_user, late, Kind.CLAIM, 5.0)])
        assert await _tables(store) == before
        assert await store.import_rows([LedgerRow(SERVER, new_user, late + 2, Kind.CLAIM)]) == 1

        # Compacting again up to the same day finds nothing more to delete.
        assert await retention.compact(store, SERVER, horizon_day) == 0
    finally:
        await store.close()


async def test_deleting_a_user_after_compaction_keeps_the_server_exact(ledger):
    horizon_day = _first_day(ledger) + 45
    earliest = min(ledger, key=lambda row: row.ts_ms).user_id
    remaining = [row for row in ledger if row.user_id != earliest]
    store = await SqliteStore.open(":memory:")
    try:
        await store.import_rows(ledger)
        await retention.compact(store, SERVER, horizon_day)
        await store.delete_user(earliest)

        for at in [(_first_day(ledger) + day) * DAY_MS for day in (2, 20, 44, 60)]:
            for days in PERIODS:
                expected = reference_metrics(remaining, at, days)
                assert same_values(await store.metrics(SERVER, at, days), expected) == []
    finally:
        await store.close()


in_red = pytest.mark.cogs("kpitracker")


@in_red
async def test_retention_command_sets_shows_and_refuses(red):
    await kpi_cog(red)
    assert texts(await red.send("!kpi retention", author=red.admin)) == [
        "Raw activity rows are kept forever (retention is off)."
    ]
    assert texts(await red.send("!kpi retention days:400", author=red.admin)) == [
        "Raw activity rows older than 400 days will be compacted into the daily rollups each "
        "night at 00:30 UTC; rows that old are no longer imported."
    ]
    assert texts(await red.send("!kpi retention", author=red.admin)) == [
        "Raw activity rows are kept for 400 days."
    ]
    assert texts(await red.send("!kpi retention days:30", author=red.admin)) == [
        "`days:` must be between 200 and 36,500 (a quarter's churn reads raw rows from 180 "
        "days back), or `off`."
    ]
    assert texts(await red.send("!kpi retention days:soon", author=red.admin)) == [
        "`soon` is not a number of days; give `days:` as a whole number like `days:400`, or "
        "`days:off` to keep every row."
    ]
    assert texts(await red.send("!kpi retention days:10", author=red.member)) == [
        "Only server admins (the bot's admin role or the Manage Server permission) "
        "can use `kpi retention`."
    ]
    assert texts(await red.send("!kpi retention days:off", author=red.admin)) == [
        "Retention is off: raw activity rows are kept from now on (rows compacted before stay "
        "compacted)."
    ]

    await red.enable_slash("kpitracker")
    assert texts(await red.slash("kpi retention", author=red.admin, days="365")) == [
        "Raw activity rows older than 365 days will be compacted into the daily rollups each "
        "night at 00:30 UTC; rows that old are no longer imported."
    ]


@in_red
async def test_nightly_compaction_of_the_real_history(red):
    now = utc(2022, 6, 1, 0, 30)
    cog = await kpi_cog(red, now=now)
    await send_with_file(red, "!kpi import", HISTORY)
    rows = history_rows(red.guild.id)
    await red.send("!kpi retention days:200", author=red.admin)

    deleted = await cog.compact_history()
    horizon = to_ms(now) // DAY_MS - 200
    assert deleted[red.guild.id] > 0
    assert deleted == {red.guild.id: len(rows) - len(await cog.store.ledger_rows(red.guild.id))}
    assert texts(await red.send("!kpi retention", author=red.admin)) == [
        "Raw activity rows are kept for 200 days. Rows before 2021-11-13 were compacted."
    ]
    assert horizon * DAY_MS == to_ms(utc(2021, 11, 13))

    for at in (utc(2021, 6, 1), utc(2021, 9, 15), utc(2021, 11, 13), utc(2021, 12, 20)):
        for period in ("day", "week", "month", "quarter"):
            days = {"day": 1, "week": 7, "month": 30, "quarter": 90}[period]
            expected = reference_metrics(rows, to_ms(at), days)
            assert same_values(await cog.metric_values(red.guild, at, period), expected) == []

    # A file of rows before the horizon adds nothing now.
    assert texts(await send_with_file(red, "!kpi import", HISTORY)) == [
        f"Imported 0 new rows from `{HISTORY.name}`; {len(rows):,} were already in the ledger."
    ]
