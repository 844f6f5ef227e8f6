"""Reading goal values from KPI Tracker, recording them daily, and announcing milestones.

Announcements are at-most-once: the key of each one (a milestone, a missed deadline) is stored
before the message is sent, so neither a restart nor a dip and recovery repeats it.
"""

from __future__ import annotations

import logging
import time as timer
from datetime import datetime

import discord
from discord.ext import tasks

from .messages import celebration_embed, milestone_text, missed_text
from .models import Goal, GoalType, day_end, name_key
from .progress import Pace, Point, assess, new_milestones

log = logging.getLogger("red.kpicogs.goals")

CHECK_MINUTES = 15
# Synced metrics are read over the trailing week, as KPI Tracker reads a metric with no KPI.
METRIC_PERIOD = "week"
NO_MENTIONS = discord.AllowedMentions.none()


class GoalChecker:
    """The periodic check: daily values, milestones, missed deadlines, auto-celebrations."""

    def start_goal_loop(self) -> None:
        self.goal_loop.start()

    def stop_goal_loop(self) -> None:
        self.goal_loop.cancel()

    @tasks.loop(minutes=CHECK_MINUTES)
    async def goal_loop(self) -> None:
        due = self.goal_loop.next_iteration
        if due is not None and due < discord.utils.utcnow():
            return  # catching up after the wall clock jumped: the next run covers it
        try:
            await self.check_goals()
        except Exception:
            log.exception("The goal check failed")

    @goal_loop.before_loop
    async def _before_goal_loop(self) -> None:
        await self.bot.wait_until_red_ready()

    def kpitracker(self):
        """The loaded KPI Tracker cog, or None."""
        kpi = self.bot.get_cog("KPITracker")
        if kpi is None or getattr(kpi, "store", None) is None:
            return None
        return kpi

    # -- reading values ------------------------------------------------------------------------

    async def value_at(self, kpi, guild: discord.Guild, goal: Goal, at: datetime) -> float | None:
        """The goal's value at the instant `at`; None when the metric has no data."""
        if goal.goal_type is GoalType.LTZ_DISTRIBUTED:
            if at <= goal.start:
                return 0.0
            return await kpi.ltz_distributed(guild, goal.start, at)
        if goal.is_manual:
            return goal.recorded
        metric = goal.goal_type.synced_metric or goal.metric
        values = await kpi.metric_values(guild, at, METRIC_PERIOD)
        return values.get(metric)

    async def current_point(self, kpi, guild, goal: Goal, now: datetime) -> Point | None:
        """The goal's value now, or at its deadline once that has passed."""
        if now < goal.start:
            return None
        at = min(now, goal.due)
        stored = goal.values.get(goal.deadline.isoformat())
        if now >= goal.due and stored is not None:
            return at, stored
        value = await self.value_at(kpi, guild, goal, at)
        return None if value is None else (at, value)

    async def evaluate(self, kpi, guild, goal: Goal, now: datetime):
        """The goal's pace at `now`, with the points it was judged on."""
        history = [point for point in goal.history() if point[0] <= now]
        current = await self.current_point(kpi, guild, goal, now)
        origin = (goal.start, 0.0) if goal.goal_type is GoalType.LTZ_DISTRIBUTED else None
        pace = assess(
            history=history,
            current=current,
            origin=origin,
            start=goal.start,
            due=goal.due,
            target=goal.target,
            now=now,
            reached=goal.reached,
        )
        return pace, history, current

    async def goal_unit(self, kpi, guild, goal: Goal) -> str:
        if goal.goal_type is not GoalType.CUSTOM or not goal.metric or kpi is None:
            return goal.unit
        try:
            info = await kpi.metric_info(guild, goal.metric)
        except Exception:  # a custom metric that was removed or renamed
            return ""
        unit = getattr(info, "unit", "") or ""
        return "" if unit == "count" else unit

    # -- the check -----------------------------------------------------------------------------

    async def check_goals(self) -> None:
        """Record missing daily values, then announce milestones and missed deadlines, at
        `self.clock()`; every guild's goals, each guild on its own."""
        kpi = self.kpitracker()
        if kpi is None:
            log.debug("Goal check skipped: KPITracker is not loaded")
            return
        started = timer.perf_counter()
        checked = 0
        async with self._lock:
            now = self.clock()
            for guild_id, data in (await self.config.all_guilds()).items():
                guild = self.bot.get_guild(guild_id)
                if guild is None or not data.get("goals"):
                    continue
                try:
                    checked += await self._check_guild(kpi, guild, now)
                except Exception:
                    log.warning("Skipped the goal check of guild %s", guild_id, exc_info=True)
            self.last_check = now
        log.debug("Goal check: %d goals in %.2f s", checked, timer.perf_counter() - started)

    async def check_guild_now(self, guild: discord.Guild) -> None:
        """Check one guild's goals at once, as after a value recorded by hand."""
        kpi = self.kpitracker()
        if kpi is None:
            return
        async with self._lock:
            await self._check_guild(kpi, guild, self.clock())

    async def _check_guild(self, kpi, guild: discord.Guild, now: datetime) -> int:
        stored = await self.config.guild(guild).goals()
        for key, data in stored.items():
            try:
                await self._check_goal(kpi, guild, key, data, now)
            except Exception:
                log.warning(
                    "Skipped a goal of guild %s in the goal check", guild.id, exc_info=True
                )
        return len(stored)

    async def _check_goal(self, kpi, guild: discord.Guild, key: str, data: dict, now) -> None:
        goal = Goal.from_config(data)
        if now < goal.start:
            return
        recorded = await self.record_days(kpi, guild, goal, now)
        pace, _, _ = await self.evaluate(kpi, guild, goal, now)
        unit = await self.goal_unit(kpi, guild, goal)
        messages = self.announcements(goal, pace, now, unit)
        if recorded or messages:
            # Stored before anything is sent: a crash may lose a message, never repeat one.
            await self.config.guild(guild).goals.set_raw(key, value=goal.to_config())
        for content, with_celebration in messages:
            await self.announce(guild, goal, pace, now, unit, content, with_celebration)

    async def record_days(self, kpi, guild, goal: Goal, now: datetime) -> int:
        """Fill the values of the goal's ended days that have none (all of them after an
        outage), each read at the end of its day."""
        if goal.is_manual:
            return 0
        missing = goal.days_to_record(now)
        for day in missing:
            goal.values[day.isoformat()] = await self.value_at(kpi, guild, goal, day_end(day))
        return len(missing)

    def announcements(
        self, goal: Goal, pace: Pace, now: datetime, unit: str
    ) -> list[tuple[str, bool]]:
        """The messages due for a goal, as (text, with a celebration); marks them announced."""
        messages = []
        marks = new_milestones(pace.percent, goal.announced)
        if marks:
            goal.announced.extend(str(mark) for mark in marks)
            # Several milestones passed at once make one message about the highest.
            highest, also = marks[-1], marks[:-1]
            messages.append((milestone_text(goal, highest, pace, unit, also), highest >= 100))
        if now >= goal.due and not goal.reached and goal.missed_key not in goal.announced:
            goal.announced.append(goal.missed_key)
            messages.append((missed_text(goal, pace, unit), False))
        return messages

    async def announce(self, guild, goal, pace, now, unit, content, with_celebration) -> None:
        channel = await self.announcement_channel(guild)
        if channel is None:
            log.info("Goal announcement in guild %s skipped: no channel to post in", guild.id)
            return
        embed = None
        if with_celebration and await self.config.guild(guild).auto_celebrate():
            embed = celebration_embed(goal, pace, unit, now)
        try:
            await channel.send(content, embed=embed, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.warning("Could not post a goal announcement in guild %s", guild.id, exc_info=True)
        else:
            log.info("Posted a goal announcement in guild %s", guild.id)

    async def announcement_channel(self, guild: discord.Guild):
        """The configured channel, else the system channel, if the bot can post there."""
        channel_id = await self.config.guild(guild).channel()
        channel = guild.get_channel(channel_id) if channel_id else guild.system_channel
        if channel is None:
            return None
        allowed = channel.permissions_for(guild.me)
        if not allowed.send_messages:
            return None
        return channel

    async def find_goal(self, guild: discord.Guild, name: str) -> Goal | None:
        stored = await self.config.guild(guild).goals()
        data = stored.get(name_key(name))
        return Goal.from_config(data) if data else None

    async def all_goals(self, guild: discord.Guild) -> list[Goal]:
        """The guild's goals by deadline; one stored in a form that cannot be read is left out."""
        goals = []
        for data in (await self.config.guild(guild).goals()).values():
            try:
                goals.append(Goal.from_config(data))
            except (KeyError, TypeError, ValueError):
                log.warning("Skipped an unreadable stored goal of guild %s", guild.id)
        return sorted(goals, key=lambda goal: (goal.deadline, goal.key))
