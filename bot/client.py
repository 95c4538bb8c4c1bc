"""The Discord client: built by `create_bot` from its settings and searcher, loads one cog per feature in setup_hook.

Sharded across processes (SHARD_COUNT, SHARD_IDS), each process runs an AutoShardedBot on its own shards. Discord sends
a server's events to shard (server id >> 22) % SHARD_COUNT, so every question, button press and deleted message of
one server reaches the same process, and its cooldowns are kept there; DMs all reach shard 0. Only the process with
shard 0 syncs the slash commands, so several processes starting at once register them once.
"""

import asyncio
import logging
import signal
from typing import Any

import discord
from discord.ext import commands, tasks
from pydantic import SecretStr

from bot.cooldown import Cooldowns
from bot.errors import on_app_command_error
from bot.health import HealthServer
from bot.questionlog.questionlog import QuestionLog, open_question_log
from bot.questionlog.vectors import VectorKeepingEmbedder
from bot.settings import Settings
from index.diagnose import diagnose
from index.model.onnx_model import question_embedder
from index.search.searcher import Searcher
from index.store.chroma import Store

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.ask", "bot.cogs.check", "bot.cogs.compare", "bot.cogs.help", "bot.cogs.privacy",
              "bot.cogs.moderation")
CLOSE_WAIT_SECONDS = 10.0  # on SIGTERM, answers under way get this long to go out (and be logged) before closing

# Dossier never joins a voice channel: no warning at start-up that the voice libraries are missing.
discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


def intents() -> discord.Intents:
    """The events the bot reads: servers (their channels and roles), and messages, for mentions (which carry their
    content without the privileged intent) and deletions (a deleted message's log row goes). No reactions,
    typing, presences, voice, emoji or invites: Discord sends none of them, and the client caches none."""
    return discord.Intents(guilds=True, guild_messages=True, dm_messages=True)


