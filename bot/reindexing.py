"""A reindex asked for in Discord: built in a child process (so the bot never holds the build's model and memory)
with its progress shown in the moderator's message, the new generation loaded, and the report; one at a time.
Whatever goes wrong ends as a message to the moderator, and the previous index stays live."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot.errors import GENERIC
from bot.moderator_replies import actor, change_text, for_moderators, progress_text, report_text, who
from bot.render import text_payload
from index.builds.child import build_in_child
from index.builds.report import BuildReport, Progress
from index.diagnose import diagnose
from index.ingest.editing import SourceChange
from index.store.lock import BuildRunning, LockLost

if TYPE_CHECKING:
    from bot.client import Dossier

log = logging.getLogger(__name__)


class LatestProgress:
    """What the build reported last; written by the thread that reads the build process, read by the event loop."""

    def __init__(self) -> None:
        self.value: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        self.value = progress


class Reindexer:
    """Runs the reindexes moderators ask for, one at a time (a rollback takes `lock` too), in the message of the
    command that asked; and says why a step failed."""

    def __init__(self, bot: "Dossier") -> None:
        self.bot = bot
        self.lock = asyncio.Lock()

    async def after_change(self, interaction: discord.Interaction, change: SourceChange, read: str = "") -> None:
        """Reindexes so an add or remove shows at once; while a reindex runs, the change waits for the next.
        `read` (what was read from an article) follows the change in every message."""
        if self.lock.locked():
            log.info("%s: a reindex is running, so %s waits for the next one", who(interaction), change.source.id)
            await self.show(interaction, "\n".join(filter(None, [
                change.message, read, "A reindex is running already: run /dossier reindex when it is done."])))
            return
        async with self.lock:
            await self.run(interaction, lead="\n".join(filter(None, [change_text(change), read])))

    async def run(self, interaction: discord.Interaction, lead: str = "", force: bool = False) -> None:
        """Builds with live progress, swaps the new index in, and reports; `lead` heads every message.

        Whatever the build raises ends here as a message to the moderator; the previous index stays live.
        """

        async def show(text: str) -> None:
            await self.show(interaction, f"{lead}\n{text}" if lead else text)

        log.info("reindex started by %s%s", who(interaction), " with force" if force else "")
        await show(progress_text(None))
        try:
            report = await self._build(interaction, show, force)
        except (BuildRunning, LockLost) as error:  # another process's build holds or took the store
            log.warning("reindex by %s stopped: %s", who(interaction), error)
            await show(for_moderators(str(error), self.bot.settings))
            return
        except Exception as error:
            message = self.diagnosed(error, logging.WARNING, f"reindex by {who(interaction)} failed")
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
            trouble = self.diagnosed(error, logging.ERROR, f"the bot could not load the index that {who(interaction)} "
                                                            "built")
            return (f"{report_text(report, force)}\nBut the bot could not load it ({trouble}); it answers from the "
                    "previous index until it is restarted.")
        return report_text(report, force)

    def diagnosed(self, error: BaseException, level: int, what: str) -> str:
        """Logs `what` happened and why (with the traceback for a bug), and returns the why for the moderator:
        the diagnosis with the server's folders named by their settings, or for a bug only that one happened."""
        failure = diagnose(error, self.bot.settings)
        log.log(level, "%s: %s", what, failure.message, exc_info=None if failure.expected else error)
        return for_moderators(failure.message, self.bot.settings) if failure.expected else GENERIC

    @staticmethod
    async def show(interaction: discord.Interaction, text: str) -> None:
        """Edits the progress message; a failed edit must not end the reindex while its build still runs."""
        with contextlib.suppress(discord.HTTPException):
            await interaction.edit_original_response(**text_payload(text).send_kwargs())
