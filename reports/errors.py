"""One sentence for each way a `reports` command's input can be wrong."""

from __future__ import annotations

from discord import app_commands
from discord.ext import commands

ADMINS_ONLY = (
    "Only server admins (the bot's admin role or the Manage Server permission) can use `{name}`."
)


def _cause(error: BaseException) -> BaseException:
    """The error the input caused, under the wrappers of hybrid and slash invocation."""
    seen: set[int] = set()
    while id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, commands.BadFlagArgument):
            inner = error.original
        elif isinstance(
            error,
            (
                commands.HybridCommandError,
                commands.CommandInvokeError,
                app_commands.AppCommandError,
            ),
        ):
            inner = getattr(error, "original", None) or error.__cause__
        else:
            inner = None
        if not isinstance(inner, BaseException):
            break
        error = inner
    return error


def explain_input_error(ctx: commands.Context, error: BaseException) -> str | None:
    """The sentence to send for bad input, or None when the error is not the user's."""
    error = _cause(error)
    usage = f"`{ctx.clean_prefix}help {ctx.command.qualified_name}`" if ctx.command else "the help"
    if isinstance(error, commands.NoPrivateMessage):
        return "This command works only in a server."
    if isinstance(error, (commands.CheckFailure, app_commands.CheckFailure)):
        return ADMINS_ONLY.format(name=ctx.command.qualified_name if ctx.command else "it")
    if isinstance(error, commands.ChannelNotFound):
        return f"`{error.argument}` is not a channel of this server; mention one, like `#reports`."
    if isinstance(error, commands.MissingRequiredFlag):
        return f"The option `{error.flag.name}:` is required; {usage} shows an example."
    if isinstance(error, commands.MissingFlagArgument):
        return f"The option `{error.flag.name}:` needs a value after the colon."
    if isinstance(error, commands.TooManyFlags):
        return f"The option `{error.flag.name}:` was given more than once; give it once."
    if isinstance(error, commands.BadArgument):
        return str(error)
    if isinstance(error, commands.UserInputError):
        return f"Options are written `key:value`; {usage} lists this command's options."
    return None
