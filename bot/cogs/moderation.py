"""Moderators keep the corpus: `/dossier reindex`, `add`, `remove`, `sources`, `status`, `checks` and `rollback`;
see what members ask: `/dossier gaps` and `stats`; and have a member forgotten: `/dossier forget`."""

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import is_moderator
from bot.cogs.adding import add_article, check_addition, is_article
from bot.errors import GENERIC, ReindexRunning, explain_source
from bot.log import reports
from bot.log.database import Database, Location, QuestionLogError, open_database
from bot.log.schema import check_version
from bot.render import COLOUR, Payload, attribution, markdown, pack, text_payload, truncate
from bot.settings import Settings
from index.builds.child import build_in_child
from index.builds.moderator_checks import CHECKS_FILE, CheckError, Result, failure_text, read_checks, run_checks
from index.builds.pipeline import BuildReport, Progress
from index.diagnose import diagnose
from index.ingest.articles import Reading
from index.ingest.corpus import Source
from index.ingest.editing import SourceChange, add_source, remove_source
from index.ingest.source_fields import SourceError, url_problem
from index.store.chroma import Pointer
from index.store.lock import BuildRunning, LockLost

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)

STAGES = {"reading": "reading documents", "embedding": "embedding passages", "writing": "writing passages",
          "corroborating": "finding what other sources also report", "saving": "saving the new index's files",
          "validating": "validating the new index", "checking": "running the moderators' checks"}
CHOICES_LIMIT = 25
GAPS_SHOWN = 10
DAYS_SHOWN = 31  # questions per day, in Discord: a longer list is in `python -m bot stats`
EXAMPLE_CHARS = 200
Days = app_commands.Range[int, 1, reports.MAX_DAYS]
DAYS_HELP = f"How many days back to look (default {reports.DEFAULT_DAYS})"
CHOICE_NAME_LIMIT = 100
# How libpq and psycopg name the server they could not reach: `server at "host" (address), port N`, `server on
# socket "path"`, `resolve host 'name'`.
_SERVER_ADDRESS = re.compile(r"""server (?:at|on socket) "[^"]*"(?: \([^)]*\))?(?:, port \d+)?|resolve host '[^']*'""")
DOWNLOAD_CHUNK_BYTES = 64 * 1024


class LatestProgress:
    """What the build reported last; written by the thread that reads the build process, read by the event loop."""

    def __init__(self) -> None:
        self.value: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        self.value = progress


def progress_text(progress: Progress | None) -> str:
    if progress is None:
        return "Reindexing… starting."
    stage = STAGES.get(progress.stage, progress.stage)
    return f"Reindexing… {stage}: {progress.done:,} of {progress.total:,}."


def report_text(report: BuildReport, force: bool = False) -> str:
    size = f"{report.documents} documents, {report.chunks} passages"
    if report.held:
        lines = [f"Not switched: generation {report.generation} stays live.",
                 *[f"• {reason.message}" for reason in report.reasons],
                 "To switch all the same, run /dossier reindex force: True.",
                 *[f"• {e['source']}: {e['error']}" for e in report.errors]]
        return "\n".join(lines + _checks_lines(report))
    head = (f"Reindex done: {size}, now live (generation {report.generation})." if report.switched
            else f"Nothing changed: {size}; generation {report.generation} stays live.")
    lines = [head, *[f"Switched with force despite: {reason.message}" for reason in report.reasons],
             f"Documents: {report.added} added, {report.changed} changed, {report.removed} removed, "
             f"{report.unchanged} unchanged; {report.timing()}."]
    if note := report.force_note(force):
        lines.append(f"force: True {note}.")
    if report.took_over:
        lines.append(f"Note: {report.took_over}.")
    lines += [f"Warning: {w['source']}: {w['warning']}." for w in report.warnings]
    if report.errors:
        lines.append(f"Errors ({len(report.errors)}):")
        lines += [f"• {error['source']}: {error['error']}" for error in report.errors]
    else:
        lines.append("No errors.")
    return "\n".join(lines + _checks_lines(report))


