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
LAST_NIGHT = datetime(2021, 12, 6, 0, 0, 5, tzinfo=timezone.utc)


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

    async def say(self, command: str, *, attachments: tuple[Path, ...] = ()) -> list:
        replies = await self.red.send(command, author=self.red.admin, attachments=attachments)
        self.transcript.exchange(command, replies)
        return replies

    async def replay_nights(self, clock) -> int:
        """Step the clock through every night of the history and run the nightly jobs."""
        kpi = self.red.bot.get_cog("KPITracker")
        night, nights = FIRST_NIGHT, 0
        while night <= LAST_NIGHT:
            clock.move_to(night)
            start = len(self.red.sent)
            await kpi.write_snapshots()
            unprompted = self.red.sent[start:]
            if unprompted:
                self.transcript.heading(f"Posted by the bot on {night:%Y-%m-%d}")
                self.transcript.exchange(None, unprompted)
            night += timedelta(days=1)
            nights += 1
        return nights


async def run(folder: Path) -> Path:
    transcript = Transcript(folder)
    with tempfile.TemporaryDirectory(prefix="kpi-demo-red-") as red_data:
        harness = await start_red(Path(red_data), [REPO_ROOT])
        try:
            await harness.load("kpitracker", "goals", "reports")
            demo = Demo(harness, transcript)
            with time_machine.travel(FIRST_NIGHT - timedelta(hours=1), tick=False) as clock:
                await harness.bot.get_cog("KPITracker")._catch_up
                transcript.heading("Importing the real activity history")
                await demo.say("!kpi import", attachments=(HISTORY,))

                transcript.heading("Setting KPIs")
                for command in (
                    "!kpi set metric:daily_active_users target:25 period:day alert_threshold:80",
                    "!kpi set metric:weekly_active_users target:80 period:week",
                    "!kpi set metric:streak_retention target:35 period:month alert_threshold:80",
                    "!kpi set metric:new_user_conversion target:50 period:month",
                    "!kpi set metric:churn_rate target:60 period:week alert_threshold:120",
                    "!kpi set metric:top_10_concentration target:40 period:quarter",
                ):
                    await demo.say(command)
                await demo.say("!kpi list")

                started = time.perf_counter()
                nights = await demo.replay_nights(clock)
                transcript.note(
                    f"Replayed {nights} nights of history through the snapshot job in "
                    f"{time.perf_counter() - started:.1f} s."
                )

                clock.move_to(datetime(2021, 11, 19, 12, tzinfo=timezone.utc))
                transcript.heading("The KPI report on 2021-11-19 at 12:00 UTC")
                await demo.say("!kpi report")

                clock.move_to(LAST_NIGHT + timedelta(hours=9))
                transcript.heading("The KPI report at the end of the history")
                await demo.say("!kpi report")
                transcript.heading("Exports")
                await demo.say("!kpi export format:csv start_date:2021-11-01 end_date:2021-11-30")
                await demo.say("!kpi export format:json data:ledger start_date:2021-12-01")
        finally:
            await stop_red(harness)
    return transcript.write()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "demo-output",
                        help="folder for the transcript and files (default: demo-output)")
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
