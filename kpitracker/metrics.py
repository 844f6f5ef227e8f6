"""Metric values for a ledger that is not in a bot: an export file, a test, a benchmark.

The rows go into a scratch database and are read by the same code the cog uses, so a value
here is the value the bot would show.
"""

from __future__ import annotations

from datetime import datetime

from .catalogue import PERIOD_DAYS
from .ledger import LedgerRow, to_ms
from .sqlite_store import SqliteStore


async def metrics_for_rows_async(
    rows: list[LedgerRow], at: datetime, period: str = "week"
) -> dict[str, float | None]:
    store = await SqliteStore.open(":memory:")
    try:
        await store.import_rows(rows)
        server_ids = {row.server_id for row in rows}
        if len(server_ids) > 1:
            raise ValueError("the rows belong to more than one server")
        server_id = server_ids.pop() if server_ids else 1
        return await store.metrics(server_id, to_ms(at), PERIOD_DAYS[period])
    finally:
        await store.close()


def metrics_for_rows(
    rows: list[LedgerRow], at: datetime, period: str = "week"
) -> dict[str, float | None]:
    """Every metric's value at `at` over `period` for the rows of one server."""
    import asyncio

    return asyncio.run(metrics_for_rows_async(rows, at, period))
