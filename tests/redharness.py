"""A real Red bot for tests, driven by dpytest instead of Discord.

The `red` fixture starts `redbot.core.bot.Red` as the `redbot` command does (an instance
config, Red's CLI flags, the storage driver, `_pre_login`, the set-up hook that adds Core and
the cog paths), except that logging in is replaced by dpytest's fake HTTP client and gateway
state. Cogs are loaded, reloaded and unloaded with the logic behind `[p]load` and `[p]unload`.

    @pytest.mark.cogs("goals")
    async def test_goals(red):
        replies = await red.send("!goals", author=red.admin)
        assert replies[0].content == "No goals are set on this server."

        await red.enable_slash("goals")
        replies = await red.slash("goals list")
        assert replies[0].content == "No goals are set on this server."

Limits: there is no websocket, so `on_ready` listeners never run (the harness marks the bot
ready itself). Slash commands arrive as INTERACTION_CREATE events through discord.py's parser
and Red's tree, but nothing is synced with Discord, autocomplete, buttons and modals are not
driven. Message edits and reactions go to dpytest unrecorded.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend, callbacks, factories, runner
from discord.webhook.async_ import AsyncWebhookAdapter, async_context
from redbot.core import _cog_manager, _drivers, bank, config, data_manager
from redbot.core._cli import parse_cli_flags
from redbot.core._drivers import json as json_driver
from redbot.core.bot import Red
from redbot.core.commands import CommandInvokeError

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "!"
OWNER_ID = 100_000_000_000_000_001
SLASH_NAME = re.compile(r"^[-_\w]{1,32}$")

_USER_CONFIG_FILE = data_manager.config_file
_INVOKE_ERRORS = (CommandInvokeError, discord.app_commands.CommandInvokeError)


def cog_packages(root: Path = REPO_ROOT) -> list[str]:
    """The cog packages in `root`: the folders with an `info.json` and an `__init__.py`."""
    return sorted(
        path.parent.name
        for path in root.glob("*/info.json")
        if (path.parent / "__init__.py").is_file()
    )


@dataclass(frozen=True)
class SentFile:
    """A file the bot attached to a message."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class Reply:
    """One message the bot sent.

    `route` is `message` for a channel message; the answers to a slash command are `response`,
    `followup` or `edit` (of the original response).
    """

    content: str
    embeds: tuple[discord.Embed, ...] = ()
    files: tuple[SentFile, ...] = ()
    channel_id: int | None = None
    route: str = "message"
    ephemeral: bool = False


class CogLoadFailed(AssertionError):
    """Red's loader refused a cog; the message carries Red's report and traceback."""


