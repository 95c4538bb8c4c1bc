"""Who may run a slash command, and how often: `is_moderator()` (a moderator of a home server) and
`ask_cooldown()` (a member's searches per window), checks named by intent."""

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands

from bot.cooldown import Cooldowns, Who
from bot.errors import NotHomeServer, NotModerator

if TYPE_CHECKING:
    from bot.client import Dossier

T = TypeVar("T")


def moderator(interaction: "discord.Interaction[Dossier]") -> bool:
    """A member with Manage Server in this server, or with one of MODERATOR_ROLE_IDS."""
    user = interaction.user
    if interaction.guild is None or not isinstance(user, discord.Member):
        return False
    if interaction.permissions.manage_guild:
        return True
    roles = interaction.client.settings.moderator_role_ids
    return any(user.get_role(role_id) is not None for role_id in roles)


def home_server_refusal(interaction: "discord.Interaction[Dossier]") -> str | None:
    """Why this server's moderators may not keep the corpus, or None when it is a home server.

    The corpus is one for every server the bot is in, so only the servers in MODERATOR_GUILD_IDS keep it. With
    that unset, no server does: the home is never guessed from the servers the bot is in, or the one left when it
    leaves another would inherit the corpus and the question log.
    """
    homes = interaction.client.settings.moderator_guild_ids
    if not homes:
        off = ("Moderation is off: MODERATOR_GUILD_IDS is not set, so Dossier does not know which server keeps its "
               "corpus and sees its question log.")
        if interaction.guild_id is None:
            return (f"{off} This is a direct message: run /dossier in the server that should keep the corpus, "
                    "which then says how to make it the home.")
        return (f"{off} Whoever runs the bot can make this server that home: put "
                f"MODERATOR_GUILD_IDS={interaction.guild_id} in its .env (or environment) and restart it.")
    if interaction.guild_id in homes:
        return None
    return ("Dossier's corpus is shared by every server it is in, and only its home servers "
            "(MODERATOR_GUILD_IDS) keep it; this server is not one of them.")


def is_moderator() -> Callable[[T], T]:
    """Refuses everyone but moderators of a home server, whatever default_permissions the server set."""

    async def predicate(interaction: "discord.Interaction[Dossier]") -> bool:
        refusal = home_server_refusal(interaction)
        if refusal is not None:
            raise NotHomeServer(refusal)
        if not moderator(interaction):
            raise NotModerator()
        return True

    return app_commands.check(predicate)


def check_cooldown(cooldowns: Cooldowns, who: Who) -> None:
    """Counts a question against the member's cooldown in that place, or raises CommandOnCooldown."""
    retry_after = cooldowns.take(who)
    if retry_after:
        cooldown = app_commands.Cooldown(cooldowns.rate, cooldowns.per)
        raise app_commands.CommandOnCooldown(cooldown, retry_after)


def ask_cooldown() -> Callable[[T], T]:
    """Counts the question against the asker's cooldown in this server or DM (ASK_COOLDOWN_RATE per
    ASK_COOLDOWN_SECONDS)."""

    async def predicate(interaction: "discord.Interaction[Dossier]") -> bool:
        check_cooldown(interaction.client.cooldowns, (interaction.guild_id, interaction.user.id))
        return True

    return app_commands.check(predicate)