def _checks_lines(report: BuildReport) -> list[str]:
    """The moderators' checks the build ran on its new index, if it ran any."""
    if report.checks is None:
        return []
    return [f"Checks: {report.checks.passed} passed, {len(report.checks.failed)} failed.",
            *[f"• {failure_text(result)}" + (" (it passed before)" if result.check in report.checks.regressed
                                             else "") for result in report.checks.failed]]


def checks_text(results: list[Result]) -> str:
    if not results:
        return f"There are no checks: add questions to {CHECKS_FILE} in the seeds folder (see docs/discord.md)."
    failed = [result for result in results if not result.passed]
    lines = [f"Checks against the live index: {len(results) - len(failed)} passed, {len(failed)} failed."]
    return "\n".join(lines + [f"• {failure_text(result)}" for result in failed])


def rollback_payload(pointer: Pointer, trouble: str = "") -> Payload:
    """Which generation is live again and when it was built (a Discord timestamp, so not escaped)."""
    built = int(datetime.fromisoformat(pointer.built_at).timestamp())
    text = (f"Rolled back: generation {pointer.generation} is live again, built <t:{built}:f> by "
            f"{markdown(pointer.built_by)} ({pointer.documents} documents, {pointer.chunks} passages). The seeds "
            "folder was not touched, so the next reindex builds what it holds now: fix or remove what went wrong "
            "there first.")
    return pack(f"{text}\n{markdown(trouble)}" if trouble else text)


def sources_payload(sources: list[tuple[Source, int]]) -> Payload:
    lines = []
    for source, count in sources:
        details = " · ".join(filter(None, [attribution(source), f"{count} passages", f"id {source.id}"]))
        link = f"\n{link_line(source.url)}" if source.url else ""
        lines.append(f"**{markdown(source.title)}**\n{markdown(details)}{link}")
    total = sum(count for _, count in sources)
    embed = discord.Embed(title="Sources", description="\n\n".join(lines) or "(none)", colour=COLOUR)
    return pack(f"The index holds {len(sources)} documents, {total} passages.", [embed])


def link_line(url: str) -> str:
    """A source's url as a link; a url that is no valid link (sources.toml is edited by hand too) as plain text."""
    if url_problem(url) is None:  # the valid characters cannot end the <…> early or start markdown
        return f"<{url}>"
    return f"{markdown(url)} (not a valid link: fix it in sources.toml)"


def status_payload(pointer: Pointer) -> Payload:
    built = int(datetime.fromisoformat(pointer.built_at).timestamp())
    embed = discord.Embed(title="Dossier's index", colour=COLOUR)
    embed.add_field(name="Documents", value=str(pointer.documents))
    embed.add_field(name="Passages", value=str(pointer.chunks))
    embed.add_field(name="Generation", value=str(pointer.generation))
    embed.add_field(name="Model", value=markdown(pointer.model), inline=False)
    embed.add_field(name="Last build", value=f"<t:{built}:f> (<t:{built}:R>)")
    embed.add_field(name="Started by", value=markdown(pointer.built_by) or "unknown")
    return pack("", [embed])


def gaps_payload(report: reports.Gaps) -> Payload:
    """The largest groups of questions the corpus misses, each with its count, two wordings and missing terms."""
    embed = discord.Embed(title=f"Gaps: the last {reports.plural(report.days, 'day')}", colour=COLOUR)
    for number, gap in enumerate(report.groups[:GAPS_SHOWN], 1):
        lines = [f"“{markdown(truncate(example, EXAMPLE_CHARS))}”" for example in gap.examples]
        if gap.missing:
            lines.append(f"Missing from the corpus: {markdown(', '.join(gap.missing))}")
        embed.add_field(name=f"{number}. {reports.gap_summary(gap)}", value="\n".join(lines), inline=False)
    if not report.groups:
        embed.description = "No question went unanswered or was voted not helpful."
    head = (f"{reports.plural(report.questions, 'question')} went unanswered or were voted not helpful, in "
            f"{reports.plural(len(report.groups), 'group')} by meaning")
    shown = f"; the largest {GAPS_SHOWN} are below" if len(report.groups) > GAPS_SHOWN else ""
    unshown = "".join(f" {note}" for note in reports.unshown_notes(report))
    return pack(f"{head}{shown}.{unshown}", [embed])


