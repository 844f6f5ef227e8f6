"""Progress, pace and forecast of a goal: plain maths on its daily values, no Discord.

The forecast is a least-squares straight line (`numpy.polyfit`, degree 1) through the goal's
daily values and its current value, read at the deadline. The verdict compares that forecast
with the target: at or above it is on track, within 10 % below it is at risk, further below
is behind.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime

import numpy

MILESTONES = (25, 50, 75, 100)
# A forecast this share of the target or more, but short of it, is "at risk" rather than behind.
AT_RISK_SHARE = 0.9
# Rounding in the fit must not turn an exactly-on-pace history into "at risk".
TOLERANCE = 1e-9
DAY_SECONDS = 86_400

Point = tuple[datetime, float]


class Verdict(enum.Enum):
    NOT_STARTED = ("🕓", "not started")
    NO_DATA = ("⚪", "no data yet")
    TOO_EARLY = ("⚪", "too early to tell")
    ON_TRACK = ("🟢", "on track")
    AT_RISK = ("🟡", "at risk")
    BEHIND = ("🔴", "behind")
    ACHIEVED = ("🏆", "achieved")
    MISSED = ("⛔", "missed")

    @property
    def icon(self) -> str:
        return self.value[0]

    @property
    def label(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class Pace:
    value: float | None
    percent: float | None  # value against target
    elapsed: float  # share of the time allowed that has passed, 0 to 1
    days_total: float
    days_left: float
    baseline: float | None  # where the pace line starts
    pace_value: float | None  # where the pace line is now
    forecast: float | None  # the fitted line's value at the deadline
    per_day: float | None  # the fitted line's slope
    needed_per_day: float | None  # the rise per day that reaches the target by the deadline
    verdict: Verdict
    fitted: tuple[Point, ...] = ()  # the fitted line from the first value to the deadline


def percent_of(value: float | None, target: float) -> float | None:
    if value is None or target <= 0:
        return None
    return 100.0 * value / target


def days_between(first: datetime, second: datetime) -> float:
    return (second - first).total_seconds() / DAY_SECONDS


def fit(points: list[Point], origin: datetime) -> tuple[float, float] | None:
    """Slope per day and intercept (at `origin`) of the least-squares line through `points`."""
    points = _distinct(points)
    if len(points) < 2:
        return None
    days = numpy.array([days_between(origin, moment) for moment, _ in points])
    values = numpy.array([value for _, value in points], dtype=float)
    slope, intercept = numpy.polyfit(days, values, 1)
    return float(slope), float(intercept)


def forecast(points: list[Point], origin: datetime, when: datetime) -> float | None:
    line = fit(points, origin)
    if line is None:
        return None
    slope, intercept = line
    return intercept + slope * days_between(origin, when)


def pace_line(start: datetime, due: datetime, baseline: float, target: float) -> list[Point]:
    """The straight line from where the goal started to the target at the deadline."""
    return [(start, baseline), (due, target)]


def assess(
    *,
    history: list[Point],
    current: Point | None,
    origin: Point | None,
    start: datetime,
    due: datetime,
    target: float,
    now: datetime,
    reached: bool = False,
) -> Pace:
    """Judge a goal at `now`.

    `history` holds its daily values, `current` its value now (or at the deadline once that
    has passed), `origin` a known value at the start (0 LTZ for a running total).
    """
    value = current[1] if current is not None else None
    total = max(days_between(start, due), 1e-9)
    elapsed = min(max(days_between(start, now) / total, 0.0), 1.0)
    days_left = max(days_between(now, due), 0.0)
    known = ([origin] if origin else []) + list(history) + ([current] if current else [])
    baseline = known[0][1] if known else None
    pace_value = None if baseline is None else baseline + (target - baseline) * elapsed
    line = fit(known, start)
    per_day = line[0] if line else None
    ahead = forecast(known, start, due) if line else None
    fitted: tuple[Point, ...] = ()
    if line:
        first = min(moment for moment, _ in known)
        fitted = ((first, line[1] + line[0] * days_between(start, first)), (due, ahead))
    needed = None
    if value is not None and days_left > 0:
        needed = max(target - value, 0.0) / days_left

    percent = percent_of(value, target)
    if now < start:
        verdict = Verdict.NOT_STARTED
    elif reached or (percent is not None and percent >= 100):
        verdict = Verdict.ACHIEVED
    elif now >= due:
        verdict = Verdict.MISSED
    elif value is None:
        verdict = Verdict.NO_DATA
    elif ahead is None:
        verdict = Verdict.TOO_EARLY
    else:
        verdict = judge(ahead, target)
    return Pace(
        value,
        percent,
        elapsed,
        total,
        days_left,
        baseline,
        pace_value,
        ahead,
        per_day,
        needed,
        verdict,
        fitted,
    )


def judge(forecast_value: float, target: float) -> Verdict:
    """On track, at risk or behind, from the value forecast for the deadline."""
    if forecast_value >= target * (1 - TOLERANCE):
        return Verdict.ON_TRACK
    if forecast_value >= target * AT_RISK_SHARE:
        return Verdict.AT_RISK
    return Verdict.BEHIND


def new_milestones(percent: float | None, announced: list[str]) -> list[int]:
    """The milestones `percent` has reached that have not been announced yet, lowest first."""
    if percent is None:
        return []
    return [mark for mark in MILESTONES if percent >= mark and str(mark) not in announced]


def retarget_milestones(
    announced: list[str], old_target: float, new_target: float, value: float | None
) -> list[str]:
    """The announcement keys of a goal whose target changes from `old_target` to `new_target`,
    its value now being `value`.

    A milestone announced for the old target stays announced if the value is still at it
    against the new target, else it can be announced again once reached. The milestones of
    each target are remembered (as `"50@400.0"`), so going back to a target never repeats one
    already announced for it.
    """
    marks = {str(mark) for mark in MILESTONES}
    percent = percent_of(value, new_target)
    current = [key for key in announced if key in marks]
    old_tag, new_tag = f"@{float(old_target)!r}", f"@{float(new_target)!r}"
    restored = {key[: -len(new_tag)] for key in announced if key.endswith(new_tag)}
    still_true = {key for key in current if percent is not None and percent >= int(key)}
    kept = [
        key
        for key in announced
        if key not in marks and not key.endswith(new_tag) and not key.endswith(old_tag)
    ]
    archived = sorted(
        {key[: -len(old_tag)] for key in announced if key.endswith(old_tag)} | set(current),
        key=int,
    )
    now_announced = sorted(restored | still_true, key=int)
    return kept + [key + old_tag for key in archived] + now_announced


def progress_bar(percent: float | None, width: int = 20) -> str:
    if percent is None:
        return "░" * width
    filled = min(width, max(0, math.floor(percent * width / 100 + 1e-9)))
    return "█" * filled + "░" * (width - filled)


def _distinct(points: list[Point]) -> list[Point]:
    """One value per instant; a later one wins."""
    by_time: dict[datetime, float] = {}
    for moment, value in points:
        if value is not None:
            by_time[moment] = value
    return sorted(by_time.items())
