"""Custom metrics: a server's named formulas over the built-in metrics and each other.

A custom metric has a display name ("Engagement Score") and a key derived from it
(`engagement_score`): the key is what formulas, KPIs, alerts and commands use. Definitions are
stored per server in Red's Config under `custom_metrics`, keyed by the key. Their values are
computed from the built-in values of the same instant and period, in dependency order.
"""

from __future__ import annotations

import graphlib
import keyword
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

from .catalogue import (
    METRICS,
    SHORT_NAMES,
    MetricInfo,
    UnknownMetricError,
    ValueType,
    clip,
    closest,
    resolve_metric,
)
from .formula import FUNCTIONS, Evaluation, Formula, FormulaError, evaluate, parse_formula

MAX_NAME_LENGTH = 50
MAX_KEY_LENGTH = 32
MAX_CUSTOM_METRICS = 25

UNITS: dict[str, tuple[ValueType, str]] = {
    "count": (ValueType.COUNT, "count"),
    "percentage": (ValueType.PERCENTAGE, "%"),
    "hours": (ValueType.HOURS, "hours"),
    "days": (ValueType.DAYS, "days"),
}
# Names a formula cannot read as a metric: the evaluator keeps `print` for itself.
RESERVED_NAMES = frozenset({"print"})
UNIT_ALIASES = {"percent": "percentage", "%": "percentage", "pct": "percentage"}


class CustomMetricError(ValueError):
    """A custom metric that cannot be defined as asked; the message says why."""


@dataclass(frozen=True)
class CustomMetric:
    key: str
    name: str
    formula: str
    unit: str = "count"
    higher_is_better: bool = True

    @property
    def info(self) -> MetricInfo:
        value_type, label = UNITS.get(self.unit, UNITS["count"])
        return MetricInfo(
            self.key,
            self.key,
            f"{self.name}: {self.formula}",
            label,
            value_type,
            self.higher_is_better,
        )

    def to_config(self) -> dict:
        data = asdict(self)
        del data["key"]
        return data

    @classmethod
    def from_config(cls, key: str, data: dict) -> "CustomMetric":
        return cls(
            key=key,
            name=str(data.get("name", key)),
            formula=str(data.get("formula", "")),
            unit=str(data.get("unit", "count")),
            higher_is_better=bool(data.get("higher_is_better", True)),
        )


Definitions = dict[str, CustomMetric]


def definitions_from_config(stored: dict) -> Definitions:
    return {key: CustomMetric.from_config(key, data) for key, data in (stored or {}).items()}


def resolve_unit(text: str) -> str:
    word = text.strip().lower()
    word = UNIT_ALIASES.get(word, word)
    if word not in UNITS:
        raise CustomMetricError(f"`{text}` is not a unit; use count, percentage, hours or days.")
    return word


