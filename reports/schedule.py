"""When a server's report is due: the schedule, its occurrences, and what to do at an instant.

Pure scheduling maths on dateutil's rrule; nothing here knows about Discord. All times are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule

FREQUENCIES = ("daily", "weekly", "monthly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
LAST_DAY = -1
DEFAULT_TIME = time(9, 0)
DEFAULT_DAYS = 90

# A report posted within this long after its time is on time; later it is marked late.
ON_TIME_WITHIN = timedelta(minutes=15)
# A report missed while the bot was down is still posted if the bot is back within this long.
LATE_POST_WITHIN = timedelta(days=1)

PERIOD = {
    "daily": relativedelta(days=1),
    "weekly": relativedelta(weeks=1),
    "monthly": relativedelta(months=1),
}


@dataclass(frozen=True)
class Schedule:
    """A server's report: how often, where, on which day and at what time (UTC).

    `weekday` (0 = Monday) is for weekly reports, `day` (1-31, or -1 for the last day of the
    month) for monthly ones. No report is due before `since`, the moment it was scheduled.
    """

    frequency: str
    channel_id: int
    since: datetime
    at: time = DEFAULT_TIME
    weekday: int | None = None
    day: int | None = None
    days: int = DEFAULT_DAYS

    def to_config(self) -> dict:
        return {
            "frequency": self.frequency,
            "channel_id": self.channel_id,
            "since": self.since.isoformat(),
            "time": self.at.strftime("%H:%M"),
            "weekday": self.weekday,
            "day": self.day,
            "days": self.days,
        }

    @classmethod
    def from_config(cls, data: dict) -> "Schedule":
        return cls(
            frequency=data["frequency"],
            channel_id=int(data["channel_id"]),
            since=datetime.fromisoformat(data["since"]),
            at=time.fromisoformat(data.get("time") or DEFAULT_TIME.strftime("%H:%M")),
            weekday=data.get("weekday"),
            day=data.get("day"),
            days=int(data.get("days") or DEFAULT_DAYS),
        )

    def rule(self) -> rrule:
        """Every time the report is due, from the first minute after `since`."""
        start = self.since.astimezone(timezone.utc).replace(second=0, microsecond=0)
        if start < self.since:
            start += timedelta(minutes=1)
        when = {"byhour": self.at.hour, "byminute": self.at.minute, "bysecond": 0}
        if self.frequency == "daily":
            return rrule(DAILY, dtstart=start, **when)
        if self.frequency == "weekly":
            return rrule(WEEKLY, dtstart=start, byweekday=self.weekday or 0, **when)
        day = self.day or 1
        if day == LAST_DAY:
            return rrule(MONTHLY, dtstart=start, bymonthday=-1, **when)
        if day <= 28:
            return rrule(MONTHLY, dtstart=start, bymonthday=day, **when)
        # Day 29-31 falls on the month's last day in shorter months: the latest existing day
        # of 28..day in each month.
        return rrule(
            MONTHLY, dtstart=start, bymonthday=list(range(28, day + 1)), bysetpos=-1, **when
        )

    def next_due(self, now: datetime) -> datetime | None:
        """The first time after `now` that the report is due."""
        return self.rule().after(now)

    def period_start(self, due: datetime) -> datetime:
        """The start of the period a report due at `due` covers: one period earlier."""
        return due - PERIOD[self.frequency]

    def describe(self) -> str:
        """`every Monday at 09:00 UTC`, as the schedule reads in a sentence."""
        clock = f"{self.at:%H:%M} UTC"
        if self.frequency == "daily":
            return f"every day at {clock}"
        if self.frequency == "weekly":
            return f"every {WEEKDAYS[self.weekday or 0].capitalize()} at {clock}"
        day = self.day or 1
        if day == LAST_DAY:
            return f"on the last day of every month at {clock}"
        shorter = " (or the month's last day, if earlier)" if day > 28 else ""
        return f"on day {day} of every month{shorter} at {clock}"


@dataclass(frozen=True)
class Decision:
    """What to do at an instant: post the report due at `due` (late or not), skip some."""

    key: str | None = None  # the period to mark as handled, None when there is none
    due: datetime | None = None  # the report to post now, None to post nothing
    late: bool = False
    skipped: tuple[datetime, ...] = ()


def period_key(due: datetime) -> str:
    """The key that marks one period's report as handled: its due time."""
    return due.astimezone(timezone.utc).isoformat()


def decide(schedule: Schedule, now: datetime, handled: str | None) -> Decision:
    """Which report to post at `now`, given the key of the last period handled.

    Only the latest due report is ever posted: on time, or late if the bot comes back within
    `LATE_POST_WITHIN`. Every earlier unhandled one, and a latest one missed by longer, is
    skipped.
    """
    rule = schedule.rule()
    latest = rule.before(now, inc=True)
    if latest is None or period_key(latest) == handled:
        return Decision()

    after = datetime.fromisoformat(handled) if handled else None
    if after is not None and after >= latest:
        return Decision()
    lower = after if after is not None else schedule.since - timedelta(seconds=1)
    earlier = tuple(rule.between(lower, latest, inc=False))

    lateness = now - latest
    if lateness > LATE_POST_WITHIN:
        return Decision(key=period_key(latest), skipped=(*earlier, latest))
    return Decision(
        key=period_key(latest), due=latest, late=lateness > ON_TIME_WITHIN, skipped=earlier
    )
