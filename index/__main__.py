"""`python -m index build [--json]`: builds or updates the index from SEEDS_DIR."""

import argparse
import json
import logging
import sys
from pathlib import Path

from index import logs
from index.build import BuildReport, Progress, ProgressFn, build
from index.corpus import CorpusError
from index.embedding import ModelError, SentenceTransformerEmbedder
from index.lock import BuildRunning, LockLost
from index.onnx_model import ExportError
from index.settings import IndexSettings
from index.store import Store, StoreError

log = logging.getLogger("index")

EXIT_BUILD_RUNNING = 75  # EX_TEMPFAIL: try again later


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
    else:
        lines = [f"Nothing changed: generation {report.generation} stays live with {report.documents} documents, "
                 f"{report.chunks} passages."]
    lines += [f"  error: {e['source']}: {e['error']}" for e in report.errors]
    return "\n".join(lines)


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
    build_cmd.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    export_cmd = sub.add_parser("export", help="export the embedding model to ONNX for torch-free questions, "
                                               "and check it against sentence-transformers")
    export_cmd.add_argument("--check", type=Path, nargs="+", default=[], metavar="FILE",
                            help="also check on these questions (JSON Lines with a question field, or one a line)")
    args = parser.parse_args(argv)
    logs.configure(getattr(args, "verbose", False))
    settings = IndexSettings()
    if args.command == "export":
        return export(settings, args.check)
    try:
        store = Store.open(settings)
        embedder = SentenceTransformerEmbedder.load(settings.embedding_model)
        show = _progress_bar() if sys.stderr.isatty() else None
        report = build(settings.seeds_dir, store, embedder, progress=show)
        _prepare_questions(settings, embedder)
    except BuildRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc), "build_running": True}))
        return EXIT_BUILD_RUNNING
    except (CorpusError, ModelError, StoreError, LockLost) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps(report.to_json()) if args.json else _summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
