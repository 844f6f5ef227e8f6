"""A rendered report as Discord messages: embeds with the charts they show, within limits.

Discord allows at most ten embeds, ten attachments and 6,000 characters of embed text per
message, 4,096 characters per description, and an upload size per server.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime

import discord

from .report import EMBED_COLOUR

EMBEDS_PER_MESSAGE = 10
FILES_PER_MESSAGE = 10
EMBED_TEXT_PER_MESSAGE = 6000
DESCRIPTION_LIMIT = 4096
LINE_LIMIT = 1000
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024


@dataclass(frozen=True)
class ReportFile:
    """An attachment's bytes; every send gets its own `discord.File` over them."""

    filename: str
    data: bytes

    def to_file(self) -> discord.File:
        return discord.File(io.BytesIO(self.data), filename=self.filename)


@dataclass
class ReportMessage:
    embeds: list[discord.Embed] = field(default_factory=list)
    attachments: list[ReportFile] = field(default_factory=list)

    def files(self) -> list[discord.File]:
        """New file objects each call: a sent `discord.File` cannot be sent again."""
        return [attachment.to_file() for attachment in self.attachments]


@dataclass
class RenderedReport:
    """The report as messages, each within ten embeds, ten files and the upload limit."""

    messages: list[ReportMessage]
    at: datetime

    async def send(self, destination, *, content: str | None = None, **options) -> list:
        """Send every message to a channel or context; `content` goes on the first one."""
        sent = []
        for number, message in enumerate(self.messages):
            extra = dict(options)
            files = message.files()
            if files:
                extra["files"] = files
            sent.append(
                await destination.send(
                    content=content if number == 0 else None, embeds=message.embeds, **extra
                )
            )
        return sent


@dataclass
class Block:
    """Embeds and the files they show, which must travel in the same message."""

    embeds: list[discord.Embed]
    attachments: list[ReportFile] = field(default_factory=list)


def line_blocks(title: str, lines: list[str]) -> list[Block]:
    """Lines as embed descriptions, as many pages as Discord's description limit needs."""
    pages: list[list[str]] = [[]]
    size = 0
    for line in lines:
        line = line if len(line) <= LINE_LIMIT else line[: LINE_LIMIT - 1] + "…"
        if pages[-1] and size + len(line) + 1 > DESCRIPTION_LIMIT:
            pages.append([])
            size = 0
        pages[-1].append(line)
        size += len(line) + 1
    blocks = []
    for number, page in enumerate(pages, start=1):
        heading = title if len(pages) == 1 else f"{title} ({number}/{len(pages)})"
        embed = discord.Embed(
            title=heading[:256], description="\n".join(page), colour=EMBED_COLOUR
        )
        blocks.append(Block([embed]))
    return blocks


def image_block(embed: discord.Embed, image: ReportFile, upload_limit: int) -> Block:
    """The embed showing `image`, or saying why it cannot when the image is too large."""
    if len(image.data) > upload_limit:
        embed.description = f"{embed.description}\nThe chart is over this server's upload limit."
        return Block([embed])
    embed.set_image(url=f"attachment://{image.filename}")
    return Block([embed], [image])


def pack(blocks: list[Block], upload_limit: int) -> list[ReportMessage]:
    """Blocks in order into as few messages as Discord's per-message limits allow."""
    messages: list[ReportMessage] = []
    current = ReportMessage()
    text = size = 0
    for block in blocks:
        block_text = sum(len(embed) for embed in block.embeds)
        block_size = sum(len(image.data) for image in block.attachments)
        fits = (
            len(current.embeds) + len(block.embeds) <= EMBEDS_PER_MESSAGE
            and len(current.attachments) + len(block.attachments) <= FILES_PER_MESSAGE
            and text + block_text <= EMBED_TEXT_PER_MESSAGE
            and size + block_size <= upload_limit
        )
        if not fits and (current.embeds or current.attachments):
            messages.append(current)
            current = ReportMessage()
            text = size = 0
        current.embeds.extend(block.embeds)
        current.attachments.extend(block.attachments)
        text += block_text
        size += block_size
    if current.embeds or current.attachments:
        messages.append(current)
    return messages
