"""The activity ledger's row model: the kinds of activity and how one row is checked.

Everything that feeds the tracker (the public API, Discord events, the Economy route and
file imports) builds `LedgerRow` objects through `make_row`, so that one set of rules decides
what a valid row is.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timezone

DAY_MS = 86_400_000


class Kind(enum.IntEnum):
    """The kinds of ledger row; the integer is what the database stores."""

    JOIN = 1
    LEAVE = 2
    CLAIM = 3
    REWARD = 4
    SPEND = 5
    EVENT = 6
    VOICE = 7

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Kind":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(kind.label for kind in cls)
            raise LedgerError(f"unknown kind {text!r}; expected one of {names}") from None


class LedgerError(ValueError):
    """A ledger row that cannot be recorded; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class LedgerRow:
    server_id: int
    user_id: int
    ts_ms: int
    kind: Kind
    amount: float = 0.0
    detail: str = ""

    @property
    def day(self) -> int:
        return self.ts_ms // DAY_MS

    @property
    def ltz_in(self) -> float:
        """LTZ this row distributes: a claim with an amount, or a reward."""
        if self.kind in (Kind.CLAIM, Kind.REWARD) and self.amount > 0:
            return self.amount
        return 0.0


MAX_DETAIL_LENGTH = 200
MAX_AMOUNT = 1e15
MAX_ID = 2**63 - 1


def to_ms(when: datetime | float | int) -> int:
    """Milliseconds since the epoch for an aware datetime or a POSIX timestamp in seconds."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise LedgerError("a time must carry a time zone (use UTC)")
        return round(when.timestamp() * 1000)
    if isinstance(when, bool) or not isinstance(when, (int, float)) or not math.isfinite(when):
        raise LedgerError(f"a time must be a datetime or a POSIX timestamp, not {when!r}")
    return round(when * 1000)


def from_ms(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc)


def _check_id(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise LedgerError(f"{name} must be a positive integer id, not {value!r}")
    return value


def make_row(
    server_id: int,
    user_id: int,
    when: datetime | float | int,
    kind: Kind | str,
    amount: float | int | None = None,
    detail: str | None = None,
) -> LedgerRow:
    """Check one row of activity and return it, or raise `LedgerError` saying what is wrong."""
    server_id = _check_id("server_id", server_id)
    user_id = _check_id("user_id", user_id)
    if isinstance(kind, str):
        kind = Kind.parse(kind)
    else:
        try:
            kind = Kind(kind)
        except ValueError:
            names = ", ".join(known.label for known in Kind)
            raise LedgerError(f"kind must be one of {names}, not {kind!r}") from None
    ts_ms = to_ms(when)
    if not 0 <= ts_ms < 253_402_300_800_000:
        raise LedgerError("a time must lie between the years 1970 and 9999")

    if amount is None:
        amount = 0.0
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise LedgerError(f"amount must be a number, not {amount!r}")
    amount = float(amount)
    if not math.isfinite(amount) or abs(amount) > MAX_AMOUNT:
        raise LedgerError(f"amount must be a finite number below {MAX_AMOUNT:.0e}")
    if kind in (Kind.JOIN, Kind.LEAVE, Kind.EVENT) and amount != 0:
        raise LedgerError(f"a {kind.label} row carries no amount")
    if kind is Kind.CLAIM and amount < 0:
        raise LedgerError("a claim's amount cannot be negative")
    if kind in (Kind.REWARD, Kind.SPEND) and amount <= 0:
        raise LedgerError(f"a {kind.label} needs an amount of LTZ greater than 0")
    if kind is Kind.VOICE and amount < 0:
        raise LedgerError("a voice session's length in seconds cannot be negative")

    detail = "" if detail is None else str(detail)
    if len(detail) > MAX_DETAIL_LENGTH:
        raise LedgerError(f"detail is longer than {MAX_DETAIL_LENGTH} characters")
    if kind is Kind.EVENT and not detail.strip():
        raise LedgerError("an event needs a detail naming the event")

    return LedgerRow(server_id, user_id, ts_ms, kind, amount, detail)
