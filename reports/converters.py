"""Option parsing for `reports` commands: each bad value gets one sentence saying what is right."""

from __future__ import annotations

import math
from datetime import time

from discord.ext import commands

from .schedule import FREQUENCIES, LAST_DAY, WEEKDAYS


def unquote(text: str) -> str:
    """A prefix flag keeps the quotes typed around its value; a slash option has none."""
    text = str(text).strip()
    if len(text) >= 2 and text[0] in "\"'“" and text[-1] in "\"'”":
        return text[1:-1].strip()
    return text


def parse_frequency(text: str) -> str:
    word = unquote(text).lower()
    if word not in FREQUENCIES:
        raise commands.BadArgument(
            f"`{text}` is not a frequency; use `daily`, `weekly` or `monthly`."
        )
    return word


def parse_weekday(text: str) -> int:
    """A weekday by name or its first three letters: `monday`, `mon`."""
    word = unquote(text).lower()
    for number, name in enumerate(WEEKDAYS):
        if word == name or (len(word) >= 3 and name.startswith(word)):
            return number
    raise commands.BadArgument(
        f"`{text}` is not a weekday; a weekly report takes a day like `day:monday`."
    )


def parse_month_day(text: str) -> int:
    """A day of the month, 1 to 31, or `last`."""
    word = unquote(text).lower()
    if word == "last":
        return LAST_DAY
    try:
        number = float(word)
    except ValueError:
        number = math.nan
    if not number.is_integer() or not 1 <= number <= 31:
        raise commands.BadArgument(
            f"`{text}` is not a day of the month; a monthly report takes `day:1` to `day:31` "
            "or `day:last`."
        )
    return int(number)


class Frequency(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> str:
        return parse_frequency(argument)


class TimeOfDay(commands.Converter):
    """A time of day in UTC, written HH:MM on a 24-hour clock."""

    async def convert(self, ctx: commands.Context, argument: str) -> time:
        text = unquote(argument)
        hours, _, minutes = text.partition(":")
        try:
            return time(int(hours), int(minutes or 0))
        except ValueError:
            raise commands.BadArgument(
                f"`{text}` is not a time of day; write it as HH:MM in UTC, like `time:09:00`."
            ) from None


class ChartDays(commands.Converter):
    """How many days of history the report's charts show."""

    async def convert(self, ctx: commands.Context, argument: str) -> int:
        text = unquote(argument)
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not number.is_integer() or not 7 <= number <= 365:
            raise commands.BadArgument(
                f"`{text}` is not a number of days from 7 to 365; write it like `days:90`."
            )
        return int(number)
