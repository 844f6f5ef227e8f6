"""The demo: the three cogs in a real Red, replaying the shipped real activity history.

Red starts without logging in to Discord (dpytest stands in for the gateway), loads the cogs
through its own loader, imports `demo/cardano_stackexchange.csv`, sets KPIs, then replays the
history day by day with a moved clock so that the nightly jobs run as they would have. Every
command sent and every answer of the bot (text, embeds and files) is written to a folder.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import time_machine

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from redharness import RedHarness, start_red, stop_red  # noqa: E402

HISTORY = REPO_ROOT / "demo" / "cardano_stackexchange.csv"
FIRST_NIGHT = datetime(2021, 4, 28, 0, 0, 5, tzinfo=timezone.utc)
LAST_NIGHT = datetime(2021, 12, 5, 0, 0, 5, tzinfo=timezone.utc)


class Transcript:
    """What was sent to the bot and what it answered, as Markdown, with its files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = folder / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        self.lines: list[str] = ["# What the bot answered", ""]
        self.saved: list[Path] = []

    def heading(self, text: str) -> None:
        self.lines += ["", f"## {text}", ""]

    def note(self, text: str) -> None:
        self.lines += [text, ""]

    def exchange(self, command: str | None, replies) -> None:
        if command:
            self.lines += [f"> `{command}`", ""]
        for reply in replies:
            where = f" (#{reply.channel_id})" if command is None else ""
            if reply.content:
                self.lines += [f"**bot{where}:** " + reply.content.replace("\n", "  \n"), ""]
            for embed in reply.embeds:
                self.lines += _embed_markdown(embed)
            for sent in reply.files:
                path = self._save(sent.filename, sent.data)
                self.lines += [f"*attached:* [{sent.filename}](files/{path.name})", ""]
                if path.suffix == ".png":
                    self.lines += [f"![{sent.filename}](files/{path.name})", ""]

    def _save(self, filename: str, data: bytes) -> Path:
        path = self.files / filename
        number = 1
        while path.exists():
            number += 1
            path = self.files / f"{Path(filename).stem}-{number}{Path(filename).suffix}"
        path.write_bytes(data)
        self.saved.append(path)
        return path

    def write(self) -> Path:
        path = self.folder / "transcript.md"
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        return path


def _embed_markdown(embed) -> list[str]:
    lines = []
    if embed.title:
        lines.append(f"**[embed] {embed.title}**  ")
    if embed.description:
        lines.append(embed.description.replace("\n", "  \n") + "  ")
    for field in embed.fields:
        lines.append(f"- **{field.name}**: {field.value}".replace("\n", " "))
    if embed.footer and embed.footer.text:
        lines.append(f"\n*{embed.footer.text}*")
    return lines + [""]


class Demo:
    def __init__(self, harness: RedHarness, transcript: Transcript) -> None:
        self.red = harness
        self.transcript = transcript
        self.channel = f"<#{harness.channel.id}>"

    async def say(self, command: str, *, attachments: tuple[Path, ...] = ()) -> list:
        command = command.replace("#general", self.channel)
        replies = await self.red.send(command, author=self.red.admin, attachments=attachments)
        self.transcript.exchange(command.replace(self.channel, "#general"), replies)
        return replies

    async def unprompted(self, when: datetime, job) -> None:
        """Run a job and write down what the bot posted by itself."""
        start = len(self.red.sent)
        await job()
        posted = self.red.sent[start:]
        if posted:
            self.transcript.heading(f"Posted by the bot on {when:%Y-%m-%d %H:%M} UTC")
            self.transcript.exchange(None, posted)

    async def replay_nights(self, clock, on_day) -> int:
        """Step the clock through every night of the history and run the jobs as they would.

        Every night the snapshot job, the alert evaluation and the goal check run; on Mondays
        at 09:00 the scheduled reports are due.
        """
        bot = self.red.bot
        kpi, goals, reports = (bot.get_cog(name) for name in ("KPITracker", "Goals", "Reports"))
        night, nights = FIRST_NIGHT, 0
        while night <= LAST_NIGHT:
            clock.move_to(night)
            await kpi.write_snapshots()
            await self.unprompted(night, kpi.evaluate_alerts)
            await self.unprompted(night, goals.check_goals)
            await on_day(night.date())
            if night.weekday() == 0:
                morning = night.replace(hour=9, minute=0, second=30)
                clock.move_to(morning)
                await self.unprompted(morning, reports.run_due_reports)
            night += timedelta(days=1)
            nights += 1
        return nights


