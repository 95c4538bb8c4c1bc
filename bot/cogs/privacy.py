"""Members are told what the question log keeps (`/privacy`), and deleting a message deletes its row."""

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.payload import pack
from bot.questionlog import privacy

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)


class Privacy(commands.Cog):
    """`/privacy`, and the raw message-delete events that take a question's row with its message."""

    def __init__(self, bot: "Dossier") -> None:
        self.bot = bot

    @app_commands.command(name="privacy", description="What Dossier keeps of your questions, for how long, who sees it")
    async def privacy(self, interaction: discord.Interaction) -> None:
        text = privacy.explained(self.bot.settings, interaction.guild_id)
        await interaction.response.send_message(**pack(text).send_kwargs(), ephemeral=True)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """Any message may be one that asked (a mention) or answered (/ask): its row goes, if it has one."""
        self.bot.questions.forget_message(payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        for message_id in payload.message_ids:
            self.bot.questions.forget_message(message_id)


async def setup(bot: "Dossier") -> None:
    await bot.add_cog(Privacy(bot))
