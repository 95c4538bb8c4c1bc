"""`python -m bot`: run the Discord bot; `python -m bot ask` and `compare`: answer in the terminal, no token needed;
`python -m bot gaps|stats`: what the question log says; `python -m bot log migrate|export|import|copy`: the question
log's database, for its operator; `python -m bot health`: whether the running bot is healthy, for a supervisor."""

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np

from bot.log import reports
from bot.log.database import (
    Location,
    LogDatabaseError,
    LogSettingError,
    LogUnavailable,
    QuestionLogError,
    open_database,
)
from bot.log.questionlog import RememberingEmbedder, store_vectors
from bot.log.schema import check_version
from bot.log.terminal import TerminalLog
from bot.prompt import Ask, Session
from bot.settings import Settings
from bot.terminal import answer_json, answer_text, compare_json, compare_text, covered, text_width
from index import logging_setup
from index.diagnose import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_SETTINGS,
    EXIT_UNAVAILABLE,
    CommandParser,
    Failure,
    diagnose,
    output_closed,
)
from index.diagnose import report as report_failure
from index.ingest.corpus import CorpusError, read_metadata
from index.model.onnx_model import question_embedder
from index.search.searcher import Answer, Outcome, QuestionError, Searcher, clean_question
from index.settings import read_settings
from index.store.chroma import Store

log = logging.getLogger("bot")

NO_TOKEN = """error: DISCORD_TOKEN is not set, so the bot cannot connect to Discord.
Copy .env.example to .env and fill in DISCORD_TOKEN (docs/discord.md says how to get one),
or try Dossier without Discord:  python -m bot ask "What ties Iran to the Taliban?\""""
NO_TOKEN_TERMINAL = "No DISCORD_TOKEN set (see .env.example): terminal mode."
EXIT_STATUS = ("Exit status: 0 done, 1 error (the message says what to fix; for health: unhealthy), 2 bad settings, "
               "command line or token, 69 Discord, the Chroma server or the log's database unreachable, 70 unexpected "
               "error (-v shows it), 130 Ctrl-C.")
ONE_QUESTION = ("give one question, in quotes or as bare words; for several, one a line on stdin: "
                "python -m bot ask - < questions.txt")
DEFAULT_TOP = 5


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


def open_searcher(settings: Settings, remembering: bool = False) -> Searcher:
    """The searcher over the live index; it never creates a store, and says so while the model loads.

    The index's model is checked before the configured one is loaded: a changed EMBEDDING_MODEL is told at once,
    not after a load or a download. `remembering` keeps the questions' vectors for the question log.
    """
    if sys.stderr.isatty():
        print("Loading the model…", file=sys.stderr, flush=True)
    store = Store.open_live(settings)
    embedder = question_embedder(settings)
    return Searcher(store, RememberingEmbedder(embedder) if remembering else embedder)


def discord_line(searcher: Searcher, question: str, page: Ask) -> str:
    """The message the bot would send for this question, as JSON: the answer, or the error it would reply."""
    from bot.render import answer_payload, text_payload  # discord is imported only when a payload is asked for

    try:
        answer = page(question, 0)
    except QuestionError as exc:
        return json.dumps(text_payload(str(exc)).to_dict(), ensure_ascii=False)
    return json.dumps(answer_payload(answer, covered(searcher, answer)).to_dict(), ensure_ascii=False)


def ask(settings: Settings, questions: list[str], fmt: str, top: int, log_questions: bool = False) -> int:
    """Answers the question, or each line of stdin; on a terminal, the terminal mode (bot/prompt.py)."""
    if fmt == "discord":
        from bot.render import CARDS  # discord is imported only when a payload is asked for

        top = CARDS  # a page of the answer, as the bot sends it
    searcher = open_searcher(settings, remembering=log_questions)
    follow = IndexFollower(searcher, settings.index_check_seconds)
    asked = TerminalLog.open(settings, searcher) if log_questions else None

    def page(question: str, offset: int) -> Answer:
        follow()
        started = time.monotonic()
        answer = searcher.search(question, limit=top, offset=offset)
        if asked is not None and offset == 0:
            asked.record(answer, started)
        return answer

    try:
        if questions == ["-"] and sys.stdin.isatty() and fmt == "text":
            Session(searcher, page).run()
            return 0
        return answer_each(searcher, _questions(questions), fmt, page)
    finally:
        if asked is not None:
            asked.close()


