"""The alerts a server has configured, as stored in Config, and what each one sees at a moment.

A KPI alert belongs to a KPI with an alert threshold; its settings (frequency, severity,
channel, escalation, anti-flap) live beside the KPI under the same metric name. A compound
alert is a named set of conditions under AND or OR. Both become an `AlertSpec`, which turns
the metric values of a moment into a `Sight`: the reading for the state machine, the value,
and the words for messages and history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Mapping

from .alerts import (
    DEFAULT_COOLDOWN_MINUTES,
    DEFAULT_FREQUENCY,
    DEFAULT_RECOVERY_MARGIN,
    DEFAULT_RESOLVE_AFTER_MINUTES,
    DEFAULT_SEVERITY,
    Behaviour,
    Reading,
    alert_line,
    read_kpi,
    read_truth,
    recovery_line,
)
from .catalogue import MetricInfo
from .conditions import Condition, describe, evaluate

KPI_PREFIX = "kpi:"
COMPOUND_PREFIX = "compound:"
MAX_COMPOUND_ALERTS = 50
DEFAULT_PERIOD = "week"


@dataclass
class KpiAlertSettings:
    """How a KPI's alert behaves; its threshold is the KPI's own `alert_threshold`."""

    frequency: str = DEFAULT_FREQUENCY
    severity: str = DEFAULT_SEVERITY
    channel_id: int | None = None
    escalation_days: float | None = None
    escalation_role_id: int | None = None
    recovery_margin: float = DEFAULT_RECOVERY_MARGIN
    resolve_after: float = DEFAULT_RESOLVE_AFTER_MINUTES  # minutes
    cooldown: float = DEFAULT_COOLDOWN_MINUTES  # minutes after resolving before it may fire

    def to_config(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_config(cls, data: Mapping | None) -> "KpiAlertSettings":
        known = {
            key: value for key, value in (data or {}).items() if key in cls.__dataclass_fields__
        }
        return cls(**known)

    @property
    def behaviour(self) -> Behaviour:
        return Behaviour(
            self.severity,
            timedelta(minutes=self.resolve_after),
            self.escalation_days,
            timedelta(minutes=self.cooldown),
        )


@dataclass
class CompoundAlert:
    name: str
    conditions: list[Condition]
    logic: str = "AND"
    severity: str = DEFAULT_SEVERITY
    frequency: str = DEFAULT_FREQUENCY
    channel_id: int | None = None
    enabled: bool = True
    written: str = ""  # the conditions as typed
    resolve_after: float = DEFAULT_RESOLVE_AFTER_MINUTES

    @property
    def key(self) -> str:
        return COMPOUND_PREFIX + self.name.casefold()

    @property
    def behaviour(self) -> Behaviour:
        return Behaviour(self.severity, timedelta(minutes=self.resolve_after), None)

    def to_config(self) -> dict:
        data = dict(self.__dict__)
        data["conditions"] = [condition.to_config() for condition in self.conditions]
        return data

    @classmethod
    def from_config(cls, data: Mapping) -> "CompoundAlert":
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        known["conditions"] = [Condition.from_config(item) for item in data["conditions"]]
        return cls(**known)


def compound_key(name: str) -> str:
    return name.casefold()


@dataclass(frozen=True)
class Sight:
    """What one alert saw at one moment."""

    reading: Reading
    value: float | None
    text: str  # e.g. "`daily_active_users` is 72, below its alert line of 80 (…)"
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AlertSpec:
    """One alert to evaluate: a KPI alert (`metric` set) or a compound alert (`compound`)."""

    key: str
    behaviour: Behaviour
    frequency: str
    channel_id: int | None
    escalation_role_id: int | None = None
    metric: str | None = None
    info: MetricInfo | None = None
    target: float = 0.0
    threshold: float = 0.0
    margin: float = 0.0
    period: str = DEFAULT_PERIOD
    compound: CompoundAlert | None = None
    periods: Mapping[str, str] = field(default_factory=dict)  # compound: metric -> period

    def needed_periods(self) -> set[str]:
        if self.compound is not None:
            return set(self.periods.values()) or {DEFAULT_PERIOD}
        return {self.period}

    def observe(self, values: Mapping[str, Mapping[str, float | None]]) -> Sight:
        """Read the alert from every metric's values by period, as `metric_values` gives them."""
        if self.compound is not None:
            return self._observe_compound(values)
        return self._observe_kpi(values.get(self.period, {}).get(self.metric))

    def _observe_kpi(self, value: float | None) -> Sight:
        info = self.info
        higher = info.higher_is_better
        reading = read_kpi(value, self.target, self.threshold, self.margin, higher)
        line = alert_line(self.target, self.threshold)
        back = recovery_line(self.target, self.threshold, self.margin, higher)
        name = f"`{self.metric}`"
        of_target = f"{self.threshold:g}% of the {info.format(self.target)} target, {self.period}"
        if reading is Reading.NO_DATA:
            text = f"{name} has no data (alert line {info.format(line)})"
        elif reading is Reading.BREACHED:
            side = "below" if higher else "above"
            text = (
                f"{name} is {info.format(value)}, {side} its alert line of "
                f"{info.format(line)} ({of_target})"
            )
        else:
            recovers = "recovered" if reading is Reading.RECOVERED else "recovers"
            text = (
                f"{name} is {info.format(value)} (alert line {info.format(line)}, "
                f"{recovers} at {info.format(back)})"
            )
        detail = {
            "value": value,
            "line": line,
            "recovery_line": back,
            "target": self.target,
            "threshold": self.threshold,
            "period": self.period,
        }
        return Sight(reading, value, text, detail)

    def _observe_compound(self, values: Mapping[str, Mapping[str, float | None]]) -> Sight:
        alert = self.compound
        current = {
            condition.metric: values.get(
                self.periods.get(condition.metric, DEFAULT_PERIOD), {}
            ).get(condition.metric)
            for condition in alert.conditions
        }
        holds = evaluate(alert.conditions, alert.logic, current)
        parts, rows = [], []
        for condition in alert.conditions:
            value = current[condition.metric]
            result = condition.holds(value)
            if value is None:
                parts.append(f"`{condition.text}` no data")
            else:
                parts.append(f"`{condition.text}` {_number(value)} {'✓' if result else '✗'}")
            rows.append({"condition": condition.text, "value": value, "holds": result})
        verdict = {
            True: "conditions hold",
            False: "conditions do not hold",
            None: "not enough data",
        }[holds]
        text = f"**{alert.name}** ({alert.logic}, {verdict}): " + " · ".join(parts)
        return Sight(
            read_truth(holds),
            None,
            text,
            {"logic": alert.logic, "holds": holds, "conditions": rows},
        )


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def kpi_spec(
    metric: str,
    target: float,
    threshold: float,
    period: str,
    info: MetricInfo,
    settings: KpiAlertSettings,
) -> AlertSpec:
    return AlertSpec(
        key=KPI_PREFIX + metric,
        behaviour=settings.behaviour,
        frequency=settings.frequency,
        channel_id=settings.channel_id,
        escalation_role_id=settings.escalation_role_id,
        metric=metric,
        info=info,
        target=target,
        threshold=threshold,
        margin=settings.recovery_margin,
        period=period,
    )


def compound_spec(alert: CompoundAlert, kpi_periods: Mapping[str, str]) -> AlertSpec:
    """A compound alert reads each metric over its KPI's period, or a week without a KPI."""
    periods = {
        condition.metric: kpi_periods.get(condition.metric, DEFAULT_PERIOD)
        for condition in alert.conditions
    }
    return AlertSpec(
        key=alert.key,
        behaviour=alert.behaviour,
        frequency=alert.frequency,
        channel_id=alert.channel_id,
        compound=alert,
        periods=periods,
    )


def conditions_text(alert: CompoundAlert) -> str:
    return describe(alert.conditions, alert.logic)
