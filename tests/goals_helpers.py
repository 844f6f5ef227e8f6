"""Shared steps for the tests that drive the goals cog beside kpitracker in a real Red."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime

from discord.ext.test import backend
from PIL import Image

from kpi_helpers import kpi_cog


class Clock:
    """One moved clock for both cogs, as a bot has one real clock."""

    def __init__(self, red, now: datetime) -> None:
        self.red = red
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def install(self) -> "Clock":
        for name in ("KPITracker", "Goals"):
            self.red.bot.get_cog(name).clock = self
        return self

    def move_to(self, now: datetime) -> None:
        self.now = now


async def goals_cog(red, now: datetime | None = None):
    """The loaded goals cog, with both cogs' clocks at `now` when given."""
    await kpi_cog(red)
    if now is not None:
        Clock(red, now).install()
    return red.bot.get_cog("Goals")


async def announcement_channel(red):
    """A channel called announcements, set as the goals' announcement channel."""
    channel = backend.make_text_channel("announcements", red.guild)
    replies = await red.send(f"!goals settings channel:{channel.id}", author=red.admin)
    assert "go to" in replies[0].content, replies
    return channel


def posted_in(red, channel, start: int = 0) -> list[str]:
    """The text of what the bot posted in `channel` since `red.sent[start]`."""
    return [reply.content for reply in red.sent[start:] if reply.channel_id == channel.id]


def chart_points(png: bytes) -> dict:
    """The numbers a goal chart plotted, read back from the PNG's text chunk."""
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return json.loads(image.text["Description"])


async def reload_and_wait(red, *packages: str):
    """Reload cog packages as `[p]reload` does and wait for the goals cog's first check, which
    runs by itself when it loads, as after a restart."""
    await red.reload(*packages)
    cog = red.bot.get_cog("Goals")
    for _ in range(1000):
        if cog.last_check is not None:
            return cog
        await asyncio.sleep(0.005)
    raise AssertionError("the goals cog did not run its first check after loading")
