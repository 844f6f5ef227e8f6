"""The words of alert messages: a change, an hourly batch, a daily digest, a history line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .alerts import SEVERITY_ICONS, AlertEvent, Episode

MESSAGE_LIMIT = 2000
RESOLVED_ICON = "✅"
ESCALATED_ICON = "⏫"


def format_duration(span: timedelta) -> str:
    """`45 min`, `3 h`, `3 h 5 min`, `2 d 4 h`; under a minute is `under a minute`."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def format_time(at: datetime, *, date: bool = True) -> str:
    at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%d %H:%M UTC") if date else at.strftime("%H:%M")


def role_ping(role_id: int | None) -> str:
    return f"<@&{role_id}> " if role_id else ""


def fired_message(severity: str, text: str, ping_role_id: int | None = None) -> str:
    icon = SEVERITY_ICONS[severity]
    return f"{role_ping(ping_role_id)}{icon} **{severity.capitalize()} alert** · {text}"


def resolved_message(text: str, fired_at: datetime, lasted: timedelta) -> str:
    return (
        f"{RESOLVED_ICON} **Resolved** · {text}. It fired at {format_time(fired_at)} and "
        f"lasted {format_duration(lasted)}."
    )


def escalated_message(
    severity: str, text: str, fired_at: datetime, now: datetime, ping_role_id: int | None
) -> str:
    return (
        f"{role_ping(ping_role_id)}{ESCALATED_ICON} **Escalated to {severity}** · still firing "
        f"after {format_duration(now - fired_at)} (since {format_time(fired_at)}) · {text}"
    )


# -- batches -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Firing:
    """An alert firing at the end of a window, with what it sees now."""

    alert_key: str
    severity: str
    fired_at: datetime
    text: str


def _event_words(event: AlertEvent, date: bool) -> str:
    when = format_time(event.at, date=date)
    if event.kind == "fired":
        return f"fired {when}"
    if event.kind == "resolved":
        lasted = f" after {format_duration(event.lasted)}" if event.lasted is not None else ""
        return f"resolved {when}{lasted}"
    return f"escalated to {event.severity} {when}"


def episode_line(episode: Episode, *, date: bool) -> str:
    """`- 🔴 fired 09:05, escalated … · what it saw`; a resolved episode gets ✅."""
    last = episode.events[-1]
    icon = SEVERITY_ICONS[last.severity] if episode.still_firing else RESOLVED_ICON
    words = ", ".join(_event_words(event, date) for event in episode.events)
    shown = next((event for event in episode.events if event.kind == "fired"), last)
    ongoing = " (still firing)" if episode.still_firing else ""
    return f"- {icon} {words}{ongoing} · {shown.text}"


def firing_line(firing: Firing) -> str:
    icon = SEVERITY_ICONS[firing.severity]
    return f"- {icon} firing since {format_time(firing.fired_at)} · {firing.text}"


def _span_words(start: datetime, end: datetime, hourly: bool) -> str:
    if hourly:
        same_day = (end - timedelta(seconds=1)).date() == start.date()
        if same_day and end - start <= timedelta(days=1):
            hours = f"{format_time(start, date=False)}–{format_time(end, date=False)}"
            return f"{start:%Y-%m-%d}, {hours} UTC"
        return f"{format_time(start)} to {format_time(end)}"
    last_day = (end - timedelta(days=1)).date()
    if last_day == start.date():
        return f"{start:%Y-%m-%d}"
    return f"{start:%Y-%m-%d} to {last_day:%Y-%m-%d}"


def hourly_message(
    start: datetime, end: datetime, items: list[Episode], ping_role_ids: list[int]
) -> list[str]:
    """The changes of one or more closed hours, for one channel."""
    pings = "".join(role_ping(role) for role in ping_role_ids)
    header = f"{pings}🕐 **Alert changes, {_span_words(start, end, True)}**"
    same_day = start.date() == (end - timedelta(seconds=1)).date()
    lines = [episode_line(item, date=not same_day) for item in items]
    return pages(header, lines)


def digest_message(
    start: datetime, end: datetime, items: list[Episode], still: list[Firing]
) -> list[str]:
    """What fired, what resolved and what is still firing, for one channel and day(s)."""
    fired = [item for item in items if item.still_firing and item.fired]
    resolved = [item for item in items if not item.still_firing]
    ongoing = [item for item in items if item.still_firing and not item.fired]
    listed = {item.alert_key for item in items}
    quiet = [firing for firing in still if firing.alert_key not in listed]
    lines: list[str] = []
    if fired:
        lines.append("**Fired**")
        lines += [episode_line(item, date=True) for item in fired]
    if resolved:
        lines.append("**Resolved**")
        lines += [episode_line(item, date=True) for item in resolved]
    if ongoing or quiet:
        lines.append("**Still firing**")
        lines += [episode_line(item, date=True) for item in ongoing]
        lines += [firing_line(firing) for firing in quiet]
    header = f"📋 **Alert digest, {_span_words(start, end, False)}**"
    return pages(header, lines)


def pages(header: str, lines: list[str]) -> list[str]:
    """The header and lines in messages under Discord's limit, whole lines per message."""
    result: list[str] = []
    current = header
    for line in lines:
        line = line if len(line) < MESSAGE_LIMIT - 20 else line[: MESSAGE_LIMIT - 21] + "…"
        if len(current) + 1 + len(line) > MESSAGE_LIMIT:
            result.append(current)
            current = line
        else:
            current = f"{current}\n{line}"
    result.append(current)
    return result


def history_line(event: AlertEvent) -> str:
    """`🔴 2021-06-01 09:05 UTC · triggered · what it saw`, for a history listing."""
    if event.kind == "fired":
        icon, what = SEVERITY_ICONS.get(event.severity, "🔴"), "triggered"
    elif event.kind == "resolved":
        icon, what = RESOLVED_ICON, "resolved"
        if event.lasted is not None:
            what += f" after {format_duration(event.lasted)}"
    else:
        icon, what = ESCALATED_ICON, f"escalated to {event.severity}"
    return f"{icon} {format_time(event.at)} · {what} · {event.text}"
