"""Shared steps for the tests that drive the kpitracker cog inside a real Red."""

from __future__ import annotations

import importlib

from datetime import datetime, timezone
from pathlib import Path

from kpitracker.ledger_files import parse_ledger_file

REPO_ROOT = Path(__file__).resolve().parents[1]
HISTORY = REPO_ROOT / "demo" / "cardano_stackexchange.csv"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


async def kpi_cog(red, now: datetime | None = None):
    """The loaded cog, its start-up catch-up finished, its clock fixed at `now`."""
    cog = red.bot.get_cog("KPITracker")
    catch_up = getattr(cog, "_catch_up", None)
    if catch_up is not None:
        await catch_up
    if now is not None:
        cog.clock = lambda: now
    return cog


async def send_with_file(red, content: str, path: Path, *, author=None):
    """Post `content` with `path` attached, as `[p]kpi import` expects, and return the replies."""
    return await red.send(content, author=author or red.admin, attachments=(path,))


def live(module: str):
    """A kpitracker module as the loaded cog uses it.

    Red drops a cog's modules from `sys.modules` when it unloads the cog, so classes imported
    at the top of a test file may not be the ones a reloaded cog raises or returns.
    """
    return importlib.import_module(f"kpitracker.{module}")


def plain(rows) -> list[tuple]:
    """Ledger rows as tuples, comparable whichever load of the cog made them."""
    return [
        (row.server_id, row.user_id, row.ts_ms, int(row.kind), row.amount, row.detail)
        for row in rows
    ]


def history_rows(server_id: int):
    return parse_ledger_file(HISTORY.read_bytes(), HISTORY.name, server_id)


async def ledger_count(cog, server_id: int) -> int:
    return len(await cog.store.ledger_rows(server_id))


def texts(replies) -> list[str]:
    return [reply.content for reply in replies]