class Dossier(commands.Bot):
    """Slash commands and mentions only: no prefix commands, no privileged intents, no pings.

    No message or member cache: a mention is answered from its own event, deletions come as raw events, and a
    moderator's rights come with the interaction, so neither cache would ever be read.
    """

    def __init__(self, settings: Settings, searcher: Searcher, questions: QuestionLog | None = None,
                 **options: Any) -> None:
        super().__init__(command_prefix=(), help_command=None, intents=intents(),
                         allowed_mentions=discord.AllowedMentions.none(), max_messages=None,
                         member_cache_flags=discord.MemberCacheFlags.none(), chunk_guilds_at_startup=False,
                         **options)
        self.settings = settings
        self.searcher = searcher
        self.questions = questions or QuestionLog.disabled("the bot was started without one")
        self.cooldowns = Cooldowns(settings.ask_cooldown_rate, settings.ask_cooldown_seconds)
        self.health = HealthServer(self, settings.health_port) if settings.health_port else None
        self.answering = 0  # questions being answered now (the Ask cog counts them)
        self.tree.on_error = on_app_command_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.syncs_commands:
            await self.sync_commands()
        elif self.settings.dev_guild_id is not None or self.settings.sync_commands_globally:
            log.info("not syncing the commands: the process with shard 0 does (this one has shards %s)",
                     self.settings.shard_ids)
        if self.settings.index_check_seconds > 0:
            self.follow_index.change_interval(seconds=self.settings.index_check_seconds)
            self.follow_index.start()
        if self.health is not None:
            await self.health.start()

    async def close(self) -> None:
        self.follow_index.cancel()
        await self.finish_answers()
        if self.health is not None:
            await self.health.stop()
        await super().close()
        await asyncio.to_thread(self.questions.close)  # writes what is still queued

    async def finish_answers(self) -> None:
        """Waits, up to CLOSE_WAIT_SECONDS, for the answers under way: a member asking as the bot stops is answered,
        and the question logged, rather than cut off with the connection."""
        deadline = asyncio.get_running_loop().time() + CLOSE_WAIT_SECONDS
        while self.answering and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if self.answering:
            log.warning("stopping with %d answers still under way", self.answering)

    @tasks.loop(seconds=60)
    async def follow_index(self) -> None:
        if self.follow_index.current_loop > 0:  # the first tick comes at start-up, right after the index loaded
            await self.check_index()

    async def check_index(self) -> None:
        """Swaps in a generation another process built, e.g. a CLI build or another bot on the same server."""
        try:
            if await asyncio.to_thread(self.searcher.reload):
                pointer = self.searcher.index.pointer
                log.info("now answering from generation %d, built %s by %s",
                         pointer.generation, pointer.built_at, pointer.built_by)
        except Exception as error:
            failure = diagnose(error, self.settings)
            log.error("could not load the newer index; still answering from the one loaded before: %s",
                      failure.message, exc_info=None if failure.expected else error)

    async def sync_commands(self) -> None:
        """Registers the slash commands with Discord, but only where the settings ask for it.

        /ask and /privacy are global; /dossier belongs to the home servers (MODERATOR_GUILD_IDS) and is synced to
        each of them, or is global when none are set (it then only says how to set them). A dev guild gets the
        global commands copied to it.
        """
        synced_guilds: set[int] = set()
        if self.settings.dev_guild_id is not None:
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            synced_guilds.add(guild.id)
            log.info("synced %d commands to the dev guild %s", len(synced), guild.id)
        if self.settings.sync_commands_globally:
            synced = await self.tree.sync()
            log.info("synced %d commands globally (they can take an hour to show everywhere)", len(synced))
            for guild_id in self.settings.moderator_guild_ids:
                if guild_id not in synced_guilds:
                    await self._sync_home(guild_id)

    async def _sync_home(self, guild_id: int) -> None:
        try:
            synced = await self.tree.sync(guild=discord.Object(id=guild_id))
        except discord.Forbidden:
            log.error("could not sync /dossier to the home server %s: the bot is not in it, or was invited "
                      "without the applications.commands scope", guild_id)
            return
        log.info("synced %d commands to the home server %s", len(synced), guild_id)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: a mention is a question, which the ask cog answers."""

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))
        homes = self.settings.moderator_guild_ids
        if not homes:
            log.warning("MODERATOR_GUILD_IDS is not set: /dossier is refused in every server, and no question's text "
                        "is kept, until it names the home servers")
        if missing := sorted(set(homes) - {guild.id for guild in self.guilds}):
            log.warning("the bot is not in the home servers %s (MODERATOR_GUILD_IDS)", missing)


class ShardedDossier(Dossier, commands.AutoShardedBot):
    """Dossier on AutoShardedBot: SHARD_IDS of SHARD_COUNT shards in this process, or (SHARDED=true alone) as many
    as Discord recommends.

    commands.Bot adds nothing to what it inherits, so AutoShardedBot's client code comes first after Dossier's.
    """


def create_bot(settings: Settings, searcher: Searcher, questions: QuestionLog | None = None) -> Dossier:
    """The client the settings ask for: sharded or not, the same bot."""
    if not settings.sharding:
        return Dossier(settings, searcher, questions)
    return ShardedDossier(settings, searcher, questions, shard_count=settings.shard_count,
                          shard_ids=settings.shard_ids)


async def main(settings: Settings, token: SecretStr) -> None:
    """Loads the model and the index, then runs the bot until it is stopped (Ctrl-C or SIGTERM)."""
    store = await asyncio.to_thread(Store.open_live, settings)  # a changed EMBEDDING_MODEL is refused before it loads
    embedder = VectorKeepingEmbedder(await asyncio.to_thread(question_embedder, settings))
    searcher = await asyncio.to_thread(Searcher, store, embedder)
    pointer = searcher.index.pointer
    log.info("index loaded: %d documents, %d passages, built %s by %s",
             pointer.documents, pointer.chunks, pointer.built_at, pointer.built_by)
    await run(settings, token, searcher)


async def run(settings: Settings, token: SecretStr, searcher: Searcher) -> None:
    """Opens the question log and runs the bot over `searcher` until it is stopped (Ctrl-C or SIGTERM)."""
    questions = await asyncio.to_thread(open_question_log, settings)
    if settings.shard_ids is not None:
        log.info("shards %s of %d in this process", settings.shard_ids, settings.shard_count)
    closing: list[asyncio.Task[None]] = []
    async with create_bot(settings, searcher, questions) as bot:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: closing.append(loop.create_task(bot.close())))
        await bot.start(token.get_secret_value())
    await asyncio.gather(*closing)  # the gateway closes first: the rest of the close (the log's last writes) is here
    log.info("stopped")
