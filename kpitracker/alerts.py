"""How an alert decides: which way is bad, its ok / firing / no data states, escalation,
routing by severity and the windows of hourly and daily batches. No Discord in here.

The anti-flap rule has two parts, both set per alert:

- a **recovery margin**: a KPI alert fires past `target x threshold / 100` but resolves only
  once the value is back past `target x (threshold ± margin) / 100` (default 5 points);
- a **settling time**: it resolves only after the value has stayed recovered for
  `resolve_after` (default 30 minutes) of evaluations;
- a **cooldown**: once resolved, an alert does not fire again for `cooldown` (60 minutes), so
  a value swinging across the line cannot post a fire and a resolve every few minutes. A
  breach seen during the cooldown fires at the first evaluation after it, if still breached.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Mapping

SEVERITIES = ("info", "warning", "critical")  # lowest first
SEVERITY_ICONS = {"critical": "🔴", "warning": "🟡", "info": "🔵"}
ROUTE_SEVERITIES = ("critical", "warning", "info", "all")
FREQUENCIES = ("immediate", "hourly", "daily_digest")

DEFAULT_SEVERITY = "warning"
DEFAULT_FREQUENCY = "immediate"
DEFAULT_RECOVERY_MARGIN = 5.0
DEFAULT_RESOLVE_AFTER_MINUTES = 30.0
DEFAULT_COOLDOWN_MINUTES = 60.0


class State(str, enum.Enum):
    OK = "ok"
    FIRING = "firing"
    NO_DATA = "no_data"


class Reading(enum.Enum):
    """What one evaluation saw, judged against the alert and recovery lines."""

    BREACHED = "breached"  # past the alert line
    UNSETTLED = "unsettled"  # back inside the alert line but not past the recovery line
    RECOVERED = "recovered"  # past the recovery line
    NO_DATA = "no_data"


# -- which way is bad --------------------------------------------------------------------------


def alert_line(target: float, threshold: float) -> float:
    """The value past which a KPI is in alert: target x threshold / 100."""
    return target * threshold / 100


def is_breached(value: float | None, line: float, higher_is_better: bool) -> bool | None:
    """Higher-is-better metrics alert below the line, lower-is-better ones above it."""
    if value is None:
        return None
    return value < line if higher_is_better else value > line


def recovery_line(target: float, threshold: float, margin: float, higher_is_better: bool) -> float:
    """The value a firing KPI alert must get back to before it can resolve."""
    shifted = threshold + margin if higher_is_better else max(threshold - margin, 0.0)
    return target * shifted / 100


def read_kpi(
    value: float | None, target: float, threshold: float, margin: float, higher_is_better: bool
) -> Reading:
    if value is None:
        return Reading.NO_DATA
    if is_breached(value, alert_line(target, threshold), higher_is_better):
        return Reading.BREACHED
    back = recovery_line(target, threshold, margin, higher_is_better)
    recovered = value >= back if higher_is_better else value <= back
    return Reading.RECOVERED if recovered else Reading.UNSETTLED


def read_truth(holds: bool | None) -> Reading:
    """A compound alert's conditions: true is a breach, false a recovery, unknown no data."""
    if holds is None:
        return Reading.NO_DATA
    return Reading.BREACHED if holds else Reading.RECOVERED


# -- the state machine -------------------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    severity: str = DEFAULT_SEVERITY
    resolve_after: timedelta = timedelta(minutes=DEFAULT_RESOLVE_AFTER_MINUTES)
    escalation_days: float | None = None
    cooldown: timedelta = timedelta(minutes=DEFAULT_COOLDOWN_MINUTES)


@dataclass(frozen=True)
class AlertState:
    state: State
    since: datetime
    fired_at: datetime | None = None
    recovering_since: datetime | None = None
    escalations: int = 0
    last_evaluated: datetime | None = None
    resolved_at: datetime | None = None  # the latest resolution, which starts the cooldown


