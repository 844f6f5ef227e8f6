"""What the preset commands say: a preset's contents and the differences an apply makes."""

from __future__ import annotations

from .catalogue import METRICS
from .presets import ApplyPlan, Preset

TYPE_SINGULAR = {
    "industry": "industry template",
    "kpi_set": "KPI set",
    "alert_config": "alert config",
    "custom": "custom preset",
}


def _format(metric: str, value: float) -> str:
    return METRICS[metric].format(value) if metric in METRICS else f"{value:g}"


def _kpi_text(metric: str, settings: dict) -> str:
    text = (
        f"target {_format(metric, settings['target_value'])} per {settings.get('period', 'week')}"
    )
    if settings.get("alert_threshold") is not None:
        text += f", alert at {settings['alert_threshold']:g}%"
    if not settings.get("is_active", True):
        text += ", disabled"
    return text


def describe_preset(preset: Preset, owner: str) -> list[str]:
    lines = [f"**{preset.name}** · {TYPE_SINGULAR.get(preset.type, preset.type)} · {owner}"]
    if preset.description:
        lines.append(preset.description)
    if preset.kpis:
        lines.append("KPIs:")
        lines += [f"- `{m}`: {_kpi_text(m, s)}" for m, s in sorted(preset.kpis.items())]
    if preset.alert_thresholds:
        lines.append("Alert thresholds, for KPIs the server has:")
        lines += [f"- `{m}`: {t:g}% of target" for m, t in sorted(preset.alert_thresholds.items())]
    if preset.custom_metrics:
        lines.append("Custom metrics:")
        lines += [
            f"- `{key}` ({data.get('name', key)}) = `{data.get('formula', '')}`"
            for key, data in sorted(preset.custom_metrics.items())
        ]
    if preset.alerts:
        lines.append("Alert settings: " + ", ".join(f"`{key}`" for key in sorted(preset.alerts)))
    return lines


def describe_plan(plan: ApplyPlan) -> list[str]:
    lines = []
    if plan.added:
        lines.append(f"Added ({len(plan.added)}):")
        lines += [f"- `{m}`: {_kpi_text(m, plan.kpis[m])}" for m in plan.added]
    if plan.changed:
        lines.append(f"Changed ({len(plan.changed)}):")
        lines += [f"- `{m}`: {change}" for m, change in plan.changed]
    if plan.unchanged:
        lines.append(
            f"Unchanged ({len(plan.unchanged)}): " + ", ".join(f"`{m}`" for m in plan.unchanged)
        )
    if plan.removed:
        lines.append(
            f"Removed ({len(plan.removed)}): " + ", ".join(f"`{m}`" for m in plan.removed)
        )
    if plan.metrics_added:
        lines.append("Custom metrics added: " + ", ".join(f"`{k}`" for k in plan.metrics_added))
    if plan.metrics_changed:
        lines.append(
            "Custom metrics changed: "
            + ", ".join(_metric_change(plan, k) for k in plan.metrics_changed)
        )
    if plan.metrics_removed:
        lines.append(
            "Custom metrics removed: " + ", ".join(f"`{k}`" for k in plan.metrics_removed)
        )
    if plan.alerts:
        lines.append(
            "Alert settings restored: " + ", ".join(f"`{k}`" for k in sorted(plan.alerts))
        )
    if plan.skipped:
        lines.append("Skipped: " + ", ".join(f"`{m}` ({why})" for m, why in plan.skipped))
    return lines


def _metric_change(plan: ApplyPlan, key: str) -> str:
    difference = plan.metric_differences.get(key)
    return f"`{key}` ({difference})" if difference else f"`{key}`"
