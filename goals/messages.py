"""What the goals cog says: progress embeds, announcements, celebrations and list lines."""

from __future__ import annotations

import re
from datetime import datetime

import discord

from .charts import ChartData
from .models import Goal, utc_day
from .progress import Pace, Verdict, pace_line, progress_bar

CELEBRATION_COLOUR = discord.Colour.gold()
VERDICT_COLOURS = {
    Verdict.ACHIEVED: discord.Colour.gold(),
    Verdict.ON_TRACK: discord.Colour.green(),
    Verdict.AT_RISK: discord.Colour.orange(),
    Verdict.BEHIND: discord.Colour.red(),
    Verdict.MISSED: discord.Colour.dark_red(),
}


def format_value(value: float | None, unit: str = "") -> str:
    if value is None:
        return "no data"
    if unit == "%":
        return f"{value:.1f}%"
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def reading(value: float | None, target: float, unit: str) -> str:
    """`2 of 8 users`, `56.0% of 70.0%`: the unit once, after the target."""
    if unit == "%" or value is None:
        return f"{format_value(value, unit)} of {format_value(target, unit)}"
    return f"{format_value(value)} of {format_value(target, unit)}"


def format_percent(percent: float | None) -> str:
    return "no data" if percent is None else f"{percent:.1f}%"


def chart_filename(goal: Goal, number: int = 1) -> str:
    """A file name for the goal's chart, numbered so that two goals in one message differ."""
    slug = re.sub(r"[^a-z0-9]+", "-", goal.name.lower()).strip("-") or "goal"
    return f"goal-{number}-{slug[:40]}.png"


def time_line(goal: Goal, pace: Pace, now: datetime) -> str:
    if now < goal.start:
        return f"starts {utc_day(goal.start)} · due {goal.deadline}"
    if now >= goal.due:
        return f"ended {goal.deadline}"
    passed = pace.days_total * pace.elapsed
    return (
        f"{passed:.1f} of {pace.days_total:.1f} days ({pace.elapsed * 100:.0f}%) · "
        f"due {goal.deadline}, {pace.days_left:.1f} days left"
    )


def pace_text(goal: Goal, pace: Pace, unit: str) -> str:
    verdict = f"{pace.verdict.icon} {pace.verdict.label}"
    if pace.verdict not in (Verdict.ON_TRACK, Verdict.AT_RISK, Verdict.BEHIND):
        return verdict
    parts = [f"forecast {format_value(pace.forecast, unit)} at the deadline"]
    if pace.per_day is not None:
        parts.append(f"trend {pace.per_day:+,.2f}/day")
    if pace.needed_per_day is not None:
        parts.append(f"{pace.needed_per_day:,.2f}/day needed")
    if pace.pace_value is not None and pace.value is not None:
        gap = pace.value - pace.pace_value
        side = "ahead of" if gap >= 0 else "behind"
        parts.append(f"{format_value(abs(gap), unit)} {side} the pace line")
    return f"{verdict}: " + "; ".join(parts)


def progress_embed(
    goal: Goal, pace: Pace, unit: str, now: datetime, chart: str | None = None
) -> discord.Embed:
    embed = discord.Embed(
        title=f"{pace.verdict.icon} {goal.name}",
        description=(
            f"`{progress_bar(pace.percent)}` **{format_percent(pace.percent)}**\n"
            f"{reading(pace.value, goal.target, unit)}"
        ),
        colour=VERDICT_COLOURS.get(pace.verdict, discord.Colour.light_grey()),
    )
    embed.add_field(name="Time", value=time_line(goal, pace, now), inline=False)
    embed.add_field(name="Pace", value=pace_text(goal, pace, unit), inline=False)
    follows = f"{goal.goal_type.value}: {goal.source()}"
    if goal.created_by:
        follows += f" · set by <@{goal.created_by}>"
    embed.add_field(name="Follows", value=follows, inline=False)
    if chart:
        embed.set_image(url=f"attachment://{chart}")
    embed.set_footer(text="Forecast: a straight line fitted to the goal's daily values")
    return embed


