"""Moderators keep the corpus: `/dossier reindex`, `add`, `remove`, `sources`, `status`, `checks` and `rollback`;
see what members ask: `/dossier gaps` and `stats`; and have a member forgotten: `/dossier forget`."""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.adding import add_article, check_addition, download, is_article
from bot.errors import ReindexRunning, explain_source
from bot.moderator_replies import (
    actor,
    checks_text,
    for_moderators,
    gaps_payload,
    rollback_payload,
    source_choices,
    sources_payload,
    stats_payload,
    status_payload,
    who,
)
from bot.payload import Payload
from bot.permissions import is_moderator
from bot.questionlog import reports
from bot.questionlog.connect import open_database
from bot.questionlog.database import Database, Location, QuestionLogError
from bot.questionlog.schema import check_version
from bot.reindexing import Reindexer
from bot.render import text_payload
from index.builds.moderator_checks import CheckError, read_checks, run_checks
from index.ingest.articles import Reading
from index.ingest.editing import add_source, remove_source
from index.ingest.source_fields import SourceError

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)

Days = app_commands.Range[int, 1, reports.MAX_DAYS]
DAYS_HELP = f"How many days back to look (default {reports.DEFAULT_DAYS})"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Moderation(commands.GroupCog, group_name="dossier", group_description="Keep Dossier's corpus"):
    """The moderator commands; each one checks `is_moderator()` itself, whatever the server's settings say."""

    def __init__(self, bot: "Dossier") -> None:
        self.bot = bot
        self.reindexer = Reindexer(bot)

    @app_commands.command(description="Rebuild the index from the seeds folder and answer from it")
    @app_commands.describe(force="Switch even if the new index holds no documents, drops more than half of them, "
                                 "or fails checks the live one passes")
    @is_moderator()
    async def reindex(self, interaction: discord.Interaction, force: bool = False) -> None:
        if self.reindexer.lock.locked():
            log.info("%s asked for a reindex while one is running", who(interaction))
            raise ReindexRunning()
        async with self.reindexer.lock:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self.reindexer.run(interaction, force=force)

    @app_commands.command(description="Add an article by its link, or as a .txt, .html or .pdf file (or replace "
                                      "one), then reindex")
    @app_commands.describe(file="The article as a UTF-8 .txt, an .html page or a .pdf; its name becomes the source id",
                           title="Shown above every quote (default: what the article says, or its first heading)",
                           outlet="The publication", author="Who wrote it", published="The date, YYYY-MM-DD",
                           url="A link to the article, to fetch it; with a file, the article's https:// address",
                           replace="Replace the source of the same name, or that is the same article (missing "
                                   "fields keep their values)")
    @is_moderator()
    async def add(self, interaction: discord.Interaction, file: discord.Attachment | None = None,
                  title: str | None = None, outlet: str | None = None, author: str | None = None,
                  published: str | None = None, url: str | None = None, replace: bool = False) -> None:
        what = f"{file.filename} ({file.size} bytes)" if file else f"the link {url!r}"
        log.info("add of %s (replace=%s) asked for by %s", what, replace, who(interaction))
        given = check_addition(file, url, title=title, outlet=outlet, author=author, published=published)
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await download(self.bot, file) if file else b""
        if file is not None and not is_article(file):
            change = await asyncio.to_thread(add_source, self.bot.settings.seeds_dir, data, file.filename,
                                             actor=actor(interaction), title=title, outlet=outlet, author=author,
                                             published=published, url=url, replace=replace)
            await self.reindexer.after_change(interaction, change)
            return
        reading = Reading(link=url) if file is None else Reading(filename=file.filename, data=data)
        try:
            change, read = await add_article(self.bot.settings, reading, given, actor=actor(interaction),
                                             replace=replace,
                                             show=lambda text: self.reindexer.show(interaction, text))
        except SourceError as error:  # said where the moderator watches the fetch, in place of its progress
            log.info("add of %s by %s refused: %s", what, who(interaction), error)
            await self.reindexer.show(interaction, explain_source(error) or str(error))
            return
        await self.reindexer.after_change(interaction, change, read)

    @app_commands.command(description="Remove a source from the corpus, then reindex")
    @app_commands.describe(source="The source's id (its file name), as /dossier sources lists it")
    @is_moderator()
    async def remove(self, interaction: discord.Interaction, source: str) -> None:
        log.info("removal of %s asked for by %s", source, who(interaction))
        await interaction.response.defer(ephemeral=True, thinking=True)
        change = await asyncio.to_thread(remove_source, self.bot.settings.seeds_dir, source,
                                         actor=actor(interaction))
        await self.reindexer.after_change(interaction, change)

    @remove.autocomplete("source")
    @is_moderator()  # a failed check answers with no choices
    async def _source_choices(self, interaction: "discord.Interaction[Dossier]",
                              current: str) -> list[app_commands.Choice[str]]:
        """The indexed sources whose id or title contains what the moderator typed; nothing for anyone else."""
        listing = await asyncio.to_thread(self.bot.searcher.sources)
        return source_choices([source for source, _ in listing], current)

    @app_commands.command(description="List the documents in the index, with their metadata and passages")
    @is_moderator()
    async def sources(self, interaction: discord.Interaction) -> None:
        log.info("sources listed by %s", who(interaction))
        listing = await asyncio.to_thread(self.bot.searcher.sources)
        await interaction.response.send_message(**sources_payload(listing).send_kwargs(), ephemeral=True)

    @app_commands.command(description="Show the index: documents, passages, model, and the last build")
    @is_moderator()
    async def status(self, interaction: discord.Interaction) -> None:
        log.info("status shown to %s", who(interaction))
        payload = status_payload(self.bot.searcher.index.pointer)
        await interaction.response.send_message(**payload.send_kwargs(), ephemeral=True)

    @app_commands.command(description="Run the moderators' checks (checks.toml in the seeds folder) on the live index")
    @is_moderator()
    async def checks(self, interaction: discord.Interaction) -> None:
        log.info("checks run by %s", who(interaction))
        await interaction.response.defer(ephemeral=True, thinking=True)
        searcher, seeds = self.bot.searcher, self.bot.settings.seeds_dir
        try:
            results = await asyncio.to_thread(lambda: run_checks(read_checks(seeds), searcher))
            text = checks_text(results)
        except CheckError as error:
            text = for_moderators(str(error), self.bot.settings)
        await interaction.followup.send(**text_payload(text).send_kwargs(), ephemeral=True)

    @app_commands.command(description="Make the previous index live again (the seeds folder is not touched)")
    @is_moderator()
    async def rollback(self, interaction: discord.Interaction) -> None:
        if self.reindexer.lock.locked():
            log.info("%s asked for a rollback while a reindex runs", who(interaction))
            raise ReindexRunning()
        async with self.reindexer.lock:
            await interaction.response.defer(ephemeral=True, thinking=True)
            log.info("rollback asked for by %s", who(interaction))
            searcher = self.bot.searcher
            try:
                pointer = await asyncio.to_thread(searcher.store.rollback, actor(interaction))
            except Exception as error:
                refused = self.reindexer.diagnosed(error, logging.INFO, f"rollback by {who(interaction)} refused")
                await self.reindexer.show(interaction, refused)
                return
            log.warning("%s rolled the index back to generation %d", who(interaction), pointer.generation)
            trouble = ""
            try:
                await asyncio.to_thread(searcher.reload)
            except Exception as error:
                reason = self.reindexer.diagnosed(error, logging.ERROR,
                                                  "the bot could not load the generation rolled back to")
                trouble = f"But the bot could not load it ({reason})."
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(**rollback_payload(pointer, trouble).send_kwargs())

    @app_commands.command(description="Questions the corpus misses (unanswered or voted not helpful), by meaning")
    @app_commands.describe(days=DAYS_HELP)
    @is_moderator()
    async def gaps(self, interaction: discord.Interaction, days: Days = reports.DEFAULT_DAYS) -> None:
        log.info("gaps of %d days shown to %s", days, who(interaction))
        searcher, questions = self.bot.searcher, self.bot.questions
        model, scope = searcher.embedder.name, self.scope(interaction)
        await self._send_report(interaction, lambda database: gaps_payload(reports.gaps(
            database, days, lambda: searcher.embedder, model,
            remember=lambda vectors: questions.remember_vectors(model, vectors), scope=scope)))

    @app_commands.command(description="Questions per day, share answered and helpful, top sources, answer time")
    @app_commands.describe(days=DAYS_HELP)
    @is_moderator()
    async def stats(self, interaction: discord.Interaction, days: Days = reports.DEFAULT_DAYS) -> None:
        log.info("stats of %d days shown to %s", days, who(interaction))
        searcher, scope = self.bot.searcher, self.scope(interaction)
        await self._send_report(interaction, lambda database: stats_payload(
            reports.stats(database, days, scope=scope), {source.id: source.title for source, _ in searcher.sources()}))

    def scope(self, interaction: discord.Interaction) -> reports.Scope:
        """What this home server's moderators may see of the log: not the other home servers' questions."""
        return reports.Scope.home(interaction.guild_id, self.bot.settings.moderator_guild_ids)

    @app_commands.command(description="Delete a member's questions and votes in this server from the question log")
    @app_commands.describe(user="The member to forget")
    @is_moderator()
    async def forget(self, interaction: discord.Interaction, user: discord.User) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        questions = self.bot.questions
        assert interaction.guild_id is not None  # the group is guild_only
        try:
            asked, voted = await asyncio.wrap_future(questions.forget_member(interaction.guild_id, user.id))
        except QuestionLogError as error:
            log.error("%s could not have a member forgotten: %s", who(interaction), error)
            text = f"Nothing was forgotten: {for_moderators(str(error), self.bot.settings)}."
        else:  # the member's id stays out of the bot's log too
            log.info("%s had a member forgotten: %d questions and %d votes deleted", who(interaction), asked, voted)
            text = (f"Forgot {user.display_name} in this server: {reports.plural(asked, 'question')} and "
                    f"{reports.plural(voted, 'vote')} deleted from the question log.")
        await interaction.followup.send(**text_payload(text).send_kwargs(), ephemeral=True)

    async def _send_report(self, interaction: discord.Interaction,
                           make: Callable[[Database], Payload]) -> None:
        """Defers privately, makes the report off the event loop, and sends it."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        payload = await asyncio.to_thread(self._report, make)
        await interaction.followup.send(**payload.send_kwargs(), ephemeral=True)

    def _report(self, make: Callable[[Database], Payload]) -> Payload:
        """A report from the question log, read on a connection of its own; or why there is none."""
        questions, settings = self.bot.questions, self.bot.settings
        if not questions.enabled:
            return text_payload(f"The question log is off: {for_moderators(str(questions.off), settings)}.")
        try:
            questions.flush()  # the questions of the last moments too
            with contextlib.closing(open_database(Location.of(settings), read_only=True)) as database:
                check_version(database)
                return make(database)
        except (QuestionLogError, TimeoutError) as error:
            log.error("could not read the question log: %s", error)
            return text_payload(f"The question log could not be read: {for_moderators(str(error), settings)}")


async def setup(bot: "Dossier") -> None:
    """/dossier is a command of the home servers only; with MODERATOR_GUILD_IDS unset (guilds=[]), a global one."""
    homes = [discord.Object(id=guild_id) for guild_id in bot.settings.moderator_guild_ids]
    await bot.add_cog(Moderation(bot), guilds=homes)
