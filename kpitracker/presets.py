"""Presets: ready-made KPI configurations, and servers' own saved ones, with what applying does.

Four types, as the product page names them:

- industry templates: a KPI set with alert thresholds for one kind of community;
- KPI sets: KPIs without alert thresholds, from the page's dashboard advice;
- alert configs: alert thresholds for KPIs a server already has;
- custom: a server's whole saved configuration (KPIs, the custom metrics they use, alert
  settings).

Industry templates and KPI sets add or change the KPIs they name and leave the others alone.
Alert configs change only thresholds. A custom preset restores the configuration it saved, so
KPIs it does not hold are removed; that is what makes the preset saved automatically before
every apply an undo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .catalogue import METRICS
from .custom_metrics import CustomMetricError, check, definitions_from_config

TYPES = {
    "industry": "Industry templates",
    "kpi_set": "KPI sets",
    "alert_config": "Alert configs",
    "custom": "Custom",
}
MAX_NAME_LENGTH = 50
MAX_DESCRIPTION_LENGTH = 200
MAX_PRESETS_PER_SERVER = 20
MAX_UNDO_PRESETS = 5


class PresetError(ValueError):
    """A preset that cannot be saved or applied as asked; the message says why."""


def kpi(target: float, alert_threshold: float | None = None, period: str = "week") -> dict:
    """A KPI's stored settings, as `Kpi.to_config` writes them."""
    return {
        "target_value": float(target),
        "period": period,
        "alert_threshold": None if alert_threshold is None else float(alert_threshold),
        "is_active": True,
    }


@dataclass
class Preset:
    name: str
    type: str
    description: str = ""
    kpis: dict[str, dict] = field(default_factory=dict)
    alert_thresholds: dict[str, float] = field(default_factory=dict)
    custom_metrics: dict[str, dict] = field(default_factory=dict)
    alerts: dict[str, object] = field(default_factory=dict)
    owner_id: int | None = None
    public: bool = False
    automatic: bool = False
    created_at: str | None = None

    @property
    def built_in(self) -> bool:
        return self.owner_id is None

    @property
    def key(self) -> str:
        return name_key(self.name)

    def to_config(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "kpis": self.kpis,
            "alert_thresholds": self.alert_thresholds,
            "custom_metrics": self.custom_metrics,
            "alerts": self.alerts,
            "owner_id": self.owner_id,
            "public": self.public,
            "automatic": self.automatic,
            "created_at": self.created_at,
        }

    @classmethod
    def from_config(cls, data: dict) -> "Preset":
        return cls(
            name=data["name"],
            type=data.get("type", "custom"),
            description=data.get("description", ""),
            kpis=dict(data.get("kpis") or {}),
            alert_thresholds=dict(data.get("alert_thresholds") or {}),
            custom_metrics=dict(data.get("custom_metrics") or {}),
            alerts=dict(data.get("alerts") or {}),
            owner_id=data.get("owner_id"),
            public=bool(data.get("public", False)),
            automatic=bool(data.get("automatic", False)),
            created_at=data.get("created_at"),
        )


def name_key(name: str) -> str:
    """Preset names are compared without case and without repeated spaces."""
    return " ".join(name.split()).casefold()