@dataclass
class RedHarness:
    """A started Red bot in one fake guild, and the ways a test talks to it.

    `owner` owns the bot, `admin` has the Manage Server permission and `member` has no
    moderation permission; all three are in `guild`, whose text channel is `channel`. `sent`
    records every message the bot sent, in order, and `errors` every command error.
    """

    bot: Red
    guild: discord.Guild
    channel: discord.TextChannel
    owner: discord.Member
    admin: discord.Member
    member: discord.Member
    sent: list[Reply] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)
    _tree_errors: list[Exception] = field(default_factory=list)
    _set_aside: dict[str, ModuleType] = field(default_factory=dict)

    def make_member(
        self,
        name: str,
        *,
        admin: bool = False,
        permissions: discord.Permissions | None = None,
        roles: tuple[discord.Role, ...] = (),
    ) -> discord.Member:
        """Add a member to the guild. `admin=True` gives a role with Manage Server,
        `permissions` a role with exactly those permissions, `roles` existing roles."""
        return _make_member(self.guild, name, admin, permissions, roles)

    def make_role(self, name: str, permissions: discord.Permissions) -> discord.Role:
        """The guild's role called `name`, created with `permissions` if it does not exist."""
        return _make_role(self.guild, name, permissions)

    async def send(
        self,
        content: str,
        *,
        author: discord.Member | None = None,
        channel: discord.abc.Messageable | None = None,
        attachments: tuple[Path, ...] = (),
        raise_invoke_errors: bool = True,
    ) -> list[Reply]:
        """Post `content` as `author` (default `member`) in `channel` (default `channel`),
        with the files at `attachments` attached, and return what the bot sent meanwhile.

        An exception raised inside a command is re-raised here, so the test fails with the
        command's own traceback; errors that Red answers itself (a failed check, a bad
        argument) are only added to `errors` and show up as replies.
        """
        start = len(self.sent)
        backend.make_message(
            content,
            author or self.member,
            channel or self.channel,
            attachments=[backend.make_attachment(Path(path)) for path in attachments],
        )
        await self._settle(raise_invoke_errors)
        return self.sent[start:]

    async def slash(
        self,
        command: str,
        *,
        author: discord.Member | None = None,
        channel: discord.TextChannel | None = None,
        raise_invoke_errors: bool = True,
        **options: Any,
    ) -> list[Reply]:
        """Use the slash command `command` (e.g. `"goals list"`) with `options` as `author`
        (default `member`) in `channel` and return the bot's answers.

        The command must be enabled first (`enable_slash`). Option values are Python values;
        members, users, roles and channels are given as objects, an attachment as the `Path` of
        a file. Errors as for `send`.
        """
        author = author or self.member
        channel = channel or self.channel
        data = _command_data(self.bot.tree, command.split(), options, channel)
        start = len(self.sent)
        token = async_context.set(_InteractionEndpoints(self, channel))
        try:
            self.bot._connection.parse_interaction_create(
                _interaction_payload(self.bot, author, channel, data)
            )
            await self._settle(raise_invoke_errors)
        finally:
            async_context.reset(token)
        return self.sent[start:]

    async def enable_slash(self, *packages: str) -> None:
        """Enable the app commands of loaded cog `packages` with `[p]slash enablecog`."""
        replies = await self.send(
            f"{PREFIX}slash enablecog {' '.join(packages)}", author=self.owner
        )
        if not any(reply.content.startswith("Enabled") for reply in replies):
            raise AssertionError(f"[p]slash enablecog answered {replies}")

    def slash_payload(self) -> list[dict]:
        """The JSON that `[p]slash sync` would send to Discord for the enabled commands."""
        return [command.to_dict(self.bot.tree) for command in self.bot.tree.get_commands()]

    async def load(self, *packages: str) -> None:
        """Load cog packages as `[p]load` does; raise `CogLoadFailed` if any fails."""
        outcome = await self.bot.get_cog("Core")._load(packages)
        failed = {key: value for key, value in outcome.items() if key != "loaded_packages"}
        if any(failed.values()):
            raise CogLoadFailed(f"{failed}\n{self.bot._last_exception or ''}")

    async def unload(self, *packages: str) -> None:
        """Unload cog packages as `[p]unload` does, which runs their `cog_unload`."""
        outcome = await self.bot.get_cog("Core")._unload(packages)
        if outcome["notloaded_packages"]:
            raise CogLoadFailed(f"not loaded: {outcome['notloaded_packages']}")

    async def reload(self, *packages: str) -> None:
        """Unload then load cog packages, as `[p]reload` does."""
        await self.unload(*packages)
        await self.load(*packages)

    async def _settle(self, raise_invoke_errors: bool) -> None:
        # Wait for the event handlers and slash command invocations the input started.
        while True:
            await dpytest.run_all_events()
            invocations = [
                task
                for task in asyncio.all_tasks()
                if task.get_name() == "CommandTree-invoker" and not task.done()
            ]
            if not invocations:
                break
            await asyncio.gather(*invocations)

        errors = [*self._tree_errors]
        self._tree_errors.clear()
        while not runner.error_queue.empty():
            errors.append(runner.error_queue.get_nowait()[1])
        self.errors.extend(errors)
        for error in errors if raise_invoke_errors else ():
            crash = _crash_inside(error)
            if crash is not None:
                raise crash