SET_UP = (
    "!kpi preset list",
    '!kpi preset apply name:"Gaming Community"',
    # The preset's targets are for a large server; this history's community is smaller.
    "!kpi set metric:daily_active_users target:25 period:day",
    "!kpi set metric:weekly_active_users target:60 alert_threshold:80",
    "!kpi set metric:streak_retention target:35 period:month",
    "!kpi set metric:churn_rate target:60 alert_threshold:120",
    "!kpi set metric:events_per_active_user target:2.5 period:month",
    "!kpi disable metric:voice_participation",
    '!kpi custom-metric create name:"Engagement Score" '
    'formula:"(daily_active_users*0.6)+(weekly_active_users*0.4)" unit:count target:40',
    '!kpi custom-metric test formula:"reward_efficiency / daily_active_users"',
    "!kpi role-alerts set severity:all channel:#general",
    "!kpi alert-config metric:daily_active_users frequency:daily_digest severity:info",
    "!kpi alert-config metric:churn_rate frequency:daily_digest",
    '!kpi compound-alert create name:"Low Engagement Alert" conditions:"wau<45,streak<25" '
    "logic:AND severity:critical",
    "!kpi alert-config",
    "!kpi list",
    "!goals settings channel:#general celebrate:true",
    '!goals set name:"Autumn giving" type:ltz_distributed target:800 start:2021-09-01 '
    "deadline:2021-10-31",
    '!goals set name:"Back to 100" type:users target:100 start:2021-09-01 deadline:2021-10-31',
)


async def run(folder: Path) -> Path:
    transcript = Transcript(folder)
    with tempfile.TemporaryDirectory(prefix="kpi-demo-red-") as red_data:
        harness = await start_red(Path(red_data), [REPO_ROOT])
        try:
            await harness.load("kpitracker", "goals", "reports")
            harness.guild.name = "Cardano Stack Exchange (demo)"
            demo = Demo(harness, transcript)
            with time_machine.travel(FIRST_NIGHT - timedelta(hours=1), tick=False) as clock:
                await harness.bot.get_cog("KPITracker")._catch_up
                transcript.heading("Importing the real activity history")
                await demo.say("!kpi import", attachments=(HISTORY,))

                transcript.heading("Setting up from a built-in preset, alerts and goals")
                for command in SET_UP:
                    await demo.say(command)

                async def on_day(day) -> None:
                    if day.isoformat() == "2021-11-14":
                        transcript.heading("Scheduling a weekly report")
                        await demo.say(
                            "!reports schedule frequency:weekly channel:#general day:monday"
                        )

                started = time.perf_counter()
                nights = await demo.replay_nights(clock, on_day)
                transcript.heading("Replay finished")
                transcript.note(
                    f"Replayed {nights} nights of history through the snapshot, alert, goal "
                    f"and report jobs in {time.perf_counter() - started:.1f} s."
                )

                clock.move_to(datetime(2021, 12, 4, 21, tzinfo=timezone.utc))
                transcript.heading("Comparing with a baseline month (September 2021)")
                await demo.say(
                    "!kpi compare set metric:daily_active_users baseline_start:2021-09-01 "
                    "baseline_end:2021-09-30"
                )
                await demo.say(
                    '!kpi compare set metric:"Engagement Score" baseline_start:2021-09-01 '
                    "baseline_end:2021-09-30"
                )
                await demo.say("!kpi compare")
                transcript.heading("The KPI report at the end of the history (2021-12-04 21:00)")
                await demo.say("!kpi report")
                transcript.heading("Goals, alerts and the report schedule")
                await demo.say("!goals progress")
                await demo.say("!kpi compound-alert history")
                await demo.say("!reports")
                transcript.heading("Exports")
                await demo.say("!kpi export format:csv start_date:2021-11-01 end_date:2021-11-30")
                await demo.say("!kpi export format:json data:ledger start_date:2021-12-01")
        finally:
            await stop_red(harness)
    return transcript.write()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "demo-output",
        help="folder for the transcript and files (default: demo-output)",
    )
    arguments = parser.parse_args(argv)
    folder = arguments.out.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("files/*"):
        old.unlink()
    path = asyncio.run(run(folder))
    print(f"The bot's answers are in {path}")
    print(f"Files it sent (reports, charts, exports) are in {folder / 'files'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
