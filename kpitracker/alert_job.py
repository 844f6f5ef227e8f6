"""The alert job: evaluates every server's alerts every few minutes and once at start, queues
each message under a stored key, batches hourly and daily ones, and delivers with retries."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time as timer
from datetime import datetime, timedelta

import discord
from discord.ext import tasks

from .alert_messages import (
    Firing,
    digest_message,
    episode_line,
    escalated_message,
    fired_message,
    firing_line,
    hourly_message,
    resolved_message,
)
from .alert_rules import AlertSpec, CompoundAlert, KpiAlertSettings, compound_spec, kpi_spec
from .alert_store import AlertStore, Notification
from .alerts import (
    AlertEvent,
    Change,
    Destination,
    Route,
    State,
    closed_span,
    current_severity,
    episodes,
    lookback,
    route,
    step,
)
from .ledger import to_ms

log = logging.getLogger("red.kpicogs.kpitracker.alerts")

EVALUATION_MINUTES = 5
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
BATCHED = ("hourly", "daily_digest")


def retry_delay(attempts: int) -> timedelta:
    """5 minutes after the first failure, doubling, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def message_nonce(guild_id: int, key: str) -> str:
    # Discord drops a second message with the same nonce sent within a few minutes, which
    # covers a send interrupted between Discord accepting it and the key being marked sent.
    return hashlib.blake2b(f"{guild_id}:{key}".encode(), digest_size=10).hexdigest()