def metric_key(name: str) -> str:
    """The key of a display name: lower case, runs of other characters turned into `_`."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def new_key(name: str, definitions: Definitions) -> str:
    """The key for a new custom metric called `name`, or a sentence saying why it cannot be."""
    if not name.strip():
        raise CustomMetricError('Give the custom metric a name, like `name:"Engagement Score"`.')
    if len(name) > MAX_NAME_LENGTH:
        raise CustomMetricError(
            f"The name is {len(name)} characters; the limit is {MAX_NAME_LENGTH}."
        )
    if any(not character.isascii() and character.isalnum() for character in name):
        raise CustomMetricError(
            f"`{clip(name)}` cannot be written in a formula; use Latin letters, digits and "
            "underscores, like `Engagement Score`."
        )
    key = metric_key(name)
    if keyword.iskeyword(key) or key in RESERVED_NAMES:
        raise CustomMetricError(
            f"`{key}` is a reserved word that a formula cannot read as a name; choose another "
            f"name, like `{name.strip()} Score`."
        )
    if not key or not key[0].isalpha():
        raise CustomMetricError(f"`{name}` must start with a letter, like `Engagement Score`.")
    if len(key) > MAX_KEY_LENGTH:
        raise CustomMetricError(f"`{name}` is too long; keep it under {MAX_KEY_LENGTH} letters.")
    if key in METRICS or key in SHORT_NAMES or key in FUNCTIONS:
        raise CustomMetricError(f"`{key}` is already a built-in name; choose another name.")
    if key in definitions:
        raise CustomMetricError(
            f"A custom metric `{key}` already exists; change it with `kpi custom-metric edit`."
        )
    if len(definitions) >= MAX_CUSTOM_METRICS:
        raise CustomMetricError(
            f"A server can have {MAX_CUSTOM_METRICS} custom metrics; remove one first."
        )
    return key


def find(definitions: Definitions, text: str) -> str | None:
    """The key of the custom metric written `text` (its key or its name), or None."""
    key = metric_key(text)
    if key in definitions:
        return key
    folded = text.strip().casefold()
    for metric in definitions.values():
        if metric.name.casefold() == folded:
            return metric.key
    return None


def resolver(definitions: Definitions) -> Callable[[str], str]:
    """Resolve a written name to a built-in or custom metric, suggesting the closest one."""

    def resolve(name: str) -> str:
        try:
            return resolve_metric(name)
        except UnknownMetricError:
            pass
        key = find(definitions, name)
        if key is not None:
            return key
        suggestion = closest(name.strip().lower(), [*METRICS, *SHORT_NAMES, *definitions])
        hint = f" Did you mean `{suggestion}`?" if suggestion else ""
        raise UnknownMetricError(f"`{clip(name)}` is not a metric.{hint}")

    return resolve


def parse(metric: CustomMetric, definitions: Definitions) -> Formula:
    return parse_formula(metric.formula, resolver(definitions))


def evaluation_order(definitions: Definitions) -> list[str]:
    """Custom metric keys, each after the custom metrics its formula reads.

    Formulas that do not parse are left out of the graph's edges; they evaluate to no data.
    """
    graph: dict[str, set[str]] = {}
    for key, metric in definitions.items():
        try:
            reads = parse(metric, definitions).metrics
        except FormulaError:
            reads = []
        graph[key] = {name for name in reads if name in definitions}
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        cycle = error.args[1]
        raise CustomMetricError(
            "The formulas depend on each other in a circle: "
            + " → ".join(f"`{key}`" for key in reversed(cycle))
            + "; a metric cannot use itself."
        ) from None


def check(definitions: Definitions) -> None:
    """Raise `CustomMetricError` unless every formula is valid and none depends on itself."""
    for metric in definitions.values():
        try:
            parse(metric, definitions)
        except FormulaError as error:
            raise CustomMetricError(f"The formula of `{metric.key}` is refused: {error}") from None
    evaluation_order(definitions)


def compute(
    definitions: Definitions, builtin_values: dict[str, float | None]
) -> dict[str, Evaluation]:
    """Each custom metric's value from the built-in values of one instant and period."""
    values: dict[str, float | None] = dict(builtin_values)
    results: dict[str, Evaluation] = {}
    try:
        order = evaluation_order(definitions)
    except CustomMetricError as error:
        return {key: Evaluation(None, str(error)) for key in definitions}
    for key in order:
        try:
            result = evaluate(parse(definitions[key], definitions), values)
        except FormulaError as error:
            result = Evaluation(None, str(error))
        results[key] = result
        values[key] = result.value
    return results


def dependents(definitions: Definitions, key: str) -> list[str]:
    """The custom metrics whose formulas read `key` directly."""
    found = []
    for other in definitions.values():
        if other.key == key:
            continue
        try:
            if key in parse(other, definitions).metrics:
                found.append(other.key)
        except FormulaError:
            continue
    return sorted(found)


def mentions(stored: Any, key: str) -> bool:
    """Whether a stored setting (any JSON value) names the metric `key`.

    Used on alert settings whose shape this module does not own: a dict key, a string equal to
    it, or a condition string naming it as a whole word all count.
    """
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])")
    if isinstance(stored, str):
        return bool(pattern.search(stored))
    if isinstance(stored, dict):
        return any(mentions(name, key) or mentions(value, key) for name, value in stored.items())
    if isinstance(stored, (list, tuple)):
        return any(mentions(value, key) for value in stored)
    return False


def labelled_mentions(kind: str, stored: Any, key: str) -> list[str]:
    """`kind name` for each entry of a stored collection of settings that names `key`."""
    entries: Iterable[tuple[str, Any]]
    if isinstance(stored, dict):
        entries = (
            (str(value.get("name", name)) if isinstance(value, dict) else str(name), value)
            for name, value in stored.items()
        )
    elif isinstance(stored, list):
        entries = (
            (
                str(value.get("name", index + 1)) if isinstance(value, dict) else str(index + 1),
                value,
            )
            for index, value in enumerate(stored)
        )
    else:
        return []
    return [
        f"{kind} `{name}`"
        for name, value in entries
        if mentions(name, key) or mentions(value, key)
    ]
