"""Members ask: `/ask question:<text>` or a mention of the bot; the reply quotes the corpus, with buttons. A mention
with nothing else in it gets what each command does (bot/help.py).

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

from bot.cooldown import Who
from bot.errors import reply_ephemeral, user_message
from bot.help import help_payload
from bot.payload import Payload
from bot.permissions import ask_cooldown, check_cooldown
from bot.questionlog import privacy
from bot.questionlog.questionlog import Entry, QuestionLogError, VectorKeepingEmbedder, row_key
from bot.quoting import markdown
from bot.render import CARDS, context_payloads, respond, text_payload
from index.search.searcher import MAX_QUESTION_CHARS, Answer, Hit, QuestionError, clean_question

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)

VOTE_QUICK_SECONDS = 1.0  # a vote stored within this is acknowledged at once; else the reply is deferred
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


class ContextButton(discord.ui.Button["AnswerView"]):
    """Shows one card's passage between its neighbouring paragraphs, and in full the passages of other sources that
    say the same thing, to whoever pressed it, privately. Like every button of an answer, a press counts against the
    presser's cooldown."""

    def __init__(self, hit: Hit, number: int) -> None:
        super().__init__(label=f"Context {number}", style=discord.ButtonStyle.secondary, row=1)
        self.hit = hit

    async def callback(self, interaction: discord.Interaction) -> None:
        """Reads the index as it is now: a source removed since the answer was given is shown neither as the passage
        (it is said to be gone) nor among those that also report it."""
        assert self.view is not None
        check_cooldown(self.view.cog.bot.cooldowns, (interaction.guild_id, interaction.user.id))
        searcher = self.view.cog.bot.searcher
        chunks = searcher.context(self.hit.chunk.id)
        first, *more = context_payloads(searcher.index.with_also(self.hit), chunks)
        await interaction.response.send_message(**first.send_kwargs(), ephemeral=True)
        for payload in more:
            await interaction.followup.send(**payload.send_kwargs(), ephemeral=True)


class VoteButton(discord.ui.Button["AnswerView"]):
    """"Helpful" or "Not helpful": one vote per member per answer, which a second press changes."""

    def __init__(self, helpful: bool) -> None:
        super().__init__(label="Helpful" if helpful else "Not helpful", row=2,
                         style=discord.ButtonStyle.success if helpful else discord.ButtonStyle.secondary)
        self.helpful = helpful

    async def callback(self, interaction: discord.Interaction) -> None:
        """Answers at once when the vote is stored quickly, as it is unless the database is busy; else defers."""
        assert self.view is not None and self.view.question_id is not None
        check_cooldown(self.view.cog.bot.cooldowns, (interaction.guild_id, interaction.user.id))
        voted = asyncio.wrap_future(self.view.cog.bot.questions.vote(self.view.question_id, interaction.user.id,
                                                                     interaction.guild_id, self.helpful))
        try:
            try:
                before = await asyncio.wait_for(asyncio.shield(voted), VOTE_QUICK_SECONDS)
            except TimeoutError:
                await interaction.response.defer(ephemeral=True, thinking=True)
                before = await voted
        except QuestionLogError as error:
            log.warning("could not record a vote on question %s: %s", self.view.question_id, error)
            await reply_ephemeral(interaction, "Your vote could not be recorded just now; please try again later.")
            return
        await reply_ephemeral(interaction, vote_text(self.helpful, before))


def vote_text(helpful: bool, before: bool | None) -> str:
    """The private acknowledgement of a vote, saying whether it was new, changed or the same."""
    said = "helpful" if helpful else "not helpful"
    if before is None:
        return f"Thanks: your vote ({said}) is recorded. The moderators see which answers help."
    if before == helpful:
        return f"You had already voted {said}; your vote stays as it was."
    return f"Your vote is changed to {said}."


class AnswerView(discord.ui.View):
    """Buttons under an answer: page through further passages (the asker only), show a card's context, and,
    while the question log records, vote on the answer."""

    def __init__(self, cog: "Ask", answer: Answer, offset: int, asker_id: int,
                 question_id: int | None = None, label: str = "Q") -> None:
        super().__init__(timeout=cog.bot.settings.buttons_timeout_seconds)
        self.cog = cog
        self.question = answer.question
        self.label = label  # what the reply calls the question: "Q", or "Claim" for a checked message
        self.offset = offset
        self.asker_id = asker_id
        self.question_id = question_id
        self.message: discord.Message | discord.WebhookMessage | None = None
        if offset == 0:
            self.remove_item(self.previous)
        if offset + len(answer.hits) >= answer.total:
            self.remove_item(self.more)
        for number, hit in enumerate(answer.hits, offset + 1):
            self.add_item(ContextButton(hit, number))
        if question_id is not None and answer.answered and cog.bot.questions.enabled:
            self.add_item(VoteButton(helpful=True))
            self.add_item(VoteButton(helpful=False))

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
        check_cooldown(self.cog.bot.cooldowns, (interaction.guild_id, interaction.user.id))
        await interaction.response.defer()
        answer, payload = await self.cog.answer(self.question, offset, self.label)
        view = AnswerView(self.cog, answer, offset, self.asker_id, self.question_id, self.label)
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
