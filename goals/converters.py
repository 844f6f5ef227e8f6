"""Option parsing for the goals commands: each bad value gets one sentence saying what is right."""

from __future__ import annotations

import math
from datetime import date

from discord.ext import commands

from .models import GoalError, GoalType, clean_name, parse_goal_type

QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’"}


def unquote(text: str) -> str:
    """A prefix flag keeps the quotes typed around its value; a slash option has none."""
    text = text.strip()
    if len(text) >= 2 and QUOTES.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


class GoalName(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> str:
        try:
            return clean_name(unquote(argument))
        except GoalError as error:
            raise commands.BadArgument(str(error)) from None


class GoalTypeName(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> GoalType:
        try:
            return parse_goal_type(unquote(argument))
        except GoalError as error:
            raise commands.BadArgument(str(error)) from None


def parse_number(name: str, argument: str, example: str) -> float:
    text = unquote(argument).rstrip("%").replace(",", "").replace("_", "")
    try:
        value = float(text)
    except ValueError:
        raise commands.BadArgument(
            f"`{argument}` is not a number; give `{name}` as a number, like `{name}:{example}`."
        ) from None
    if not math.isfinite(value):
        raise commands.BadArgument(f"`{name}` must be a finite number, like `{name}:{example}`.")
    return value


class Target(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> float:
        value = parse_number("target", argument, "1000")
        if value <= 0:
            raise commands.BadArgument(
                f"The target must be greater than 0, not {value:g}; give the value to reach, "
                "like `target:1000`."
            )
        return value


class Amount(commands.Converter):
    """A value recorded by hand: any finite number, negative only for corrections."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def convert(self, ctx: commands.Context, argument: str) -> float:
        return parse_number(self.name, argument, "250")


class Day(commands.Converter):
    """A calendar day written as YYYY-MM-DD."""

    async def convert(self, ctx: commands.Context, argument: str) -> date:
        text = unquote(argument)
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise commands.BadArgument(
                f"`{text}` is not a date; write it as YYYY-MM-DD, like `2024-03-31`."
            ) from None


class Switch(commands.Converter):
    """true/false, yes/no, on/off."""

    async def convert(self, ctx: commands.Context, argument: str) -> bool:
        word = unquote(argument).lower()
        if word in ("true", "yes", "on", "1", "enable", "enabled"):
            return True
        if word in ("false", "no", "off", "0", "disable", "disabled"):
            return False
        raise commands.BadArgument(f"`{argument}` is not true or false; use `true` or `false`.")


class MetricText(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> str:
        text = unquote(argument)
        if not text:
            raise commands.BadArgument("`metric:` needs a metric's name, like `metric:dau`.")
        return text
