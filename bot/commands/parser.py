"""The command line of `python -m bot`: its commands, their options and help, and the checks made before anything
loads."""

import argparse
from pathlib import Path
from typing import TypeAlias

from bot.questionlog import reports
from index.diagnose import EXIT_SETTINGS, CommandParser
from index.search.answer import QuestionError, clean_question

EXIT_STATUS = ("Exit status: 0 done, 1 error (the message says what to fix; for health: unhealthy), 2 bad settings, "
               "command line or token, 69 Discord, the Chroma server or the log's database unreachable, 70 unexpected "
               "error (-v shows it), 130 Ctrl-C.")
ONE_QUESTION = ("give one question, in quotes or as bare words; for several, one a line on stdin: "
                "python -m bot ask - < questions.txt")
DEFAULT_TOP = 5

Commands: TypeAlias = "argparse._SubParsersAction[CommandParser]"  # what add_subparsers gives


def command_line() -> tuple[CommandParser, dict[str, CommandParser]]:
    """The parser of `python -m bot`, and those of `ask` and `compare`, whose words are checked once parsed."""
    parser = CommandParser(
        prog="python -m bot",
        description="Dossier: quote the corpus, with sources. Without a command, runs the Discord bot.",
        epilog=EXIT_STATUS)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details and tracebacks")
    parser.add_argument("--or-terminal", action="store_true",
                        help="without DISCORD_TOKEN, open the terminal mode instead of stopping (scripts/run does)")
    sub = parser.add_subparsers(dest="command")
    checked = {"ask": _ask(sub), "compare": _compare(sub)}
    _reports(sub)
    health_cmd = sub.add_parser("health", epilog=EXIT_STATUS,
                                help="whether the bot running on this host is healthy (HEALTH_PORT): gateway, index, "
                                     "question log; exits 0 when it is, 1 when it is not or no bot answers, 2 "
                                     "without HEALTH_PORT")
    _verbose(health_cmd)
    _log(sub)
    return parser, checked


def _verbose(command: CommandParser) -> None:
    command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="log details and tracebacks")


def _ask(sub: Commands) -> CommandParser:
    ask_cmd = sub.add_parser("ask", help="answer questions without Discord (no token needed)", epilog=EXIT_STATUS)
    _verbose(ask_cmd)
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
    return ask_cmd


def _compare(sub: Commands) -> CommandParser:
    compare_cmd = sub.add_parser("compare", help="what each source says on a topic: its closest passage, or nothing",
                                 epilog=EXIT_STATUS)
    _verbose(compare_cmd)
    compare_cmd.add_argument("topic", nargs="+", help="the topic, e.g. Iranian training of Taliban fighters")
    compare_cmd.add_argument("--format", choices=["text", "json", "discord"], default="text",
                             help="text for people, json for programs, discord for the message payload")
    return compare_cmd


def _reports(sub: Commands) -> None:
    for name, what in (("gaps", "questions the corpus misses, grouped by meaning, largest group first"),
                       ("stats", "questions per day, share answered and voted helpful, top sources, latency")):
        report_cmd = sub.add_parser(name, help=f"from the question log: {what}", description=f"{what.capitalize()}.",
                                    epilog=EXIT_STATUS)
        _verbose(report_cmd)
        report_cmd.add_argument("--days", type=days_argument, default=reports.DEFAULT_DAYS,
                                help=f"how many days back to look (default {reports.DEFAULT_DAYS})")
        report_cmd.add_argument("--json", action="store_true", help="print one JSON object")


def _log(sub: Commands) -> None:
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
        _verbose(command)
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
