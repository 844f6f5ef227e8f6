"""One sentence for each way a goals command can be refused."""

from __future__ import annotations

from discord import app_commands
from discord.ext import commands

from .models import GoalError

_WRAPPERS = (
    commands.CommandInvokeError,
    commands.HybridCommandError,
    commands.BadFlagArgument,
    commands.ConversionError,
    app_commands.CommandInvokeError,
    app_commands.TransformerError,
)


class Refusal(commands.CommandError):
    """A request the goals cog turns down; its message is the one sentence to show."""


def cause(error: BaseException) -> BaseException:
    """The error itself under the layers that prefix, hybrid and slash invocation add."""
    for _ in range(10):
        inner = getattr(error, "original", None)
        if not isinstance(error, _WRAPPERS) or not isinstance(inner, BaseException):
            break
        error = inner
    return error


def explain(ctx: commands.Context, error: BaseException) -> str | None:
    """The sentence to send, or None when the error is a fault in the bot, not the input."""
    error = cause(error)
    usage = f"`{ctx.clean_prefix}help {ctx.command.qualified_name}`" if ctx.command else "the help"
    if isinstance(error, (GoalError, Refusal)):
        return str(error)
    if isinstance(error, commands.NoPrivateMessage):
        return "Goals belong to a server; use this command in one."
    if isinstance(error, (commands.CheckFailure, app_commands.CheckFailure)):
        name = ctx.command.qualified_name if ctx.command else "this command"
        return (
            "Only server admins (the bot's admin role or the Manage Server permission) "
            f"can use `{name}`."
        )
    if isinstance(error, commands.MissingRequiredFlag):
        return f"The option `{error.flag.name}:` is required; {usage} shows an example."
    if isinstance(error, commands.MissingFlagArgument):
        return f"The option `{error.flag.name}:` needs a value after the colon."
    if isinstance(error, commands.TooManyFlags):
        return f"The option `{error.flag.name}:` was given more than once; give it once."
    if isinstance(error, commands.BadArgument):
        return str(error)
    if isinstance(error, commands.TooManyArguments):
        return f"Options are written `key:value`; {usage} lists this command's options."
    if isinstance(error, commands.UserInputError):
        return f"{error} {usage} shows how to use this command."
    return None


async def kpitracker_missing_text(bot, ctx: commands.Context) -> str:
    prefix = ctx.clean_prefix
    if ctx.interaction is not None or not prefix:
        prefixes = await bot.get_valid_prefixes(ctx.guild)
        prefix = prefixes[0] if prefixes else "[p]"
    return (
        "Goals read their numbers from the KPITracker cog, which is not loaded; a bot owner "
        f"can load it with `{prefix}load kpitracker`."
    )
