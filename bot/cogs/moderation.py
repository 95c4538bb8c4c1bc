"""Moderators keep the corpus: `/dossier reindex`, `/dossier sources` and `/dossier status`."""

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import is_moderator
from bot.errors import ReindexRunning
from bot.render import COLOUR, Payload, attribution, markdown, pack, text_payload
from index.build import BuildReport, Progress, build
from index.corpus import CorpusError, Source
from index.embedding import ModelError
from index.lock import BuildRunning, LockLost
from index.store import Pointer, StoreError

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)

STAGES = {"reading": "reading documents", "embedding": "embedding passages", "writing": "writing passages",
          "validating": "validating the new index"}


class LatestProgress:
    """What the build reported last; written by the build's thread, read by the event loop."""

    def __init__(self) -> None:
        self.value: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        self.value = progress


def progress_text(progress: Progress | None) -> str:
    if progress is None:
        return "Reindexing… starting."
    stage = STAGES.get(progress.stage, progress.stage)
    return f"Reindexing… {stage}: {progress.done:,} of {progress.total:,}."


def report_text(report: BuildReport) -> str:
    size = f"{report.documents} documents, {report.chunks} passages"
    head = (f"Reindex done: {size}, now live (generation {report.generation})." if report.switched
            else f"Nothing changed: {size}; generation {report.generation} stays live.")
    lines = [head,
             f"Documents: {report.added} added, {report.changed} changed, {report.removed} removed, "
             f"{report.unchanged} unchanged; {report.embedded} passages embedded in {report.seconds:.1f} s."]
    if report.errors:
        lines.append(f"Errors ({len(report.errors)}):")
        lines += [f"• {error['source']}: {error['error']}" for error in report.errors]
    else:
        lines.append("No errors.")
    return "\n".join(lines)


def sources_payload(sources: list[tuple[Source, int]]) -> Payload:
    lines = []
    for source, count in sources:
        details = " · ".join(filter(None, [attribution(source), f"{count} passages", f"id {source.id}"]))
        link = f"\n<{source.url}>" if source.url else ""
        lines.append(f"**{markdown(source.title)}**\n{markdown(details)}{link}")
    total = sum(count for _, count in sources)
    embed = discord.Embed(title="Sources", description="\n\n".join(lines) or "(none)", colour=COLOUR)
    return pack(f"The index holds {len(sources)} documents, {total} passages.", [embed])


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


def who(interaction: discord.Interaction) -> str:
    return f"{interaction.user} ({interaction.user.id}) in guild {interaction.guild_id}"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Moderation(commands.GroupCog, group_name="dossier", group_description="Keep Dossier's corpus"):
    """The moderator commands; each one checks `is_moderator()` itself, whatever the server's settings say."""

    def __init__(self, bot: "Dossier") -> None:
        self.bot = bot
        self.reindexing = asyncio.Lock()

    @app_commands.command(description="Rebuild the index from the seeds folder and answer from it")
    @is_moderator()
    async def reindex(self, interaction: discord.Interaction) -> None:
        if self.reindexing.locked():
            log.info("%s asked for a reindex while one is running", who(interaction))
            raise ReindexRunning()
        async with self.reindexing:
            await self._reindex(interaction)

    async def _reindex(self, interaction: discord.Interaction) -> None:
        """Builds in a thread, showing progress at most every REINDEX_PROGRESS_SECONDS, then swaps it in."""
        log.info("reindex started by %s", who(interaction))
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._show(interaction, progress_text(None))
        settings, searcher = self.bot.settings, self.bot.searcher
        latest = LatestProgress()
        started_by = f"{interaction.user} ({interaction.user.id})"
        job = asyncio.create_task(asyncio.to_thread(build, settings.seeds_dir, searcher.store,
                                                    searcher.embedder, built_by=started_by, progress=latest))
        shown = None
        while not job.done():
            await asyncio.wait({job}, timeout=settings.reindex_progress_seconds)
            if not job.done() and latest.value != shown:
                shown = latest.value
                await self._show(interaction, progress_text(shown))
        try:
            report = job.result()
        except (BuildRunning, LockLost) as error:  # another process's build holds or took the store
            log.warning("reindex by %s stopped: %s", who(interaction), error)
            await self._show(interaction, str(error))
            return
        except (CorpusError, ModelError, StoreError) as error:
            log.warning("reindex by %s failed: %s", who(interaction), error)
            await self._show(interaction, f"Reindex failed: {error}\nThe previous index stays live.")
            return
        log.info("reindex by %s done: %s", who(interaction), report.to_json())
        try:
            if report.switched:
                await asyncio.to_thread(searcher.reload)
        except (ModelError, StoreError) as error:
            log.error("the bot could not load the index that %s built: %s", who(interaction), error)
            await self._show(interaction, f"{report_text(report)}\nBut the bot could not load it ({error}); it "
                                          "answers from the previous index until it is restarted.")
            return
        await self._show(interaction, report_text(report))

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


async def setup(bot: "Dossier") -> None:
    await bot.add_cog(Moderation(bot))