@dataclass(frozen=True)
class Change:
    kind: str  # fired | resolved | escalated
    at: datetime
    severity: str
    fired_at: datetime
    escalation: int = 0
    lasted: timedelta | None = None


def severity_after(base: str, escalations: int) -> str:
    index = min(SEVERITIES.index(base) + escalations, len(SEVERITIES) - 1)
    return SEVERITIES[index]


def max_escalations(base: str) -> int:
    """One per level up to critical; a critical alert still escalates once, to mention."""
    return max(1, len(SEVERITIES) - 1 - SEVERITIES.index(base))


def due_escalations(fired_at: datetime, now: datetime, behaviour: Behaviour) -> int:
    days = behaviour.escalation_days
    if not days or days <= 0 or now <= fired_at:
        return 0
    steps = math.floor((now - fired_at) / timedelta(days=days))
    return min(steps, max_escalations(behaviour.severity))


def lookback(
    previous: AlertState | None, reading: Reading, now: datetime, behaviour: Behaviour
) -> datetime | None:
    """The earlier moment worth reading to settle a recovery at once, or None.

    After a gap in evaluations longer than the settling time (the bot was down, or history is
    replayed a day at a time), the value `resolve_after` ago is read from the ledger: if it
    was recovered then too, the alert resolves now instead of one settling time later.
    """
    if previous is None or previous.state is not State.FIRING or reading is not Reading.RECOVERED:
        return None
    if previous.recovering_since is not None or behaviour.resolve_after <= timedelta(0):
        return None
    last = previous.last_evaluated
    if last is not None and now - last <= behaviour.resolve_after:
        return None
    return now - behaviour.resolve_after


def step(
    previous: AlertState | None,
    reading: Reading,
    now: datetime,
    behaviour: Behaviour,
    earlier: Reading | None = None,
) -> tuple[AlertState, list[Change]]:
    """The alert's next state and the changes to announce, from one evaluation at `now`.

    `earlier` is the reading at the moment `lookback` asked for, when it was read.
    """
    if previous is None:
        previous = AlertState(State.NO_DATA, since=now)

    if previous.state is not State.FIRING:
        resolved_at = previous.resolved_at
        if resolved_at is not None and resolved_at > now:  # the clock went back
            resolved_at = None
        cooling = resolved_at is not None and now - resolved_at < behaviour.cooldown
        if reading is Reading.BREACHED and not cooling:
            state = AlertState(State.FIRING, since=now, fired_at=now, last_evaluated=now)
            return state, [Change("fired", now, behaviour.severity, now)]
        target = State.NO_DATA if reading is Reading.NO_DATA else State.OK
        since = previous.since if previous.state is target and previous.since <= now else now
        return AlertState(target, since=since, last_evaluated=now, resolved_at=resolved_at), []

    fired_at = min(previous.fired_at or previous.since, now)
    changes: list[Change] = []
    recovering = previous.recovering_since
    if recovering is not None and recovering > now:  # the clock went back
        recovering = None
    if reading is Reading.RECOVERED:
        if recovering is None:
            recovering = now
            if earlier is Reading.RECOVERED:
                recovering = max(now - behaviour.resolve_after, fired_at)
        if now - recovering >= behaviour.resolve_after:
            lasted = max(recovering - fired_at, timedelta(0))
            severity = severity_after(behaviour.severity, previous.escalations)
            changes.append(Change("resolved", now, severity, fired_at, lasted=lasted))
            return AlertState(State.OK, since=now, last_evaluated=now, resolved_at=now), changes
    else:
        # Still past a line, or not observed: the recovery has to start over.
        recovering = None

    escalations = previous.escalations
    due = due_escalations(fired_at, now, behaviour)
    if due > escalations:
        escalations = due
        severity = severity_after(behaviour.severity, due)
        changes.append(Change("escalated", now, severity, fired_at, escalation=due))
    state = replace(
        previous,
        fired_at=fired_at,
        recovering_since=recovering,
        escalations=escalations,
        last_evaluated=now,
    )
    return state, changes


