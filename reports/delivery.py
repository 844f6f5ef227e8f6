"""The report loop: each server's report posted once per period, late posts and problems kept."""

from __future__ import annotations

import logging
import time as timer
from datetime import datetime, timezone

import discord
from discord.ext import tasks

from .schedule import Schedule, decide

log = logging.getLogger("red.kpicogs.reports")

NEEDED_PERMISSIONS = ("view_channel", "send_messages", "embed_links", "attach_files")
NO_MENTIONS = discord.AllowedMentions.none()


class ReportUnavailable(Exception):
    """The report cannot be made; the message says why, in one sentence for an admin."""


def missing_permissions(channel: discord.abc.GuildChannel, member: discord.Member) -> list[str]:
    """The permissions a report needs in `channel` that `member` lacks, in readable words."""
    allowed = channel.permissions_for(member)
    return [
        name.replace("_", " ").title()
        for name in NEEDED_PERMISSIONS
        if not getattr(allowed, name) and not allowed.administrator
    ]


def heading(schedule: Schedule, guild: discord.Guild, due: datetime, *, late: bool) -> str:
    """The text above a report: which report and for when; a late one says so."""
    text = (
        f"📊 **{schedule.frequency.capitalize()} KPI report** for {guild.name} · "
        f"values at {due:%Y-%m-%d %H:%M} UTC"
    )
    if late:
        text += (
            f"\n⏰ Posted late: this report was due at {due:%Y-%m-%d %H:%M} UTC, while the bot "
            "was offline."
        )
    return text


class ReportDelivery:
    """Runs every minute; posts what is due, never twice for one period."""

    def start_report_loop(self) -> None:
        self.report_loop.start()

    def stop_report_loop(self) -> None:
        self.report_loop.cancel()

    @tasks.loop(minutes=1)
    async def report_loop(self) -> None:
        due = self.report_loop.next_iteration
        if due is not None and due < discord.utils.utcnow():
            return  # catching up after the wall clock jumped: the next run covers it
        try:
            await self.run_due_reports()
        except Exception:
            log.exception("The scheduled report job failed")

    @report_loop.before_loop
    async def _wait_for_red(self) -> None:
        await self.bot.wait_until_red_ready()

    async def run_due_reports(self) -> None:
        """Post every server's report that is due at `self.clock()`, once per period."""
        async with self._run_lock:
            now = self.clock()
            started = timer.perf_counter()
            posted = 0
            for guild_id, settings in (await self.config.all_guilds()).items():
                if not settings.get("schedule"):
                    continue
                guild = self.bot.get_guild(guild_id)
                if guild is None:
                    continue
                try:
                    posted += await self._run_guild(guild, settings, now)
                except Exception:
                    log.exception("The scheduled report of guild %s failed", guild_id)
                    await self._problem(guild, now, "The report failed; the bot's log has why.")
            if posted:
                log.info(
                    "Report job: %d reports posted in %.2f s",
                    posted,
                    timer.perf_counter() - started,
                )

    async def _run_guild(self, guild: discord.Guild, settings: dict, now: datetime) -> int:
        schedule = Schedule.from_config(settings["schedule"])
        decision = decide(schedule, now, settings.get("handled"))
        if decision.skipped:
            log.warning(
                "Skipped %d scheduled reports of guild %s due from %s to %s: the bot was offline "
                "for more than a day after they were due",
                len(decision.skipped),
                guild.id,
                decision.skipped[0].isoformat(),
                decision.skipped[-1].isoformat(),
            )
        if decision.key is None:
            return 0
        # The period is marked before anything is sent: a crash, reload or reconnect in the
        # middle of sending can lose a report, but never post it twice.
        await self.config.guild(guild).handled.set(decision.key)
        if decision.due is None:
            return 0
        return await self.deliver(guild, schedule, decision.due, late=decision.late, now=now)

    async def deliver(
        self,
        guild: discord.Guild,
        schedule: Schedule,
        due: datetime,
        *,
        late: bool,
        now: datetime,
    ) -> int:
        """Post the report due at `due` in the schedule's channel; 1 if it was posted."""
        channel = guild.get_channel(schedule.channel_id)
        if channel is None:
            message = (
                "The report channel no longer exists; choose another with `reports schedule`."
            )
            return await self._problem(guild, now, message)
        missing = missing_permissions(channel, guild.me)
        if missing:
            return await self._problem(
                guild, now, f"I lack the {', '.join(missing)} permission in {channel.mention}."
            )
        try:
            text, rendered = await self.render_post(guild, schedule, due, late=late)
        except ReportUnavailable as error:
            return await self._problem(guild, now, str(error))
        try:
            await rendered.send(channel, content=text, allowed_mentions=NO_MENTIONS)
        except discord.Forbidden:
            message = f"Discord refused the report in {channel.mention}; check my permissions."
            return await self._problem(guild, now, message)
        except discord.HTTPException as error:
            return await self._problem(guild, now, f"Discord refused the report: {error.text}.")

        settings = self.config.guild(guild)
        await settings.last_posted.set(now.astimezone(timezone.utc).isoformat())
        await settings.problem.set({})
        log.info("Posted the %s report of guild %s due at %s", schedule.frequency, guild.id, due)
        return 1

    async def render_post(
        self, guild: discord.Guild, schedule: Schedule, due: datetime, *, late: bool = False
    ):
        """The text and the rendered report of a post; `reports preview` shows the same."""
        tracker = self.bot.get_cog("KPITracker")
        if tracker is None or not hasattr(tracker, "render_report"):
            raise ReportUnavailable(
                "Reports need the KPI Tracker cog; the bot owner can load it with "
                "`load kpitracker`."
            )
        rendered = await tracker.render_report(
            guild,
            at=due,
            days=schedule.days,
            since=schedule.period_start(due),
            title=f"{schedule.frequency.capitalize()} KPI report · {guild.name}",
        )
        return heading(schedule, guild, due, late=late), rendered

    async def _problem(self, guild: discord.Guild, now: datetime, message: str) -> int:
        log.warning("Could not post the scheduled report of guild %s: %s", guild.id, message)
        await self.config.guild(guild).problem.set(
            {"at": now.astimezone(timezone.utc).isoformat(), "message": message}
        )
        return 0