class AlertJob:
    """KPI and compound alerts: state per alert in SQLite, one message per change."""

    def register_alert_settings(self) -> None:
        self.config.register_guild(alert_settings={}, alert_routes={}, compound_alerts={})

    # -- lifecycle ------------------------------------------------------------------------------

    def start_alert_job(self) -> None:
        self.alert_store = AlertStore(self.store)
        self._alert_lock = asyncio.Lock()
        self.alerts_started = asyncio.Event()
        self.alert_loop.start()

    async def stop_alert_job(self) -> None:
        if not self.alert_loop.is_running():
            return
        # Let an evaluation in progress mark what it sent, so a reload does not resend it.
        lock, held = self._alert_lock, False
        try:
            held = await asyncio.wait_for(lock.acquire(), timeout=10)
        except asyncio.TimeoutError:
            log.warning("Stopped the alert job in the middle of an evaluation")
        try:
            self.alert_loop.cancel()
        finally:
            if held:
                lock.release()

    @tasks.loop(minutes=EVALUATION_MINUTES)
    async def alert_loop(self) -> None:
        """Evaluate at once, then every few minutes.

        After the wall clock jumps ahead (a suspended host), the loop would run once for
        every interval it missed; those runs are skipped, as one evaluation covers them all.
        """
        due = self.alert_loop.next_iteration
        if self.alerts_started.is_set() and due is not None and due < discord.utils.utcnow():
            return
        try:
            await self.evaluate_alerts()
        except Exception:
            log.exception("The alert job failed")
        finally:
            self.alerts_started.set()

    @alert_loop.before_loop
    async def _before_alert_loop(self) -> None:
        await self.bot.wait_until_red_ready()

    # -- settings -------------------------------------------------------------------------------

    async def alert_routes(self, guild: discord.Guild) -> dict[str, Route]:
        stored = await self.config.guild(guild).alert_routes()
        return {severity: Route.from_config(data) for severity, data in stored.items()}

    async def compound_alerts(self, guild: discord.Guild) -> dict[str, CompoundAlert]:
        stored = await self.config.guild(guild).compound_alerts()
        return {key: CompoundAlert.from_config(data) for key, data in stored.items()}

    async def alert_specs(self, guild: discord.Guild) -> list[AlertSpec]:
        """Every alert to evaluate: active KPIs with a threshold, enabled compound alerts."""
        kpis = [kpi for kpi in await self.get_kpis(guild) if kpi.is_active]
        settings = await self.config.guild(guild).alert_settings()
        specs = []
        for kpi in kpis:
            if kpi.alert_threshold is None:
                continue
            try:
                info = await self.metric_info(guild, kpi.metric)
            except ValueError:
                log.warning("Skipped the alert of an unknown metric in guild %s", guild.id)
                continue
            specs.append(
                kpi_spec(
                    kpi.metric,
                    kpi.target_value,
                    kpi.alert_threshold,
                    kpi.period,
                    info,
                    KpiAlertSettings.from_config(settings.get(kpi.metric)),
                )
            )
        periods = {kpi.metric: kpi.period for kpi in kpis}
        for alert in (await self.compound_alerts(guild)).values():
            if alert.enabled:
                specs.append(compound_spec(alert, periods))
        return specs

    # -- evaluation -----------------------------------------------------------------------------

    async def evaluate_alerts(self) -> None:
        """Evaluate every server's alerts at `self.clock()` and deliver what is due."""
        async with self._alert_lock:
            started = timer.perf_counter()
            now = self.clock()
            changes = sent = 0
            for guild in list(self.bot.guilds):
                try:
                    changes += await self._evaluate_guild(guild, now)
                except Exception:
                    log.warning("Skipped the alerts of guild %s", guild.id, exc_info=True)
            for guild in list(self.bot.guilds):
                try:
                    sent += await self._deliver(guild, now)
                except Exception:
                    log.warning(
                        "Could not deliver the alerts of guild %s", guild.id, exc_info=True
                    )
            with contextlib.suppress(Exception):
                await self.alert_store.prune(now)
            log.info(
                "Alert job: %d guilds, %d changes, %d messages sent in %.2f s",
                len(self.bot.guilds),
                changes,
                sent,
                timer.perf_counter() - started,
            )

    async def _evaluate_guild(self, guild: discord.Guild, now: datetime) -> int:
        specs = await self.alert_specs(guild)
        stored, windows = await self.alert_store.load(guild.id)
        if not specs and not stored:
            return 0
        routes = await self.alert_routes(guild)
        cache: dict[tuple[str, datetime], dict] = {}

        async def values_at(spec: AlertSpec, at: datetime) -> dict:
            values = {}
            for period in spec.needed_periods():
                if (period, at) not in cache:
                    cache[period, at] = await self.metric_values(guild, at, period)
                values[period] = cache[period, at]
            return values

        states, events, notifications, sights = {}, [], [], {}
        for spec in specs:
            previous = stored[spec.key].state if spec.key in stored else None
            sight = spec.observe(await values_at(spec, now))
            sights[spec.key] = sight
            earlier = None
            moment = lookback(previous, sight.reading, now, spec.behaviour)
            if moment is not None:
                earlier = spec.observe(await values_at(spec, moment)).reading
            state, changes = step(previous, sight.reading, now, spec.behaviour, earlier)
            states[spec.key] = (state, sight.value)
            for change in changes:
                event = AlertEvent(
                    spec.key,
                    change.kind,
                    now,
                    change.severity,
                    sight.text,
                    change.fired_at,
                    change.lasted,
                    sight.detail,
                )
                events.append(event)
                if change.kind == "escalated" or spec.frequency == "immediate":
                    notifications.append(self._announce(guild, spec, change, event, routes))

        known = {spec.key for spec in specs}
        retired = [key for key in stored if key not in known]
        # A window closes at the first evaluation after its end, so the stored state, from the
        # evaluation before this one, is each alert's state at the end of the window.
        ended = {key: alert.state for key, alert in stored.items()}
        done = {}
        for frequency in BATCHED:
            span, done[frequency] = closed_span(windows.get(frequency), now, frequency)
            chosen = [spec for spec in specs if spec.frequency == frequency]
            if span is not None and chosen:
                notifications += await self._batch(
                    guild, frequency, span, chosen, ended, sights, routes
                )
        await self.alert_store.save(guild.id, states, retired, events, notifications, done, now)
        return len(events)

    def _announce(
        self,
        guild: discord.Guild,
        spec: AlertSpec,
        change: Change,
        event: AlertEvent,
        routes: dict[str, Route],
    ) -> Notification:
        destination = route(change.severity, spec.channel_id, routes)
        fired_ms = to_ms(change.fired_at)
        if change.kind == "fired":
            ping = _role(guild, destination.ping_role_id)
            content = fired_message(change.severity, event.text, ping)
            key = f"fired:{spec.key}:{fired_ms}"
        elif change.kind == "resolved":
            ping = None
            content = resolved_message(event.text, change.fired_at, change.lasted)
            key = f"resolved:{spec.key}:{fired_ms}"
        else:
            ping = _role(guild, spec.escalation_role_id)
            content = escalated_message(
                change.severity, event.text, change.fired_at, change.at, ping
            )
            key = f"escalated:{spec.key}:{fired_ms}:{change.escalation}"
        roles = (ping,) if ping else ()
        return Notification(key, destination.channel_id, content, roles, (spec.key,))

    async def _batch(
        self, guild, frequency, span, specs, ended, sights, routes
    ) -> list[Notification]:
        """One message (or a few pages) per channel for the alerts batched in `span`.

        The window is judged only on the changes inside it and on `ended`, each alert's state
        at its end: a change made by the evaluation that closes it belongs to the next one.
        """
        start, end = span
        keys = {spec.key for spec in specs}
        events = await self.alert_store.events(guild.id, start, end)
        events = [event for event in events if event.alert_key in keys]
        firing = {key for key in keys if key in ended and ended[key].state is State.FIRING}
        latest = await self.alert_store.latest_events(guild.id, end) if firing else {}
        groups: dict[int | None, list[tuple[AlertSpec, Destination]]] = {}
        for spec in specs:
            destination = route(
                current_severity(ended.get(spec.key), spec.behaviour), spec.channel_id, routes
            )
            groups.setdefault(destination.channel_id, []).append((spec, destination))

        notifications = []
        for channel_id, members in groups.items():
            mine = {spec.key for spec, _ in members}
            items = episodes([event for event in events if event.alert_key in mine], firing)
            if frequency == "hourly":
                # The route's role is pinged when the hour holds a new firing of its alerts.
                fired = {item.alert_key for item in items if item.fired}
                pings = {
                    _role(guild, destination.ping_role_id)
                    for spec, destination in members
                    if spec.key in fired
                } - {None}
                texts = hourly_message(start, end, items, sorted(pings)) if items else []
                involved = {item.alert_key for item in items}
            else:
                still = [
                    Firing(
                        spec.key,
                        current_severity(ended[spec.key], spec.behaviour),
                        ended[spec.key].fired_at,
                        latest[spec.key].text if spec.key in latest else sights[spec.key].text,
                    )
                    for spec, _ in members
                    if spec.key in firing
                ]
                pings = set()
                texts = digest_message(start, end, items, still) if items or still else []
                involved = {item.alert_key for item in items} | {item.alert_key for item in still}
            span_key = f"{to_ms(start)}-{to_ms(end)}"
            for number, text in enumerate(texts, start=1):
                key = f"{frequency}:{channel_id}:{span_key}#{number}"
                roles = tuple(sorted(pings)) if number == 1 else ()
                notifications.append(
                    Notification(key, channel_id, text, roles, tuple(sorted(involved)))
                )
        return notifications

    # -- delivery -------------------------------------------------------------------------------

    async def _deliver(self, guild: discord.Guild, now: datetime) -> int:
        sent = 0
        for item in await self.alert_store.due(guild.id, now):
            channel = guild.get_channel_or_thread(item.channel_id)
            if channel is None:
                error = f"the channel {item.channel_id} no longer exists"
            else:
                await self.alert_store.mark_sending(guild.id, item.key)
                try:
                    message = await channel.send(
                        item.content,
                        allowed_mentions=discord.AllowedMentions(
                            everyone=False,
                            users=False,
                            replied_user=False,
                            roles=[
                                discord.Object(role) for role in item.role_ids if role != guild.id
                            ],
                        ),
                        nonce=message_nonce(guild.id, item.key),
                    )
                except discord.Forbidden:
                    error = f"missing permission to post in #{channel.name}"
                except discord.HTTPException as failure:
                    error = f"Discord refused the message in #{channel.name} ({failure.status})"
                except Exception as failure:
                    log.exception("Unexpected error posting an alert in guild %s", guild.id)
                    error = f"an unexpected error ({type(failure).__name__})"
                else:
                    await self.alert_store.mark_sent(
                        guild.id, item, getattr(message, "id", None), now
                    )
                    sent += 1
                    continue
            attempts = item.attempts + 1
            give_up = now - (item.created_at or now) >= GIVE_UP_AFTER
            retry_at = None if give_up else now + retry_delay(attempts)
            await self.alert_store.mark_failed(guild.id, item, error, now, retry_at, attempts)
            log.warning(
                "Could not post alert message %s in guild %s (attempt %d%s): %s",
                item.key,
                guild.id,
                attempts,
                ", giving up" if give_up else "",
                error,
            )
        return sent

    # -- for reports ----------------------------------------------------------------------------

    async def alert_report_lines(
        self, guild: discord.Guild, since: datetime, until: datetime | None = None
    ) -> list[str]:
        """One line per alert that fired, resolved or was still firing from `since` to `until`.

        `until` is the report's instant (default now): what fired, resolved or still fires is
        read as of that instant, so a report rendered late says what it said on time.
        """
        if self.store is None:
            return []
        until = until or self.clock()
        after = until + timedelta(milliseconds=1)
        events = await self.alert_store.events(guild.id, since, after)
        stored, _ = await self.alert_store.load(guild.id)
        # The alerts that exist now, each as its latest change up to the instant left it; an
        # alert last evaluated by then is as its stored state says.
        latest = await self.alert_store.latest_events(guild.id, after)
        firing = set()
        for key, alert in stored.items():
            evaluated = alert.state.last_evaluated
            if evaluated is not None and evaluated <= until:
                if alert.state.state is State.FIRING and key in latest:
                    firing.add(key)
            elif key in latest and latest[key].kind != "resolved":
                firing.add(key)
        items = episodes(events, firing)
        lines = [episode_line(item, date=True) for item in items]
        listed = {item.alert_key for item in items}
        for key in sorted(firing - listed):
            event = latest[key]
            lines.append(firing_line(Firing(key, event.severity, event.fired_at, event.text)))
        return lines


def _role(guild: discord.Guild, role_id: int | None) -> int | None:
    """A role that may be pinged: it must be named in the settings and never be @everyone."""
    if not role_id or role_id == guild.id:
        return None
    return role_id
