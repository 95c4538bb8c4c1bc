"""`python -m bot`: run the Discord bot; `python -m bot ask` and `compare`: answer in the terminal, no token needed;
`python -m bot gaps|stats`: what the question log says."""

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np

from bot import reports
from bot.questionlog import QuestionLogError, connect, store_vectors, transaction
from bot.settings import Settings
from bot.terminal import answer_json, answer_text, compare_json, compare_text
from index import logs
from index.corpus import CorpusError, read_metadata
from index.diagnose import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_SETTINGS,
    EXIT_UNAVAILABLE,
    Failure,
    diagnose,
    output_closed,
)
from index.diagnose import report as report_failure
from index.onnx_model import question_embedder
from index.search import Answer, Outcome, QuestionError, Searcher
from index.settings import read_settings
from index.store import Store

log = logging.getLogger("bot")

NO_TOKEN = """error: DISCORD_TOKEN is not set, so the bot cannot connect to Discord.
Copy .env.example to .env and fill in DISCORD_TOKEN (docs/discord.md says how to get one),
or try Dossier without Discord:  python -m bot ask "What ties Iran to the Taliban?\""""
EXIT_STATUS = ("Exit status: 0 done, 1 error (the message says what to fix), 2 bad settings or token, "
               "69 Discord or the Chroma server unreachable, 70 unexpected error (-v shows it), 130 Ctrl-C.")


def _questions(args: list[str]) -> Iterator[str]:
    """The question on the command line, or each non-blank line of stdin for `-`."""
    if args == ["-"]:
        for line in sys.stdin:
            if line.strip():
                yield line.rstrip("\n")
    else:
        yield " ".join(args)


class IndexFollower:
    """Between questions, loads a generation another process built, checking at most every `every` seconds."""

    def __init__(self, searcher: Searcher, every: float) -> None:
        self.searcher = searcher
        self.every = every
        self.checked = time.monotonic()

    def __call__(self) -> None:
        if self.every <= 0 or time.monotonic() - self.checked < self.every:
            return
        self.checked = time.monotonic()
        try:
            if self.searcher.reload():
                log.info("now answering from generation %d", self.searcher.index.pointer.generation)
        except Exception as exc:  # keep answering from the index loaded before, whatever the newer one's fault
            log.warning("could not load the newer index; answering from the one loaded before: %s",
                        diagnose(exc).message)


def open_searcher(settings: Settings) -> Searcher:
    """The searcher over the live index; it never creates a store, and says so while the model loads."""
    if sys.stderr.isatty():
        print("Loading the model…", file=sys.stderr, flush=True)
    return Searcher(Store.open(settings, create=False), question_embedder(settings))


def discord_line(searcher: Searcher, question: str) -> str:
    """The message the bot would send for this question, as JSON: the answer, or the error it would reply."""
    from bot.render import respond, text_payload  # discord is imported only when a payload is asked for

    try:
        _, payload = respond(searcher, question)
    except QuestionError as exc:
        payload = text_payload(str(exc))
    return json.dumps(payload.to_dict(), ensure_ascii=False)


def ask(settings: Settings, questions: list[str], fmt: str, top: int) -> int:
    interactive = questions == ["-"] and sys.stdin.isatty() and fmt == "text"
    searcher = open_searcher(settings)
    follow = IndexFollower(searcher, settings.index_check_seconds)
    if interactive:
        print("Ready. Ask a question (Ctrl-D to quit).", file=sys.stderr, flush=True)
    failures = 0
    for question in _questions(questions):
        follow()
        if fmt == "discord":
            print(discord_line(searcher, question), flush=True)
            continue
        try:
            answer = searcher.search(question, limit=top)
        except QuestionError as exc:
            if fmt == "text":
                print(f"error: {exc}", file=sys.stderr)
                failures += 1
                continue
            answer = Answer(" ".join(question.split()), Outcome.NOT_ANSWERED, note=str(exc))
        covers = [source.title for source, _ in searcher.sources()] if answer.outcome is Outcome.OFF_TOPIC else []
        print(answer_json(answer) if fmt == "json" else answer_text(answer, covers) + "\n", flush=True)
    return 1 if failures and not interactive else 0


def report(settings: Settings, command: str, days: int, as_json: bool) -> int:
    """Prints the gaps or the stats of the last `days` days from the question log at DATABASE_PATH."""
    path = settings.database_path
    with closing(connect(path, read_only=True)) as connection:
        try:
            if command == "gaps":
                model = settings.embedding_model
                gaps = reports.gaps(connection, days, lambda: question_embedder(settings), model,
                                    remember=lambda vectors: keep_vectors(path, model, vectors))
                print(json.dumps(gaps.to_json(), ensure_ascii=False) if as_json else reports.gaps_text(gaps))
                return 0
            stats = reports.stats(connection, days)
        except sqlite3.Error as exc:
            raise QuestionLogError(f"cannot read the question log at {path}: {exc}") from exc
    titles = source_titles(settings)
    print(json.dumps(stats.to_json(titles), ensure_ascii=False) if as_json else reports.stats_text(stats, titles))
    return 0


