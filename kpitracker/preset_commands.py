"""The `kpi preset` commands: built-in templates and saved configurations, applied in one step."""

from __future__ import annotations

import logging
from typing import Optional

import discord
from discord import app_commands
from discord.ext.commands import flag
from redbot.core import commands
from redbot.core.utils.chat_formatting import pagify

from .commands import NO_MENTIONS, Flags, KpiCommands
from .converters import Switch, unquote
from .custom_metric_commands import Text
from .preset_messages import TYPE_SINGULAR, describe_plan, describe_preset
from .presets import (
    BUILT_IN,
    MAX_DESCRIPTION_LENGTH,
    MAX_PRESETS_PER_SERVER,
    TYPES,
    Preset,
    PresetError,
    check_new_name,
    name_key,
    oldest_automatic,
    plan_apply,
    saved_configuration,
    undo_name,
)

log = logging.getLogger("red.kpicogs.kpitracker")

# Preset names and descriptions are written by admins of any server; echoing them never pings.

# The alert settings a saved configuration keeps, by Config key, when the server has them.
PRESET_ALERT_KEYS = ("alert_settings", "alert_routes", "compound_alerts")


class ServerId(commands.Converter):
    async def convert(self, ctx: commands.Context, argument: str) -> int:
        text = unquote(argument)
        if not text.isdigit():
            raise commands.BadArgument(
                f"`{text}` is not a server id; give the number `kpi preset list` shows."
            )
        return int(text)


class PresetNameFlags(Flags):
    name: str = flag(converter=Text, description="The preset's name, e.g. Gaming Community")
    server: Optional[int] = flag(
        converter=ServerId, default=None, description="Id of the server that shared it, if several"
    )


class PresetApplyFlags(PresetNameFlags):
    force: bool = flag(
        converter=Switch,
        default=False,
        description="true to change custom metrics although KPIs or alerts use them",
    )


class PresetCreateFlags(Flags):
    name: str = flag(converter=Text, description="A name for the preset, e.g. My Server Config")
    description: str = flag(converter=Text, default="", description="What the preset is for")
    public: bool = flag(
        converter=Switch, default=False, description="true lets other servers on this bot use it"
    )


class PresetDeleteFlags(Flags):
    name: str = flag(converter=Text, description="The name of one of this server's presets")


