"""`/compare topic:<text>`: each source's closest passage on a topic, one card per source, and the sources that
say nothing on it; the payload `python -m bot compare --format discord` prints."""

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.permissions import ask_cooldown
from bot.render import compare_payload
from index.search.answer import MAX_QUESTION_CHARS, QuestionError, clean_question

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)


class Compare(commands.Cog):
    """`/compare`, under /ask's cooldown: a search like any other."""

    def __init__(self, bot: "Dossier") -> None:
        self.bot = bot

    @app_commands.command(name="compare", description="What each source says on a topic, and which say nothing")
    @app_commands.describe(topic="A topic, in English, e.g. Iranian training of Taliban fighters")
    @ask_cooldown()
    async def compare(self, interaction: discord.Interaction,
                      topic: app_commands.Range[str, 1, MAX_QUESTION_CHARS]) -> None:
        try:
            cleaned = clean_question(topic)
        except QuestionError:
            self.bot.cooldowns.refund((interaction.guild_id, interaction.user.id))  # no search, as for /ask
            raise
        await interaction.response.defer(thinking=True)
        sources = await asyncio.to_thread(self.bot.searcher.compare, cleaned)
        await interaction.followup.send(**compare_payload(cleaned, sources).send_kwargs())


async def setup(bot: "Dossier") -> None:
    await bot.add_cog(Compare(bot))
