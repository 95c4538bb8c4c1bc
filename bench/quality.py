"""What each answerability and ranking signal is worth, on both dev files: the full pipeline, then each signal off.

Run: .venv/bin/python bench/quality.py   (about a minute; a temporary index of seeds/, questions from ../shared/eval)

Each row scores `Searcher.search` in this process with the shared scorer. The CLI figures in the README come from
`python -m bot ask --format json -` (tests/test_quality.py); the full-pipeline row here matches them.
"""

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval"

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.terminal import answer_json  # noqa: E402
from index import search  # noqa: E402
from index.answerability import Reading  # noqa: E402
from index.build import build  # noqa: E402
from index.embedding import Embedder, SentenceTransformerEmbedder  # noqa: E402
from index.settings import IndexSettings  # noqa: E402
from index.store import Store  # noqa: E402


def previous_only(chunks: list) -> list[int | None]:
    return [i - 1 if i and chunks[i - 1].source_id == c.source_id else None for i, c in enumerate(chunks)]


@contextmanager
def no_lists() -> Iterator[None]:
    """Passages lean only on the one before them, and a lead-in is ranked without its items."""
    with mock.patch.object(search, "leans_on", previous_only), mock.patch.object(search, "_lists", lambda *a: {}):
        yield


ABLATIONS: dict[str, Callable[[], AbstractContextManager[object]]] = {
    "full pipeline": nullcontext,
    "no missing-term rule": lambda: mock.patch.object(Reading, "missing", property(lambda self: ())),
    "no support (gate and ranking)": lambda: mock.patch.object(Reading, "supports", lambda self, p: True),
    "no answer kinds": lambda: mock.patch.object(Reading, "gives", lambda self, p: True),
    "no source balance": lambda: mock.patch.object(search, "_balance", lambda hits, *rest: hits),
    "no list lead-ins": no_lists,
}


@contextmanager
def seed_index() -> Iterator[tuple[IndexSettings, Embedder]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = IndexSettings(_env_file=None, seeds_dir=ROOT / "seeds", chroma_path=Path(tmp) / "chroma")
        embedder = SentenceTransformerEmbedder.load()
        build(settings.seeds_dir, Store.open(settings), embedder)
        yield settings, embedder


def score(searcher: search.Searcher, name: str, folder: Path) -> str:
    questions = [json.loads(line)["question"] for line in (EVAL / f"{name}.jsonl").read_text().splitlines()]
    answers = folder / f"{name}.jsonl"
    answers.write_text("".join(answer_json(searcher.search(q)) + "\n" for q in questions), encoding="utf-8")
    result = subprocess.run([sys.executable, str(EVAL / "score.py"), str(EVAL / f"{name}.jsonl"), str(answers),
                             str(ROOT / "seeds")], capture_output=True, text=True)
    line = result.stdout.strip().splitlines()[-1]
    return line.split(" boilerplate")[0].replace("multi-source coverage@5", "cov")


def main() -> None:
    if not (EVAL / "score.py").exists():
        sys.exit(f"no scorer at {EVAL}: put ../shared beside the checkout")
    with seed_index() as (settings, embedder), tempfile.TemporaryDirectory() as out:
        for label, ablation in ABLATIONS.items():
            with ablation():
                searcher = search.Searcher.open(settings, embedder)
                rows = [f"{name}: {score(searcher, name, Path(out))}" for name in ("dev", "dev2")]
            print(f"{label:30s} " + "  |  ".join(rows), flush=True)


if __name__ == "__main__":
    main()
