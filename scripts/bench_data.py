"""Realistic generated ledgers for the benchmark, bulk-loaded into SQLite and cached.

A ledger is a population of members spread over one or many servers. Each member has an
activity level drawn from a lognormal distribution (a few very active members, a long tail
of occasional ones), joins on some day of the year (or was there before the history
starts, with no join row, like imported history), may leave and come back, and claims day
after day with a habit: a member who claimed yesterday is much more likely to claim today,
so streaks form. Events, rewards, spends and voice sessions follow the activity level.
Everything is drawn from one seeded generator, so a shape always gives the same rows.

`scripts/bench_load.py` writes a generated ledger into a database file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kpitracker.ledger import DAY_MS, Kind, LedgerRow

CACHE = Path(".bench")
FIRST_DAY = 19_723  # 2024-01-01
GENERATOR_VERSION = 3

EVENT_NAMES = (
    "quiz_won",
    "raid_joined",
    "poll_voted",
    "invite_accepted",
    "meme_contest",
    "bug_report",
    "art_shared",
    "trivia_night",
    "quest_step",
    "boss_fight",
    "giveaway_entry",
    "level_up",
)
_EVENT_WEIGHTS = np.array([12, 10, 9, 7, 6, 3, 5, 4, 8, 3, 6, 5], dtype=float)
_REWARD_REASONS = ("event_prize", "moderator_bonus", "referral")
_SPEND_REASONS = ("shop_role", "raffle_ticket", "custom_emoji", "boost_item")


@dataclass(frozen=True)
class Shape:
    """What to generate: about `rows` ledger rows over `days` days across `servers` servers."""

    rows: int
    servers: int = 1
    days: int = 365
    seed: int = 7

    @property
    def name(self) -> str:
        return f"v{GENERATOR_VERSION}-r{self.rows}-s{self.servers}-d{self.days}-seed{self.seed}"


@dataclass
class Columns:
    """A generated ledger as parallel arrays, one entry per row, oldest first."""

    server: np.ndarray
    user: np.ndarray
    ts: np.ndarray
    kind: np.ndarray
    amount: np.ndarray
    detail: np.ndarray  # index into `details`
    details: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ts)

    def rows(self) -> list[LedgerRow]:
        """The rows as ledger rows (for small ledgers: tests and the reference)."""
        return [
            LedgerRow(int(s), int(u), int(t), Kind(int(k)), float(a), self.details[int(d)])
            for s, u, t, k, a, d in zip(
                self.server, self.user, self.ts, self.kind, self.amount, self.detail
            )
        ]


# -- generation --------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _population(shape: Shape, members: int, rng: np.random.Generator) -> dict:
    """Who the members are: server, activity level, habits, join, leave and return days."""
    days = shape.days
    weights = rng.lognormal(0.0, 1.6, shape.servers) if shape.servers > 1 else np.ones(1)
    server_index = rng.choice(shape.servers, size=members, p=weights / weights.sum())
    # Every server has a few members, however small its share.
    floor = min(members, 5 * shape.servers)
    server_index[:floor] = np.arange(floor) % shape.servers
    level = rng.lognormal(0.0, 1.0, members)
    log_level = np.log(level)
    before_history = rng.random(members) < 0.15
    join_day = np.where(before_history, 0, rng.integers(0, days, members))
    join_ms = join_day * DAY_MS + rng.integers(0, DAY_MS, members)
    life = rng.exponential(100.0 * np.sqrt(level))
    leave_day = (join_day + 1 + life).astype(np.int64)
    comes_back = (rng.random(members) < 0.1) & (leave_day < days)
    return_day = np.where(comes_back, leave_day + rng.integers(5, 60, members), days + 1)
    return {
        "server": server_index + 1,
        "user": 10**17 + rng.permutation(members * 4)[:members].astype(np.int64) * 7919,
        "level": level,
        "keep": _sigmoid(1.0 + 1.2 * log_level),
        "start": _sigmoid(-2.0 + 1.2 * log_level),
        "hour_ms": rng.integers(0, DAY_MS, members),
        "before_history": before_history,
        "join_day": join_day,
        "join_ms": join_ms,
        "leave_day": leave_day,
        "return_day": return_day,
    }


def _draw(shape: Shape, members: int) -> Columns:
    rng = np.random.default_rng(shape.seed)
    people = _population(shape, members, rng)
    level, days = people["level"], shape.days
    parts: list[tuple] = []  # (member index, ts, kind, amount, detail)

    def emit(who, ts, kind, amount=None, detail=None) -> None:
        count = len(who)
        amount = np.zeros(count) if amount is None else amount
        detail = np.zeros(count, dtype=np.int64) if detail is None else detail
        parts.append((who, ts, np.full(count, int(kind), dtype=np.int8), amount, detail))

    joiners = np.flatnonzero(~people["before_history"])
    late_row = rng.random(len(joiners)) < 0.03  # the join row arrives after the first claim
    join_ts = people["join_ms"][joiners] + late_row * rng.integers(1, 48, len(joiners)) * 3_600_000
    emit(joiners, join_ts, Kind.JOIN, detail=np.full(len(joiners), 1))
    leavers = np.flatnonzero(people["leave_day"] < days)
    emit(
        leavers,
        people["leave_day"][leavers] * DAY_MS + rng.integers(0, DAY_MS, len(leavers)),
        Kind.LEAVE,
    )
    back = np.flatnonzero(people["return_day"] < days)
    emit(
        back,
        people["return_day"][back] * DAY_MS + rng.integers(0, DAY_MS, len(back)),
        Kind.JOIN,
        detail=np.full(len(back), 2),
    )

    event_p = _EVENT_WEIGHTS / _EVENT_WEIGHTS.sum()
    claimed = np.zeros(members, dtype=bool)
    streak = np.zeros(members, dtype=np.int64)
    for day in range(days):
        alive = ((people["join_day"] <= day) & (day < people["leave_day"])) | (
            people["return_day"] <= day
        )
        chance = np.where(claimed, people["keep"], people["start"])
        claimed = alive & (rng.random(members) < chance)
        streak = np.where(claimed, streak + 1, 0)
        day_ms = day * DAY_MS

        who = np.flatnonzero(claimed)
        when = (people["hour_ms"][who] + rng.normal(0, 7_200_000, len(who))).astype(np.int64)
        when %= DAY_MS
        # On the join day, the first claim comes after joining.
        low = people["join_ms"][who] - day_ms
        after_join = low + ((DAY_MS - low) * rng.random(len(who))).astype(np.int64)
        when = np.where(people["join_day"][who] == day, after_join, when)
        unpaid = rng.random(len(who)) < 0.05
        pay = np.where(unpaid, 0.0, 10.0 + 2.0 * np.minimum(streak[who] - 1, 10))
        emit(who, day_ms + when, Kind.CLAIM, pay)

        living = np.flatnonzero(alive)
        rate = level[living] ** 0.8 * np.where(claimed[living], 0.25, 0.03)
        count = rng.poisson(rate)
        who = np.repeat(living, count)
        ts = day_ms + rng.integers(0, DAY_MS, len(who))
        names = rng.choice(len(EVENT_NAMES), size=len(who), p=event_p)
        emit(who, ts, Kind.EVENT, detail=names + 10)
        prize = rng.random(len(who)) < 0.4
        emit(
            who[prize],
            ts[prize] + 1_000,
            Kind.REWARD,
            rng.choice([5.0, 10.0, 25.0, 50.0], int(prize.sum())),
            np.full(int(prize.sum()), 3),
        )
        bonus = living[rng.random(len(living)) < 0.004]
        emit(
            bonus,
            day_ms + rng.integers(0, DAY_MS, len(bonus)),
            Kind.REWARD,
            rng.choice([20.0, 100.0], len(bonus)),
            np.full(len(bonus), 4 + rng.integers(0, 2)),
        )

        spender = living[rng.random(len(living)) < 0.05 * np.minimum(level[living], 3.0)]
        emit(
            spender,
            day_ms + rng.integers(0, DAY_MS, len(spender)),
            Kind.SPEND,
            rng.integers(1, 20, len(spender)) * 10.0,
            30 + rng.integers(0, len(_SPEND_REASONS), len(spender)),
        )

        sessions = rng.poisson(0.04 * level[living] ** 1.2)
        who = np.repeat(living, sessions)
        seconds = np.minimum(rng.lognormal(math.log(1_200), 1.0, len(who)), 8 * 3_600).round()
        emit(who, day_ms + rng.integers(0, DAY_MS, len(who)), Kind.VOICE, seconds)

    who = np.concatenate([part[0] for part in parts])
    columns = Columns(
        server=people["server"][who],
        user=people["user"][who],
        ts=np.concatenate([part[1] for part in parts]) + FIRST_DAY * DAY_MS,
        kind=np.concatenate([part[2] for part in parts]),
        amount=np.concatenate([part[3] for part in parts]),
        detail=np.concatenate([part[4] for part in parts]),
        details=_detail_names(),
    )
    return _ordered_and_distinct(columns)


def _detail_names() -> tuple[str, ...]:
    names = [""] * 40
    names[1], names[2] = "member_joined", "member_returned"
    names[3], names[4], names[5] = _REWARD_REASONS
    names[10 : 10 + len(EVENT_NAMES)] = EVENT_NAMES
    names[30 : 30 + len(_SPEND_REASONS)] = _SPEND_REASONS
    return tuple(names)


def _ordered_and_distinct(columns: Columns) -> Columns:
    """Oldest first, as live recording writes them; a row drawn twice is kept once."""
    order = np.lexsort(
        (columns.detail, columns.amount, columns.kind, columns.user, columns.server, columns.ts)
    )
    fields = ("server", "user", "ts", "kind", "amount", "detail")
    arrays = {name: getattr(columns, name)[order] for name in fields}
    repeat = np.ones(len(order), dtype=bool)
    for name in fields:
        repeat[1:] &= arrays[name][1:] == arrays[name][:-1]
    repeat[0] = False
    return Columns(**{name: arrays[name][~repeat] for name in fields}, details=columns.details)


def generate(shape: Shape) -> Columns:
    """About `shape.rows` rows: a small pilot run tells how many rows a member makes."""
    pilot_members = 3_000
    pilot = _draw(Shape(1, shape.servers, shape.days, shape.seed + 1), pilot_members)
    members = max(20, round(shape.rows * pilot_members / max(1, len(pilot))))
    return _draw(shape, members)
