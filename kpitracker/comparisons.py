"""Period comparisons: a metric's current value against its mean over a baseline range of days.

The baseline of a metric over the days `start..end` (both included) is the mean of its daily
values on the days that have one. A day's value is the metric read at 00:00 UTC of the next
day over the comparison's period (the metric's KPI period, or a week without a KPI), exactly
as the nightly snapshot reads it. It is taken from the day's stored snapshot where that holds
it and computed from the ledger where not. Days with no data are left out of the mean; a
range with no data at all has no baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from .catalogue import METRICS, MetricInfo

MAX_BASELINE_DAYS = 366
# Changes smaller than this (in percent) are shown as level.
LEVEL_PERCENT = 0.05


class ComparisonError(ValueError):
    """A baseline range that cannot be used; the message says why."""


@dataclass(frozen=True)
class Comparison:
    metric: str
    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [
            self.start + timedelta(days=offset)
            for offset in range((self.end - self.start).days + 1)
        ]

    def to_config(self) -> dict:
        return {"baseline_start": self.start.isoformat(), "baseline_end": self.end.isoformat()}

    @classmethod
    def from_config(cls, metric: str, data: dict) -> "Comparison":
        return cls(
            metric,
            date.fromisoformat(data["baseline_start"]),
            date.fromisoformat(data["baseline_end"]),
        )

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


@dataclass(frozen=True)
class Baseline:
    value: float | None
    days: int
    days_with_data: int
    days_from_snapshots: int


def check_range(start: date, end: date, today: date) -> None:
    """Refuse a reversed, future, unfinished or too long baseline range."""
    yesterday = today - timedelta(days=1)
    if end < start:
        raise ComparisonError(
            f"`baseline_start` {start} is after `baseline_end` {end}; swap them."
        )
    if start > yesterday:
        raise ComparisonError(
            f"The baseline {start} to {end} is in the future; choose days up to {yesterday}."
        )
    if end > yesterday:
        raise ComparisonError(
            f"`baseline_end` {end} has not ended yet; a baseline ends by yesterday, {yesterday}."
        )
    length = (end - start).days + 1
    if length > MAX_BASELINE_DAYS:
        raise ComparisonError(
            f"The baseline spans {length} days; the limit is {MAX_BASELINE_DAYS} days."
        )


def day_end(day: date) -> datetime:
    """00:00 UTC of the day after `day`: the instant a day's value is read at."""
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)


def value_from_snapshot(content: dict, metric: str, period: str) -> tuple[bool, float | None]:
    """A built-in metric's value in a stored snapshot for `period`, and whether it holds one.

    The KPI entry is used when the KPI had the same period that day; the `values` block holds
    every built-in metric at the week period.
    """
    entry = (content.get("kpis") or {}).get(metric)
    if isinstance(entry, dict) and entry.get("period") == period and "value" in entry:
        return True, entry["value"]
    values = content.get("values")
    if period == "week" and isinstance(values, dict) and metric in values:
        return True, values[metric]
    return False, None


def builtin_values_from_snapshot(content: dict, period: str) -> dict[str, float | None] | None:
    """Every built-in value of a snapshot at `period`, or None when it does not hold them all."""
    values = content.get("values")
    if period != "week" or not isinstance(values, dict) or not set(METRICS) <= set(values):
        return None
    return {name: values[name] for name in METRICS}


def mean_baseline(daily: list[tuple[float | None, bool]]) -> Baseline:
    """The baseline from each day's (value, came from a snapshot)."""
    present = [value for value, _ in daily if value is not None]
    return Baseline(
        sum(present) / len(present) if present else None,
        len(daily),
        len(present),
        sum(1 for _, from_snapshot in daily if from_snapshot),
    )


def change_percent(current: float | None, baseline: float | None) -> float | None:
    """The change from baseline to current in percent; None for no data or a zero baseline."""
    if current is None or baseline is None or baseline == 0:
        return None
    return (current - baseline) / abs(baseline) * 100


def trend(current: float | None, baseline: float | None) -> str | None:
    """↑, ↓ or → from baseline to current; None when either has no data."""
    if current is None or baseline is None:
        return None
    change = change_percent(current, baseline)
    if current == baseline or (change is not None and abs(change) < LEVEL_PERCENT):
        return "→"
    return "↑" if current > baseline else "↓"


def comparison_line(
    info: MetricInfo,
    comparison: Comparison,
    period: str,
    current: float | None,
    baseline: Baseline,
) -> str:
    """One line: current value, baseline value and range, change in percent and direction."""
    arrow = trend(current, baseline.value)
    change = change_percent(current, baseline.value)
    if baseline.value is None:
        shift = "change n/a (no baseline data)"
    elif baseline.value == 0:
        shift = "change n/a (baseline is 0)"
    elif current is None:
        shift = "change n/a (no data now)"
    elif arrow == "→":
        shift = "→ level"
    else:
        better = (current > baseline.value) is info.higher_is_better
        shift = f"{arrow} {change:+.1f}% ({'better' if better else 'worse'})"
    return (
        f"`{info.name}` ({period}): now **{info.format(current)}** · baseline "
        f"{info.format(baseline.value)} ({comparison.label}) · {shift}"
    )