def slash_payload_problems(payload: list[dict]) -> list[str]:
    """What Discord would reject in a slash command payload: names that are not lowercase
    `^[-_\\w]{1,32}$`, descriptions outside 1-100 characters, more than 25 options or choices,
    a required option after an optional one. An empty list means the payload is valid."""
    problems: list[str] = []

    def check(item: dict, parents: str) -> None:
        name = item.get("name", "")
        where = f"{parents} {name}".strip()
        if not SLASH_NAME.match(name) or name != name.lower():
            problems.append(f"/{where}: the name is not lowercase ^[-_\\w]{{1,32}}$")
        description = item.get("description", "")
        if not 1 <= len(description) <= 100:
            problems.append(f"/{where}: the description has {len(description)} characters")
        options = item.get("options") or []
        if len(options) > 25:
            problems.append(f"/{where}: {len(options)} options, more than 25")
        if len(item.get("choices") or []) > 25:
            problems.append(f"/{where}: more than 25 choices")
        seen_optional = False
        for option in options:
            if option.get("type") not in (1, 2):  # not a subcommand or subcommand group
                if option.get("required") and seen_optional:
                    problems.append(f"/{where} {option['name']}: required after an optional")
                seen_optional = seen_optional or not option.get("required")
            check(option, where)

    for command in payload:
        check(command, "")
    return problems


async def start_red(data_path: Path, cog_paths: list[Path]) -> RedHarness:
    """Start Red on a new JSON instance in `data_path`, with `cog_paths` as extra cog paths.

    The repository's cog modules that tests imported directly are set aside until `stop_red`,
    so Red imports its own copies: its loader would otherwise execute those modules again in
    place and give them new classes, breaking tests that hold the old ones. In a test that
    uses the bot, take cog classes from the loaded cog's modules, e.g. by importing them in
    the test body.
    """
    _reset_red_globals()
    set_aside = _set_aside_cog_modules()
    data_path.mkdir(parents=True, exist_ok=True)
    instance = "harness"
    instance_config = {
        "DATA_PATH": str(data_path / "instance"),
        "COG_PATH_APPEND": "cogs",
        "CORE_PATH_APPEND": "core",
        "STORAGE_TYPE": "JSON",
        "STORAGE_DETAILS": {},
    }
    data_manager.config_file = data_path / "config.json"
    data_manager.config_file.write_text(json.dumps({instance: instance_config}))
    data_manager.load_basic_configuration(instance)
    flags = [instance, "--no-prompt", "--prefix", PREFIX, "--owner", str(OWNER_ID)]
    for path in cog_paths:
        flags += ["--cog-path", str(path)]
    bot = Red(cli_flags=parse_cli_flags(flags), description="Red V3", dm_help=None)

    try:
        await _log_in(bot)
    except BaseException:
        _forget_instance(set_aside)
        raise

    # How Red's on_ready ends; the rest of it prints a banner and asks PyPI for a version.
    bot._uptime = datetime.now(UTC).replace(tzinfo=None)
    bot._ready.set()
    bot._red_ready.set()

    guild = dpytest.get_config().guilds[0]
    harness = RedHarness(
        bot,
        guild,
        guild.text_channels[0],
        owner=backend.make_member(backend.make_user("Owner", 1, id_num=OWNER_ID), guild),
        admin=_make_member(guild, "Admin", admin=True),
        member=_make_member(guild, "Member"),
        _set_aside=set_aside,
    )
    _record_what_the_bot_sends(harness)
    return harness


async def _log_in(bot: Red) -> None:
    # What redbot's run_bot does before logging in.
    await _drivers.get_driver_class().initialize(**data_manager.storage_details())
    lib_path = data_manager.cog_data_path(raw_name="Downloader") / "lib"
    lib_path.mkdir(parents=True, exist_ok=True)
    sys.path.append(str(lib_path))
    await bot._pre_login()

    # What Client.login does, with dpytest's HTTP client and state instead of Discord's.
    _configure_dpytest(bot)
    await bot._async_setup_hook()
    bot._connection._command_tree = bot.tree
    bot._application = await bot.application_info()
    bot._connection.application_id = bot._application.id
    await bot.setup_hook()


