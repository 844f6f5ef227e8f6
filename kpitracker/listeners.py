"""Activity that Discord and Red report by themselves: members, voice sessions, Economy paydays."""

from __future__ import annotations

import logging
from datetime import timezone

import discord
from discord.ext import tasks
from redbot.core import bank, commands

from .ledger import Kind, LedgerError, make_row, to_ms

log = logging.getLogger("red.kpicogs.kpitracker.listeners")

LAST_SEEN = "last_seen"


class ActivityListeners:
    """Joins, leaves and voice sessions from Discord; claims from Red's Economy `payday`."""

    async def start_listeners(self) -> None:
        self._payday_balances: dict[int, tuple[int, int]] = {}
        self.bot.before_invoke(self._before_payday)
        # The last moment the previous run was known to be up: sessions whose member has
        # left by now are closed there.
        last_seen = await self.store.get_meta(LAST_SEEN)
        self._blind_since: int | None = int(last_seen) if last_seen else None
        if self.bot.is_ready():
            await self.resume_voice_sessions()
        self.heartbeat.start()

    async def stop_listeners(self) -> None:
        self.heartbeat.cancel()
        self.bot.remove_before_invoke_hook(self._before_payday)
        await self.store.set_meta(LAST_SEEN, str(to_ms(self.clock())))

    @tasks.loop(minutes=1)
    async def heartbeat(self) -> None:
        due = self.heartbeat.next_iteration
        if due is not None and due < discord.utils.utcnow():
            return  # catching up after the wall clock jumped: one beat is enough
        await self.store.set_meta(LAST_SEEN, str(to_ms(self.clock())))

    @commands.Cog.listener()
    async def on_disconnect(self) -> None:
        if self._blind_since is None:
            self._blind_since = to_ms(self.clock())

    async def _record_member(self, member: discord.Member, kind: Kind) -> None:
        if member.bot or self.store is None:
            return
        try:
            row = make_row(member.guild.id, member.id, self.clock(), kind)
        except LedgerError as error:
            log.warning(
                "Could not record a %s in guild %s: %s", kind.label, member.guild.id, error
            )
            return
        await self.store.add([row], wait=False)

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        await self._record_member(member, Kind.JOIN)

    @commands.Cog.listener()
    async def on_member_remove(self, member: discord.Member) -> None:
        await self._record_member(member, Kind.LEAVE)

    # -- voice ---------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        # A move between channels, or muting, continues the same session.
        if member.bot or self.store is None or (before.channel is None) == (after.channel is None):
            return
        now = to_ms(self.clock())
        if after.channel is not None:
            await self.store.voice_started(member.guild.id, member.id, now)
        else:
            await self.store.voice_ended(member.guild.id, member.id, now)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        await self.resume_voice_sessions()

    async def resume_voice_sessions(self) -> None:
        """Reconcile sessions left open by a restart with who is in voice now.

        A member still in voice keeps the session; one who left while the bot was down or
        disconnected is closed at the last moment the bot could see them.
        """
        if self.store is None:
            return
        now = to_ms(self.clock())
        stopped_at = self._blind_since if self._blind_since is not None else now
        self._blind_since = None
        open_sessions = {
            (server, user) for server, user, _ in await self.store.open_voice_sessions()
        }
        in_voice = set()
        for guild in self.bot.guilds:
            for channel in guild.voice_channels + guild.stage_channels:
                for member in channel.members:
                    if not member.bot:
                        in_voice.add((guild.id, member.id))
        for server, user in open_sessions - in_voice:
            await self.store.voice_ended(server, user, max(stopped_at, 0))
        for server, user in in_voice - open_sessions:
            await self.store.voice_started(server, user, now)

    # -- Red's Economy as a loyalty program ----------------------------------------------------

    async def _before_payday(self, ctx: commands.Context) -> None:
        # A hook that runs before the command does, unlike an `on_command` listener.
        if not await self._tracks_payday(ctx):
            return
        self._payday_balances[ctx.message.id] = (
            await bank.get_balance(ctx.author),
            await _last_payday(ctx),
        )

    @commands.Cog.listener()
    async def on_command_completion(self, ctx: commands.Context) -> None:
        before = self._payday_balances.pop(ctx.message.id, None)
        if before is None:
            return
        balance, last_payday = before
        # Economy stamps the member's last payday only when it paid; a payday refused by its
        # cooldown leaves the stamp as it was.
        if await _last_payday(ctx) == last_payday:
            return
        paid = await bank.get_balance(ctx.author) - balance
        row = make_row(
            ctx.guild.id,
            ctx.author.id,
            ctx.message.created_at.astimezone(timezone.utc),
            Kind.CLAIM,
            max(paid, 0),
            "economy:payday",
        )
        await self.store.add([row], wait=True)

    async def _tracks_payday(self, ctx: commands.Context) -> bool:
        if ctx.guild is None or ctx.author.bot or self.store is None:
            return False
        if ctx.command is None or ctx.command.qualified_name != "payday":
            return False
        if ctx.cog is None or ctx.cog.qualified_name != "Economy":
            return False
        return await self.config.guild(ctx.guild).economy_claims()


async def _last_payday(ctx: commands.Context) -> int:
    economy = ctx.cog.config
    if await bank.is_global():
        return await economy.user(ctx.author).next_payday()
    return await economy.member(ctx.author).next_payday()
