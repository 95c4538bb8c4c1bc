"""`python -m index build [--json] [--force]`: builds or updates the index from SEEDS_DIR;
`python -m index rollback [--json]`: makes the previous generation live again;
`python -m index checks [--json]`: runs the moderators' checks (SEEDS_DIR/checks.toml) against the live index;
`python -m index export`: exports the embedding model to ONNX for questions;
`python -m index add URL|FILE [--title T] [--outlet O] [--author A] [--published YYYY-MM-DD] [--replace]`: writes one
article (fetched from a link, or read from an .html, .pdf or .txt file) into SEEDS_DIR with its sources.toml entry."""

import argparse
import functools
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from index import logging_setup
from index.builds.moderator_checks import CHECKS_FILE, failure_text, read_checks, run_checks, unknown_sources
from index.builds.pipeline import BuildReport, Progress, ProgressFn, build
from index.diagnose import (
    EXIT_CHECKS_FAILED,
    EXIT_FILES_UNREAD,
    EXIT_INTERRUPTED,
    EXIT_NOT_SWITCHED,
    CommandParser,
    diagnose,
)
from index.diagnose import report as report_failure
from index.ingest.articles import Reading, described, read_in_child, upload_name, write_article
from index.ingest.corpus import read_capped, source_paths
from index.ingest.editing import SourceExists, add_source
from index.ingest.source_fields import SourceError, metadata_fields
from index.model.embedding import DeferredEmbedder, ModelError, SentenceTransformerEmbedder
from index.model.onnx_model import ExportError, question_embedder
from index.search.searcher import Searcher
from index.settings import IndexSettings, read_settings
from index.store.chroma import NothingToRollBack, Pointer, Store
from index.store.lock import BuildRunning

log = logging.getLogger("index")
_LINK = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
ADDED_BY = "command line"


