"""`python -m bot`: run the Discord bot; `python -m bot ask` and `compare`: answer in the terminal, no token needed;
`python -m bot gaps|stats`: what the question log says."""

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing

from bot import reports
from bot.questionlog import QuestionLogError, connect
from bot.settings import Settings
from bot.terminal import answer_json, answer_text, compare_json, compare_text
from index import logs
from index.corpus import CorpusError, read_metadata
from index.embedding import ModelError
from index.onnx_model import question_embedder
from index.search import Answer, Outcome, QuestionError, Searcher
from index.store import StoreError

log = logging.getLogger("bot")

NO_TOKEN = """error: DISCORD_TOKEN is not set, so the bot cannot connect to Discord.
Copy .env.example to .env and fill in DISCORD_TOKEN (docs/discord.md says how to get one),
or try Dossier without Discord:  python -m bot ask "What ties Iran to the Taliban?\""""


def _questions(args: list[str]) -> Iterator[str]:
    if args == ["-"]:
        for line in sys.stdin:
            yield line.rstrip("\n")
    else:
        yield " ".join(args)


def discord_line(searcher: Searcher, question: str) -> str:
    """The message the bot would send for this question, as JSON: the answer, or the error it would reply."""
    from bot.render import respond, text_payload  # discord is imported only when a payload is asked for

    try:
        _, payload = respond(searcher, question)
    except QuestionError as exc:
        payload = text_payload(str(exc))
    return json.dumps(payload.to_dict(), ensure_ascii=False)


def ask(settings: Settings, questions: list[str], fmt: str, top: int) -> int:
    try:
        searcher = Searcher.open(settings, question_embedder(settings))
    except (ModelError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    failures = 0
    interactive = questions == ["-"] and sys.stdin.isatty() and fmt == "text"
    if interactive:
        print("Ask a question (Ctrl-D to quit).", file=sys.stderr)
    for question in _questions(questions):
        if interactive and not question.strip():
            continue
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
    try:
        with closing(connect(settings.database_path, read_only=True)) as connection:
            if command == "gaps":
                gaps = reports.gaps(connection, days, lambda: question_embedder(settings), settings.embedding_model)
                print(json.dumps(gaps.to_json(), ensure_ascii=False) if as_json else reports.gaps_text(gaps))
                return 0
            stats = reports.stats(connection, days)
    except (QuestionLogError, sqlite3.Error, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    titles = source_titles(settings)
    print(json.dumps(stats.to_json(titles), ensure_ascii=False) if as_json else reports.stats_text(stats, titles))
    return 0


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
        searcher = Searcher.open(settings, question_embedder(settings))
        sources = searcher.compare(topic)
    except (ModelError, StoreError, QuestionError) as exc:
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
    """Runs the bot until it is stopped; exit code 2 without a token, 1 when the index cannot be opened."""
    if settings.discord_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from bot.client import main as run_bot

    try:
        asyncio.run(run_bot(settings, settings.discord_token))
    except (CorpusError, ModelError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        log.info("stopped by Ctrl-C")
    return 0


def days_argument(text: str) -> int:
    days = int(text) if text.isdigit() else 0
    if not 1 <= days <= reports.MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 1 to {reports.MAX_DAYS}")
    return days


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
        description="Dossier: quote the corpus, with sources. Without a command, runs the Discord bot.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command")
    ask_cmd = sub.add_parser("ask", help="answer questions without Discord (no token needed)")
    ask_cmd.add_argument("question", nargs="+",
                         help="the question, or - to read one question per line from stdin")
    ask_cmd.add_argument("--format", choices=["text", "json", "discord"], default="text",
                         help="text for people, json for programs (one object per line), "
                              "discord for the exact message payload the bot would send (one per line)")
    ask_cmd.add_argument("--top", type=int, default=5,
                         help="how many passages to quote at most (default 5; discord shows 3 per page)")
    compare_cmd = sub.add_parser("compare", help="what each source says on a topic: its closest passage, or nothing")
    compare_cmd.add_argument("topic", nargs="+", help="the topic, e.g. Iranian training of Taliban fighters")
    compare_cmd.add_argument("--format", choices=["text", "json", "discord"], default="text",
                             help="text for people, json for programs, discord for the message payload")
    for name, what in (("gaps", "questions the corpus misses, grouped by meaning, largest group first"),
                       ("stats", "questions per day, share answered and voted helpful, top sources, latency")):
        report_cmd = sub.add_parser(name, help=f"from the question log: {what}", description=f"{what.capitalize()}.")
        report_cmd.add_argument("--days", type=days_argument, default=reports.DEFAULT_DAYS,
                                help=f"how many days back to look (default {reports.DEFAULT_DAYS})")
        report_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "ask":
        logs.configure()
        return ask(settings, args.question, args.format, args.top)
    if args.command == "compare":
        logs.configure()
        return compare(settings, args.topic, args.format)
    if args.command in ("gaps", "stats"):
        logs.configure()
        return report(settings, args.command, args.days, args.json)
    configure_logging(args.verbose)
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
