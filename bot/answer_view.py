"""The buttons under an answer, for /ask, mentions and the message menu alike: page through further passages (the
asker only), show a card's context, and, while the question log records, vote on the answer. Like the question, each
press counts against the presser's cooldown."""

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.errors import reply_ephemeral, user_message
from bot.payload import Payload
from bot.permissions import check_cooldown
from bot.questionlog.database import QuestionLogError
from bot.render import CARDS, context_payloads
from index.search.answer import Answer, Hit

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)

VOTE_QUICK_SECONDS = 1.0  # a vote stored within this is acknowledged at once; else the reply is deferred


class Answering(Protocol):
    """What the buttons need of the cog that answered: its bot, and a page of the answer searched again."""

    bot: "Dossier"

    async def answer(self, question: str, offset: int = 0, label: str = "Q") -> tuple[Answer, Payload]: ...


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

    def __init__(self, cog: Answering, answer: Answer, offset: int, asker_id: int,
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
