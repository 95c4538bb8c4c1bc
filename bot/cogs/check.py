"""Check in Dossier: a message command (right-click a message → Apps) that checks the claim in a message.

The message's words are the claim: code, mentions, custom emoji, timestamps and links are taken out, markdown is
read as the words it decorates (a masked link as its text). A claim over /ask's length limit is searched by its
one or two sentences that carry most the corpus can check (index/search/claims.py). The reply is private, with /ask's
three outcomes and its buttons, and costs /ask's cooldown. The check is logged as a private /ask is: no word of
the message is kept, since it is someone else's; deleting the message deletes the row.
"""

import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.answer_view import AnswerView
from bot.cogs.ask import Ask, Asked
from bot.errors import reply_ephemeral
from bot.help import CHECK
from bot.permissions import check_cooldown
from index.search.answer import MAX_QUESTION_CHARS, QuestionError, clean_question
from index.search.claims import claim_of

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)

LABEL = "Claim"
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
_MASKED_LINK = re.compile(r"\[([^\]]*)\]\(<?[a-z][a-z0-9+.-]*:[^)\s]*>?\)", re.I)
# Discord's tags (user, role and channel mentions, slash commands, custom emoji, timestamps, guild navigation) and
# @everyone and @here.
_TAG = re.compile(r"<(?:@[!&]?\d+|#\d+|/[^<>\n]+:\d+|a?:\w+:\d+|t:-?\d+(?::\w)?|id:\w+)>|(?<!\w)@(?:everyone|here)\b")
_LINK = re.compile(r"<?\b[a-z][a-z0-9+.-]*://[^\s<>]*>?|\bwww\.[^\s<>]+", re.I)
_LINE_MARK = re.compile(r"^\s*(?:>>>|>|#{1,3}|-#|[-*•]|\d+[.)])\s+", re.M)
_DECORATION = re.compile(r"\*\*|__|~~|\|\||(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)|(?<=\S)_(?!\w)")


def message_words(content: str) -> str:
    """The words of a message as a claim, line by line: no code, tags or links, and markdown read as the words it
    decorates."""
    text = _CODE.sub(" ", content)
    text = _MASKED_LINK.sub(r"\1", text)
    text = _LINK.sub(" ", _TAG.sub(" ", text))
    text = _DECORATION.sub("", _LINE_MARK.sub("", text))
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def nothing_to_check(message: discord.Message) -> str:
    """Why a message gives nothing to check, in the words of what it holds instead."""
    if message.content.strip():
        return "That message holds only links, mentions, emoji or code: there is no claim in words to check."
    held = [what for what, there in (("an attachment", message.attachments), ("an embed", message.embeds),
                                     ("a sticker", message.stickers)) if there]
    holds = f", only {' and '.join(held)}" if held else ""
    return (f"That message has no text{holds}: Dossier checks claims in words. "
            "Type the claim into /ask to check it.")


class Check(commands.Cog):
    """The "Check in Dossier" message command, answered like a private /ask."""

    def __init__(self, bot: "Dossier") -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=CHECK, callback=self.check)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @property
    def ask(self) -> Ask:
        cog = self.bot.get_cog("Ask")
        assert isinstance(cog, Ask), "the ask cog answers checks: load it first"
        return cog

    async def check(self, interaction: discord.Interaction, message: discord.Message) -> None:
        asked = Asked(interaction.guild_id, interaction.channel_id, interaction.user.id, "check", private=True,
                      message_id=message.id)
        try:
            check_cooldown(self.bot.cooldowns, (interaction.guild_id, interaction.user.id))
        except app_commands.CommandOnCooldown:
            self.ask.log_refusal(asked)
            raise
        words = message_words(message.content)
        try:
            claim = clean_question(claim_of(words, self.bot.searcher.index.lexicon, MAX_QUESTION_CHARS))
        except QuestionError:
            self.bot.cooldowns.refund((interaction.guild_id, interaction.user.id))  # no search, as for an invalid /ask
            self.ask.log_refusal(asked)
            await reply_ephemeral(interaction, nothing_to_check(message))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        answer, payload = await self.ask.answer(claim, label=LABEL)
        if len(" ".join(words.split())) > len(claim):
            payload = payload.with_note(f"-# The message is {len(message.content):,} characters long: Dossier "
                                        "checked the sentences in it that name what the corpus can check.")
        generation = self.bot.searcher.index.pointer.generation
        view = AnswerView(self.ask, answer, 0, interaction.user.id, asked.id, LABEL)
        view.message = await interaction.followup.send(**payload.send_kwargs(), **view.send_kwargs(), ephemeral=True,
                                                       wait=True)
        self.ask.log_answer(asked, answer, generation)


async def setup(bot: "Dossier") -> None:
    await bot.add_cog(Check(bot))
