"""What the cog needs from its storage, so that another database is a new file, not a rewrite.

`SqliteStore` in `sqlite_store.py` is the embedded implementation every bot uses by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

from .ledger import LedgerRow


@dataclass(frozen=True)
class Snapshot:
    server_id: int
    snapshot_date: str  # YYYY-MM-DD, the UTC day described
    snapshot_type: str
    metrics: dict


class Store(Protocol):
    async def close(self) -> None:
        """Write what is pending, stop background work and close every connection."""

    async def add(self, rows: list[LedgerRow], *, wait: bool = True) -> int:
        """Queue rows for the next batched write; with `wait`, return once they are durable."""

    async def import_rows(self, rows: list[LedgerRow]) -> int:
        """Write rows in one transaction; return how many the ledger did not hold yet."""

    async def metrics(self, server_id: int, at_ms: int, period_days: int) -> dict:
        """Every built-in metric's value (None for no data) at an instant and period."""

    async def ltz_distributed(self, server_id: int, start_ms: int, end_ms: int) -> float:
        """LTZ paid out by claims and rewards in `[start_ms, end_ms)`."""

    async def span(self, server_id: int) -> tuple[int, int] | None:
        """The first and last ledger times of a server, or None when it has no rows."""

    async def users_seen(self, server_id: int, before_ms: int) -> int:
        """How many distinct users have a ledger row before an instant."""

    async def put_snapshot(self, snapshot: Snapshot) -> bool:
        """Store a snapshot unless that server, date and type has one; True when written."""

    async def snapshots(
        self,
        server_id: int,
        start: str | None = None,
        end: str | None = None,
        snapshot_type: str = "daily",
    ) -> list[Snapshot]:
        """Snapshots of a server with start <= date <= end, oldest first."""

    async def snapshot_dates(self, server_id: int, snapshot_type: str = "daily") -> set[str]:
        """The dates that already have a snapshot."""

    def ledger_rows(
        self, server_id: int, start_ms: int | None, end_ms: int | None
    ) -> Iterable[LedgerRow]:
        """The ledger rows of a server in `[start_ms, end_ms)`, oldest first (async iterator)."""

    async def delete_user(self, user_id: int) -> int:
        """Remove every row about a user in every server; return how many ledger rows went."""

    async def delete_server(self, server_id: int) -> None:
        """Remove everything stored about a server."""
