"""The fast metric path against the plain reference, on the real activity history."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from kpitracker.catalogue import PERIOD_DAYS
from kpitracker.ledger import to_ms
from kpitracker.ledger_files import parse_ledger_file
from kpitracker.sqlite_store import SqliteStore
from reference_metrics import reference_metrics

HISTORY = Path(__file__).resolve().parents[1] / "demo" / "cardano_stackexchange.csv"
SERVER = 1

INSTANTS = [
    datetime(2021, 4, 27, 15, 0, tzinfo=timezone.utc),  # an hour into the history
    datetime(2021, 5, 1, tzinfo=timezone.utc),
    datetime(2021, 6, 15, 12, 30, tzinfo=timezone.utc),
    datetime(2021, 8, 31, 23, 59, 59, tzinfo=timezone.utc),
    datetime(2021, 11, 19, tzinfo=timezone.utc),
    datetime(2021, 12, 4, 20, 24, tzinfo=timezone.utc),
    datetime(2022, 3, 1, tzinfo=timezone.utc),  # long after the last row
]


@pytest.fixture(scope="module")
def history_rows():
    return parse_ledger_file(HISTORY.read_bytes(), HISTORY.name, SERVER)


async def test_fast_path_equals_reference_on_real_history(history_rows):
    store = await SqliteStore.open(":memory:")
    try:
        assert await store.import_rows(history_rows) == len(history_rows)
        for at in INSTANTS:
            for period, days in PERIOD_DAYS.items():
                fast = await store.metrics(SERVER, to_ms(at), days)
                expected = reference_metrics(history_rows, to_ms(at), days)
                for name, value in expected.items():
                    if value is None:
                        assert fast[name] is None, (at, period, name)
                    else:
                        assert fast[name] == pytest.approx(value, rel=1e-9), (at, period, name)
    finally:
        await store.close()


async def test_shuffled_import_gives_the_same_values(history_rows):
    """Rollups and streaks do not depend on the order in which rows arrive."""
    import random

    shuffled = list(history_rows)
    random.Random(7).shuffle(shuffled)
    at = to_ms(datetime(2021, 11, 19, tzinfo=timezone.utc))
    in_order = await SqliteStore.open(":memory:")
    in_pieces = await SqliteStore.open(":memory:")
    try:
        await in_order.import_rows(history_rows)
        # Pieces by user, each shuffled: a file never splits the copies of a repeated row.
        for remainder in range(5):
            await in_pieces.import_rows([row for row in shuffled if row.user_id % 5 == remainder])
        assert await in_pieces.import_rows(history_rows) == 0
        for days in PERIOD_DAYS.values():
            assert await in_pieces.metrics(SERVER, at, days) == pytest.approx(
                await in_order.metrics(SERVER, at, days)
            )
    finally:
        await in_order.close()
        await in_pieces.close()
