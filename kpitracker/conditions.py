"""Compound-alert conditions: `dau<100,streak<50` parsed, checked and judged.

A condition is `metric<op>number`; conditions are separated by commas. Metric names are
resolved through a callable the caller supplies, so any name the cog knows (full names, the
short names of METRICS.md, custom metrics) is accepted. Every syntax error names the
condition, the character where it went wrong and what was expected there.
"""

from __future__ import annotations

import inspect
import math
import operator
import re
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9),
    "!=": lambda a, b: not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9),
}
OPERATOR_LIST = "<, <=, >, >=, = or !="
MAX_CONDITIONS = 10
ECHO_LIMIT = 60  # characters of a condition quoted back in an error, so a reply stays short

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?")
_OPERATOR_START = "<>=!"


class ConditionError(ValueError):
    """A condition that cannot be read; the message quotes it and says where and why."""


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    value: float

    @property
    def text(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    def holds(self, actual: float | None) -> bool | None:
        """Whether the metric's value meets the condition; None when the metric has no value."""
        if actual is None:
            return None
        return OPERATORS[self.op](actual, self.value)

    def to_config(self) -> dict:
        return {"metric": self.metric, "op": self.op, "value": self.value}

    @classmethod
    def from_config(cls, data: Mapping) -> "Condition":
        return cls(data["metric"], data["op"], float(data["value"]))


@dataclass(frozen=True)
class WrittenCondition:
    """One condition as typed: the name still unresolved, with where it sits in the text."""

    name: str
    op: str
    value: float
    text: str
    index: int  # 1-based position among the conditions
    start: int  # 0-based offset of the condition in the whole text


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text`, cut to `limit` characters with "…" when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fail(text: str, reason: str, index: int, total: int, column: int) -> ConditionError:
    where = f"condition {index}, character {column}" if total > 1 else f"character {column}"
    return ConditionError(f'"{clip(text)}": {reason} ({where})')


def parse_syntax(written: str) -> list[WrittenCondition]:
    """Split and read the conditions without resolving names; raise `ConditionError`."""
    pieces: list[tuple[str, int]] = []
    offset = 0
    for piece in written.split(","):
        pieces.append((piece, offset))
        offset += len(piece) + 1
    if not written.strip():
        raise ConditionError("no conditions were given; write them like `dau<100,streak<50`")
    if len(pieces) > MAX_CONDITIONS:
        raise ConditionError(
            f"{len(pieces)} conditions is too many; a compound alert takes at most "
            f"{MAX_CONDITIONS}"
        )
    return [
        _parse_one(piece, start, index, len(pieces))
        for index, (piece, start) in enumerate(pieces, start=1)
    ]


def _parse_one(piece: str, start: int, index: int, total: int) -> WrittenCondition:
    text = piece.strip()
    lead = start + len(piece) - len(piece.lstrip())

    def fail(reason: str, at: int) -> ConditionError:
        return _fail(text, reason, index, total, lead + at + 1)

    if not text:
        where = f"condition {index}" if total > 1 else "the condition"
        raise ConditionError(
            f"{where} is empty; remove the extra comma or write one like `dau<100`"
        )
    position = 0
    while position < len(text) and text[position] not in _OPERATOR_START:
        position += 1
    name = text[:position].strip()
    if position == len(text):
        raise fail(f'expected an operator ({OPERATOR_LIST}) after "{clip(name)}"', len(text))
    if not name:
        raise fail(f'expected a metric name before "{text[0]}"', 0)

    op_start = position
    first = text[position]
    position += 1
    if position < len(text) and text[position] == "=" and first in "<>!":
        position += 1
    op = text[op_start:position]
    if op == "!":
        raise fail('expected "=" after "!"', position)

    rest = text[position:]
    skipped = len(rest) - len(rest.lstrip())
    number_at = position + skipped
    match = _NUMBER.match(text, number_at)
    if match is None:
        raise fail(f'expected a number after "{op}"', number_at)
    trailing = text[match.end() :]
    if trailing.strip():
        extra = trailing.strip()[0]
        raise fail(
            f'unexpected "{extra}" after "{clip(match.group())}"',
            match.end() + len(trailing) - len(trailing.lstrip()),
        )
    value = float(match.group().rstrip("%"))
    if not math.isfinite(value):
        raise fail("the number is too large", number_at)
    return WrittenCondition(name, op, value, text, index, lead)


Resolver = Callable[[str], "str | Awaitable[str]"]


async def parse_conditions(written: str, resolve: Resolver) -> list[Condition]:
    """The conditions of `written`, names resolved by `resolve` (sync or async).

    `resolve` returns the full metric name or raises `ValueError` with a message for people;
    that message is passed on, prefixed with the condition it came from.
    """
    conditions = []
    parsed = parse_syntax(written)
    for item in parsed:
        try:
            metric = resolve(item.name)
            if inspect.isawaitable(metric):
                metric = await metric
        except ValueError as error:
            where = f"condition {item.index}, " if len(parsed) > 1 else ""
            # The resolver may quote the name back: a very long name is cut there too.
            raise ConditionError(
                f'"{clip(item.text)}" ({where}character {item.start + 1}): '
                f"{clip(str(error), 4 * ECHO_LIMIT)}"
            ) from None
        conditions.append(Condition(metric, item.op, item.value))
    return conditions


def evaluate(
    conditions: list[Condition], logic: str, values: Mapping[str, float | None]
) -> bool | None:
    """Whether the conditions hold under AND or OR, in three-valued logic.

    A condition on a metric with no value is unknown. AND is false as soon as one condition
    is false and true only when all are true; OR is true as soon as one is true and false
    only when all are false. Anything else is unknown (None): no data, which neither fires
    nor resolves an alert.
    """
    results = [condition.holds(values.get(condition.metric)) for condition in conditions]
    if logic == "AND":
        if any(result is False for result in results):
            return False
        return True if all(result is True for result in results) else None
    if logic == "OR":
        if any(result is True for result in results):
            return True
        return False if all(result is False for result in results) else None
    raise ValueError(f"unknown logic {logic!r}")


def describe(conditions: list[Condition], logic: str) -> str:
    return f" {logic} ".join(condition.text for condition in conditions)