def _progress_bar() -> ProgressFn:
    """One tqdm bar per stage on stderr, closed when the stage is done."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def show(p: Progress) -> None:
        bar = bars.get(p.stage)
        if bar is None:
            bar = bars[p.stage] = tqdm(total=p.total, desc=p.stage, unit="item", file=sys.stderr, leave=False)
        bar.total = p.total
        bar.n = p.done
        bar.refresh()
        if p.done >= p.total:
            bar.close()
            del bars[p.stage]

    return show


def build_summary(report: BuildReport, force: bool = False) -> str:
    """What a build did, for a person at a terminal; `force`: --force was given."""
    if report.switched:
        lines = [f"Indexed {report.documents} documents, {report.chunks} passages (generation {report.generation}):",
                 f"  {report.added} added, {report.changed} changed, {report.unchanged} unchanged, "
                 f"{report.removed} removed; {report.timing()}"]
        if report.forced:
            lines += [f"  switched with --force despite: {reason.message}" for reason in report.reasons]
    elif report.held:
        lines = [f"Not switched: generation {report.generation} stays live."]
        lines += [f"  {reason.message}" for reason in report.reasons]
        lines.append("  Run `python -m index build --force` to switch all the same.")
    else:
        lines = [f"Nothing changed: generation {report.generation} stays live with {report.documents} documents, "
                 f"{report.chunks} passages."]
    if note := report.force_note(force):
        lines.append(f"  --force {note}")
    if report.checks is not None:
        lines.append(f"  checks: {report.checks.passed} passed, {len(report.checks.failed)} failed")
        lines += [f"  failed: {failure_text(result)}" + (" (passed before)" if result.check in report.checks.regressed
                                                          else "") for result in report.checks.failed]
    if report.took_over:
        lines.append(f"  note: {report.took_over}")
    lines += [f"  warning: {w['source']}: {w['warning']}" for w in report.warnings]
    lines += [f"  error: {e['source']}: {e['error']}" for e in report.errors]
    if report.unattributed:
        lines.append("  not stated in sources.toml (fill in what the article itself says and build again, or, where it "
                     "gives none, list the field in the source's not_stated):")
        lines += [f"    {gap['source']}: {', '.join(gap['missing'])}" for gap in report.unattributed]
    return "\n".join(lines)


def pointer_text(pointer: Pointer) -> str:
    return (f"generation {pointer.generation}, built {pointer.built_at} by {pointer.built_by}: {pointer.documents} "
            f"documents, {pointer.chunks} passages")


def say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def announced_load(name: str) -> SentenceTransformerEmbedder:
    """Loads the model with sentence-transformers, saying so while it loads and when it is done."""
    tty = sys.stderr.isatty()  # on a terminal the line saying it loads gives way to the one saying it is loaded
    print("Loading the embedding model…", end="" if tty else "\n", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        model = SentenceTransformerEmbedder.load(name)
    finally:
        if tty:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
    say_on_stderr(f"Loaded the embedding model in {time.monotonic() - started:.1f} s.")
    return model


def run(args: argparse.Namespace, settings: IndexSettings) -> BuildReport:
    """The build. The model loads only when there is something to embed: with nothing changed, torch is not
    even imported."""
    source_paths(settings.seeds_dir)  # a wrong SEEDS_DIR is told before anything else takes time
    store = Store.open(settings)
    tty = sys.stderr.isatty()
    embedder = DeferredEmbedder(settings.embedding_model, announced_load if tty else None)
    report = build(settings.seeds_dir, store, embedder, progress=_progress_bar() if tty else None, force=args.force)
    _prepare_questions(settings, embedder, say_on_stderr if tty else log.info)
    return report


def rollback(settings: IndexSettings, as_json: bool) -> int:
    """Makes the previous generation live again; NothingToRollBack when there is none to return to."""
    pointer = Store.open(settings, create=False).rollback("command line")
    if as_json:
        print(json.dumps({"generation": pointer.generation, "built_at": pointer.built_at,
                          "built_by": pointer.built_by, "documents": pointer.documents, "chunks": pointer.chunks}))
    else:
        print(f"Rolled back: {pointer_text(pointer)}, is live again. The seeds folder was not touched.")
    return 0


def checks(settings: IndexSettings, as_json: bool) -> int:
    """Runs the checks against the live index; EXIT_CHECKS_FAILED when one fails."""
    found = read_checks(settings.seeds_dir)
    results = run_checks(found, Searcher(Store.open_live(settings), question_embedder(settings))) if found else []
    failed = [result for result in results if not result.passed]
    warnings = unknown_sources(found, {path.name for path in source_paths(settings.seeds_dir)})
    if as_json:
        print(json.dumps({"passed": len(results) - len(failed), "failed": [r.to_json() for r in failed],
                          **({"warnings": warnings} if warnings else {})}))
    elif not found:
        path = settings.seeds_dir / CHECKS_FILE
        print(f"No checks: {path} holds none." if path.exists() else
              f"No checks: there is no {path}. docs/discord.md (\"Checks and rollback\") says how to write one.")
    else:
        print(f"Checks: {len(results) - len(failed)} passed, {len(failed)} failed.")
        for line in [*(f"  failed: {failure_text(result)}" for result in failed),
                     *(f"  warning: {warning}" for warning in warnings)]:
            print(line)
    return EXIT_CHECKS_FAILED if failed else 0




def add(args: argparse.Namespace, settings: IndexSettings) -> int:
    """Writes the article into the seeds folder; 1 with the reason, and nothing written, when it is refused."""
    given = {key: value for key in ("title", "outlet", "author", "published") if (value := getattr(args, key))}
    article = None
    if _LINK.match(args.target):
        reading, kind = Reading(link=args.target), "link"
    else:
        path = Path(args.target)
        kind = upload_name(path.name)[0]  # a file of another kind is refused before it is read
        reading = Reading(filename=path.name, data=read_capped(path))
    try:
        if kind == "txt":
            change = add_source(settings.seeds_dir, reading.data, path.name, actor=ADDED_BY, replace=args.replace,
                                **given)
        else:
            say_on_stderr(f"Fetching {args.target} (at most {settings.fetch_timeout_seconds:g} s)…" if reading.link
                          else f"Reading the article in {reading.filename}…")
            article = read_in_child(reading, settings.fetch_allow_hosts, settings.fetch_timeout_seconds)
            change = write_article(settings.seeds_dir, reading, article, given, actor=ADDED_BY, replace=args.replace)
    except SourceExists as error:
        raise SourceError(f"{error} Pass --replace to replace it.") from error
    print(change.message.replace("at the next reindex", "once `python -m index build` has run"))
    if article is not None:
        print(f"Read from the article: {described(article, given)}.")
    return 0


def _prepare_questions(settings: IndexSettings, embedder: DeferredEmbedder, say: Callable[[str], None]) -> None:
    """Exports the model to ONNX if it has no export yet, so the bot and `ask` start without torch."""
    if settings.embedding_backend != "onnx":
        return
    from index.model.onnx_export import ensure_export

    try:
        _, manifest = ensure_export(settings, embedder, say=say)
    except ExportError as exc:
        log.warning("questions will be embedded by sentence-transformers: %s", exc)
        return
    if manifest.status != "ok":
        log.warning("questions will be embedded by sentence-transformers: %s", manifest.reason)


def export(settings: IndexSettings, check_files: list[Path]) -> int:
    """`python -m index export`: exports the model to ONNX unless it has a good export; 0 when it matches."""
    from index.model.onnx_export import describe, ensure_export, question_file

    try:
        extra = [q for path in check_files for q in question_file(path)]
        folder, manifest = ensure_export(settings, DeferredEmbedder(settings.embedding_model, announced_load),
                                         extra_texts=extra, retry=True, say=say_on_stderr)
    except (ExportError, ModelError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"ONNX export of {settings.embedding_model} in {folder}: {describe(manifest)}")
    return 0 if manifest.status == "ok" else 1


def question_file_argument(text: str) -> Path:
    """A question file given to --check: refused at once, with the reason, when it cannot be read."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file" if path.exists() else f"there is no file {text}")
    try:
        path.read_text(encoding="utf-8")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text} is not UTF-8 text (byte {exc.start})") from exc
    return path


def add_arguments(add_cmd: argparse.ArgumentParser) -> None:
    add_cmd.add_argument("target", metavar="URL|FILE", help="an http(s) link to the article, or a file")
    for name, what in (("title", "the title"), ("outlet", "the publication"), ("author", "who wrote it"),
                       ("published", "the date it was published, YYYY-MM-DD")):
        add_cmd.add_argument(f"--{name}", type=functools.partial(metadata_argument, name),
                             help=f"{what} (default: what the article says)")
    add_cmd.add_argument("--replace", action="store_true",
                         help="replace the source of the same name, or the one that is the same article")
    add_cmd.add_argument("-v", "--verbose", action="store_true", help="log details and tracebacks")


def metadata_argument(name: str, text: str) -> str:
    """A metadata field given on the command line, as sources.toml will hold it; refused at once when invalid."""
    try:
        return metadata_fields(**{name: text}).get(name, "")
    except SourceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)
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
        report = run(args, settings)
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