def chart_data(goal: Goal, pace: Pace, history: list, current, unit: str) -> ChartData:
    pace_points = []
    if pace.baseline is not None:
        pace_points = pace_line(goal.start, goal.due, pace.baseline, goal.target)
    shown_now = current if current and (not history or current[0] > history[-1][0]) else None
    return ChartData(
        title=goal.name,
        unit=unit,
        target=goal.target,
        values=list(history),
        now=shown_now,
        pace=pace_points,
        forecast=list(pace.fitted),
        subtitle=f"{format_percent(pace.percent)} · {pace.verdict.label}",
    )


def milestone_text(goal: Goal, mark: int, pace: Pace, unit: str, also: list[int]) -> str:
    values = reading(pace.value, goal.target, unit)
    passed = ""
    if also:
        passed = " (passing " + ", ".join(f"{other}%" for other in also) + " on the way)"
    if mark >= 100:
        return f"🏁 **{goal.name}** reached its target: {values}{passed}."
    return f"🎯 **{goal.name}** is {mark}% of the way: {values}{passed}."


def missed_text(goal: Goal, pace: Pace, unit: str) -> str:
    return (
        f"⏰ **{goal.name}** missed its deadline of {goal.deadline}: it ended at "
        f"{reading(pace.value, goal.target, unit)} ({format_percent(pace.percent)})."
    )


def celebration_embed(goal: Goal, pace: Pace, unit: str, now: datetime) -> discord.Embed:
    days_early = (goal.deadline - utc_day(min(now, goal.due))).days
    when = "on its deadline day" if days_early <= 0 else f"{days_early} days before the deadline"
    if days_early == 1:
        when = "a day before the deadline"
    value = pace.value if pace.value is not None else goal.target
    embed = discord.Embed(
        title=f"🎉 Goal reached: {goal.name}!",
        description=(
            f"Together we reached **{format_value(goal.target, unit)}** {when}, and the goal "
            f"stands at {format_value(value, unit)} ({format_percent(pace.percent)}).\n"
            "Thank you, everyone, for making it happen!"
        ),
        colour=CELEBRATION_COLOUR,
    )
    embed.set_footer(text=f"{goal.goal_type.value}: {goal.source()}")
    return embed


def not_achieved_text(goal: Goal, pace: Pace, unit: str, now: datetime) -> str:
    where = f"{format_percent(pace.percent)} ({reading(pace.value, goal.target, unit)})"
    if pace.verdict is Verdict.MISSED:
        if pace.value is None:
            return f"`{goal.name}` ended with no data, so it cannot be celebrated."
        return (
            f"`{goal.name}` ended at {where} without reaching its target, so it cannot be "
            "celebrated."
        )
    if now < goal.start:
        return (
            f"`{goal.name}` has not started yet (it starts {utc_day(goal.start)}), so it cannot "
            "be celebrated."
        )
    if pace.value is None:
        return (
            f"`{goal.name}` is not achieved yet: it has no data yet, with "
            f"{pace.days_left:.1f} days left, so it cannot be celebrated."
        )
    return (
        f"`{goal.name}` is not achieved yet: it is at {where} with {pace.days_left:.1f} days "
        "left, so it cannot be celebrated."
    )


UNREADABLE = "its progress cannot be worked out; check its dates and target with `goals edit`"


def unreadable_line(goal: Goal) -> str:
    """The list line of a goal whose stored record cannot be judged."""
    return f"- **{goal.name}** · {UNREADABLE}"


def unreadable_embed(goal: Goal) -> discord.Embed:
    return discord.Embed(
        title=f"⚠️ {goal.name}",
        description=UNREADABLE[0].upper() + UNREADABLE[1:] + ".",
        colour=discord.Colour.light_grey(),
    )


def list_line(goal: Goal, state: str, unit: str) -> str:
    return (
        f"- **{goal.name}** · {goal.goal_type.value} ({goal.source()}) · target "
        f"{format_value(goal.target, unit)} · {utc_day(goal.start)} → {goal.deadline}"
        f" · {state}"
    )


def report_line(goal: Goal, pace: Pace, unit: str) -> str:
    return (
        f"{goal.name}: {format_percent(pace.percent)} of {format_value(goal.target, unit)} · "
        f"{pace.verdict.label}"
    )