def stats_payload(report: reports.Stats, titles: dict[str, str]) -> Payload:
    """Questions, shares answered and voted helpful, answer time, the most quoted sources, questions per day."""
    embed = discord.Embed(title=f"Questions: the last {reports.plural(report.days, 'day')}", colour=COLOUR)
    lines = reports.stats_lines(report, titles, escape=markdown)
    per_day = lines.pop("Questions per day")
    for name, value in lines.items():
        embed.add_field(name=name, value=value, inline="\n" not in value)
    shown = f"Questions per day (UTC, the last {DAYS_SHOWN})" if report.days > DAYS_SHOWN else "Questions per day (UTC)"
    days = "\n".join(per_day.splitlines()[-DAYS_SHOWN:])
    embed.add_field(name=shown, value=f"```\n{days}\n```", inline=False)
    return pack("", [embed])


def who(interaction: discord.Interaction) -> str:
    return f"{interaction.user} ({interaction.user.id}) in guild {interaction.guild_id}"


def actor(interaction: discord.Interaction) -> str:
    """The member as recorded in the seeds' log and the index: name and id."""
    return f"{interaction.user} ({interaction.user.id})"


def change_text(change: SourceChange) -> str:
    done = f"Seeds folder: {change.action} “{change.source.title}” ({change.source.id}, {change.size:,} bytes)."
    return f"{done} {change.kept_note}" if change.kept else done


