"""`/help`: what each command does, in three lines (a bare mention of the bot gets the same, see bot/cogs/ask.py)."""

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.help import help_payload

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)


class Help(commands.Cog):
    """`/help`, answered privately."""

    def __init__(self, bot: "Dossier") -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What each of Dossier's commands does")
    async def help(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(**help_payload().send_kwargs(), ephemeral=True)


async def setup(bot: "Dossier") -> None:
    await bot.add_cog(Help(bot))
