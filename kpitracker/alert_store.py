"""Alert state, history and notifications in the cog's SQLite file.

`alert_state` keeps each alert's ok / firing / no data state across restarts. Every change
is a row of `alert_history`, which also holds, for compound alerts, the value of every
condition at that moment. `alert_notifications` holds every message under a key that is
written, in the same transaction as the change it announces, before the message is sent: a
key that exists is never queued again, so a restart, a reload or a second evaluation cannot
post a message twice. `alert_windows` remembers which hourly and daily windows are done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .alerts import AlertEvent, AlertState, State
from .ledger import from_ms, to_ms

if TYPE_CHECKING:
    from .sqlite_store import SqliteStore

ALERT_TABLES = """
CREATE TABLE IF NOT EXISTS alert_state (
    server_id         INTEGER NOT NULL,
    alert_key         TEXT    NOT NULL,   -- kpi:<metric> or compound:<name in lower case>
    state             TEXT    NOT NULL,   -- ok, firing or no_data
    since_ts          INTEGER NOT NULL,
    fired_ts          INTEGER,
    recovering_ts     INTEGER,            -- first recovered evaluation of a firing alert
    escalations       INTEGER NOT NULL DEFAULT 0,
    last_evaluated_ts INTEGER,
    last_value        REAL,
    delivery_error    TEXT,               -- why the last message about it could not be sent
    delivery_error_ts INTEGER,
    PRIMARY KEY (server_id, alert_key)
);

CREATE TABLE IF NOT EXISTS alert_history (
    id        INTEGER PRIMARY KEY,
    server_id INTEGER NOT NULL,
    alert_key TEXT    NOT NULL,
    kind      TEXT    NOT NULL,           -- fired, resolved or escalated
    ts        INTEGER NOT NULL,
    severity  TEXT    NOT NULL,
    fired_ts  INTEGER NOT NULL,
    lasted_ms INTEGER,
    text      TEXT    NOT NULL,
    detail    TEXT    NOT NULL DEFAULT '{}'   -- JSON: the values seen at that moment
);
CREATE INDEX IF NOT EXISTS alert_history_time ON alert_history (server_id, ts);
CREATE INDEX IF NOT EXISTS alert_history_alert ON alert_history (server_id, alert_key, ts);

CREATE TABLE IF NOT EXISTS alert_notifications (
    server_id   INTEGER NOT NULL,
    key         TEXT    NOT NULL,
    channel_id  INTEGER,
    content     TEXT    NOT NULL,
    role_ids    TEXT    NOT NULL DEFAULT '[]',  -- JSON: the only roles it may ping
    alert_keys  TEXT    NOT NULL DEFAULT '[]',  -- JSON: the alerts it is about
    status      TEXT    NOT NULL,               -- pending, sending, sent, failed, expired, nowhere
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_ts  INTEGER NOT NULL,
    next_try_ts INTEGER NOT NULL,
    sent_ts     INTEGER,
    message_id  INTEGER,
    last_error  TEXT,
    PRIMARY KEY (server_id, key)
);
CREATE INDEX IF NOT EXISTS alert_notifications_due
    ON alert_notifications (server_id, status, next_try_ts);