async def stop_red(harness: RedHarness) -> None:
    """Unload every cog as `[p]unload` does, close the bot and forget Red's global state."""
    bot = harness.bot
    try:
        await bot.get_cog("Core")._unload(list(bot.extensions))
    finally:
        try:
            await bot.close()
        finally:
            _forget_instance(harness._set_aside)


def _set_aside_cog_modules() -> dict[str, ModuleType]:
    packages = set(cog_packages())
    set_aside = {
        name: module for name, module in sys.modules.items() if name.split(".")[0] in packages
    }
    for name in set_aside:
        del sys.modules[name]
    return set_aside


def _forget_instance(set_aside: dict[str, ModuleType]) -> None:
    packages = set(cog_packages())
    for name in [name for name in sys.modules if name.split(".")[0] in packages]:
        del sys.modules[name]
    sys.modules.update(set_aside)
    lib_path = str(data_manager.cog_data_path(raw_name="Downloader") / "lib")
    if lib_path in sys.path:
        sys.path.remove(lib_path)
    _reset_red_globals()
    data_manager.basic_config = None
    data_manager.config_file = _USER_CONFIG_FILE


@pytest.fixture
async def red(request, tmp_path) -> AsyncIterator[RedHarness]:
    """A started Red bot (see `RedHarness`) with this repository as a cog path. Mark the test
    `@pytest.mark.cogs("goals", ...)` to load those cog packages before it runs."""
    harness = await start_red(tmp_path / "red", [REPO_ROOT])
    try:
        marker = request.node.get_closest_marker("cogs")
        if marker and marker.args:
            await harness.load(*marker.args)
        yield harness
    finally:
        await stop_red(harness)


def _reset_red_globals() -> None:
    # Red caches Config objects and the JSON driver's data per cog name at module level; kept,
    # the next bot would read the last one's data and use locks bound to a closed loop.
    for finalizer in json_driver._finalizers:
        finalizer.detach()
    json_driver._finalizers.clear()
    json_driver._shared_datastore.clear()
    json_driver._driver_counts.clear()
    json_driver._locks.clear()
    config._config_cache = weakref.WeakValueDictionary()
    _cog_manager._TEMP_PATHS.clear()
    bank._cache_is_global = None
    bank._cache = dict.fromkeys(bank._cache)
    for queue in (runner.sent_queue, runner.error_queue):
        while not queue.empty():
            queue.get_nowait()


def _configure_dpytest(bot: Red) -> None:
    # dpytest refuses sharded clients, which Red is; nothing it fakes depends on shards.
    sharded = discord.AutoShardedClient
    discord.AutoShardedClient = type("NotSharded", (), {})
    try:
        dpytest.configure(bot, guilds=["Harness Guild"], text_channels=["general"], members=0)
    finally:
        discord.AutoShardedClient = sharded


def _record_what_the_bot_sends(harness: RedHarness) -> None:
    bot = harness.bot

    # Replaces dpytest's send_message, which drops the text and embeds of a message that has
    # files and writes the files into the working directory.
    async def send_message(channel_id: int, *, params):
        channel = bot.get_channel(channel_id)
        me = channel.guild.me if getattr(channel, "guild", None) else bot.user
        allowed = channel.permissions_for(me)
        if not (allowed.send_messages or allowed.administrator):
            raise discord.Forbidden(backend.FakeRequest(403, "missing send_messages"), "")
        body = _json_body(params.payload, params.multipart)
        reply = _reply(body, params.files, channel_id=channel_id)
        harness.sent.append(reply)
        attachments = [
            discord.Attachment(state=bot._connection, data=_attachment_data(file))
            for file in reply.files
        ]
        message = backend.make_message(
            reply.content, bot.user, channel, embeds=list(reply.embeds), attachments=attachments
        )
        await callbacks.dispatch_event("send_message", message)
        return factories.dict_from_message(message)

    bot.http.send_message = send_message

    # Red's tree answers app command errors itself; keep them for `_settle` too.
    answer_error = bot.tree.on_error

    async def on_error(interaction, error, /, *args, **kwargs):
        harness._tree_errors.append(error)
        await answer_error(interaction, error, *args, **kwargs)

    bot.tree.on_error = on_error


