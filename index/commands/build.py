"""`python -m index build`: the build with a progress bar per stage on a terminal, its summary for a person, and the
ONNX export made afterwards when there is none, so that the bot and `ask` start without torch."""

import argparse
import logging
import sys
from collections.abc import Callable

from index.builds.moderator_checks import failure_text
from index.builds.pipeline import build
from index.builds.report import BuildReport, Progress, ProgressFn
from index.commands.loading import announced_load, say_on_stderr
from index.ingest.corpus import source_paths
from index.model.embedding import DeferredEmbedder
from index.model.onnx_model import ExportError
from index.settings import IndexSettings
from index.store.chroma import Store

log = logging.getLogger("index")


def build_command(args: argparse.Namespace, settings: IndexSettings) -> BuildReport:
    """The build. The model loads only when there is something to embed: with nothing changed, torch is not
    even imported."""
    source_paths(settings.seeds_dir)  # a wrong SEEDS_DIR is told before anything else takes time
    store = Store.open(settings)
    tty = sys.stderr.isatty()
    embedder = DeferredEmbedder(settings.embedding_model, announced_load if tty else None)
    report = build(settings.seeds_dir, store, embedder, progress=_progress_bar() if tty else None, force=args.force)
    _prepare_questions(settings, embedder, say_on_stderr if tty else log.info)
    return report


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
