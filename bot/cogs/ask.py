"""Members ask: `/ask question:<text>` or a mention of the bot; the reply quotes the corpus, with buttons."""

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import ask_cooldown, check_cooldown
from bot.errors import reply_ephemeral, user_message
from bot.render import CARDS, Payload, context_payload, respond, text_payload
from index.search import MAX_QUESTION_CHARS, Answer, Hit, QuestionError, clean_question

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)


class ContextButton(discord.ui.Button["AnswerView"]):
    """Shows one card's passage between its neighbouring paragraphs, to whoever pressed it, privately."""

    def __init__(self, hit: Hit, number: int) -> None:
        super().__init__(label=f"Context {number}", style=discord.ButtonStyle.secondary, row=1)
        self.hit = hit

    async def callback(self, interaction: discord.Interaction) -> None:
        assert self.view is not None
        chunks = self.view.cog.bot.searcher.context(self.hit.chunk.id)
        payload = context_payload(self.hit, chunks)
        await interaction.response.send_message(**payload.send_kwargs(), ephemeral=True)


class AnswerView(discord.ui.View):
    """Buttons under an answer: page through further passages (the asker only) and show a card's context."""

    def __init__(self, cog: "Ask", answer: Answer, offset: int, asker_id: int) -> None:
        super().__init__(timeout=cog.bot.settings.buttons_timeout_seconds)
        self.cog = cog
        self.question = answer.question
        self.offset = offset
        self.asker_id = asker_id
        self.message: discord.Message | discord.WebhookMessage | None = None
        if offset == 0:
            self.remove_item(self.previous)
        if offset + len(answer.hits) >= answer.total:
            self.remove_item(self.more)
        for number, hit in enumerate(answer.hits, offset + 1):
            self.add_item(ContextButton(hit, number))

    def send_kwargs(self) -> dict[str, Any]:
        """`view=self` when there is a button to show; nothing otherwise."""
        return {"view": self} if self.children else {}

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, row=0)
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button["AnswerView"]) -> None:
        await self.turn(interaction, max(0, self.offset - CARDS))

    @discord.ui.button(label="More passages", style=discord.ButtonStyle.primary, row=0)
    async def more(self, interaction: discord.Interaction, _: discord.ui.Button["AnswerView"]) -> None:
        await self.turn(interaction, self.offset + CARDS)

    async def turn(self, interaction: discord.Interaction, offset: int) -> None:
        """Replaces the cards with the page of results starting at `offset`: a search, so it costs a cooldown."""
        if interaction.user.id != self.asker_id:
            await reply_ephemeral(interaction, "Only the asker can page this answer. Ask your own with /ask.")
            return
        check_cooldown(self.cog.bot.cooldowns, interaction.user.id)
        await interaction.response.defer()
        answer, payload = await self.cog.answer(self.question, offset)
        view = AnswerView(self.cog, answer, offset, self.asker_id)
        view.message = await interaction.edit_original_response(**payload.send_kwargs(), view=view)
        self.stop()

    async def on_timeout(self) -> None:
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=None)

    async def on_error(self, interaction: discord.Interaction, error: Exception,
                       item: discord.ui.Item[Any]) -> None:
        await reply_ephemeral(interaction, user_message(error, f"the {type(item).__name__} of an answer"))


class Ask(commands.Cog):
    """`/ask` and mentions: quote the passages that answer a question, or say the corpus does not."""

    def __init__(self, bot: "Dossier") -> None:
        self.bot = bot

    async def answer(self, question: str, offset: int = 0) -> tuple[Answer, Payload]:
        """Searches off the event loop: the model and the ranking are CPU work."""
        answer, payload = await asyncio.to_thread(respond, self.bot.searcher, question, offset)
        log.debug("quoted %d of %d passages from offset %d", len(answer.hits), answer.total, offset)
        return answer, payload

    def clean(self, question: str, user_id: int) -> str:
        """The question made searchable; invalid input gives the asker their cooldown back."""
        try:
            return clean_question(question)
        except QuestionError:
            self.bot.cooldowns.refund(user_id)
            raise

    @app_commands.command(name="ask", description="Quote the corpus on Iran–Taliban ties, with its sources.")
    @app_commands.describe(question="Your question, in English",
                           private="Only you see the answer (default: everyone in the channel)")
    @ask_cooldown()
    async def ask(self, interaction: discord.Interaction,
                  question: app_commands.Range[str, 1, MAX_QUESTION_CHARS], private: bool = False) -> None:
        cleaned = self.clean(question, interaction.user.id)
        await interaction.response.defer(ephemeral=private, thinking=True)
        answer, payload = await self.answer(cleaned)
        view = AnswerView(self, answer, 0, interaction.user.id)
        view.message = await interaction.followup.send(**payload.send_kwargs(), **view.send_kwargs(),
                                                       ephemeral=private, wait=True)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A message that mentions the bot is a question; the answer is a reply in its channel or thread."""
        me = self.bot.user
        if message.author.bot or me is None or all(user.id != me.id for user in message.mentions):
            return
        try:
            await self.answer_mention(message, me.id)
        except Exception as error:
            if isinstance(error, app_commands.CommandOnCooldown) and not self.bot.cooldowns.warn(message.author.id):
                return  # one "slow down" per window, then silence: a flood of mentions must not become one of replies
            with contextlib.suppress(discord.HTTPException):
                await message.reply(**text_payload(user_message(error, "a mention")).send_kwargs())

    async def answer_mention(self, message: discord.Message, my_id: int) -> None:
        """Answers a mention. Unlike /ask, an invalid one (empty, too long) keeps its cost: each gets a reply."""
        check_cooldown(self.bot.cooldowns, message.author.id)
        cleaned = clean_question(re.sub(rf"<@!?{my_id}>", " ", message.content))
        answer, payload = await self.answer(cleaned)
        view = AnswerView(self, answer, 0, message.author.id)
        view.message = await message.reply(**payload.send_kwargs(), **view.send_kwargs())


async def setup(bot: "Dossier") -> None:
    await bot.add_cog(Ask(bot))