class _InteractionEndpoints(AsyncWebhookAdapter):
    """Discord's interaction callback and webhook endpoints, recording every answer."""

    def __init__(self, harness: RedHarness, channel: discord.abc.Messageable) -> None:
        super().__init__()
        self.harness = harness
        self.channel = channel
        self.original: dict | None = None

    async def request(self, route, session, *, payload=None, multipart=None, files=None, **_):
        body = _json_body(payload, multipart)
        if route.path.endswith("/callback"):
            answer = body.get("data") or {}
            message = None
            if body["type"] in (4, 7):  # a message, or an update of the original one
                message = self.original = self._record(answer, files, "response")
            elif body["type"] == 5:  # "thinking…", answered later by an edit or a followup
                self.original = self._message_data(_reply(answer, ()))
            return {
                "interaction": {
                    "id": str(route.webhook_id),
                    "type": 2,
                    "response_message_id": message and message["id"],
                    "response_message_loading": body["type"] == 5,
                    "response_message_ephemeral": bool((answer.get("flags") or 0) & 64),
                },
                "resource": {"type": body["type"], "message": message},
            }
        if route.method == "POST":
            return self._record(body, files, "followup")
        if route.method == "PATCH":
            self.original = self._record(body, files, "edit")
            return self.original
        if route.method == "GET":
            return self.original
        if route.method == "DELETE":
            return None
        raise NotImplementedError(f"the harness does not fake {route.method} {route.path}")

    def _record(self, body: dict, files, route: str) -> dict:
        reply = _reply(body, files, channel_id=self.channel.id, route=route)
        self.harness.sent.append(reply)
        return self._message_data(reply)

    def _message_data(self, reply: Reply) -> dict:
        data = factories.make_message_dict(self.channel, self.harness.bot.user)
        data["content"] = reply.content
        data["embeds"] = [embed.to_dict() for embed in reply.embeds]
        data["attachments"] = [_attachment_data(file) for file in reply.files]
        data["flags"] = 64 if reply.ephemeral else 0
        return data


def _json_body(payload: dict | None, multipart: list[dict] | None) -> dict:
    # With files, discord.py moves the JSON body into a `payload_json` multipart field.
    if payload is not None:
        return payload
    for part in multipart or ():
        if part.get("name") == "payload_json":
            return json.loads(part["value"])
    return {}


def _reply(body: dict, files, **where: Any) -> Reply:
    sent_files = []
    for file in files or ():
        file.reset()
        sent_files.append(SentFile(file.filename, file.fp.read()))
    return Reply(
        content=body.get("content") or "",
        embeds=tuple(discord.Embed.from_dict(embed) for embed in body.get("embeds") or ()),
        files=tuple(sent_files),
        ephemeral=bool((body.get("flags") or 0) & 64),
        **where,
    )


def _attachment_data(file: SentFile) -> dict:
    return factories.make_attachment_dict(file.filename, len(file.data), "", "")


def _crash_inside(error: BaseException) -> BaseException | None:
    """The exception that a command's own code raised, if `error` wraps one."""
    crashed = False
    while getattr(error, "original", None) is not None:
        crashed = crashed or isinstance(error, _INVOKE_ERRORS)
        error = error.original
    return error if crashed else None


def _make_role(guild: discord.Guild, name: str, permissions: discord.Permissions) -> discord.Role:
    role = discord.utils.get(guild.roles, name=name)
    return role or backend.make_role(name, guild, permissions=permissions.value)


