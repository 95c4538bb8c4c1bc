"""`python -m bot`: runs the Discord bot, telling the operator plainly why it cannot; `python -m bot health`:
whether the running bot is healthy, for a supervisor."""

import asyncio
import logging
import sys

from bot.settings import Settings
from index import logging_setup
from index.diagnose import EXIT_ERROR, EXIT_SETTINGS, EXIT_UNAVAILABLE, Failure

log = logging.getLogger("bot")

NO_TOKEN = """error: DISCORD_TOKEN is not set, so the bot cannot connect to Discord.
Copy .env.example to .env and fill in DISCORD_TOKEN (docs/discord.md says how to get one),
or try Dossier without Discord:  python -m bot ask "What ties Iran to the Taliban?\""""


def serve(settings: Settings) -> int:
    """Runs the bot until it is stopped; exit code 2 without a token."""
    if settings.discord_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return EXIT_SETTINGS
    from bot.client import main as run_bot

    try:
        asyncio.run(run_bot(settings, settings.discord_token))
    except KeyboardInterrupt:
        log.info("stopped by Ctrl-C")
    return 0


def health(settings: Settings) -> int:
    """Asks the bot running on this host (HEALTH_PORT) how it is: one line, and 0 when healthy, else 1."""
    from bot.health import probe

    if settings.health_port is None:
        print("error: HEALTH_PORT is not set: set it (the same for the bot and this command) to a free local port, "
              "on which the bot then answers health checks", file=sys.stderr)
        return EXIT_SETTINGS
    healthy, line = probe(settings)
    print(line)
    return 0 if healthy else EXIT_ERROR


def discord_failure(error: BaseException) -> Failure | None:
    """What to tell the operator when the bot cannot log in to Discord; None for other errors."""
    import aiohttp
    import discord

    if isinstance(error, discord.LoginFailure):
        return Failure("DISCORD_TOKEN was rejected by Discord. Copy a new token from the developer portal "
                       "(your application → Bot → Reset Token) into .env; docs/discord.md shows the steps.",
                       EXIT_SETTINGS)
    if isinstance(error, aiohttp.ClientError | discord.GatewayNotFound | TimeoutError) or (
            isinstance(error, discord.HTTPException) and error.status >= 500):
        return Failure(f"Cannot reach Discord ({error}). Check this machine's network connection and Discord's "
                       "status, then start the bot again.", EXIT_UNAVAILABLE)
    return None


def configure_logging(verbose: bool) -> None:
    """The bot logs at INFO, or DEBUG with -v; discord.py stays at INFO either way.

    At DEBUG discord.py logs every request's url, and an interaction's webhook url carries a token that can
    answer as the bot for 15 minutes. Logging is set up already, for the terminal commands: this raises its level.
    """
    logging_setup.configure(verbose=True)
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.INFO)
    if verbose:
        logging.getLogger("discord").setLevel(logging.INFO)
