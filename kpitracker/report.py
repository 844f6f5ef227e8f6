"""The KPI report as Discord embeds that stay within Discord's limits for any number of KPIs."""

from __future__ import annotations

from dataclasses import dataclass

import discord

from .kpis import Kpi, achievement, status

FIELDS_PER_EMBED = 20
EMBED_COLOUR = discord.Colour(0x5865F2)


@dataclass
class KpiReading:
    kpi: Kpi
    value: float | None


def describe(reading: KpiReading) -> tuple[str, str]:
    """A field's name and value: the status icon and metric, then actual vs target."""
    kpi, value = reading.kpi, reading.value
    info = kpi.info
    state = status(kpi, value)
    done = achievement(kpi, value)
    name = f"{state.icon} {info.name}"
    parts = [
        f"**{info.format(value)}** of {info.format(kpi.target_value)} ({kpi.period})",
        f"{done:.0f}% of target" if done is not None else "achievement: n/a",
        state.label,
    ]
    return name[:256], " · ".join(parts)[:1024]


def report_embeds(title: str, readings: list[KpiReading], footer: str) -> list[discord.Embed]:
    """One embed per page of KPIs; every page carries the title and the footer."""
    if not readings:
        embed = discord.Embed(
            title=title[:256],
            description="No active KPIs. Set one with `kpi set metric:<name> target:<value>`.",
            colour=EMBED_COLOUR,
        )
        embed.set_footer(text=footer[:2048])
        return [embed]
    pages = [readings[i : i + FIELDS_PER_EMBED] for i in range(0, len(readings), FIELDS_PER_EMBED)]
    embeds = []
    for number, page in enumerate(pages, start=1):
        heading = title if len(pages) == 1 else f"{title} ({number}/{len(pages)})"
        embed = discord.Embed(title=heading[:256], colour=EMBED_COLOUR)
        for reading in page:
            name, value = describe(reading)
            embed.add_field(name=name, value=value, inline=False)
        embed.set_footer(text=footer[:2048])
        embeds.append(embed)
    return embeds
