"""`python -m index build [--json] [--force]`: builds or updates the index from SEEDS_DIR;
`python -m index rollback [--json]`: makes the previous generation live again;
`python -m index checks [--json]`: runs the moderators' checks (SEEDS_DIR/checks.toml) against the live index;
`python -m index export`: exports the embedding model to ONNX for questions."""

import argparse
import json
import logging
import sys
from pathlib import Path

from index import logs
from index.build import BuildReport, Progress, ProgressFn, build
from index.checks import CheckError, failure_text, read_checks, run_checks
from index.corpus import CorpusError
from index.embedding import ModelError, SentenceTransformerEmbedder
from index.lock import BuildRunning, LockLost
from index.onnx_model import ExportError, question_embedder
from index.search import Searcher
from index.settings import IndexSettings
from index.store import NothingToRollBack, Pointer, Store, StoreError

log = logging.getLogger("index")

EXIT_BUILD_RUNNING = 75  # EX_TEMPFAIL: try again later
EXIT_NOT_SWITCHED = 3  # the new index fails checks the live one passes


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


def _summary(report: BuildReport) -> str:
    if report.switched:
        lines = [f"Indexed {report.documents} documents, {report.chunks} passages (generation {report.generation}):",
                 f"  {report.added} added, {report.changed} changed, {report.unchanged} unchanged, "
                 f"{report.removed} removed; {report.embedded} passages embedded in {report.seconds:.1f} s"]
    elif report.held:
        lines = [f"Not switched: the new index fails checks that generation {report.generation}, which stays live, "
                 "passes. Fix the corpus or checks.toml, or switch all the same with --force."]
    else:
        lines = [f"Nothing changed: generation {report.generation} stays live with {report.documents} documents, "
                 f"{report.chunks} passages."]
    if report.checks is not None:
        lines.append(f"  checks: {report.checks.passed} passed, {len(report.checks.failed)} failed")
        lines += [f"  failed: {failure_text(result)}" + (" (passed before)" if result.check in report.checks.regressed
                                                          else "") for result in report.checks.failed]
    lines += [f"  error: {e['source']}: {e['error']}" for e in report.errors]
    return "\n".join(lines)


def pointer_text(pointer: Pointer) -> str:
    return (f"generation {pointer.generation}, built {pointer.built_at} by {pointer.built_by}: {pointer.documents} "
            f"documents, {pointer.chunks} passages")


def rollback(settings: IndexSettings, as_json: bool) -> int:
    """Makes the previous generation live again; exit status 1 when there is none to return to."""
    try:
        pointer = Store.open(settings).rollback("command line")
    except BuildRunning as exc:
        return _failed(str(exc), as_json, EXIT_BUILD_RUNNING)
    except (StoreError, LockLost) as exc:
        return _failed(str(exc), as_json, 1, nothing_to_roll_back=isinstance(exc, NothingToRollBack))
    if as_json:
        print(json.dumps({"generation": pointer.generation, "built_at": pointer.built_at,
                          "built_by": pointer.built_by, "documents": pointer.documents, "chunks": pointer.chunks}))
    else:
        print(f"Rolled back: {pointer_text(pointer)}, is live again. The seeds folder was not touched.")
    return 0


def checks(settings: IndexSettings, as_json: bool) -> int:
    """Runs the checks against the live index; exit status 3 when one fails."""
    try:
        found = read_checks(settings.seeds_dir)
        results = run_checks(found, Searcher.open(settings, question_embedder(settings))) if found else []
    except (CheckError, ModelError, StoreError) as exc:
        return _failed(str(exc), as_json, 1)
    failed = [result for result in results if not result.passed]
    if as_json:
        print(json.dumps({"passed": len(results) - len(failed), "failed": [r.to_json() for r in failed]}))
    elif not found:
        print(f"No checks: {settings.seeds_dir / 'checks.toml'} holds none.")
    else:
        print(f"Checks: {len(results) - len(failed)} passed, {len(failed)} failed.")
        print("\n".join(f"  failed: {failure_text(result)}" for result in failed))
    return EXIT_NOT_SWITCHED if failed else 0


def _failed(message: str, as_json: bool, status: int, **extra: bool) -> int:
    print(f"error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, **extra}))
    return status
def _prepare_questions(settings: IndexSettings, embedder: SentenceTransformerEmbedder) -> None:
    """Exports the model to ONNX if it has no export yet, so the bot and `ask` start without torch."""
    if settings.embedding_backend != "onnx":
        return
    from index.onnx_export import ensure_export

    try:
        _, manifest = ensure_export(settings, embedder)
    except ExportError as exc:
        log.warning("questions will be embedded by sentence-transformers: %s", exc)
        return
    if manifest.status != "ok":
        log.warning("questions will be embedded by sentence-transformers: %s", manifest.reason)


def export(settings: IndexSettings, check_files: list[Path]) -> int:
    """`python -m index export`: exports the model to ONNX unless it has a good export; 0 when it matches."""
    from index.onnx_export import describe, ensure_export, question_file

    try:
        extra = [q for path in check_files for q in question_file(path)]
        folder, manifest = ensure_export(settings, extra_texts=extra, retry=True)
    except (ExportError, ModelError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"ONNX export of {settings.embedding_model} in {folder}: {describe(manifest)}")
    return 0 if manifest.status == "ok" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index", description="Build Dossier's search index.")
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build or update the index from SEEDS_DIR")
    build_cmd.add_argument("--json", action="store_true", help="print a JSON summary on the last line of stdout")
    build_cmd.add_argument("--force", action="store_true",
                           help="switch to the new index even if it fails checks the live one passes")
    build_cmd.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    rollback_cmd = sub.add_parser("rollback", help="make the previous generation live again (the seeds folder is "
                                                   "not touched)")
    rollback_cmd.add_argument("--json", action="store_true", help="print the generation now live as JSON")
    checks_cmd = sub.add_parser("checks", help="run the checks in SEEDS_DIR/checks.toml against the live index")
    checks_cmd.add_argument("--json", action="store_true", help="print the results as JSON")
    export_cmd = sub.add_parser("export", help="export the embedding model to ONNX for torch-free questions, "
                                               "and check it against sentence-transformers")
    export_cmd.add_argument("--check", type=Path, nargs="+", default=[], metavar="FILE",
                            help="also check on these questions (JSON Lines with a question field, or one a line)")
    args = parser.parse_args(argv)
    logs.configure(getattr(args, "verbose", False))
    settings = IndexSettings()
    if args.command == "export":
        return export(settings, args.check)
    if args.command == "rollback":
        return rollback(settings, args.json)
    if args.command == "checks":
        return checks(settings, args.json)
    try:
        store = Store.open(settings)
        embedder = SentenceTransformerEmbedder.load(settings.embedding_model)
        show = _progress_bar() if sys.stderr.isatty() else None
        report = build(settings.seeds_dir, store, embedder, progress=show, force=args.force)
        _prepare_questions(settings, embedder)
    except BuildRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc), "build_running": True}))
        return EXIT_BUILD_RUNNING
    except (CorpusError, CheckError, ModelError, StoreError, LockLost) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps(report.to_json()) if args.json else _summary(report))
    return EXIT_NOT_SWITCHED if report.held else 0


if __name__ == "__main__":
    sys.exit(main())