# Targets are the page's "typical target" column; thresholds its "Alert Thresholds" table
# (80 % for active users, 75 % for streak retention, 70 % for conversion, 120 % for churn),
# with 120 % used for every lower-is-better metric and 80 % for the remaining higher-is-better.
BUILT_IN: tuple[Preset, ...] = (
    Preset(
        "Gaming Community",
        "industry",
        "Daily play, streaks, voice and events for game servers and guilds.",
        kpis={
            "daily_active_users": kpi(100, 80),
            "streak_retention": kpi(60, 75),
            "voice_participation": kpi(30, 80),
            "events_per_active_user": kpi(2.5),
            "churn_rate": kpi(20, 120),
        },
    ),
    Preset(
        "NFT Project",
        "industry",
        "Holder growth, onboarding and a healthy spread of LTZ for an NFT community.",
        kpis={
            "weekly_active_users": kpi(500, 80),
            "new_user_conversion": kpi(50, 70),
            "top_10_concentration": kpi(40, 120),
            "churn_rate": kpi(20, 120),
        },
    ),
    Preset(
        "DeFi Protocol",
        "industry",
        "Weekly users, retention, fast first rewards and fair distribution for a protocol.",
        kpis={
            "weekly_active_users": kpi(500, 80),
            "churn_rate": kpi(20, 120),
            "top_10_concentration": kpi(40, 120),
            "time_to_first_reward_pct": kpi(70, 80),
            "repeat_event_rate_pct": kpi(40),
        },
    ),
    Preset(
        "Creator Community",
        "industry",
        "Onboarding, daily fans and repeat participation for a creator's server.",
        kpis={
            "daily_active_users": kpi(100, 80),
            "new_user_conversion": kpi(50, 70),
            "streak_retention": kpi(60, 75),
            "repeat_event_rate": kpi(4),
            "voice_participation": kpi(30),
        },
    ),
    Preset(
        "Education",
        "industry",
        "Study habits: streaks, steady attendance and onboarding for a learning server.",
        kpis={
            "daily_active_users": kpi(100, 80),
            "streak_retention": kpi(60, 75),
            "avg_streak_length": kpi(7),
            "streak_break_frequency": kpi(30, 120),
            "new_user_conversion": kpi(50, 70),
        },
    ),
    Preset(
        "Start Simple",
        "kpi_set",
        "The three core KPIs to begin with, as for an active community.",
        kpis={
            "daily_active_users": kpi(100),
            "streak_retention": kpi(60),
            "new_user_conversion": kpi(50),
        },
    ),
    Preset(
        "Growing Communities",
        "kpi_set",
        "Growth, retention and distribution health for a community that is growing.",
        kpis={
            "weekly_active_users": kpi(500),
            "churn_rate": kpi(20),
            "top_10_concentration": kpi(40),
        },
    ),
    Preset(
        "Recommended Alert Thresholds",
        "alert_config",
        "The recommended thresholds, for the KPIs this server already has.",
        alert_thresholds={
            "daily_active_users": 80.0,
            "streak_retention": 75.0,
            "new_user_conversion": 70.0,
            "churn_rate": 120.0,
        },
    ),
)
BUILT_IN_KEYS = {preset.key for preset in BUILT_IN}


