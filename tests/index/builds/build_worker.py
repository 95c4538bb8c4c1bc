"""A separate process for the reindex tests: build (optionally pausing at a stage, to be killed), ask, state.

`python -m tests.index.builds.build_worker build ROOT [--pause STAGE:DONE]` builds ROOT/seeds into ROOT/chroma with the
fake embedder and prints the report as JSON; with --pause it prints PAUSED and sleeps once the build reports
DONE or more at STAGE, so a test can SIGKILL it at a known point. `ask ROOT QUESTION...` prints what the live
index answers; `state ROOT` prints the pointer, what the store holds and the generations' folders on this host.
"""

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from index.builds.pipeline import build
from index.builds.report import Progress
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import Store
from tests.conftest import FakeEmbedder, on_topic_scorer


def settings(root: Path) -> IndexSettings:
    return IndexSettings(_env_file=None, seeds_dir=root / "seeds", chroma_path=root / "chroma")  # type: ignore[call-arg]


def pause_at(stage: str, done: int) -> Callable[[Progress], None]:
    def tell(progress: Progress) -> None:
        if progress.stage == stage and progress.done >= done:
            print("PAUSED", progress.stage, progress.done, progress.total, flush=True)
            time.sleep(3600)

    return tell


def run(*argv: str) -> str:
    """What the command prints, as JSON. Tests call it in their own process where no other process is needed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["build", "ask", "state"])
    parser.add_argument("root", type=Path)
    parser.add_argument("questions", nargs="*")
    parser.add_argument("--pause", help="STAGE:DONE")
    args = parser.parse_args(argv)
    config = settings(args.root)
    store = Store.open(config)
    if args.command == "build":
        stage, _, done = (args.pause or ":").partition(":")
        progress = pause_at(stage, int(done)) if args.pause else None
        return json.dumps(build(config.seeds_dir, store, FakeEmbedder(), progress=progress).to_json())
    if args.command == "ask":
        searcher = Searcher(store, FakeEmbedder(), scorer=on_topic_scorer())
        return json.dumps([{"generation": searcher.index.pointer.generation,
                            "hits": [[h.chunk.id, h.score] for h in searcher.search(q, limit=5).hits]}
                           for q in args.questions])
    pointer = store.pointer()
    assert pointer is not None
    collection = store.chunks_collection(pointer.collection)
    live: dict[str, list[str]] = {}
    for record, _ in store.records(collection, pointer.generation):
        live.setdefault(record.source.id, []).append(record.chunk.id)
    return json.dumps({"generation": pointer.generation, "chunks": pointer.chunks, "stored": collection.count(),
                       "live": {k: sorted(v) for k, v in sorted(live.items())},
                       "files": sorted(entry.name for entry in config.generations.iterdir())})


if __name__ == "__main__":
    print(run(*sys.argv[1:]), flush=True)
