"""A KPI: a metric with a target, a period and an alert threshold, and how it is judged."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field

from .catalogue import METRICS, MetricInfo, ValueType


@dataclass
class Kpi:
    metric: str
    target_value: float
    period: str = "week"
    alert_threshold: float | None = None
    is_active: bool = True
    # A custom metric's info, which lives in the server's settings rather than the catalogue.
    metric_info: MetricInfo | None = field(default=None, repr=False, compare=False)

    @property
    def info(self) -> MetricInfo:
        if self.metric_info is not None:
            return self.metric_info
        if self.metric in METRICS:
            return METRICS[self.metric]
        # A custom metric read without its settings: judged as a count, higher is better.
        return MetricInfo(self.metric, self.metric, "custom metric", "", ValueType.COUNT, True)

    def to_config(self) -> dict:
        data = asdict(self)
        del data["metric"]
        del data["metric_info"]
        return data

    @classmethod
    def from_config(cls, metric: str, data: dict, info: MetricInfo | None = None) -> "Kpi":
        known = {
            key: data[key]
            for key in ("target_value", "period", "alert_threshold", "is_active")
            if key in data
        }
        return cls(metric=metric, **known, metric_info=info)


class Status(enum.Enum):
    ACHIEVED = ("✅", "achieved")
    BEHIND = ("🟡", "behind target")
    ALERT = ("🔴", "past the alert threshold")
    NO_DATA = ("⚪", "no data")

    @property
    def icon(self) -> str:
        return self.value[0]

    @property
    def label(self) -> str:
        return self.value[1]


def is_achieved(kpi: Kpi, value: float | None) -> bool | None:
    if value is None:
        return None
    if kpi.info.higher_is_better:
        return value >= kpi.target_value
    return value <= kpi.target_value


def alert_line(kpi: Kpi) -> float | None:
    """The value past which the KPI is in alert: target x threshold / 100."""
    if kpi.alert_threshold is None:
        return None
    return kpi.target_value * kpi.alert_threshold / 100


def is_alerting(kpi: Kpi, value: float | None) -> bool | None:
    """Higher-is-better metrics alert below the line, lower-is-better ones above it."""
    line = alert_line(kpi)
    if value is None or line is None:
        return None if value is None else False
    return value < line if kpi.info.higher_is_better else value > line


def achievement(kpi: Kpi, value: float | None) -> float | None:
    """How much of the target is met, in percent; for lower-is-better, target over actual."""
    if value is None:
        return None
    if kpi.info.higher_is_better:
        return 100.0 * value / kpi.target_value if kpi.target_value else None
    if value == 0:
        return 100.0 if kpi.target_value >= 0 else None
    return 100.0 * kpi.target_value / value


def status(kpi: Kpi, value: float | None) -> Status:
    if value is None:
        return Status.NO_DATA
    if is_achieved(kpi, value):
        return Status.ACHIEVED
    if is_alerting(kpi, value):
        return Status.ALERT
    return Status.BEHIND


def setting_problem(info: MetricInfo, target: float, threshold: float | None) -> str | None:
    """Why a target or threshold makes no sense for a metric, or None when both do.

    A higher-is-better metric alerts below target x threshold / 100, so a threshold above 100
    would alert while the target is met; a lower-is-better one alerts above that line, so its
    threshold is above 100.
    """
    if info.value_type is ValueType.PERCENTAGE and target > 100:
        return f"`{info.name}` is a percentage, so its target must be at most 100, not {target:g}."
    if threshold is None:
        return None
    if info.higher_is_better and threshold > 100:
        return (
            f"`{info.name}` is better when higher, so it alerts below a share of its target: "
            f"give a threshold of at most 100, like 80, not {threshold:g}."
        )
    if not info.higher_is_better and threshold < 100:
        return (
            f"`{info.name}` is better when lower, so it alerts above a multiple of its target: "
            f"give a threshold of at least 100, like 120, not {threshold:g}."
        )
    return None
