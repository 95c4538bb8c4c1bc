"""Members ask: `/ask question:<text>` or a mention of the bot; the reply quotes the corpus, with buttons
(bot/answer_view.py). A mention with nothing else in it gets what each command does (bot/help.py).

The first public answer in each server (since the bot started) carries a line saying what the question log keeps
of questions asked there; /ask's description says it too, in a few words.
"""

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.answer_view import AnswerView
from bot.cooldown import Who
from bot.errors import user_message
from bot.help import help_payload
from bot.payload import Payload
from bot.permissions import ask_cooldown, check_cooldown
from bot.questionlog import privacy
from bot.questionlog.entry import Entry
from bot.questionlog.schema import row_key
from bot.questionlog.vectors import VectorKeepingEmbedder
from bot.quoting import markdown
from bot.render import respond, text_payload
from index.search.answer import MAX_QUESTION_CHARS, Answer, QuestionError, clean_question

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)

RefusedQuestion = app_commands.CommandOnCooldown | QuestionError  # logged with the outcome "refused"


@dataclass(frozen=True)
class Asked:
    """A question as it arrived: what the question log keeps besides the answer (the log decides what of it)."""

    guild_id: int | None
    channel_id: int | None
    user_id: int
    via: str
    private: bool = False
    message_id: int | None = None  # the mention that asked; for /ask, the answer's message, once it is sent
    id: int = field(default_factory=row_key)  # the log's key for the question, which votes name
    at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def by_interaction(cls, interaction: discord.Interaction, private: bool) -> "Asked":
        return cls(interaction.guild_id, interaction.channel_id, interaction.user.id, "slash", private)

    @classmethod
    def by_message(cls, message: discord.Message) -> "Asked":
        guild_id = message.guild.id if message.guild else None
        return cls(guild_id, message.channel.id, message.author.id, "mention", message_id=message.id)

    def entry(self, question: str, how: str, **details: Any) -> Entry:
        return Entry(id=self.id, asked_at=self.at, guild_id=self.guild_id, channel_id=self.channel_id,
                     user_id=self.user_id, via=self.via, question=question, private=self.private, outcome=how,
                     message_id=self.message_id, **details)


