"""Parsing `key:value` options: one sentence for each bad value, saying what is right."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone

from discord.ext import commands

from .catalogue import UnknownMetricError, clip, resolve_metric, resolve_period


def unquote(text: str) -> str:
    """A prefix flag keeps the quotes typed around its value; a slash option has none."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        return text[1:-1].strip()
    if len(text) >= 2 and text[0] == "“" and text[-1] == "”":
        return text[1:-1].strip()
    return text


class MetricName(commands.Converter):
    """A full or short metric name, or one of the server's custom metrics, resolved to the
    full name."""

    async def convert(self, ctx: commands.Context, argument: str) -> str:
        tracker = ctx.bot.get_cog("KPITracker")
        try:
            if tracker is not None and ctx.guild is not None:
                return await tracker.resolve_metric_name(ctx.guild, unquote(argument))
            return resolve_metric(unquote(argument))
        except UnknownMetricError as error:
            raise commands.BadArgument(str(error)) from None


class Period(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> str:
        try:
            return resolve_period(unquote(argument))
        except ValueError as error:
            raise commands.BadArgument(str(error)) from None


def parse_number(
    name: str,
    argument: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    example: str = "500",
) -> float:
    text = unquote(argument).rstrip("%").replace(",", "")
    try:
        value = float(text)
    except ValueError:
        raise commands.BadArgument(
            f"`{clip(argument)}` is not a number; give `{name}` as a number, like "
            f"`{name}:{example}`."
        ) from None
    if not math.isfinite(value):
        raise commands.BadArgument(f"`{name}` must be a finite number, like `{name}:{example}`.")
    if minimum is not None and value < minimum:
        raise commands.BadArgument(f"`{name}` must be at least {minimum:g}, not {value:g}.")
    if maximum is not None and value > maximum:
        raise commands.BadArgument(f"`{name}` must be at most {maximum:g}, not {value:g}.")
    return value


class Target(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> float:
        return parse_number("target", argument, minimum=0, maximum=1e12)


class Threshold(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> float:
        return parse_number("alert_threshold", argument, minimum=1, maximum=1000, example="80")


class ChartDays(commands.Converter):
    """How many days of history a chart shows."""

    async def convert(self, ctx: commands.Context, argument: str) -> int:
        value = parse_number("days", argument, minimum=7, maximum=365, example="90")
        if not value.is_integer():
            raise commands.BadArgument("`days` must be a whole number of days, like `days:90`.")
        return int(value)


class Day(commands.Converter):
    """A calendar date written as YYYY-MM-DD."""

    async def convert(self, ctx: commands.Context, argument: str) -> date:
        text = unquote(argument)
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise commands.BadArgument(
                f"`{clip(text)}` is not a date; write it as YYYY-MM-DD, like `2024-01-31`."
            ) from None


class Choice(commands.Converter):
    """One word out of a fixed set, case-insensitive."""

    def __init__(self, name: str, *choices: str) -> None:
        self.name = name
        self.choices = choices

    async def convert(self, ctx: commands.Context, argument: str) -> str:
        word = unquote(argument).lower()
        if word not in self.choices:
            listed = ", ".join(f"`{choice}`" for choice in self.choices)
            raise commands.BadArgument(
                f"`{clip(argument)}` is not a valid {self.name}; use {listed}."
            )
        return word


class Switch(commands.Converter):
    """true/false, yes/no, on/off."""

    async def convert(self, ctx: commands.Context, argument: str) -> bool:
        word = unquote(argument).lower()
        if word in ("true", "yes", "on", "1", "enable", "enabled"):
            return True
        if word in ("false", "no", "off", "0", "disable", "disabled"):
            return False
        raise commands.BadArgument(
            f"`{clip(argument)}` is not true or false; use `true` or `false`."
        )


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
