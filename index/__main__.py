"""`python -m index build [--json]`: builds or updates the index from SEEDS_DIR."""

import argparse
import json
import logging
import sys

from index import logs
from index.build import BuildReport, Progress, build
from index.corpus import CorpusError
from index.embedding import Embedder, ModelError
from index.settings import IndexSettings
from index.store import Store, StoreError

log = logging.getLogger("index")


def _progress_bar() -> "callable":  # type: ignore[valid-type]
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

    return show


def _summary(report: BuildReport) -> str:
    lines = [f"Indexed {report.documents} documents, {report.chunks} passages (generation {report.generation}):",
             f"  {report.added} added, {report.changed} changed, {report.unchanged} unchanged, "
             f"{report.removed} removed; {report.embedded} passages embedded in {report.seconds:.1f} s"]
    lines += [f"  error: {e['source']}: {e['error']}" for e in report.errors]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index", description="Build Dossier's search index.")
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build or update the index from SEEDS_DIR")
    build_cmd.add_argument("--json", action="store_true", help="print a JSON summary on the last line of stdout")
    build_cmd.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    args = parser.parse_args(argv)
    logs.configure(args.verbose)
    settings = IndexSettings()
    try:
        store = Store.open(settings)
        embedder = Embedder.load(settings.embedding_model)
        show = _progress_bar() if sys.stderr.isatty() and not args.json else None
        report = build(settings.seeds_dir, store, embedder, progress=show)
    except (CorpusError, ModelError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps(report.to_json()) if args.json else _summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