class Ask(commands.Cog):
    """`/ask` and mentions: quote the passages that answer a question, or say the corpus does not."""

    def __init__(self, bot: "Dossier") -> None:
        self.bot = bot
        self.told: set[int] = set()  # the servers whose first public answer said what the log keeps
        self.ask.description = privacy.ask_description(bot.settings)

    def first_in_server(self, payload: Payload, guild_id: int | None, private: bool) -> Payload:
        """The payload, with what the question log keeps of questions asked here under the first public answer in
        a server."""
        if private or guild_id is None or guild_id in self.told:
            return payload
        self.told.add(guild_id)
        return payload.with_note(f"-# {markdown(privacy.notice(self.bot.settings, guild_id))}")

    async def answer(self, question: str, offset: int = 0, label: str = "Q") -> tuple[Answer, Payload]:
        """Searches off the event loop: the model and the ranking are CPU work."""
        answer, payload = await asyncio.to_thread(respond, self.bot.searcher, question, offset, label)
        log.debug("quoted %d of %d passages from offset %d", len(answer.hits), answer.total, offset)
        return answer, payload

    def clean(self, question: str, who: Who) -> str:
        """The question made searchable; invalid input gives the asker their cooldown back."""
        try:
            return clean_question(question)
        except QuestionError:
            self.bot.cooldowns.refund(who)
            raise

    @app_commands.command(name="ask", description=privacy.ASK_DOES)  # the log's line is added in __init__
    @app_commands.describe(question="Your question, in English",
                           private="Only you see the answer (default: everyone in the channel)")
    @ask_cooldown()
    async def ask(self, interaction: discord.Interaction,
                  question: app_commands.Range[str, 1, MAX_QUESTION_CHARS], private: bool = False) -> None:
        asked = Asked.by_interaction(interaction, private)
        cleaned = self.clean(question, (interaction.guild_id, interaction.user.id))
        with self.answering():
            await interaction.response.defer(ephemeral=private, thinking=True)
            answer, payload = await self.answer(cleaned)
            payload = self.first_in_server(payload, interaction.guild_id, private)
            generation = self.bot.searcher.index.pointer.generation
            view = AnswerView(self, answer, 0, interaction.user.id, asked.id)
            view.message = await interaction.followup.send(**payload.send_kwargs(), **view.send_kwargs(),
                                                           ephemeral=private, wait=True)
            self.log_answer(replace(asked, message_id=view.message.id), answer, generation)

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Counts an answer under way, which a stopping bot waits for (Dossier.finish_answers)."""
        self.bot.answering += 1
        try:
            yield
        finally:
            self.bot.answering -= 1

    async def cog_app_command_error(self, interaction: discord.Interaction,
                                    error: app_commands.AppCommandError) -> None:
        """Logs a refused /ask (cooldown, invalid question); the tree's error handler replies."""
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        command = interaction.command
        if command is not None and command.name == "ask" and isinstance(original, RefusedQuestion):
            self.log_refusal(Asked.by_interaction(interaction, bool(interaction.namespace.private)))

    def log_answer(self, asked: Asked, answer: Answer, generation: int) -> None:
        """Queues the question for the log; whatever goes wrong there, the member has their answer."""
        try:
            embedder = self.bot.searcher.embedder
            vector = embedder.recall(answer.question) if isinstance(embedder, VectorKeepingEmbedder) else None
            quoted = tuple((hit.chunk.id, hit.source.id) for hit in answer.hits)
            latency = (time.monotonic() - asked.started) * 1000
            self.bot.questions.record(asked.entry(answer.question, answer.outcome.value, quoted=quoted,
                                                  missing=answer.missing, generation=generation,
                                                  latency_ms=latency, vector=vector, model=embedder.name))
        except Exception:
            log.exception("could not log question %s", asked.id)

    def log_refusal(self, asked: Asked) -> None:
        """Queues a question refused by the cooldown or as invalid: counted, without a word of it."""
        try:
            self.bot.questions.record(asked.entry("", "refused"))
        except Exception:
            log.exception("could not log question %s", asked.id)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A message that mentions the bot in its text is a question; the answer is a reply in its channel or thread.
        A reply to the bot mentions it too (Discord's default reply-ping) without a mention in its text: that is
        talk, not a question."""
        me = self.bot.user
        if message.author.bot or me is None or not re.search(rf"<@!?{me.id}>", message.content):
            return
        asked = Asked.by_message(message)
        try:
            with self.answering():
                await self.answer_mention(message, me.id, asked)
        except Exception as error:
            if isinstance(error, RefusedQuestion):
                self.log_refusal(asked)
            if isinstance(error, app_commands.CommandOnCooldown) and not self.bot.cooldowns.warn(
                    (asked.guild_id, message.author.id)):
                return  # one "slow down" per window, then silence: a flood of mentions must not become one of replies
            with contextlib.suppress(discord.HTTPException):
                await message.reply(**text_payload(user_message(error, "a mention")).send_kwargs())

    async def answer_mention(self, message: discord.Message, my_id: int, asked: Asked) -> None:
        """Answers a mention; a bare one gets what each command does. Unlike /ask, an invalid one (too long, only
        links) keeps its cost, and so does a bare one: each gets a reply."""
        check_cooldown(self.bot.cooldowns, (asked.guild_id, message.author.id))
        text = mention_text(message.content, my_id)
        if is_bare(text):
            await message.reply(**help_payload().send_kwargs())
            return
        cleaned = clean_question(text)
        answer, payload = await self.answer(cleaned)
        payload = self.first_in_server(payload, asked.guild_id, private=False)
        generation = self.bot.searcher.index.pointer.generation
        view = AnswerView(self, answer, 0, message.author.id, asked.id)
        view.message = await message.reply(**payload.send_kwargs(), **view.send_kwargs())
        self.log_answer(asked, answer, generation)


def mention_text(content: str, my_id: int) -> str:
    """A mention's question: the message without the bot's mention."""
    return re.sub(rf"<@!?{my_id}>", " ", content)


def is_bare(text: str) -> bool:
    """Nothing but the mention, or only "help": the member wants to know what the bot does."""
    return re.sub(r"[\W_]+", "", text).casefold() in ("", "help")


async def setup(bot: "Dossier") -> None:
    await bot.add_cog(Ask(bot))
