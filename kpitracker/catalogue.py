"""The sixteen built-in metrics: their names, units, kinds of value and better direction."""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass


class ValueType(enum.Enum):
    COUNT = "count"
    PERCENTAGE = "percentage"
    HOURS = "hours"
    DAYS = "days"


@dataclass(frozen=True)
class MetricInfo:
    name: str
    short: str
    description: str
    unit: str
    value_type: ValueType
    higher_is_better: bool

    def format(self, value: float | None) -> str:
        """The value as a person reads it: `no data`, `42`, `56.3%`, `12.5 h`."""
        if value is None:
            return "no data"
        if self.value_type is ValueType.PERCENTAGE:
            return f"{value:.1f}%"
        if self.value_type is ValueType.HOURS:
            return f"{value:.1f} h"
        if self.value_type is ValueType.DAYS:
            return f"{value:.1f} d"
        if float(value).is_integer():
            return f"{int(value):,}"
        return f"{value:,.2f}"


_C, _P, _H, _D = ValueType.COUNT, ValueType.PERCENTAGE, ValueType.HOURS, ValueType.DAYS

METRICS: dict[str, MetricInfo] = {
    info.name: info
    for info in (
        MetricInfo("daily_active_users", "dau", "Users who claimed in 24h", "users", _C, True),
        MetricInfo("weekly_active_users", "wau", "Users who claimed in 7 days", "users", _C, True),
        MetricInfo("streak_retention", "streak", "% maintaining streaks", "%", _P, True),
        MetricInfo("new_user_conversion", "conversion", "% of new users engaging", "%", _P, True),
        MetricInfo("voice_participation", "voice", "% using voice channels", "%", _P, True),
        MetricInfo("reward_efficiency", "efficiency", "Avg LTZ per active user", "LTZ", _C, True),
        MetricInfo("churn_rate", "churn", "% becoming inactive", "%", _P, False),
        MetricInfo("top_10_concentration", "top10", "% LTZ held by top 10%", "%", _P, False),
        MetricInfo(
            "triggered_event_rate", "events", "Events triggered per day", "events/day", _C, True
        ),
        MetricInfo(
            "events_per_active_user", "epau", "Average events per active user", "events", _C, True
        ),
        MetricInfo(
            "time_to_first_reward", "ttfr", "Median hours to first reward", "hours", _H, False
        ),
        MetricInfo(
            "time_to_first_reward_pct", "ttfr_pct", "% rewarded within first day", "%", _P, True
        ),
        MetricInfo(
            "repeat_event_rate", "repeat", "Average events per rewarded user", "events", _C, True
        ),
        MetricInfo("repeat_event_rate_pct", "repeat_pct", "% triggering 3+ events", "%", _P, True),
        MetricInfo("avg_streak_length", "streak_len", "Average streak length", "days", _D, True),
        MetricInfo(
            "streak_break_frequency", "streak_breaks", "% of streaks that break", "%", _P, False
        ),
    )
}

SHORT_NAMES: dict[str, str] = {info.short: info.name for info in METRICS.values()}

PERIOD_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30, "quarter": 90}
DEFAULT_PERIOD = "week"


def clip(text: str, limit: int = 60) -> str:
    """Bad input echoed back, short enough for a reply and never a wall of text."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class UnknownMetricError(ValueError):
    """A metric name that is neither a full nor a short name; the message suggests one."""


def closest(word: str, choices: list[str]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.4)
    return found[0] if found else None


def resolve_metric(name: str) -> str:
    """The full metric name for a full or short name, or an error naming the closest one."""
    key = name.strip().lower()
    if key in METRICS:
        return key
    if key in SHORT_NAMES:
        return SHORT_NAMES[key]
    suggestion = closest(key, [*METRICS, *SHORT_NAMES])
    hint = f" Did you mean `{SHORT_NAMES.get(suggestion, suggestion)}`?" if suggestion else ""
    raise UnknownMetricError(f"`{clip(name)}` is not a metric.{hint}")


def resolve_period(name: str) -> str:
    key = name.strip().lower()
    if key not in PERIOD_DAYS:
        raise ValueError(
            f"`{clip(name)}` is not a period; use one of day, week, month or quarter."
        )
    return key
