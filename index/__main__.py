"""`python -m index build [--json] [--force]`: builds or updates the index from SEEDS_DIR;
`python -m index rollback [--json]`: makes the previous generation live again;
`python -m index checks [--json]`: runs the moderators' checks (SEEDS_DIR/checks.toml) against the live index;
`python -m index export`: exports the embedding model to ONNX for questions;
`python -m index add URL|FILE [--title T] [--outlet O] [--author A] [--published YYYY-MM-DD] [--replace]`: writes one
article (fetched from a link, or read from an .html, .pdf or .txt file) into SEEDS_DIR with its sources.toml entry."""

import argparse
import json
import sys

from index import logging_setup
from index.commands.add import add, add_arguments
from index.commands.build import build_command, build_summary
from index.commands.export import export, question_file_argument
from index.commands.live_index import checks, rollback
from index.diagnose import EXIT_FILES_UNREAD, EXIT_INTERRUPTED, EXIT_NOT_SWITCHED, CommandParser, diagnose
from index.diagnose import report as report_failure
from index.settings import IndexSettings, read_settings
from index.store.chroma import NothingToRollBack
from index.store.lock import BuildRunning


def command_line() -> argparse.ArgumentParser:
    """The commands, their arguments and their help."""
    parser = CommandParser(prog="python -m index", description="Build Dossier's search index, and add articles to its "
                                                               "corpus.",
                           epilog="Exit status: 0 done (built, nothing changed, added), 1 error or refusal (add "
                                  "then writes nothing), 2 bad settings or arguments, 3 not switched (see --force), "
                                  "4 checks fail on the live index, 5 built, but some files could not be indexed "
                                  "(listed), 69 Chroma server unreachable, 70 unexpected error, 75 another build is "
                                  "running.")
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build or update the index from SEEDS_DIR")
    build_cmd.add_argument("--json", action="store_true", help="print a JSON summary on the last line of stdout")
    build_cmd.add_argument("--force", action="store_true",
                           help="switch to the new index even if it holds no documents, drops most of them, or "
                                "fails checks the live one passes")
    build_cmd.add_argument("-v", "--verbose", action="store_true", help="log progress details and tracebacks")
    rollback_cmd = sub.add_parser("rollback", help="make the previous generation live again (the seeds folder is "
                                                   "not touched)")
    rollback_cmd.add_argument("--json", action="store_true", help="print the generation now live as JSON")
    rollback_cmd.add_argument("-v", "--verbose", action="store_true", help="log details and tracebacks")
    checks_cmd = sub.add_parser("checks", help="run the checks in SEEDS_DIR/checks.toml against the live index")
    checks_cmd.add_argument("--json", action="store_true", help="print the results as JSON")
    checks_cmd.add_argument("-v", "--verbose", action="store_true", help="log details and tracebacks")
    export_cmd = sub.add_parser("export", help="export the embedding model to ONNX for torch-free questions, "
                                               "and check it against sentence-transformers")
    export_cmd.add_argument("--check", type=question_file_argument, nargs="+", default=[], metavar="FILE",
                            help="also check on these questions (JSON Lines with a question field, or one a line)")
    add_arguments(sub.add_parser("add", help="write one article (a link, or an .html, .pdf or .txt file) into "
                                             "SEEDS_DIR with its sources.toml entry; `build` then indexes it"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = command_line().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging_setup.configure(verbose)
    settings = None
    try:
        settings = read_settings(IndexSettings)
        if args.command == "export":
            return export(settings, args.check)
        if args.command == "rollback":
            return rollback(settings, args.json)
        if args.command == "checks":
            return checks(settings, args.json)
        if args.command == "add":
            return add(args, settings)
        report = build_command(args, settings)
    except KeyboardInterrupt:
        print("Stopped; the index that was live stays live.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        failure = diagnose(exc, settings)
        if getattr(args, "json", False):
            extra = {"nothing_to_roll_back": isinstance(exc, NothingToRollBack)} if args.command == "rollback" else {}
            print(json.dumps({"error": failure.message, "status": failure.status,
                              "build_running": isinstance(exc, BuildRunning), **extra}))
        return report_failure(failure, exc, verbose)
    print(json.dumps(report.to_json()) if args.json else build_summary(report, args.force))
    if report.held:
        return EXIT_NOT_SWITCHED
    return EXIT_FILES_UNREAD if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