def check_new_name(name: str) -> str:
    """The cleaned name for a server's preset, or a sentence saying why it cannot be used."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise PresetError('Give the preset a name, like `name:"My Server Config"`.')
    if len(cleaned) > MAX_NAME_LENGTH:
        raise PresetError(
            f"The name is {len(cleaned)} characters; the limit is {MAX_NAME_LENGTH}."
        )
    if name_key(cleaned) in BUILT_IN_KEYS:
        raise PresetError(f"`{cleaned}` is a built-in preset; choose another name.")
    return cleaned


@dataclass
class ApplyPlan:
    """What applying a preset does: the resulting settings and the differences, by metric."""

    kpis: dict[str, dict]
    custom_metrics: dict[str, dict]
    alerts: dict[str, object]
    added: list[str] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    metrics_added: list[str] = field(default_factory=list)
    metrics_changed: list[str] = field(default_factory=list)
    metrics_removed: list[str] = field(default_factory=list)
    # What differs in each changed custom metric: `formula a → b, lower is better`.
    metric_differences: dict[str, str] = field(default_factory=dict)

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.added
            or self.changed
            or self.removed
            or self.metrics_added
            or self.metrics_changed
            or self.metrics_removed
            or self.alerts
        )


def describe_change(old: dict, new: dict) -> str:
    """`target 25 → 20, alert 110% → 120%` for the settings that differ."""
    parts = []
    if old.get("target_value") != new.get("target_value"):
        parts.append(f"target {old.get('target_value'):g} → {new.get('target_value'):g}")
    if old.get("period") != new.get("period"):
        parts.append(f"period {old.get('period')} → {new.get('period')}")
    if old.get("alert_threshold") != new.get("alert_threshold"):
        parts.append(f"alert {_threshold(old)} → {_threshold(new)}")
    if old.get("is_active", True) != new.get("is_active", True):
        parts.append("enabled" if new.get("is_active", True) else "disabled")
    return ", ".join(parts)


def describe_metric_change(old: dict, new: dict) -> str:
    """What differs in a custom metric: `formula dau → dau*2, unit count → percentage`."""
    parts = []
    if old.get("formula") != new.get("formula"):
        parts.append(f"formula `{old.get('formula')}` → `{new.get('formula')}`")
    if old.get("unit", "count") != new.get("unit", "count"):
        parts.append(f"unit {old.get('unit', 'count')} → {new.get('unit', 'count')}")
    if old.get("higher_is_better", True) != new.get("higher_is_better", True):
        parts.append(f"{'higher' if new.get('higher_is_better', True) else 'lower'} is better")
    if old.get("name") != new.get("name") and not parts:
        parts.append(f"name {old.get('name')} → {new.get('name')}")
    return ", ".join(parts)


def _threshold(settings: dict) -> str:
    value = settings.get("alert_threshold")
    return "none" if value is None else f"{value:g}%"


def plan_apply(
    preset: Preset,
    current_kpis: dict[str, dict],
    current_metrics: dict[str, dict],
    current_alerts: dict[str, object] | None = None,
    *,
    restore_metrics: bool = False,
) -> ApplyPlan:
    """The settings after applying `preset`, and what changes; `PresetError` if it cannot be.

    `current_alerts` are the server's alert settings by Config key, given only on the server
    that saved the preset: alert settings are restored only there, since they
    may name that server's channels and roles. With `restore_metrics` (also only on that
    server) a custom preset restores the custom metrics exactly, removing those it does not
    hold, so that applying the preset saved before an apply undoes it completely.
    """
    metrics = dict(current_metrics)
    plan = ApplyPlan(kpis={}, custom_metrics=metrics, alerts={})
    for key, definition in preset.custom_metrics.items():
        if key not in metrics:
            plan.metrics_added.append(key)
        elif metrics[key] != definition:
            plan.metrics_changed.append(key)
            plan.metric_differences[key] = describe_metric_change(metrics[key], definition)
        metrics[key] = definition
    if preset.type == "custom" and restore_metrics:
        plan.metrics_removed = sorted(
            key for key in current_metrics if key not in preset.custom_metrics
        )
        for key in plan.metrics_removed:
            del metrics[key]
    try:
        check(definitions_from_config(metrics))
    except CustomMetricError as error:
        raise PresetError(f"The preset's custom metrics do not fit this server: {error}") from None

    if preset.type == "alert_config":
        kpis = {metric: dict(settings) for metric, settings in current_kpis.items()}
        for metric, threshold in preset.alert_thresholds.items():
            if metric not in kpis:
                plan.skipped.append((metric, "no KPI for it here"))
                continue
            new = {**kpis[metric], "alert_threshold": float(threshold)}
            _compare(plan, metric, kpis[metric], new)
            kpis[metric] = new
        plan.kpis = kpis
        return plan

    kpis = {} if preset.type == "custom" else {m: dict(s) for m, s in current_kpis.items()}
    for metric, settings in preset.kpis.items():
        if metric not in METRICS and metric not in metrics:
            plan.skipped.append((metric, "not a metric here"))
            continue
        old = current_kpis.get(metric)
        if old is None:
            plan.added.append(metric)
        else:
            _compare(plan, metric, old, settings)
        kpis[metric] = dict(settings)
    if preset.type == "custom":
        plan.removed = sorted(metric for metric in current_kpis if metric not in kpis)
        if current_alerts is not None:
            plan.alerts = {
                key: value
                for key, value in preset.alerts.items()
                if current_alerts.get(key) != value
            }
    plan.kpis = kpis
    return plan


def _compare(plan: ApplyPlan, metric: str, old: dict, new: dict) -> None:
    difference = describe_change(old, new)
    if difference:
        plan.changed.append((metric, difference))
    else:
        plan.unchanged.append(metric)


def saved_configuration(
    name: str,
    description: str,
    owner_id: int,
    kpis: dict[str, dict],
    custom_metrics: dict[str, dict],
    alerts: dict[str, object],
    created_at: str,
    *,
    public: bool = False,
    automatic: bool = False,
) -> Preset:
    """A custom preset holding a server's current configuration."""
    return Preset(
        name,
        "custom",
        description,
        kpis={metric: dict(settings) for metric, settings in kpis.items()},
        custom_metrics={key: dict(value) for key, value in custom_metrics.items()},
        alerts=dict(alerts),
        owner_id=owner_id,
        public=public,
        automatic=automatic,
        created_at=created_at,
    )


UNDO_SUFFIX = re.compile(r" \d{4}-\d{2}-\d{2} \d{2}:\d{2}(?: \(\d+\))?$")


def undo_name(applied: Preset, stamp: str, taken: set[str]) -> str:
    """A free name, within the name limit, for the configuration saved before applying `applied`.

    Undoing an undo names the original preset again rather than `Before Before …`.
    """
    label = applied.name
    if applied.automatic and label.startswith("Before "):
        label = UNDO_SUFFIX.sub("", label[len("Before ") :]) or label
    number = 1
    while True:
        suffix = f" {stamp}" + (f" ({number})" if number > 1 else "")
        room = MAX_NAME_LENGTH - len("Before ") - len(suffix)
        shown = label if len(label) <= room else label[: room - 1].rstrip() + "…"
        name = f"Before {shown}{suffix}"
        if name_key(name) not in taken:
            return name
        number += 1


def oldest_automatic(presets: list[Preset], keep: int = MAX_UNDO_PRESETS) -> list[Preset]:
    """The automatically saved presets past the newest `keep`, to delete."""
    automatic = sorted(
        (preset for preset in presets if preset.automatic),
        key=lambda preset: preset.created_at or "",
    )
    return automatic[: max(0, len(automatic) - keep)]
