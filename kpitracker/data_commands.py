"""The `kpi` commands that move data in and out: import, export, and the Economy source."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import date
from typing import Optional

import discord
import pandas as pd
from discord import app_commands
from discord.ext.commands import flag
from redbot.core import commands

from .commands import Flags, KpiCommands
from .converters import Choice, Day, Switch, day_start
from .ledger import DAY_MS, to_ms
from .ledger_files import (
    MAX_IMPORT_BYTES,
    ExportTooLargeError,
    LedgerFileError,
    fit_upload,
    ledger_to_csv,
    ledger_to_json,
    parse_ledger_file,
    table_to_csv,
    table_to_json,
)

log = logging.getLogger("red.kpicogs.kpitracker")

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
# About 60 bytes a row: a larger export would not fit Discord's upload limit even zipped.
MAX_EXPORT_ROWS = 1_000_000


class ExportFlags(Flags):
    format: str = flag(
        converter=Choice("format", "csv", "json"), default="csv", description="csv or json"
    )
    data: str = flag(
        converter=Choice("data", "snapshots", "ledger"),
        default="snapshots",
        description="snapshots (KPI history) or ledger (raw activity)",
    )
    start_date: Optional[date] = flag(
        converter=Day, default=None, description="First day to include, YYYY-MM-DD"
    )
    end_date: Optional[date] = flag(
        converter=Day, default=None, description="Last day to include, YYYY-MM-DD"
    )


class EconomyFlags(Flags):
    enabled: bool = flag(converter=Switch, description="true to count paydays as claims")


def snapshot_table(snapshots) -> pd.DataFrame:
    """One row per snapshot day and KPI: the long table a spreadsheet pivots easily."""
    records = [
        {
            "server_id": snapshot.server_id,
            "snapshot_date": snapshot.snapshot_date,
            "snapshot_type": snapshot.snapshot_type,
            "metric": metric,
            "value": reading.get("value"),
            "target": reading.get("target"),
            "period": reading.get("period"),
            "achieved": reading.get("achieved"),
        }
        for snapshot in snapshots
        for metric, reading in snapshot.metrics.get("kpis", {}).items()
    ]
    columns = [
        "server_id",
        "snapshot_date",
        "snapshot_type",
        "metric",
        "value",
        "target",
        "period",
        "achieved",
    ]
    return pd.DataFrame.from_records(records, columns=columns)


class DataCommands:
    """Import history, export it, and count Economy paydays as claims."""

    @KpiCommands.kpi.command(name="import")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_import(
        self, ctx: commands.Context, file: Optional[discord.Attachment] = None
    ) -> None:
        """Import activity history from an attached CSV or JSON file.

        The file has the columns `ts,user_id,kind,amount,detail` (see the README). Rows the
        ledger already holds are skipped, so importing a file twice adds nothing. A file with
        a bad row is rejected whole, naming the line.

        **Example**
        - `[p]kpi import` with `history.csv` attached
        """
        if file is None:
            await ctx.send(
                "Attach a CSV or JSON file of activity to import, then run the command again."
            )
            return
        if file.size > MAX_IMPORT_BYTES:
            await ctx.send(
                f"Nothing was imported: `{file.filename}` is {file.size / 2**20:.1f} MiB, over "
                f"the {MAX_IMPORT_BYTES // 2**20} MiB limit; split it into smaller files."
            )
            return
        async with ctx.typing():
            data = await file.read()
            try:
                rows = await asyncio.to_thread(
                    parse_ledger_file, data, file.filename, ctx.guild.id
                )
            except LedgerFileError as error:
                await ctx.send(f"Nothing was imported: {error}.")
                return
            added = await self.store.import_rows(rows)
        log.info("Imported %d new ledger rows into guild %s", added, ctx.guild.id)
        await ctx.send(
            f"Imported {added:,} new rows from `{file.filename}`; "
            f"{len(rows) - added:,} were already in the ledger."
        )

    @KpiCommands.kpi.command(name="export")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.choices(
        format=[app_commands.Choice(name=name, value=name) for name in ("csv", "json")],
        data=[app_commands.Choice(name=name, value=name) for name in ("snapshots", "ledger")],
    )
    async def kpi_export(self, ctx: commands.Context, *, options: ExportFlags) -> None:
        """Export KPI snapshots or the raw activity ledger as a file.

        **Options**
        - `format:` csv (opens in a spreadsheet) or json (default csv)
        - `data:` snapshots, the daily KPI history, or ledger, the raw activity (default snapshots)
        - `start_date:` / `end_date:` the first and last day to include, YYYY-MM-DD

        **Example**
        - `[p]kpi export format:csv`
        - `[p]kpi export format:json start_date:2024-01-01`
        """
        start, end = options.start_date, options.end_date
        if start and end and start > end:
            await ctx.send(f"`start_date` {start} is after `end_date` {end}; swap them.")
            return
        async with ctx.typing():
            if options.data == "ledger":
                start_ms = to_ms(day_start(start)) if start else None
                end_ms = to_ms(day_start(end)) + DAY_MS if end else None
                count = await self.store.count_rows(ctx.guild.id, start_ms, end_ms)
                if count > MAX_EXPORT_ROWS:
                    await ctx.send(
                        f"That range holds {count:,} ledger rows, more than the "
                        f"{MAX_EXPORT_ROWS:,} one export can carry; narrow it with "
                        "`start_date` and `end_date`."
                    )
                    return
                rows = await self.store.ledger_rows(ctx.guild.id, start_ms, end_ms)
                writer = ledger_to_csv if options.format == "csv" else ledger_to_json
                payload = await asyncio.to_thread(writer, rows)
                count = len(rows)
            else:
                snapshots = await self.store.snapshots(
                    ctx.guild.id,
                    start.isoformat() if start else None,
                    end.isoformat() if end else None,
                )
                frame = snapshot_table(snapshots)
                writer = table_to_csv if options.format == "csv" else table_to_json
                payload = await asyncio.to_thread(writer, frame)
                count = len(snapshots)
            name = f"kpi-{options.data}-{ctx.guild.id}.{options.format}"
            limit = getattr(ctx.guild, "filesize_limit", None) or DEFAULT_UPLOAD_LIMIT
            try:
                payload, name = await asyncio.to_thread(fit_upload, payload, name, limit)
            except ExportTooLargeError as error:
                await ctx.send(str(error))
                return
        what = "ledger rows" if options.data == "ledger" else "daily snapshots"
        await ctx.send(
            f"Exported {count:,} {what}.", file=discord.File(io.BytesIO(payload), filename=name)
        )

    @KpiCommands.kpi.command(name="economy")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_economy(self, ctx: commands.Context, *, options: EconomyFlags) -> None:
        """Count each successful Economy `payday` as a loyalty claim paying its credits.

        One credit of the bank's currency counts as one LTZ. A payday refused by its cooldown
        is not a claim.

        **Example**
        - `[p]kpi economy enabled:true`
        """
        await self.config.guild(ctx.guild).economy_claims.set(options.enabled)
        if options.enabled:
            await ctx.send(
                "Successful `payday` commands now count as claims, one credit = one LTZ."
            )
        else:
            await ctx.send("`payday` no longer counts as a claim.")
