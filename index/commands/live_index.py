"""`python -m index rollback` and `python -m index checks`: the commands on the live index."""

import json

from index.builds.moderator_checks import CHECKS_FILE, failure_text, read_checks, run_checks, unknown_sources
from index.diagnose import EXIT_CHECKS_FAILED
from index.ingest.corpus import source_paths
from index.model.onnx_model import question_embedder
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import Store
from index.store.pointer import Pointer


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


def pointer_text(pointer: Pointer) -> str:
    return (f"generation {pointer.generation}, built {pointer.built_at} by {pointer.built_by}: {pointer.documents} "
            f"documents, {pointer.chunks} passages")