def _make_member(
    guild: discord.Guild,
    name: str,
    admin: bool = False,
    permissions: discord.Permissions | None = None,
    roles: tuple[discord.Role, ...] = (),
) -> discord.Member:
    granted = list(roles)
    if admin:
        managers = _make_role(guild, "Server managers", discord.Permissions(manage_guild=True))
        granted.append(managers)
    if permissions is not None:
        granted.append(_make_role(guild, f"{name} permissions", permissions))
    user = backend.make_user(name, len(guild.members) % 9999 + 1)
    return backend.make_member(user, guild, roles=granted)


def _interaction_payload(
    bot: Red, author: discord.Member, channel: discord.TextChannel, data: dict
) -> dict:
    return {
        "id": str(factories.make_id()),
        "application_id": str(bot.application_id),
        "type": 2,  # application command
        "token": "harness-interaction",
        "version": 1,
        "guild_id": str(channel.guild.id),
        "channel": {"id": str(channel.id), "type": channel.type.value},
        "channel_id": str(channel.id),
        "member": _member_data(author, channel),
        "app_permissions": str(channel.permissions_for(channel.guild.me).value),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(channel.guild.id)},
        "context": 0,  # in a guild
        "attachment_size_limit": 8 * 1024 * 1024,
        "data": data,
    }


def _member_data(member: discord.Member, channel: discord.abc.GuildChannel) -> dict:
    return {
        "user": factories.dict_from_user(member._user),
        "roles": [str(role.id) for role in member.roles if not role.is_default()],
        "joined_at": (member.joined_at or datetime.now(UTC)).isoformat(),
        "nick": member.nick,
        "flags": member.flags.value,
        "deaf": False,
        "mute": False,
        "permissions": str(channel.permissions_for(member).value),
    }


def _command_data(
    tree: discord.app_commands.CommandTree,
    path: list[str],
    options: dict[str, Any],
    channel: discord.TextChannel,
) -> dict:
    """The `data` of an INTERACTION_CREATE for `/path…` with `options` by parameter name."""
    command = tree.get_command(path[0])
    if command is None:
        raise LookupError(f"/{path[0]} is not in the tree; enable it with enable_slash")
    data: dict[str, Any] = {"id": str(factories.make_id()), "name": path[0], "type": 1}
    level = data
    for name in path[1:]:
        command = command.get_command(name) if hasattr(command, "get_command") else None
        if command is None:
            raise LookupError(f"/{' '.join(path)} does not exist")
        is_group = isinstance(command, discord.app_commands.Group)
        level["options"] = [{"name": name, "type": 2 if is_group else 1}]
        level = level["options"][0]
    if not hasattr(command, "parameters"):
        raise LookupError(f"/{' '.join(path)} is a group; name one of its subcommands")

    parameters = {parameter.name: parameter for parameter in command.parameters}
    resolved: dict[str, dict] = {}
    level["options"] = []
    for name, value in options.items():
        parameter = parameters[name]
        key = str(getattr(value, "id", ""))
        if isinstance(value, discord.Member):
            resolved.setdefault("users", {})[key] = factories.dict_from_user(value._user)
            member = _member_data(value, channel)
            del member["user"]
            resolved.setdefault("members", {})[key] = member
        elif isinstance(value, discord.User):
            resolved.setdefault("users", {})[key] = factories.dict_from_user(value)
        elif isinstance(value, discord.Role):
            resolved.setdefault("roles", {})[key] = factories.dict_from_role(value)
        elif isinstance(value, Path):
            uri = value.absolute().as_uri()
            attachment = factories.make_attachment_dict(value.name, value.stat().st_size, uri, uri)
            key = str(attachment["id"])
            resolved.setdefault("attachments", {})[key] = attachment
        elif isinstance(value, discord.abc.GuildChannel):
            resolved.setdefault("channels", {})[key] = {
                "id": key,
                "name": value.name,
                "type": value.type.value,
                "permissions": str(value.permissions_for(value.guild.me).value),
            }
        option = {"name": parameter.display_name, "type": parameter.type.value}
        option["value"] = key if key else value
        level["options"].append(option)
    if resolved:
        data["resolved"] = resolved
    return data