def answer_each(searcher: Searcher, questions: Iterator[str], fmt: str, page: Ask) -> int:
    """Prints the answer to each question in `fmt`; 1 when a question could not be searched in text."""
    failures = 0
    for question in questions:
        if fmt == "discord":
            print(discord_line(searcher, question, page), flush=True)
            continue
        try:
            answer = page(question, 0)
        except QuestionError as exc:
            if fmt == "text":
                print(f"error: {exc}", file=sys.stderr)
                failures += 1
                continue
            answer = Answer(" ".join(question.split()), Outcome.NOT_ANSWERED, note=str(exc))
        if fmt == "json":
            print(answer_json(answer), flush=True)
        else:
            print(answer_text(answer, covered(searcher, answer), text_width()) + "\n", flush=True)
    return 1 if failures else 0


def report(settings: Settings, command: str, days: int, as_json: bool) -> int:
    """Prints the gaps or the stats of the last `days` days from the question log (DATABASE_URL or DATABASE_PATH)."""
    where = Location.of(settings)
    with closing(open_database(where, read_only=True)) as database:
        try:
            check_version(database)
            if command == "gaps":
                model = settings.embedding_model
                gaps = reports.gaps(database, days, lambda: question_embedder(settings), model,
                                    remember=lambda vectors: keep_vectors(where, model, vectors))
                print(json.dumps(gaps.to_json(), ensure_ascii=False) if as_json else reports.gaps_text(gaps))
                return 0
            stats = reports.stats(database, days)
        except LogDatabaseError as exc:
            raise QuestionLogError(f"cannot read the question log at {where}: {exc}") from exc
    titles = source_titles(settings)
    print(json.dumps(stats.to_json(titles), ensure_ascii=False) if as_json else reports.stats_text(stats, titles))
    return 0


def keep_vectors(where: Location, model: str, vectors: list[tuple[int, np.ndarray]]) -> None:
    """Keeps the embeddings gaps computed in the log, so the next gaps does not compute them again; a log this user
    cannot write is only read."""
    try:
        with closing(open_database(where)) as database, database.transaction():
            store_vectors(database, model, vectors)
    except QuestionLogError as exc:
        log.warning("could not keep the embeddings gaps computed in %s: %s", where, exc)


def source_titles(settings: Settings) -> dict[str, str]:
    """Source titles from sources.toml, to name the most quoted sources; an id stands for a source without one."""
    try:
        return {source_id: meta["title"] for source_id, meta in read_metadata(settings.seeds_dir).items()
                if "title" in meta}
    except CorpusError:
        return {}


def compare(settings: Settings, words: list[str], fmt: str) -> int:
    """One passage per source on the topic, every source listed."""
    topic = " ".join(words)
    sources = open_searcher(settings).compare(topic)
    topic = " ".join(topic.split())
    if fmt == "json":
        print(compare_json(topic, sources))
    elif fmt == "discord":
        from bot.render import compare_payload  # discord is imported only when a payload is asked for

        print(json.dumps(compare_payload(topic, sources).to_dict(), ensure_ascii=False))
    else:
        print(compare_text(topic, sources, text_width()))
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


def log_command(settings: Settings, args: argparse.Namespace) -> int:
    """`log migrate`, `log export --json`, `log import` or `log copy`."""
    from bot.log import cli as logcli

    if args.log_command == "migrate":
        return logcli.migrate_command(settings)
    if args.log_command == "export":
        return logcli.export_command(settings)
    if args.log_command == "import":
        from bot.log.restore import import_command

        return import_command(settings, args.file, args.json)
    return logcli.copy_command(settings, args.source, args.json)


def days_argument(text: str) -> int:
    days = int(text) if text.isdigit() else 0
    if not 1 <= days <= reports.MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 1 to {reports.MAX_DAYS}")
    return days


def top_argument(text: str) -> int:
    top = int(text) if text.strip().isdigit() else 0
    if top < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of passages, 1 or more, not {text!r}")
    return top