def keep_vectors(path: Path, model: str, vectors: list[tuple[int, np.ndarray]]) -> None:
    """Keeps the embeddings gaps computed in the log, so the next gaps does not compute them again; a log this user
    cannot write is only read."""
    try:
        with closing(connect(path)) as connection, transaction(connection):
            store_vectors(connection, model, vectors)
    except (QuestionLogError, sqlite3.Error) as exc:
        log.warning("could not keep the embeddings gaps computed in %s: %s", path, exc)


def source_titles(settings: Settings) -> dict[str, str]:
    """Source titles from sources.toml, to name the most quoted sources; an id stands for a source without one."""
    try:
        return {source_id: meta["title"] for source_id, meta in read_metadata(settings.seeds_dir).items()
                if "title" in meta}
    except CorpusError:
        return {}


def compare(settings: Settings, words: list[str], fmt: str) -> int:
    """One passage per source on the topic, every source listed; exit 1 when the topic cannot be searched."""
    topic = " ".join(words)
    try:
        sources = open_searcher(settings).compare(topic)
    except QuestionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    topic = " ".join(topic.split())
    if fmt == "json":
        print(compare_json(topic, sources))
    elif fmt == "discord":
        from bot.render import compare_payload  # discord is imported only when a payload is asked for

        print(json.dumps(compare_payload(topic, sources).to_dict(), ensure_ascii=False))
    else:
        print(compare_text(topic, sources))
    return 0


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


def days_argument(text: str) -> int:
    days = int(text) if text.isdigit() else 0
    if not 1 <= days <= reports.MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 1 to {reports.MAX_DAYS}")
    return days


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
    answer as the bot for 15 minutes.
    """
    logs.configure(verbose=True)
    if verbose:
        logging.getLogger().setLevel(logging.DEBUG)
        logging.getLogger("discord").setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Dossier: quote the corpus, with sources. Without a command, runs the Discord bot.",
        epilog=EXIT_STATUS)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details and tracebacks")
    sub = parser.add_subparsers(dest="command")
    ask_cmd = sub.add_parser("ask", help="answer questions without Discord (no token needed)", epilog=EXIT_STATUS)
    ask_cmd.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="log details and tracebacks")
    ask_cmd.add_argument("question", nargs="+",
                         help="the question, or - to read one question per line from stdin")
    ask_cmd.add_argument("--format", choices=["text", "json", "discord"], default="text",
                         help="text for people, json for programs (one object per line), "
                              "discord for the exact message payload the bot would send (one per line)")
    ask_cmd.add_argument("--top", type=int, default=5,
                         help="how many passages to quote at most (default 5; discord shows 3 per page)")
    compare_cmd = sub.add_parser("compare", help="what each source says on a topic: its closest passage, or nothing",
                                 epilog=EXIT_STATUS)
    compare_cmd.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="log details and tracebacks")
    compare_cmd.add_argument("topic", nargs="+", help="the topic, e.g. Iranian training of Taliban fighters")
    compare_cmd.add_argument("--format", choices=["text", "json", "discord"], default="text",
                             help="text for people, json for programs, discord for the message payload")
    for name, what in (("gaps", "questions the corpus misses, grouped by meaning, largest group first"),
                       ("stats", "questions per day, share answered and voted helpful, top sources, latency")):
        report_cmd = sub.add_parser(name, help=f"from the question log: {what}", description=f"{what.capitalize()}.",
                                    epilog=EXIT_STATUS)
        report_cmd.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                                help="log details and tracebacks")
        report_cmd.add_argument("--days", type=days_argument, default=reports.DEFAULT_DAYS,
                                help=f"how many days back to look (default {reports.DEFAULT_DAYS})")
        report_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.command is None:
        configure_logging(args.verbose)  # the bot logs what it does
    else:
        logs.configure(args.verbose)  # the terminal commands only warn, unless -v
    settings = None
    try:
        settings = read_settings(Settings)
        if args.command == "ask":
            return ask(settings, args.question, args.format, args.top)
        if args.command == "compare":
            return compare(settings, args.topic, args.format)
        if args.command in ("gaps", "stats"):
            return report(settings, args.command, args.days, args.json)
        return serve(settings)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return output_closed()
    except QuestionLogError as exc:  # the bot's own database, which the index's diagnosis does not know
        return report_failure(Failure(str(exc), EXIT_ERROR), exc, args.verbose)
    except Exception as exc:
        failure = (discord_failure(exc) if args.command is None else None) or diagnose(exc, settings)
        return report_failure(failure, exc, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