def source_choices(sources: list[Source], current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete choices for the sources matching `current`, at most Discord's 25, names and values within 100
    (one longer makes Discord refuse them all). A source whose id is longer (a file put in the seeds folder by hand)
    cannot be a choice, nor be removed from Discord: it is left out."""
    typed = current.casefold().strip()
    matching = [s for s in sources if len(s.id) <= CHOICE_NAME_LIMIT
                and (typed in s.id.casefold() or typed in s.title.casefold())]
    return [app_commands.Choice(name=truncate(f"{s.title} ({s.id})", CHOICE_NAME_LIMIT), value=s.id)
            for s in matching[:CHOICES_LIMIT]]


async def download(client: discord.Client, file: discord.Attachment) -> bytes:
    """The attachment's bytes, cut off once they pass the size Discord declared; failures are SourceErrors.

    Attachment.read() takes a download whole, however large it grows, so this streams it through discord.py's
    own HTTP session (the one Attachment.read() uses) instead.
    """
    session = client.http._HTTPClient__session  # type: ignore[attr-defined]
    data = bytearray()
    try:
        async with session.get(file.url) as response:
            if response.status != 200:
                log.warning("could not download %s: HTTP %s", file.filename, response.status)
                raise SourceError(f"Discord would not hand over {file.filename} (HTTP {response.status}); "
                                  "upload it again.")
            async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK_BYTES):
                data += chunk
                if len(data) > file.size:
                    log.warning("download of %s passed its declared %d bytes; stopped", file.filename, file.size)
                    raise SourceError(f"{file.filename} grew past the {file.size:,} bytes Discord declared for "
                                      "it while downloading, so the download was stopped.")
    except aiohttp.ClientError as error:
        log.warning("could not download %s: %s", file.filename, error)
        raise SourceError(f"The download of {file.filename} broke off; upload it again.") from error
    return bytes(data)


def for_moderators(text: str, settings: Settings) -> str:
    """An error's text with the server's folders and database named by their settings (SEEDS_DIR, CHROMA_PATH,
    DATABASE_URL), not paths or addresses: not even those PostgreSQL's own messages give (host, address, port)."""
    for name, path in (("SEEDS_DIR", settings.seeds_dir), ("CHROMA_PATH", settings.chroma_path),
                       ("DATABASE_PATH", settings.database_path)):
        forms = {str(path.resolve()), str(path)} if len(path.parts) > 1 else {str(path.resolve())}
        for form in sorted(forms, key=len, reverse=True):  # a bare relative name such as "seeds" is no path
            text = text.replace(form, name)
    if settings.database_url is not None:
        text = text.replace(str(Location.of(settings)), "DATABASE_URL")
        text = _SERVER_ADDRESS.sub(lambda found: "resolve DATABASE_URL's host" if found[0].startswith("resolve")
                                   else "DATABASE_URL's server", text)
    return text


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Moderation(commands.GroupCog, group_name="dossier", group_description="Keep Dossier's corpus"):
    """The moderator commands; each one checks `is_moderator()` itself, whatever the server's settings say."""

    def __init__(self, bot: "Dossier") -> None:
        self.bot = bot
        self.reindexing = asyncio.Lock()

    @app_commands.command(description="Rebuild the index from the seeds folder and answer from it")
    @app_commands.describe(force="Switch even if the new index holds no documents, drops more than half of them, "
                                 "or fails checks the live one passes")
    @is_moderator()
    async def reindex(self, interaction: discord.Interaction, force: bool = False) -> None:
        if self.reindexing.locked():
            log.info("%s asked for a reindex while one is running", who(interaction))
            raise ReindexRunning()
        async with self.reindexing:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self._reindex(interaction, force=force)

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
            await self._reindex_for(interaction, change)
            return
        reading = Reading(link=url) if file is None else Reading(filename=file.filename, data=data)
        try:
            change, read = await add_article(self.bot.settings, reading, given, actor=actor(interaction),
                                             replace=replace, show=lambda text: self._show(interaction, text))
        except SourceError as error:  # said where the moderator watches the fetch, in place of its progress
            log.info("add of %s by %s refused: %s", what, who(interaction), error)
            await self._show(interaction, explain_source(error) or str(error))
            return
        await self._reindex_for(interaction, change, read)

    @app_commands.command(description="Remove a source from the corpus, then reindex")
    @app_commands.describe(source="The source's id (its file name), as /dossier sources lists it")
    @is_moderator()
    async def remove(self, interaction: discord.Interaction, source: str) -> None:
        log.info("removal of %s asked for by %s", source, who(interaction))
        await interaction.response.defer(ephemeral=True, thinking=True)
        change = await asyncio.to_thread(remove_source, self.bot.settings.seeds_dir, source,
                                         actor=actor(interaction))
        await self._reindex_for(interaction, change)

    @remove.autocomplete("source")
    @is_moderator()  # a failed check answers with no choices
    async def _source_choices(self, interaction: "discord.Interaction[Dossier]",
                              current: str) -> list[app_commands.Choice[str]]:
        """The indexed sources whose id or title contains what the moderator typed; nothing for anyone else."""
        listing = await asyncio.to_thread(self.bot.searcher.sources)
        return source_choices([source for source, _ in listing], current)

    async def _reindex_for(self, interaction: discord.Interaction, change: SourceChange, read: str = "") -> None:
        """Reindexes so an add or remove shows at once; while a reindex runs, the change waits for the next.
        `read` (what was read from an article) follows the change in every message."""
        if self.reindexing.locked():
            log.info("%s: a reindex is running, so %s waits for the next one", who(interaction), change.source.id)
            await self._show(interaction, "\n".join(filter(None, [
                change.message, read, "A reindex is running already: run /dossier reindex when it is done."])))
            return
        async with self.reindexing:
            await self._reindex(interaction, lead="\n".join(filter(None, [change_text(change), read])))

    async def _reindex(self, interaction: discord.Interaction, lead: str = "", force: bool = False) -> None:
        """Builds with live progress, swaps the new index in, and reports; `lead` heads every message.

        Whatever the build raises ends here as a message to the moderator; the previous index stays live.
        """

        async def show(text: str) -> None:
            await self._show(interaction, f"{lead}\n{text}" if lead else text)

        log.info("reindex started by %s%s", who(interaction), " with force" if force else "")
        await show(progress_text(None))
        try:
            report = await self._build(interaction, show, force)
        except (BuildRunning, LockLost) as error:  # another process's build holds or took the store
            log.warning("reindex by %s stopped: %s", who(interaction), error)
            await show(for_moderators(str(error), self.bot.settings))
            return
        except Exception as error:
            message = self._diagnosed(error, logging.WARNING, f"reindex by {who(interaction)} failed")
            await show(f"Reindex failed: {message}\nThe previous index stays live.")
            return
        log.info("reindex by %s done: %s", who(interaction), report.to_json())
        await show(await self._swap_in(interaction, report, force))

    async def _build(self, interaction: discord.Interaction, show: Callable[[str], Awaitable[None]],
                     force: bool = False) -> BuildReport:
        """Builds in a child process, so the bot never holds the build's model and memory; shows its progress at
        most every REINDEX_PROGRESS_SECONDS."""
        settings, searcher = self.bot.settings, self.bot.searcher
        latest = LatestProgress()
        job = asyncio.create_task(asyncio.to_thread(build_in_child, settings, searcher.embedder.recipe(),
                                                    built_by=actor(interaction), progress=latest, force=force))
        shown = None
        while not job.done():
            await asyncio.wait({job}, timeout=settings.reindex_progress_seconds)
            if not job.done() and latest.value != shown:
                shown = latest.value
                await show(progress_text(shown))
        return job.result()

    async def _swap_in(self, interaction: discord.Interaction, report: BuildReport, force: bool = False) -> str:
        """Loads the generation the build switched to, if any; returns the report for the moderator."""
        try:
            if report.switched:
                await asyncio.to_thread(self.bot.searcher.reload)
        except Exception as error:
            trouble = self._diagnosed(error, logging.ERROR, f"the bot could not load the index that {who(interaction)} "
                                                            "built")
            return (f"{report_text(report, force)}\nBut the bot could not load it ({trouble}); it answers from the "
                    "previous index until it is restarted.")
        return report_text(report, force)

    def _diagnosed(self, error: BaseException, level: int, what: str) -> str:
        """Logs `what` happened and why (with the traceback for a bug), and returns the why for the moderator:
        the diagnosis with the server's folders named by their settings, or for a bug only that one happened."""
        failure = diagnose(error, self.bot.settings)
        log.log(level, "%s: %s", what, failure.message, exc_info=None if failure.expected else error)
        return for_moderators(failure.message, self.bot.settings) if failure.expected else GENERIC

    @staticmethod
    async def _show(interaction: discord.Interaction, text: str) -> None:
        """Edits the progress message; a failed edit must not end the reindex while its build still runs."""
        with contextlib.suppress(discord.HTTPException):
            await interaction.edit_original_response(**text_payload(text).send_kwargs())

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
        if self.reindexing.locked():
            log.info("%s asked for a rollback while a reindex runs", who(interaction))
            raise ReindexRunning()
        async with self.reindexing:
            await interaction.response.defer(ephemeral=True, thinking=True)
            log.info("rollback asked for by %s", who(interaction))
            searcher = self.bot.searcher
            try:
                pointer = await asyncio.to_thread(searcher.store.rollback, actor(interaction))
            except Exception as error:
                await self._show(interaction, self._diagnosed(error, logging.INFO,
                                                              f"rollback by {who(interaction)} refused"))
                return
            log.warning("%s rolled the index back to generation %d", who(interaction), pointer.generation)
            trouble = ""
            try:
                await asyncio.to_thread(searcher.reload)
            except Exception as error:
                reason = self._diagnosed(error, logging.ERROR, "the bot could not load the generation rolled back to")
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
