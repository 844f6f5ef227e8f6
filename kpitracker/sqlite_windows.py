"""Each user's activity over windows of time, read from the cheapest table for each part.

A window `[start, end)` is whole UTC days plus at most two partial days at its ends. The
partial days are read from raw ledger rows. The whole days come from `daily_user` (a row per
user and day) when they are few, and from `block_user` (a row per user and block of 63 days,
a bit per day) when they are many: a quarter then reads two to four rows per user instead of
one per user and active day.

The SQL built here yields one row per user with, for window number i, the columns
`claims_i`, `rewards_i`, `events_i`, `voice_i` and `engaged_i`; a column is greater than 0
exactly when the user did that in the window. `events_i` is at least 3 exactly when the user
triggered three events or more in it: from blocks it adds, per day, at most three.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ingest import BLOCK_DAYS
from .ledger import DAY_MS, Kind

# From this many whole days on, blocks are read instead of daily rows.
BLOCKS_FROM_DAYS = 4

_CLAIM, _REWARD, _EVENT, _VOICE = (
    int(Kind.CLAIM),
    int(Kind.REWARD),
    int(Kind.EVENT),
    int(Kind.VOICE),
)
_PAYS_OUT = f"(kind IN ({_CLAIM}, {_REWARD}) AND amount > 0)"
FIELDS = ("claims", "rewards", "events", "voice", "engaged")

_RAW = {
    "claims": f"kind = {_CLAIM}",
    "rewards": _PAYS_OUT,
    "events": f"kind = {_EVENT}",
    "voice": f"kind = {_VOICE}",
    "engaged": f"kind IN ({_CLAIM}, {_REWARD}, {_EVENT}, {_VOICE})",
}
_DAILY = {
    "claims": "claims > 0",
    "rewards": "rewards > 0",
    "events": "events",
    "voice": "voice_sessions > 0",
    "engaged": "(claims > 0 OR rewards > 0 OR events > 0 OR voice_sessions > 0)",
}


def _at_most_three(bits: str) -> str:
    """SQL for min(3, number of bits set in `bits`): clearing the lowest set bit, twice."""
    once = f"({bits} & ({bits} - 1))"
    return (
        f"CASE WHEN {bits} = 0 THEN 0 WHEN {once} = 0 THEN 1 "
        f"WHEN ({once} & ({once} - 1)) = 0 THEN 2 ELSE 3 END"
    )


def _block(window: int) -> dict[str, str]:
    mask = f"mask_{window}"
    return {
        "claims": f"(claim_days & {mask}) != 0",
        "rewards": f"(reward_days & {mask}) != 0",
        "events": " + ".join(
            _at_most_three(f"({column} & {mask})")
            for column in ("event_days", "event2_days", "event3_days")
        ),
        "voice": f"(voice_days & {mask}) != 0",
        "engaged": f"(engage_days & {mask}) != 0",
    }


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    fields: tuple[str, ...] = FIELDS

    @property
    def whole_days(self) -> tuple[int, int]:
        """The first whole day and the day after the last one (equal when there are none)."""
        first, end = -(-self.start // DAY_MS), self.end // DAY_MS
        return first, max(first, end)

    @property
    def partial_slices(self) -> list[tuple[int, int]]:
        first, end = self.whole_days
        if first == end:
            return [(self.start, self.end)] if self.start < self.end else []
        slices = [(self.start, first * DAY_MS), (end * DAY_MS, self.end)]
        return [(begin, finish) for begin, finish in slices if begin < finish]


def activity_per_user(server_id: int, windows: list[Window]) -> tuple[str, list]:
    """SQL for one row per user with their activity in each window, and its parameters."""
    columns = [(number, field) for number, window in enumerate(windows) for field in window.fields]
    parts: list[str] = []
    params: list = []

    def select(expressions: dict[int, dict[str, str]]) -> str:
        listed = [
            (
                f"{expressions[number][field]} AS {field}_{number}"
                if number in expressions
                else f"0 AS {field}_{number}"
            )
            for number, field in columns
        ]
        return ", ".join(["user_id", *listed])

    for number, window in enumerate(windows):
        for begin, finish in window.partial_slices:
            parts.append(
                f"SELECT {select({number: _RAW})} FROM ledger "
                f"WHERE server_id = ? AND ts >= ? AND ts < ? AND {_RAW['engaged']}"
            )
            params += [server_id, begin, finish]

    spans = [window.whole_days for window in windows]
    whole = sum(end - first for first, end in spans)
    if whole >= BLOCKS_FROM_DAYS:
        blocks = sorted({day // BLOCK_DAYS for first, end in spans for day in range(first, end)})
        masks, mask_params = [], []
        for number, (first, end) in enumerate(spans):
            cases = []
            for block in blocks:
                low = min(max(first - block * BLOCK_DAYS, 0), BLOCK_DAYS)
                high = min(max(end - block * BLOCK_DAYS, 0), BLOCK_DAYS)
                if low < high:
                    cases.append("WHEN ? THEN ?")
                    mask_params += [block, (1 << high) - (1 << low)]
            masks.append(
                f"CASE block {' '.join(cases)} ELSE 0 END AS mask_{number}"
                if cases
                else f"0 AS mask_{number}"
            )
        # Only the rows with some activity inside a window are worth sorting by user.
        active = " OR ".join(
            f"({'engage_days' if 'engaged' in window.fields else 'claim_days'} & mask_{number})"
            " != 0"
            for number, window in enumerate(windows)
        )
        parts.append(
            f"SELECT {select({number: _block(number) for number in range(len(windows))})} "
            f"FROM (SELECT *, {', '.join(masks)} FROM block_user "
            f"WHERE server_id = ? AND block >= ? AND block <= ?) WHERE {active}"
        )
        params += mask_params + [server_id, blocks[0], blocks[-1]]
    else:
        for number, (first, end) in enumerate(spans):
            if first < end:
                parts.append(
                    f"SELECT {select({number: _DAILY})} FROM daily_user "
                    "WHERE server_id = ? AND day >= ? AND day < ?"
                )
                params += [server_id, first, end]

    if not parts:
        parts.append(f"SELECT {select({})} FROM ledger WHERE 0")
    sums = ", ".join(f"SUM({field}_{number}) AS {field}_{number}" for number, field in columns)
    sql = f"SELECT user_id, {sums} FROM ({' UNION ALL '.join(parts)}) GROUP BY user_id"
    return sql, params


def window_totals(server_id: int, start: int, end: int) -> tuple[str, list]:
    """SQL for the LTZ distributed and the events triggered in `[start, end)`."""
    window = Window(start, end)
    first, last = window.whole_days
    parts = [
        "SELECT ltz_in, events FROM daily_server WHERE server_id = ? AND day >= ? AND day < ?"
    ]
    params: list = [server_id, first, last]
    for begin, finish in window.partial_slices:
        parts.append(
            f"SELECT CASE WHEN {_PAYS_OUT} THEN amount ELSE 0 END, kind = {_EVENT} FROM ledger "
            "WHERE server_id = ? AND ts >= ? AND ts < ?"
        )
        params += [server_id, begin, finish]
    sql = f"SELECT TOTAL(ltz_in), COALESCE(SUM(events), 0) FROM ({' UNION ALL '.join(parts)})"
    return sql, params