def current_severity(state: AlertState | None, behaviour: Behaviour) -> str:
    if state is None or state.state is not State.FIRING:
        return behaviour.severity
    return severity_after(behaviour.severity, state.escalations)


# -- routing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    channel_id: int | None = None
    role_id: int | None = None
    mention: bool = True

    def to_config(self) -> dict:
        return {"channel_id": self.channel_id, "role_id": self.role_id, "mention": self.mention}

    @classmethod
    def from_config(cls, data: Mapping) -> "Route":
        return cls(data.get("channel_id"), data.get("role_id"), bool(data.get("mention", True)))


@dataclass(frozen=True)
class Destination:
    channel_id: int | None
    ping_role_id: int | None = None
    via: str | None = None  # what chose the channel, for people: "its own channel", "the …"


def route(severity: str, own_channel_id: int | None, routes: Mapping[str, Route]) -> Destination:
    """Where an alert of `severity` goes and whom it may ping.

    The channel is the alert's own, else the route for its severity, else the `all` route.
    The role is the severity route's, else the `all` route's, and is pinged only when that
    route says `mention`. An alert with no channel anywhere has nowhere to go.
    """
    specific, general = routes.get(severity), routes.get("all")
    if own_channel_id is not None:
        channel, via = own_channel_id, "its own channel"
    elif specific is not None and specific.channel_id is not None:
        channel, via = specific.channel_id, f"the {severity} route"
    elif general is not None and general.channel_id is not None:
        channel, via = general.channel_id, "the all route"
    else:
        channel, via = None, None
    role_route = specific if specific is not None and specific.role_id is not None else general
    ping = None
    if role_route is not None and role_route.role_id is not None and role_route.mention:
        ping = role_route.role_id
    return Destination(channel, ping, via)


# -- batching windows --------------------------------------------------------------------------


def window_start(frequency: str, at: datetime) -> datetime:
    """The start of the hourly or daily window (UTC) that holds `at`."""
    at = at.astimezone(timezone.utc)
    if frequency == "hourly":
        return at.replace(minute=0, second=0, microsecond=0)
    if frequency == "daily_digest":
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    raise ValueError(f"{frequency} is not batched")


def closed_span(
    done_until: datetime | None, now: datetime, frequency: str
) -> tuple[tuple[datetime, datetime] | None, datetime]:
    """The windows that closed since `done_until`, as one span, and the new `done_until`.

    The first evaluation only starts counting; a clock that went back starts over. After a
    long gap (downtime), every missed window is gathered into one span, so one message.
    """
    end = window_start(frequency, now)
    if done_until is None or done_until >= end:
        return None, end
    return (done_until, end), end


# -- what a window held ------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertEvent:
    """A change as stored: one row of an alert's history."""

    alert_key: str
    kind: str
    at: datetime
    severity: str
    text: str  # one line saying what was seen, e.g. "`dau` is 72, below 80"
    fired_at: datetime
    lasted: timedelta | None = None
    detail: Mapping | None = None


@dataclass(frozen=True)
class Episode:
    """What one alert did inside a window, for one line of a batch or digest."""

    alert_key: str
    events: tuple[AlertEvent, ...]
    still_firing: bool

    @property
    def fired(self) -> bool:
        return any(event.kind == "fired" for event in self.events)

    @property
    def resolved(self) -> bool:
        return any(event.kind == "resolved" for event in self.events)


def episodes(events: list[AlertEvent], firing_now: set[str]) -> list[Episode]:
    """One entry per alert with its events in order; an alert that fired and resolved in the
    window is one entry, listed once."""
    grouped: dict[str, list[AlertEvent]] = {}
    for event in sorted(events, key=lambda item: item.at):
        grouped.setdefault(event.alert_key, []).append(event)
    return [Episode(key, tuple(items), key in firing_now) for key, items in grouped.items()]
