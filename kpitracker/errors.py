"""One sentence for each way a command's input can be wrong."""

from __future__ import annotations

from discord import app_commands
from discord.ext import commands


def _root(error: BaseException) -> BaseException:
    """The error a user caused, under the wrappers of hybrid and slash invocation."""
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "original", None) or error.__cause__
        if isinstance(error, commands.BadFlagArgument):
            inner = error.original
        if inner is None or not isinstance(inner, BaseException):
            break
        if isinstance(
            error, (commands.UserInputError, app_commands.AppCommandError)
        ) or isinstance(error, (commands.HybridCommandError, commands.CommandInvokeError)):
            error = inner
        else:
            break
    return error


def explain_input_error(ctx: commands.Context, error: BaseException) -> str | None:
    """The sentence to send for bad input, or None when the error is not the user's."""
    error = _root(error)
    usage = f"`{ctx.clean_prefix}help {ctx.command.qualified_name}`" if ctx.command else "the help"
    if isinstance(error, commands.NoPrivateMessage):
        return "This command works only in a server."
    if isinstance(error, (commands.CheckFailure, app_commands.CheckFailure)):
        name = ctx.command.qualified_name if ctx.command else "this command"
        return (
            f"Only server admins (the bot's admin role or the Manage Server permission) "
            f"can use `{name}`."
        )
    if isinstance(error, commands.MissingRequiredFlag):
        return f"The option `{error.flag.name}:` is required; {usage} shows an example."
    if isinstance(error, commands.MissingRequiredArgument):
        # A command of `key:value` options given none at all: name the first required one.
        flags = getattr(error.param.converter, "get_flags", lambda: {})()
        required = [flag.name for flag in flags.values() if flag.required]
        if required:
            return f"The option `{required[0]}:` is required; {usage} shows an example."
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
