"""Shared steps for the alert tests: a settable clock, ledger rows, and what the bot posted."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

from discord.ext.test import backend

from kpi_helpers import kpi_cog
from kpitracker.ledger import make_row


class Clock:
    """A fake clock for the cog: `cog.clock = clock`, then move it with `at` or `advance`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: datetime) -> "Clock":
        self.now = moment
        return self

    def advance(self, **span) -> "Clock":
        self.now += timedelta(**span)
        return self


async def alert_cog(red, clock: Clock | None = None):
    """The loaded cog after its start-up evaluation, reading time from `clock`."""
    cog = await kpi_cog(red)
    await asyncio.wait_for(cog.alerts_started.wait(), 30)
    if clock is not None:
        cog.clock = clock
    return cog


async def claims(cog, guild_id: int, users, when: datetime) -> None:
    """One claim per user at `when`, written at once."""
    await cog.store.import_rows([make_row(guild_id, user, when, "claim", 1) for user in users])


def channel(red, name: str):
    return backend.make_text_channel(name, red.guild)


def posted(red, channel_id: int, since: int = 0) -> list[str]:
    """The contents the bot posted in a channel, after the first `since` messages of `red.sent`."""
    return [reply.content for reply in red.sent[since:] if reply.channel_id == channel_id]


def record_payloads(red) -> list[tuple[int, dict]]:
    """Keep the JSON of every message the bot sends, to read its `allowed_mentions`."""
    payloads: list[tuple[int, dict]] = []
    original = red.bot.http.send_message

    async def send_message(channel_id, *, params):
        body = params.payload
        if body is None:
            part = next(part for part in params.multipart if part.get("name") == "payload_json")
            body = json.loads(part["value"])
        payloads.append((int(channel_id), body))
        return await original(channel_id, params=params)

    red.bot.http.send_message = send_message
    return payloads


async def evaluate_every(
    cog, clock: Clock, start: datetime, end: datetime, step: timedelta = timedelta(minutes=5)
) -> int:
    """Evaluate at `start`, `start + step`, … up to and including `end`; return how many."""
    count = 0
    clock.at(start)
    while clock.now <= end:
        await cog.evaluate_alerts()
        count += 1
        clock.advance(seconds=step.total_seconds())
    return count


async def slash_with_options(red, command: str, *, author, options: dict):
    """`red.slash` for a command with an option named `channel`, which `red.slash` takes as
    the channel the command is used in."""
    from discord.webhook.async_ import async_context

    from redharness import _command_data, _interaction_payload, _InteractionEndpoints

    data = _command_data(red.bot.tree, command.split(), options, red.channel)
    start = len(red.sent)
    token = async_context.set(_InteractionEndpoints(red, red.channel))
    try:
        red.bot._connection.parse_interaction_create(
            _interaction_payload(red.bot, author, red.channel, data)
        )
        await red._settle(True)
    finally:
        async_context.reset(token)
    return red.sent[start:]