CREATE TABLE IF NOT EXISTS alert_windows (
    server_id  INTEGER NOT NULL,
    frequency  TEXT    NOT NULL,          -- hourly or daily_digest
    done_until INTEGER NOT NULL,          -- the end of the last window already batched
    PRIMARY KEY (server_id, frequency)
);
"""

DELIVERABLE = ("pending", "sending", "failed")
# Sent, expired and undeliverable messages are kept this long, then only their alerts' history.
KEEP_NOTIFICATIONS = timedelta(days=60)


@dataclass(frozen=True)
class StoredAlert:
    state: AlertState
    last_value: float | None = None
    delivery_error: str | None = None
    delivery_error_at: datetime | None = None


@dataclass(frozen=True)
class Notification:
    key: str
    channel_id: int | None
    content: str
    role_ids: tuple[int, ...] = ()
    alert_keys: tuple[str, ...] = ()
    status: str = "pending"
    attempts: int = 0
    created_at: datetime | None = None
    last_error: str | None = None


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)


def _ms(at: datetime | None) -> int | None:
    return None if at is None else to_ms(at)


def _event(row) -> AlertEvent:
    key, kind, ts, severity, fired_ts, lasted_ms, text, detail = row
    lasted = None if lasted_ms is None else timedelta(milliseconds=lasted_ms)
    return AlertEvent(
        key, kind, from_ms(ts), severity, text, from_ms(fired_ts), lasted, json.loads(detail)
    )


_EVENT_COLUMNS = "alert_key, kind, ts, severity, fired_ts, lasted_ms, text, detail"


class AlertStore:
    """The alert tables, reached only through the store's one writer and its reader."""

    def __init__(self, store: "SqliteStore") -> None:
        self.store = store

    async def _all(self, sql: str, params: list) -> list[tuple]:
        async def work(conn):
            cursor = await conn.execute(sql, params)
            rows = await cursor.fetchall()
            await cursor.close()
            return list(rows)

        return await self.store.read(work)

    # -- state ------------------------------------------------------------------------------

    async def load(self, server_id: int) -> tuple[dict[str, StoredAlert], dict[str, datetime]]:
        """Every stored alert of a server, and where its hourly and daily batching stands."""
        rows = await self._all(
            "SELECT alert_key, state, since_ts, fired_ts, recovering_ts, escalations, "
            "last_evaluated_ts, last_value, delivery_error, delivery_error_ts, "
            # The latest resolution starts the cooldown; the history already holds it.
            "(SELECT MAX(ts) FROM alert_history AS h WHERE h.server_id = s.server_id "
            "AND h.alert_key = s.alert_key AND h.kind = 'resolved') "
            "FROM alert_state AS s WHERE server_id = ?",
            [server_id],
        )
        alerts = {}
        for (
            key,
            state,
            since,
            fired,
            recovering,
            escalations,
            evaluated,
            value,
            error,
            error_ts,
            resolved,
        ) in rows:
            alerts[key] = StoredAlert(
                AlertState(
                    State(state),
                    from_ms(since),
                    _time(fired),
                    _time(recovering),
                    escalations,
                    _time(evaluated),
                    _time(resolved),
                ),
                value,
                error,
                _time(error_ts),
            )
        windows = await self._all(
            "SELECT frequency, done_until FROM alert_windows WHERE server_id = ?", [server_id]
        )
        return alerts, {frequency: from_ms(done) for frequency, done in windows}

    async def save(
        self,
        server_id: int,
        states: dict[str, tuple[AlertState, float | None]],
        retired: list[str],
        events: list[AlertEvent],
        notifications: list[Notification],
        windows: dict[str, datetime],
        now: datetime,
    ) -> int:
        """Write one evaluation of a server in one transaction; return the messages queued."""
        now_ms = to_ms(now)

        async def work(conn):
            for key, (state, value) in states.items():
                await conn.execute(
                    "INSERT INTO alert_state (server_id, alert_key, state, since_ts, fired_ts, "
                    "recovering_ts, escalations, last_evaluated_ts, last_value) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (server_id, alert_key) DO "
                    "UPDATE SET state = excluded.state, since_ts = excluded.since_ts, "
                    "fired_ts = excluded.fired_ts, recovering_ts = excluded.recovering_ts, "
                    "escalations = excluded.escalations, "
                    "last_evaluated_ts = excluded.last_evaluated_ts, "
                    "last_value = excluded.last_value",
                    [
                        server_id,
                        key,
                        state.state.value,
                        to_ms(state.since),
                        _ms(state.fired_at),
                        _ms(state.recovering_since),
                        state.escalations,
                        _ms(state.last_evaluated),
                        value,
                    ],
                )
            for key in retired:
                await conn.execute(
                    "DELETE FROM alert_state WHERE server_id = ? AND alert_key = ?",
                    [server_id, key],
                )
            for event in events:
                lasted = (
                    None if event.lasted is None else round(event.lasted.total_seconds() * 1000)
                )
                await conn.execute(
                    f"INSERT INTO alert_history (server_id, {_EVENT_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        server_id,
                        event.alert_key,
                        event.kind,
                        to_ms(event.at),
                        event.severity,
                        to_ms(event.fired_at),
                        lasted,
                        event.text,
                        json.dumps(event.detail or {}, allow_nan=False),
                    ],
                )
            queued = 0
            for item in notifications:
                status = "pending" if item.channel_id is not None else "nowhere"
                cursor = await conn.execute(
                    "INSERT OR IGNORE INTO alert_notifications (server_id, key, channel_id, "
                    "content, role_ids, alert_keys, status, created_ts, next_try_ts) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        server_id,
                        item.key,
                        item.channel_id,
                        item.content,
                        json.dumps(list(item.role_ids)),
                        json.dumps(list(item.alert_keys)),
                        status,
                        now_ms,
                        now_ms,
                    ],
                )
                queued += cursor.rowcount
            for frequency, done_until in windows.items():
                await conn.execute(
                    "INSERT INTO alert_windows (server_id, frequency, done_until) "
                    "VALUES (?, ?, ?) ON CONFLICT (server_id, frequency) "
                    "DO UPDATE SET done_until = excluded.done_until",
                    [server_id, frequency, to_ms(done_until)],
                )
            return queued

        return await self.store.transaction(work)

    # -- history ----------------------------------------------------------------------------

    async def events(self, server_id: int, start: datetime, end: datetime) -> list[AlertEvent]:
        """The changes of a server in `[start, end)`, oldest first."""
        rows = await self._all(
            f"SELECT {_EVENT_COLUMNS} FROM alert_history "
            "WHERE server_id = ? AND ts >= ? AND ts < ? ORDER BY ts, id",
            [server_id, to_ms(start), to_ms(end)],
        )
        return [_event(row) for row in rows]

    async def latest_events(self, server_id: int, before: datetime) -> dict[str, AlertEvent]:
        """Each alert's latest change before `before`: what it was doing at that instant."""
        rows = await self._all(
            f"SELECT {_EVENT_COLUMNS} FROM alert_history AS h WHERE server_id = ? AND id = "
            "(SELECT id FROM alert_history WHERE server_id = h.server_id "
            "AND alert_key = h.alert_key AND ts < ? ORDER BY ts DESC, id DESC LIMIT 1)",
            [server_id, to_ms(before)],
        )
        return {event.alert_key: event for event in map(_event, rows)}

    async def history(
        self, server_id: int, prefix: str, limit: int, alert_key: str | None = None
    ) -> list[AlertEvent]:
        """The latest changes of the alerts whose key starts with `prefix`, newest first."""
        if alert_key is not None:
            where, params = "alert_key = ?", [alert_key]
        else:
            where, params = "alert_key LIKE ? ESCAPE '\\'", [_like_prefix(prefix)]
        rows = await self._all(
            f"SELECT {_EVENT_COLUMNS} FROM alert_history WHERE server_id = ? AND {where} "
            "ORDER BY ts DESC, id DESC LIMIT ?",
            [server_id, *params, limit],
        )
        return [_event(row) for row in rows]

    # -- delivery ---------------------------------------------------------------------------

    async def due(self, server_id: int, now: datetime) -> list[Notification]:
        """Messages waiting to be sent or retried, oldest first."""
        rows = await self._all(
            "SELECT key, channel_id, content, role_ids, alert_keys, status, attempts, "
            "created_ts, last_error FROM alert_notifications WHERE server_id = ? "
            "AND status IN ('pending', 'sending', 'failed') AND next_try_ts <= ? "
            "ORDER BY created_ts, rowid",
            [server_id, to_ms(now)],
        )
        return [
            Notification(
                key,
                channel,
                content,
                tuple(json.loads(roles)),
                tuple(json.loads(alerts)),
                status,
                attempts,
                from_ms(created),
                error,
            )
            for key, channel, content, roles, alerts, status, attempts, created, error in rows
        ]

    async def mark_sending(self, server_id: int, key: str) -> None:
        await self._update(
            "UPDATE alert_notifications SET status = 'sending', attempts = attempts + 1 "
            "WHERE server_id = ? AND key = ?",
            [server_id, key],
        )

    async def mark_sent(
        self, server_id: int, item: Notification, message_id: int | None, now: datetime
    ) -> None:
        async def work(conn):
            await conn.execute(
                "UPDATE alert_notifications SET status = 'sent', sent_ts = ?, message_id = ?, "
                "last_error = NULL WHERE server_id = ? AND key = ?",
                [to_ms(now), message_id, server_id, item.key],
            )
            for alert_key in item.alert_keys:
                await conn.execute(
                    "UPDATE alert_state SET delivery_error = NULL, delivery_error_ts = NULL "
                    "WHERE server_id = ? AND alert_key = ?",
                    [server_id, alert_key],
                )

        await self.store.transaction(work)

    async def mark_failed(
        self,
        server_id: int,
        item: Notification,
        error: str,
        now: datetime,
        retry_at: datetime | None,
        attempts: int,
    ) -> None:
        """Record a failed send on the message and on its alerts; None for `retry_at` gives up."""

        async def work(conn):
            status = "failed" if retry_at is not None else "expired"
            await conn.execute(
                "UPDATE alert_notifications SET status = ?, last_error = ?, next_try_ts = ?, "
                "attempts = ? WHERE server_id = ? AND key = ?",
                [status, error, to_ms(retry_at or now), attempts, server_id, item.key],
            )
            for alert_key in item.alert_keys:
                await conn.execute(
                    "UPDATE alert_state SET delivery_error = ?, delivery_error_ts = ? "
                    "WHERE server_id = ? AND alert_key = ?",
                    [error, to_ms(now), server_id, alert_key],
                )

        await self.store.transaction(work)

    async def notification(self, server_id: int, key: str) -> tuple[str, int, str | None] | None:
        """The status, attempts and last error of one message, or None."""
        rows = await self._all(
            "SELECT status, attempts, last_error FROM alert_notifications "
            "WHERE server_id = ? AND key = ?",
            [server_id, key],
        )
        return rows[0] if rows else None

    async def prune(self, now: datetime) -> None:
        await self._update(
            "DELETE FROM alert_notifications WHERE status IN ('sent', 'expired', 'nowhere') "
            "AND created_ts < ?",
            [to_ms(now - KEEP_NOTIFICATIONS)],
        )

    async def _update(self, sql: str, params: list) -> None:
        async def work(conn):
            await conn.execute(sql, params)

        await self.store.transaction(work)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"
