"""Out-of-fold answer quality: each evaluation file scored by a scorer fitted on the other four, then ablations.

Run: .venv/bin/python bench/quality.py [--json] [--only ROW...]   (a few minutes: a temporary index of seeds/,
questions from ../shared/eval)

Rows: the floor (plain reciprocal-rank fusion of dense and BM25, always answering), the full pipeline, then the
full pipeline with one feature or rule taken out and the scorer refitted without it. Every figure is out of
fold: the file it is measured on took no part in fitting or choosing anything. "all" pools the five files.
"""

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from unittest import mock

from fitting import Example, examples, fit, out_of_fold, seed_index

from index import search
from index.features import PASSAGE, QUESTION
from index.scorer import Linear, Scorer
from index.search import Searcher


def without(passage: Sequence[str] = (), question: Sequence[str] = ()) -> Callable[[Sequence[Example], float],
                                                                                  Scorer]:
    def fitter(train: Sequence[Example], bar: float) -> Scorer:
        return fit(train, bar, [n for n in PASSAGE if n not in passage], [n for n in QUESTION if n not in question])
    return fitter


def fusion_floor(train: Sequence[Example], bar: float) -> Scorer:
    """Plain reciprocal-rank fusion, always answering: nothing fitted."""
    fusion = Linear.of(("fusion",), PASSAGE, [0.0], [1.0], [1.0], 0.0)
    always = Linear.of(("best",), QUESTION, [0.0], [1.0], [0.0], 10.0)
    return Scorer(fusion, always, 0.5, "always answer")


@contextmanager
def no_lists() -> Iterator[None]:
    """Passages lean only on the one before them, and a lead-in is ranked without its items."""
    def previous_only(chunks: list) -> list[int | None]:
        return [i - 1 if i and chunks[i - 1].source_id == c.source_id else None for i, c in enumerate(chunks)]
    with mock.patch.object(search, "leans_on", previous_only), mock.patch.object(search, "_lists", lambda *a: {}):
        yield


Fitter = Callable[[Sequence[Example], float], Scorer]
ROWS: dict[str, tuple[Fitter, Callable[[], AbstractContextManager[object]]]] = {
    "plain fusion (floor)": (fusion_floor, nullcontext),
    "full pipeline": (fit, nullcontext),
    "no missing names": (without(question=["missing"]), nullcontext),
    "no unknown words": (without(question=["unknown"]), nullcontext),
    "no off-topic margin": (without(question=["margin"]), nullcontext),
    "no named-term coverage": (without(["named"], ["best_named"]), nullcontext),
    "no answer kinds": (without(["kind"], ["best_kind"]), nullcontext),
    "no word coverage": (without(["coverage"]), nullcontext),
    "no source balance": (fit, lambda: mock.patch.object(search, "_balance", lambda hits, *rest: hits)),
    "no list lead-ins": (fit, no_lists),
    "weight 2": (lambda t, b: fit(t, b, weight=2.0), nullcontext),
    "weight 3": (lambda t, b: fit(t, b, weight=3.0), nullcontext),
    "balance p>=0.25": (fit, lambda: mock.patch.object(search, "ANSWERING", -1.0986)),
    "balance p>=0.1": (fit, lambda: mock.patch.object(search, "ANSWERING", -2.1972)),
    "balance p>=0.05": (fit, lambda: mock.patch.object(search, "ANSWERING", -2.944)),
}


def run(label: str, open_searcher: Callable[[], Searcher], folder: Path) -> dict[str, dict[str, float]]:
    fitter, context = ROWS[label]
    with context():
        searcher = open_searcher()
        bar = searcher.index.bar
        return out_of_fold(searcher, examples(searcher), folder, lambda train: fitter(train, bar))


def line(label: str, figures: dict[str, dict[str, float]]) -> str:
    cells = [f"{name} {f['hit3']:.3f}/{f['mrr']:.3f}/{f['cov']:.2f} {f['answered']:.2f}/{f['abstained']:.2f}"
             for name, f in figures.items()]
    return f"{label:26s} " + "  ".join(cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    parser.add_argument("--only", nargs="*", choices=list(ROWS), help="these rows only")
    args = parser.parse_args()
    if not args.json:
        print("per file: hit@3/MRR@10/coverage@5 answered/abstained (rates), out of fold; all = pooled", flush=True)
    with tempfile.TemporaryDirectory() as folder, seed_index() as open_searcher:
        for label in args.only or ROWS:
            figures = run(label, open_searcher, Path(folder))
            print(json.dumps({"row": label, "figures": figures}) if args.json else line(label, figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