async def autocomplete_preset(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    client = getattr(interaction, "client", None)
    cog = client.get_cog("KPITracker") if client is not None else None
    if cog is None or interaction.guild is None:
        return []
    typed = current.casefold().strip()
    names = [preset.name for preset in await cog.visible_presets(interaction.guild)]
    unique = [name for name in dict.fromkeys(names) if typed in name.casefold()]
    return [app_commands.Choice(name=name[:100], value=name[:100]) for name in unique[:25]]


class PresetCommands:
    """Built-in KPI templates and saved configurations: list, view, apply, create, delete."""

    # -- storage ---------------------------------------------------------------------------------

    async def own_presets(self, guild: discord.Guild) -> list[Preset]:
        """This server's saved presets, private and public."""
        private = await self.config.guild(guild).presets()
        public = await self.config.public_presets()
        presets = [Preset.from_config(data) for data in private.values()]
        presets += [
            Preset.from_config(data)
            for data in public.values()
            if data.get("owner_id") == guild.id
        ]
        return sorted(presets, key=lambda preset: preset.key)

    async def visible_presets(self, guild: discord.Guild) -> list[Preset]:
        """The built-in presets, this server's own and those other servers shared."""
        public = await self.config.public_presets()
        shared = [
            Preset.from_config(data)
            for data in public.values()
            if data.get("owner_id") != guild.id
        ]
        return [*BUILT_IN, *await self.own_presets(guild), *sorted(shared, key=lambda p: p.key)]

    async def _store_preset(self, guild: discord.Guild, preset: Preset) -> None:
        public_id = f"{guild.id}:{preset.key}"
        if preset.public:
            await self.config.public_presets.set_raw(public_id, value=preset.to_config())
            await self.config.guild(guild).presets.clear_raw(preset.key)
        else:
            await self.config.guild(guild).presets.set_raw(preset.key, value=preset.to_config())
            await self.config.public_presets.clear_raw(public_id)

    async def _delete_preset(self, guild: discord.Guild, preset: Preset) -> None:
        await self.config.guild(guild).presets.clear_raw(preset.key)
        await self.config.public_presets.clear_raw(f"{guild.id}:{preset.key}")

    async def find_preset(
        self, guild: discord.Guild, name: str, server: int | None = None
    ) -> Preset:
        """The preset called `name` that this server may use; `PresetError` if none or several."""
        key = name_key(name)
        candidates = [p for p in await self.visible_presets(guild) if p.key == key]
        if server is not None:
            candidates = [p for p in candidates if p.owner_id == server]
        if not candidates:
            raise PresetError(f"There is no preset called `{name}`; `kpi preset list` shows them.")
        for preset in candidates:  # built-in first, then this server's own
            if preset.built_in or preset.owner_id == guild.id:
                return preset
        if len(candidates) > 1:
            servers = ", ".join(str(preset.owner_id) for preset in candidates)
            raise PresetError(
                f"Several servers share a preset called `{name}` ({servers}); add `server:<id>`."
            )
        return candidates[0]

    def _owner_label(self, preset: Preset, guild: discord.Guild) -> str:
        if preset.built_in:
            return "built-in"
        if preset.owner_id == guild.id:
            return "this server, " + ("public" if preset.public else "private")
        other = self.bot.get_guild(preset.owner_id)
        return f"shared by {other.name if other else 'another server'} ({preset.owner_id})"

    async def _alert_settings(self, guild: discord.Guild) -> dict[str, object]:
        settings = self.config.guild(guild)
        found = {}
        for key in PRESET_ALERT_KEYS:
            stored = await settings.get_raw(key, default=None)
            if stored is not None:
                found[key] = stored
        return found

    async def _current_configuration(
        self, guild: discord.Guild, name: str, description: str, *, public: bool, automatic: bool
    ) -> Preset:
        settings = self.config.guild(guild)
        return saved_configuration(
            name,
            description,
            guild.id,
            await settings.kpis(),
            await settings.custom_metrics(),
            await self._alert_settings(guild),
            self.clock().strftime("%Y-%m-%d %H:%M:%S"),
            public=public,
            automatic=automatic,
        )

    async def _metrics_in_use(self, guild: discord.Guild, plan) -> list[str]:
        """`change custom metric `score` (…), used by KPI `score`` for each custom metric the
        plan changes or removes while something that stays uses it."""
        found = []
        for key in [*plan.metrics_changed, *plan.metrics_removed]:
            users = [
                user
                for user in await self.custom_metric_users(guild, key)
                if not user.startswith("custom metric")
                and not (user == f"KPI `{key}`" and key not in plan.kpis)
            ]
            if not users:
                continue
            if key in plan.metrics_removed:
                what = f"remove custom metric `{key}`"
            else:
                difference = plan.metric_differences.get(key)
                what = f"change custom metric `{key}`" + (f" ({difference})" if difference else "")
            found.append(f"{what}, used by {', '.join(users)}")
        return found

    # -- commands --------------------------------------------------------------------------------

    @KpiCommands.kpi.group(name="preset")
    async def kpi_preset(self, ctx: commands.Context) -> None:
        """Ready-made KPI configurations and saved ones: list, view, apply, create, delete."""
        if ctx.invoked_subcommand is None:
            await ctx.send_help()

    @kpi_preset.command(name="list")
    async def kpi_preset_list(self, ctx: commands.Context) -> None:
        """List the presets this server can apply, by type.

        **Example**
        - `[p]kpi preset list`
        """
        presets = await self.visible_presets(ctx.guild)
        lines = []
        for preset_type, title in TYPES.items():
            chosen = [preset for preset in presets if preset.type == preset_type]
            if not chosen:
                continue
            lines.append(f"**{title}**")
            for preset in chosen:
                owner = "" if preset.built_in else f" ({self._owner_label(preset, ctx.guild)})"
                lines.append(f"- {preset.name}{owner}: {preset.description or 'no description'}")
        lines.append(f'View one with `{ctx.clean_prefix}kpi preset view name:"<name>"`.')
        for page in pagify("\n".join(lines)):
            await ctx.send(page, allowed_mentions=NO_MENTIONS)

    @kpi_preset.command(name="view")
    async def kpi_preset_view(self, ctx: commands.Context, *, options: PresetNameFlags) -> None:
        """Show a preset's KPIs, alert thresholds and custom metrics.

        **Options**
        - `name:` the preset
        - `server:` the id of the server that shared it, when several share the name

        **Example**
        - `[p]kpi preset view name:"Gaming Community"`
        """
        try:
            preset = await self.find_preset(ctx.guild, options.name, options.server)
        except PresetError as error:
            await ctx.send(str(error), allowed_mentions=NO_MENTIONS)
            return
        for page in pagify(
            "\n".join(describe_preset(preset, self._owner_label(preset, ctx.guild)))
        ):
            await ctx.send(page, allowed_mentions=NO_MENTIONS)

    @kpi_preset.command(name="apply")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_preset_apply(self, ctx: commands.Context, *, options: PresetApplyFlags) -> None:
        """Apply a preset in one step, listing the KPIs it adds, changes and leaves alone.

        Templates and KPI sets add or change their KPIs and keep the others; a custom preset
        restores the configuration it saved. The configuration before is saved as a custom
        preset first, so applying that one undoes the change.

        A preset that would change or remove a custom metric that KPIs, alerts, goals or
        comparisons use is applied only with `force:true`.

        **Options**
        - `name:` the preset
        - `server:` the id of the server that shared it, when several share the name
        - `force:` true to apply it although it changes custom metrics in use

        **Example**
        - `[p]kpi preset apply name:"Gaming Community"`
        """
        try:
            preset = await self.find_preset(ctx.guild, options.name, options.server)
            settings = self.config.guild(ctx.guild)
            own = preset.owner_id == ctx.guild.id
            plan = plan_apply(
                preset,
                await settings.kpis(),
                await settings.custom_metrics(),
                await self._alert_settings(ctx.guild) if own else None,
                restore_metrics=own,
            )
        except PresetError as error:
            await ctx.send(str(error), allowed_mentions=NO_MENTIONS)
            return
        if not plan.changes_anything:
            lines = [f"**{preset.name}** matches this server's configuration; nothing changed."]
            await ctx.send("\n".join(lines + describe_plan(plan)), allowed_mentions=NO_MENTIONS)
            return
        in_use = await self._metrics_in_use(ctx.guild, plan)
        if in_use and not options.force:
            await ctx.send(
                f"Applying **{preset.name}** would {'; '.join(in_use)}; nothing was changed. "
                "Add `force:true` to apply it anyway.",
                allowed_mentions=NO_MENTIONS,
            )
            return

        taken = {own.key for own in await self.own_presets(ctx.guild)}
        stamp = self.clock().strftime("%Y-%m-%d %H:%M")
        undo = await self._current_configuration(
            ctx.guild,
            undo_name(preset, stamp, taken),
            f"Saved automatically before applying {preset.name}.",
            public=False,
            automatic=True,
        )
        await self._store_preset(ctx.guild, undo)
        for stale in oldest_automatic(await self.own_presets(ctx.guild)):
            await self._delete_preset(ctx.guild, stale)

        await settings.kpis.set(plan.kpis)
        await settings.custom_metrics.set(plan.custom_metrics)
        for key, value in plan.alerts.items():
            await settings.set_raw(key, value=value)
        log.info("Preset %r applied in guild %s", preset.name, ctx.guild.id)

        kind = TYPE_SINGULAR.get(preset.type, preset.type)
        lines = [f"Applied **{preset.name}** ({kind}).", *describe_plan(plan)]
        lines.append(
            f"The configuration before is saved as **{undo.name}**; undo with "
            f'`{ctx.clean_prefix}kpi preset apply name:"{undo.name}"`.'
        )
        for page in pagify("\n".join(lines)):
            await ctx.send(page, allowed_mentions=NO_MENTIONS)

    @kpi_preset.command(name="create")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_preset_create(
        self, ctx: commands.Context, *, options: PresetCreateFlags
    ) -> None:
        """Save this server's KPIs, custom metrics and alert settings as a preset.

        Saving again under a name this server already uses replaces that preset.

        **Options**
        - `name:` the preset's name
        - `description:` what it is for (optional)
        - `public:` true lets admins of other servers on this bot apply it (default false)

        **Example**
        - `[p]kpi preset create name:"My Server Config" description:"Our setup" public:false`
        """
        try:
            name = check_new_name(options.name)
        except PresetError as error:
            await ctx.send(str(error), allowed_mentions=NO_MENTIONS)
            return
        if len(options.description) > MAX_DESCRIPTION_LENGTH:
            await ctx.send(
                f"The description is {len(options.description)} characters; "
                f"the limit is {MAX_DESCRIPTION_LENGTH}."
            )
            return
        if not await self.config.guild(ctx.guild).kpis():
            await ctx.send("This server has no KPIs to save; set some with `kpi set` first.")
            return
        own = {preset.key: preset for preset in await self.own_presets(ctx.guild)}
        replaced = own.get(name_key(name))
        saved = [preset for preset in own.values() if not preset.automatic]
        if replaced is None and len(saved) >= MAX_PRESETS_PER_SERVER:
            await ctx.send(
                f"This server has {MAX_PRESETS_PER_SERVER} presets; delete one with "
                "`kpi preset delete` first."
            )
            return
        preset = await self._current_configuration(
            ctx.guild, name, options.description, public=options.public, automatic=False
        )
        await self._store_preset(ctx.guild, preset)
        verb = "Updated" if replaced else "Saved"
        scope = (
            "admins of every server on this bot can apply it"
            if options.public
            else "only this server can see it"
        )
        await ctx.send(
            f"{verb} preset **{name}** with {len(preset.kpis)} KPIs and "
            f"{len(preset.custom_metrics)} custom metrics; {scope}.",
            allowed_mentions=NO_MENTIONS,
        )

    @kpi_preset.command(name="delete")
    @commands.admin_or_permissions(manage_guild=True)
    async def kpi_preset_delete(
        self, ctx: commands.Context, *, options: PresetDeleteFlags
    ) -> None:
        """Delete one of this server's presets; built-in and other servers' presets stay.

        **Example**
        - `[p]kpi preset delete name:"My Server Config"`
        """
        key = name_key(options.name)
        own = {preset.key: preset for preset in await self.own_presets(ctx.guild)}
        if key not in own:
            try:
                found = await self.find_preset(ctx.guild, options.name)
            except PresetError as error:
                await ctx.send(str(error), allowed_mentions=NO_MENTIONS)
                return
            whose = "a built-in preset" if found.built_in else "another server's preset"
            await ctx.send(
                f"`{found.name}` is {whose}; a server can delete only its own.",
                allowed_mentions=NO_MENTIONS,
            )
            return
        await self._delete_preset(ctx.guild, own[key])
        await ctx.send(f"Deleted preset **{own[key].name}**.", allowed_mentions=NO_MENTIONS)

    for _command in (kpi_preset_view, kpi_preset_apply):

        @_command.autocomplete("name")
        async def _name_autocomplete(self, interaction, current):
            return await autocomplete_preset(interaction, current)

    del _command
