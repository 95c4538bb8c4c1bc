"""The one error handler: expected errors become short ephemeral replies, anything else is logged in full."""

import logging
import math

import discord
from discord import app_commands

from bot.render import text_payload
from index.ingest.editing import SourceExists, SourceNotFound
from index.ingest.source_fields import SourceError
from index.search.answer import QuestionError

log = logging.getLogger(__name__)

GENERIC = "Something went wrong on Dossier's side. It has been logged; please try again later."


class NotModerator(app_commands.CheckFailure):
    """The member has neither Manage Server nor one of the moderator roles."""


class NotHomeServer(app_commands.CheckFailure):
    """/dossier was used in a server whose moderators do not keep the corpus; the message says why."""


class ReindexRunning(app_commands.AppCommandError):
    """A reindex was asked for while one is running."""


def explain(error: BaseException) -> str | None:
    """What to tell the member about an expected error; None when the error is unexpected."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"You are asking quickly: try again in {math.ceil(error.retry_after)} s."
    if isinstance(error, NotHomeServer):
        return str(error)
    if isinstance(error, app_commands.CommandNotFound):  # e.g. /dossier, synced to the home servers only
        return f"/{error.name} is not available in this server."
    if isinstance(error, NotModerator | app_commands.MissingPermissions | app_commands.NoPrivateMessage):
        return "Only moderators (Manage Server, or a moderator role) can use this, and only in a server."
    if isinstance(error, QuestionError):
        return str(error)
    if isinstance(error, ReindexRunning):
        return "A reindex is already running; its progress message will say when it is done."
    return explain_source(error)


def explain_source(error: BaseException) -> str | None:
    """What to tell a moderator whose `/dossier add` or `/dossier remove` was refused."""
    if isinstance(error, SourceExists):
        return f"{error}\nTo replace it, run /dossier add again with replace: True."
    if isinstance(error, SourceNotFound):
        return f"{error} /dossier sources lists the ids."
    if isinstance(error, SourceError):
        return f"{error}\nNothing was changed."
    return None


def user_message(error: BaseException, where: str) -> str:
    """The reply for `error`; an unexpected one is logged with its traceback first."""
    text = explain(error)
    if text is None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        log.error("unexpected error in %s", where, exc_info=original)
        return GENERIC
    return text


async def reply_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """A short private reply, whether or not the interaction was answered or deferred already."""
    kwargs = text_payload(text).send_kwargs()
    try:
        if interaction.response.is_done():
            await interaction.followup.send(**kwargs, ephemeral=True)
        else:
            await interaction.response.send_message(**kwargs, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell %s about an error in %s", interaction.user, _where(interaction),
                    exc_info=True)


def _where(interaction: discord.Interaction) -> str:
    command = interaction.command
    return f"/{command.qualified_name}" if command else f"interaction {interaction.id}"


def _refusal(error: app_commands.AppCommandError) -> str | None:
    """What the log says about a refused member, or None when the error is no refusal."""
    if isinstance(error, NotModerator):
        return "not a moderator"
    if isinstance(error, NotHomeServer):
        return "not a home server"
    if isinstance(error, app_commands.CommandNotFound):
        return f"/{error.name} is not registered for that server"
    return None


async def on_app_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    """The CommandTree's error handler: every slash command error ends here."""
    reason = _refusal(error)
    if reason:
        user = interaction.user
        log.warning("refused %s (%s) %s in guild %s: %s", user, user.id, _where(interaction),
                    interaction.guild_id, reason)
    if interaction.type is discord.InteractionType.autocomplete:  # it takes choices, not a message
        if not interaction.response.is_done():
            await interaction.response.autocomplete([])
        return
    await reply_ephemeral(interaction, user_message(error, _where(interaction)))
