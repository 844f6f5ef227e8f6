"""A community goal: what it follows, its target and dates, its daily values and announcements."""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

MAX_NAME_LENGTH = 60
MAX_TARGET = 1e12
# A start or deadline further ahead than this is a typo, not a plan.
MAX_YEARS_AHEAD = 5


class GoalError(ValueError):
    """A goal that cannot be set or changed as asked; the message is the sentence to show."""


class GoalType(str, enum.Enum):
    USERS = "users"
    DAU = "dau"
    LTZ_DISTRIBUTED = "ltz_distributed"
    STREAK_RETENTION = "streak_retention"
    CUSTOM = "custom"

    @property
    def synced_metric(self) -> str | None:
        """The KPI Tracker metric the type follows; None for ltz_distributed and custom."""
        return _SYNCED_METRICS.get(self)

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def unit(self) -> str:
        return _UNITS[self]


_SYNCED_METRICS = {
    GoalType.USERS: "weekly_active_users",
    GoalType.DAU: "daily_active_users",
    GoalType.STREAK_RETENTION: "streak_retention",
}
_DESCRIPTIONS = {
    GoalType.USERS: "active users over the last 7 days (weekly_active_users)",
    GoalType.DAU: "active users over the last 24 hours (daily_active_users)",
    GoalType.LTZ_DISTRIBUTED: "LTZ given out by claims and rewards since the goal's start",
    GoalType.STREAK_RETENTION: "share of streaks kept from one day to the next (streak_retention)",
    GoalType.CUSTOM: "a metric named with `metric:`, or a value recorded by hand",
}
_UNITS = {
    GoalType.USERS: "users",
    GoalType.DAU: "users",
    GoalType.LTZ_DISTRIBUTED: "LTZ",
    GoalType.STREAK_RETENTION: "%",
    GoalType.CUSTOM: "",
}
TYPE_NAMES = [goal_type.value for goal_type in GoalType]


def parse_goal_type(text: str) -> GoalType:
    word = text.strip().lower()
    try:
        return GoalType(word)
    except ValueError:
        pass
    listed = ", ".join(TYPE_NAMES[:-1]) + " or " + TYPE_NAMES[-1]
    found = difflib.get_close_matches(word, TYPE_NAMES, n=1, cutoff=0.5)
    hint = f" (did you mean `{found[0]}`?)" if found else ""
    raise GoalError(f"`{text}` is not a goal type{hint}; use {listed}.")


def clean_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise GoalError('A goal needs a name, like `name:"Q1 Growth"`.')
    if len(name) > MAX_NAME_LENGTH:
        raise GoalError(f"A goal's name can be at most {MAX_NAME_LENGTH} characters long.")
    return name


def name_key(name: str) -> str:
    """Goal names are compared without regard to case or spacing."""
    return " ".join(name.split()).casefold()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def day_end(day: date) -> datetime:
    """00:00 UTC of the next day: the instant a day's value is read at."""
    if day >= date.max:  # the last representable day ends at the last representable instant
        return datetime.max.replace(tzinfo=timezone.utc)
    return day_start(day + timedelta(days=1))


def latest_day(today: date) -> date:
    """The furthest day a goal may start or end on: `MAX_YEARS_AHEAD` years after today."""
    try:
        return today.replace(year=today.year + MAX_YEARS_AHEAD)
    except ValueError:  # 29 February, in a year that has none
        return today.replace(year=today.year + MAX_YEARS_AHEAD, day=28)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


