"""The KPI tracker cog: its lifecycle, the public recording API and data deletion."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Literal

import discord
from redbot.core import Config, commands
from redbot.core.bot import Red
from redbot.core.data_manager import cog_data_path

from .alert_commands import AlertCommands
from .alert_job import AlertJob
from .catalogue import (
    METRICS,
    PERIOD_DAYS,
    MetricInfo,
    UnknownMetricError,
    clip,
    resolve_metric,
    resolve_period,
)
from .commands import KpiCommands
from .comparison_commands import ComparisonCommands
from .compound_commands import CompoundCommands
from .custom_metric_commands import CustomMetricCommands
from .custom_metrics import compute, resolver
from .data_commands import DataCommands
from .errors import explain_input_error
from .kpis import Kpi
from .ledger import Kind, LedgerError, LedgerRow, make_row, to_ms
from .listeners import ActivityListeners
from .preset_commands import PresetCommands
from .report_render import RenderedReport, render_report
from .retention_commands import RetentionCommands
from .route_commands import RouteCommands
from .snapshots import SnapshotJob
from .sqlite_store import SqliteStore

log = logging.getLogger("red.kpicogs.kpitracker")

DATABASE_NAME = "kpitracker.sqlite3"

Subject = discord.abc.Snowflake | int


def _id(value: Subject, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(getattr(value, "id", None), int):
        return value.id
    raise LedgerError(f"{what} must be a Discord object or an integer id, not {value!r}")


class KPITracker(
    KpiCommands,
    DataCommands,
    CustomMetricCommands,
    ComparisonCommands,
    PresetCommands,
    AlertCommands,
    RouteCommands,
    CompoundCommands,
    RetentionCommands,
    ActivityListeners,
    SnapshotJob,
    AlertJob,
    commands.Cog,
):
    """Track a loyalty program's activity and steer it with KPI targets."""

    def __init__(self, bot: Red) -> None:
        super().__init__()
        self.bot = bot
        self.config = Config.get_conf(self, identifier=0x4B5049, force_registration=True)
        self.config.register_guild(kpis={}, economy_claims=False, tracking_since=None)
        self.config.register_guild(custom_metrics={}, comparisons={}, presets={})
        self.config.register_global(public_presets={})
        self.register_alert_settings()
        self.register_retention_settings()
        self.store: SqliteStore | None = None
        self.clock = lambda: datetime.now(timezone.utc)

    async def cog_load(self) -> None:
        path = cog_data_path(self) / DATABASE_NAME
        self.store = await SqliteStore.open(path)
        await self.start_listeners()
        self.start_snapshot_job()
        self.start_alert_job()
        self.start_retention_job()

    async def cog_unload(self) -> None:
        self.stop_snapshot_job()
        self.stop_retention_job()
        await self.stop_alert_job()
        if self.store is not None:
            await self.stop_listeners()
            await self.store.close()
            self.store = None

    async def cog_command_error(self, ctx: commands.Context, error: Exception) -> None:
        message = explain_input_error(ctx, error)
        if message is None:
            self.bot.dispatch("command_error", ctx, error, unhandled_by_cog=True)
            return
        await ctx.send(message)

    # -- reading, for commands and for the goals and reports cogs -------------------------------

    async def get_kpis(self, guild: discord.Guild) -> list[Kpi]:
        stored = await self.config.guild(guild).kpis()
        custom = await self.custom_metric_definitions(guild)
        return [
            Kpi.from_config(metric, data, custom[metric].info if metric in custom else None)
            for metric, data in stored.items()
        ]

    async def metric_values(
        self, guild: Subject, at: datetime | None = None, period: str = "week"
    ) -> dict[str, float | None]:
        """Every metric's value at `at` (default now) over a trailing period; None is no data.

        This is the one place commands, jobs and other cogs read metric values from. The
        server's custom metrics are computed from the built-in values of the same instant and
        period; any input with no data makes a custom metric no data.
        """
        days = PERIOD_DAYS[resolve_period(period)]
        if self.store is None:
            raise RuntimeError("the KPI tracker is not loaded")
        at_ms = to_ms(at or self.clock())
        values = await self.store.metrics(_id(guild, "guild"), at_ms, days)
        custom = await self.custom_metric_definitions(_id(guild, "guild"))
        if custom:
            values.update({key: result.value for key, result in compute(custom, values).items()})
        return values

    async def resolve_metric_name(self, guild: discord.Guild, name: str) -> str:
        """The full name of a metric known on this server (built-in or custom, full or short
        name); `UnknownMetricError` naming the closest one otherwise."""
        try:
            return resolve_metric(name)
        except UnknownMetricError:
            if guild is None:
                raise
        return resolver(await self.custom_metric_definitions(guild))(name)

    async def metric_info(self, guild: discord.Guild, name: str) -> MetricInfo:
        """Unit, kind of value and better direction of a metric known on this server."""
        if name in METRICS:
            return METRICS[name]
        custom = await self.custom_metric_definitions(guild)
        if name in custom:
            return custom[name].info
        raise UnknownMetricError(f"`{clip(name)}` is not a metric on this server.")

    async def ltz_distributed(self, guild: Subject, start: datetime, end: datetime) -> float:
        """LTZ distributed (claim amounts and rewards) from `start` up to, not including, `end`."""
        return await self.store.ltz_distributed(_id(guild, "guild"), to_ms(start), to_ms(end))

    async def render_report(
        self,
        guild: discord.Guild,
        *,
        at: datetime | None = None,
        days: int = 90,
        since: datetime | None = None,
        title: str | None = None,
    ) -> RenderedReport:
        """The full KPI report with its charts, as `kpi report` and scheduled reports send it."""
        return await render_report(self, guild, at=at, days=days, since=since, title=title)

    # -- recording, the public API for other cogs ----------------------------------------------

    async def record(
        self,
        guild: Subject,
        user: Subject,
        kind: Kind | str,
        *,
        amount: float | None = None,
        detail: str | None = None,
        when: datetime | None = None,
        wait: bool = True,
    ) -> LedgerRow:
        """Record one row of activity; raise `LedgerError` (and write nothing) if it is invalid.

        With `wait` (the default) this returns once the row is on disk.
        """
        if getattr(user, "bot", False):
            raise LedgerError("bot accounts are not tracked")
        if self.store is None:
            raise LedgerError("the KPI tracker is not loaded, so nothing can be recorded")
        row = make_row(
            _id(guild, "guild"), _id(user, "user"), when or self.clock(), kind, amount, detail
        )
        await self.store.add([row], wait=wait)
        return row

    async def record_claim(
        self,
        guild: Subject,
        user: Subject,
        amount: float | None = None,
        *,
        when: datetime | None = None,
    ) -> LedgerRow:
        """A loyalty claim (the daily claim), paying `amount` LTZ if given."""
        return await self.record(guild, user, Kind.CLAIM, amount=amount, when=when)

    async def record_reward(
        self,
        guild: Subject,
        user: Subject,
        amount: float,
        reason: str | None = None,
        *,
        when: datetime | None = None,
    ) -> LedgerRow:
        """LTZ credited to a member for anything other than a claim."""
        return await self.record(guild, user, Kind.REWARD, amount=amount, detail=reason, when=when)

    async def record_spend(
        self,
        guild: Subject,
        user: Subject,
        amount: float,
        reason: str | None = None,
        *,
        when: datetime | None = None,
    ) -> LedgerRow:
        """LTZ debited from a member."""
        return await self.record(guild, user, Kind.SPEND, amount=amount, detail=reason, when=when)

    async def record_event(
        self, guild: Subject, user: Subject, name: str, *, when: datetime | None = None
    ) -> LedgerRow:
        """A loyalty event the member triggered; `name` says which."""
        return await self.record(guild, user, Kind.EVENT, detail=name, when=when)

    async def record_voice(
        self, guild: Subject, user: Subject, start: datetime, seconds: float
    ) -> LedgerRow:
        """A finished voice session that began at `start` and lasted `seconds`."""
        return await self.record(guild, user, Kind.VOICE, amount=seconds, when=start)

    @commands.Cog.listener()
    async def on_kpi_activity(self, *arguments, **options) -> None:
        """`bot.dispatch("kpi_activity", guild, user, kind, amount, detail, when)` records a row.

        Another cog's event cannot be answered, so an invalid one is logged and dropped.
        """
        try:
            guild, user, kind, *rest = arguments
            if len(rest) > 3:
                raise LedgerError("takes guild, user, kind, amount, detail and when")
            named = dict(zip(("amount", "detail", "when"), rest))
            named.update(options)
            await self.record(guild, user, kind, **named, wait=False)
        except (LedgerError, TypeError, ValueError) as error:
            log.warning("Dropped a kpi_activity event: %s", error)

    # -- privacy --------------------------------------------------------------------------------

    async def red_delete_data_for_user(
        self,
        *,
        requester: Literal["discord_deleted_user", "owner", "user", "user_strict"],
        user_id: int,
    ) -> None:
        """Every ledger row, rollup and open voice session about the user is deleted."""
        if self.store is None:
            return
        removed = await self.store.delete_user(user_id)
        log.info("Deleted %d ledger rows of a user on a %s request", removed, requester)
