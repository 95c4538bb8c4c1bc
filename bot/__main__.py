"""`python -m bot`: run the Discord bot; `python -m bot ask` and `compare`: answer in the terminal, no token needed;
`python -m bot gaps|stats`: what the question log says; `python -m bot log migrate|export|import|copy`: the question
log's database, for its operator; `python -m bot health`: whether the running bot is healthy, for a supervisor.

Each command is a function of bot/commands/; this module reads the settings, runs the one asked for, and says
plainly what went wrong."""

import argparse
import json
import sys
from collections.abc import Callable

from bot.commands.answering import ask, compare
from bot.commands.log_commands import log_command, report
from bot.commands.parser import DEFAULT_TOP, check_command_line, command_line
from bot.commands.serving import configure_logging, discord_failure, health, serve
from bot.questionlog.database import LogSettingError, LogUnavailable, QuestionLogError
from bot.settings import Settings
from index import logging_setup
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
from index.settings import read_settings

NO_TOKEN_TERMINAL = "No DISCORD_TOKEN set (see .env.example): terminal mode."

COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "ask": lambda settings, args: ask(settings, args.question, args.format, args.top, args.log),
    "compare": lambda settings, args: compare(settings, args.topic, args.format),
    "gaps": lambda settings, args: report(settings, "gaps", args.days, args.json),
    "stats": lambda settings, args: report(settings, "stats", args.days, args.json),
    "health": lambda settings, args: health(settings),
    "log": log_command,
}


def main(argv: list[str] | None = None) -> int:
    parser, checked = command_line()
    args = parser.parse_args(argv)
    if args.command == "ask":
        check_command_line(checked["ask"], args.question, searchable=args.format == "text")
    elif args.command == "compare":
        check_command_line(checked["compare"], args.topic, searchable=True)
    logging_setup.configure(args.verbose)  # the terminal commands only warn, unless -v
    settings, serving = None, False
    try:
        settings = read_settings(Settings)
        if args.command is not None:
            return COMMANDS[args.command](settings, args)
        if args.or_terminal and settings.discord_token is None:
            print(NO_TOKEN_TERMINAL, file=sys.stderr)
            return ask(settings, ["-"], "text", DEFAULT_TOP)
        serving = True
        configure_logging(args.verbose)  # the bot logs what it does
        return serve(settings)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return output_closed()
    except Exception as exc:
        return failed(exc, args, settings, serving)


def failed(exc: Exception, args: argparse.Namespace, settings: Settings | None, serving: bool) -> int:
    """Says what went wrong and how to fix it; the exit status that tells it."""
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