def check_command_line(parser: argparse.ArgumentParser, words: list[str], searchable: bool) -> None:
    """Refuses, before anything loads, words that are not one question: several quoted ones, or `-` with others;
    and, when `searchable`, one that cannot be searched, such as an empty one. Exits 2, as for any bad command line.
    """
    if len(words) > 1 and ("-" in words or any(len(word.split()) != 1 for word in words)):
        parser.error(ONE_QUESTION)
    if searchable and words != ["-"]:
        try:
            clean_question(" ".join(words))
        except QuestionError as exc:
            parser.exit(EXIT_SETTINGS, f"error: {exc}\n")


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


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(
        prog="python -m bot",
        description="Dossier: quote the corpus, with sources. Without a command, runs the Discord bot.",
        epilog=EXIT_STATUS)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details and tracebacks")
    parser.add_argument("--or-terminal", action="store_true",
                        help="without DISCORD_TOKEN, open the terminal mode instead of stopping (scripts/run does)")
    sub = parser.add_subparsers(dest="command")
    ask_cmd = sub.add_parser("ask", help="answer questions without Discord (no token needed)", epilog=EXIT_STATUS)
    ask_cmd.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="log details and tracebacks")
    ask_cmd.add_argument("question", nargs="+",
                         help="the question, or - to read one question per line from stdin")
    ask_cmd.add_argument("--format", choices=["text", "json", "discord"], default="text",
                         help="text for people, json for programs (one object per line), "
                              "discord for the content and embeds of the message the bot would send, without its "
                              "buttons (one per line)")
    ask_cmd.add_argument("--top", type=top_argument, default=DEFAULT_TOP,
                         help=f"how many passages to quote at most (default {DEFAULT_TOP}; discord shows 3 per "
                              "page); in the terminal mode, how many `more` shows next")
    ask_cmd.add_argument("--log", action="store_true",
                         help="record the questions in the question log (DATABASE_PATH), as the bot does, "
                              "so that `gaps` and `stats` can be tried without Discord")
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
    health_cmd = sub.add_parser("health", epilog=EXIT_STATUS,
                                help="whether the bot running on this host is healthy (HEALTH_PORT): gateway, index, "
                                     "question log; exits 0 when it is, 1 when it is not or no bot answers, 2 "
                                     "without HEALTH_PORT")
    health_cmd.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                            help="log details and tracebacks")
    log_cmd = sub.add_parser("log", help="the question log's database (DATABASE_URL, else DATABASE_PATH)",
                             epilog=EXIT_STATUS)
    log_sub = log_cmd.add_subparsers(dest="log_command", required=True)
    for name, what in (("migrate", "bring the schema up to date (the bot does at start), and check the key"),
                       ("export", "print every row as JSON Lines: hashes as stored, never the key"),
                       ("import", "add the rows of an export to the log (one it holds already stays as it is); the "
                                  "log must have the exported log's key"),
                       ("copy", "copy a SQLite log (DATABASE_PATH, or --from) into the PostgreSQL log at "
                                "DATABASE_URL; they must share a key (QUESTION_LOG_KEY)")):
        command = log_sub.add_parser(name, help=what, description=f"{what[0].upper()}{what[1:]}.",
                                     epilog=EXIT_STATUS)
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="log details and tracebacks")
        if name == "export":
            command.add_argument("--json", action="store_true", required=True,
                                 help="JSON Lines, the only format: one object a row")
        if name == "import":
            command.add_argument("file", help="the export (`log export --json`), or - to read it from stdin")
        if name == "copy":
            command.add_argument("--from", dest="source", type=Path, default=None,
                                 help="the SQLite file to copy (default DATABASE_PATH)")
        if name in ("copy", "import"):
            command.add_argument("--json", action="store_true", help="print what was added as one JSON object")
    args = parser.parse_args(argv)
    if args.command == "ask":
        check_command_line(ask_cmd, args.question, searchable=args.format == "text")
    elif args.command == "compare":
        check_command_line(compare_cmd, args.topic, searchable=True)
    logging_setup.configure(args.verbose)  # the terminal commands only warn, unless -v
    settings, serving = None, False
    try:
        settings = read_settings(Settings)
        if args.command is None and args.or_terminal and settings.discord_token is None:
            print(NO_TOKEN_TERMINAL, file=sys.stderr)
            return ask(settings, ["-"], "text", DEFAULT_TOP)
        if args.command == "ask":
            return ask(settings, args.question, args.format, args.top, args.log)
        if args.command == "compare":
            return compare(settings, args.topic, args.format)
        if args.command in ("gaps", "stats"):
            return report(settings, args.command, args.days, args.json)
        if args.command == "health":
            return health(settings)
        if args.command == "log":
            return log_command(settings, args)
        serving = True
        configure_logging(args.verbose)  # the bot logs what it does
        return serve(settings)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return output_closed()
    except Exception as exc:
        if isinstance(exc, QuestionLogError):  # the bot's own database, which the index's diagnosis does not know
            failure = Failure(str(exc), EXIT_SETTINGS if isinstance(exc, LogSettingError)
                              else EXIT_UNAVAILABLE if isinstance(exc, LogUnavailable) else EXIT_ERROR)
        else:
            failure = (discord_failure(exc) if serving else None) or diagnose(exc, settings)
        if getattr(args, "json", False):  # gaps and stats: the error as the JSON object asked for, as rollback does
            print(json.dumps({"error": failure.message, "status": failure.status}, ensure_ascii=False))
        return report_failure(failure, exc, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