@dataclass
class Goal:
    name: str
    goal_type: GoalType
    target: float
    start: datetime
    deadline: date  # the last day; the goal is due at the end of it
    metric: str | None = None  # for custom goals: the metric it follows; None: recorded by hand
    created_by: int | None = None
    values: dict[str, float | None] = field(default_factory=dict)  # day -> value at its end
    announced: list[str] = field(default_factory=list)
    recorded: float | None = None  # the last value recorded by hand

    @property
    def key(self) -> str:
        return name_key(self.name)

    @property
    def due(self) -> datetime:
        return day_end(self.deadline)

    @property
    def is_manual(self) -> bool:
        return self.goal_type is GoalType.CUSTOM and self.metric is None

    @property
    def unit(self) -> str:
        return self.goal_type.unit

    @property
    def missed_key(self) -> str:
        # A new deadline can be missed again; the same deadline only once.
        return f"missed:{self.deadline.isoformat()}"

    @property
    def reached(self) -> bool:
        return "100" in self.announced

    def source(self) -> str:
        """What the goal's value is, in a few words."""
        if self.goal_type is GoalType.CUSTOM:
            return f"metric `{self.metric}`" if self.metric else "recorded by hand"
        if self.goal_type.synced_metric:
            return f"`{self.goal_type.synced_metric}`"
        return "LTZ distributed since the start"

    def days_to_record(self, now: datetime) -> list[date]:
        """Days from the start through the deadline that have ended and have no value yet."""
        last = min(self.deadline, utc_day(now) - timedelta(days=1))
        day = utc_day(self.start)
        missing = []
        while day <= last:
            if day.isoformat() not in self.values:
                missing.append(day)
            day += timedelta(days=1)
        return missing

    def history(self) -> list[tuple[datetime, float]]:
        """The recorded daily values, oldest first, each at the end of its day."""
        points = [
            (day_end(date.fromisoformat(day)), value)
            for day, value in self.values.items()
            if value is not None
        ]
        return sorted(points)

    def to_config(self) -> dict:
        return {
            "name": self.name,
            "type": self.goal_type.value,
            "target": self.target,
            "start": self.start.isoformat(),
            "deadline": self.deadline.isoformat(),
            "metric": self.metric,
            "created_by": self.created_by,
            "values": dict(sorted(self.values.items())),
            "announced": list(self.announced),
            "recorded": self.recorded,
        }

    @classmethod
    def from_config(cls, data: dict) -> "Goal":
        return cls(
            name=data["name"],
            goal_type=GoalType(data["type"]),
            target=float(data["target"]),
            start=datetime.fromisoformat(data["start"]),
            deadline=date.fromisoformat(data["deadline"]),
            metric=data.get("metric"),
            created_by=data.get("created_by"),
            values=dict(data.get("values") or {}),
            announced=list(data.get("announced") or []),
            recorded=data.get("recorded"),
        )


def check_target(goal_type: GoalType, target: float) -> None:
    if target <= 0:
        raise GoalError(f"The target must be greater than 0, not {target:g}.")
    if target > MAX_TARGET:
        raise GoalError(f"The target must be at most {MAX_TARGET:g}.")
    if goal_type is GoalType.STREAK_RETENTION and target > 100:
        raise GoalError("A streak_retention target is a percentage; give at most 100.")


def check_dates(start: datetime, deadline: date, today: date, *, start_given: bool) -> None:
    """Refuse a start or deadline in the past or too far ahead, and a deadline before the
    start."""
    latest = latest_day(today)
    if start_given and utc_day(start) < today:
        raise GoalError(
            f"The start date {utc_day(start)} is in the past; give today ({today}) or a later day."
        )
    if start_given and utc_day(start) > latest:
        raise GoalError(
            f"The start date {utc_day(start)} is more than {MAX_YEARS_AHEAD} years away; give "
            f"a day up to {latest}."
        )
    if deadline < today:
        raise GoalError(
            f"The deadline {deadline} is in the past; give today ({today}) or a later day."
        )
    if deadline > latest:
        raise GoalError(
            f"The deadline {deadline} is more than {MAX_YEARS_AHEAD} years away; give a day up "
            f"to {latest}."
        )
    if deadline < utc_day(start):
        raise GoalError(
            f"The deadline {deadline} is before the start {utc_day(start)}; give a later deadline."
        )


def new_goal(
    name: str,
    goal_type: GoalType,
    target: float,
    deadline: date,
    now: datetime,
    *,
    start_day: date | None = None,
    metric: str | None = None,
    created_by: int | None = None,
    existing: list[str] = (),
) -> Goal:
    """A checked new goal; `GoalError` says what is wrong with the request."""
    name = clean_name(name)
    if name_key(name) in existing:
        raise GoalError(
            f"A goal named `{name}` already exists; pick another name or change it with "
            "`goals edit`."
        )
    if metric is not None and goal_type is not GoalType.CUSTOM:
        raise GoalError(
            f"A {goal_type.value} goal follows {goal_type.description}; only a custom goal "
            "takes `metric:`."
        )
    check_target(goal_type, target)
    start = day_start(start_day) if start_day is not None else now
    check_dates(start, deadline, utc_day(now), start_given=start_day is not None)
    return Goal(name, goal_type, target, start, deadline, metric, created_by)
