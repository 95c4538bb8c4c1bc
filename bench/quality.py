"""Out-of-fold answer quality: each evaluation file scored by a scorer fitted on the other four, then ablations.

Run: .venv/bin/python bench/quality.py [--json] [--only ROW...]   (a few minutes: a temporary index of seeds/,
questions from ../shared/eval)

Rows: the floor (plain reciprocal-rank fusion of dense and BM25, always answering), the full pipeline, then the
full pipeline with one feature or rule taken out and the scorer refitted without it. Every figure is out of
fold: the file it is measured on took no part in fitting or choosing anything. "all" pools the five files.
"""

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from pathlib import Path
from unittest import mock

from bm25s.stopwords import STOPWORDS_EN_PLUS
from fitting import FILES, Example, OutOfFold, examples, fit, out_of_fold, seed_index

from index.search import lexicon, question, searcher, snapshot
from index.search.features import PASSAGE, QUESTION, SOURCE
from index.search.scorer import Linear, Scorer
from index.search.searcher import LiveIndex, Searcher


def without(passage: Sequence[str] = (), question: Sequence[str] = ()) -> "Fitter":
    def fitter(train: Sequence[Example], index: LiveIndex) -> Scorer:
        return fit(train, index, [n for n in PASSAGE if n not in passage], [n for n in QUESTION if n not in question])
    return fitter


def fusion_floor(train: Sequence[Example], index: LiveIndex) -> Scorer:
    """Plain reciprocal-rank fusion, always answering: nothing fitted."""
    fusion = Linear.of(("fusion",), PASSAGE, [0.0], [1.0], [1.0], 0.0)
    always = Linear.of(("margin",), QUESTION, [0.0], [1.0], [0.0], 10.0)
    none = Linear.of(("source_best",), SOURCE, [0.0], [1.0], [0.0], -10.0)
    return Scorer(fusion, always, none, 0.5, "always answer")


@contextmanager
def no_lists() -> Iterator[None]:
    """Passages lean only on the one before them, and a lead-in is ranked without its items."""
    def previous_only(chunks: list) -> list[int | None]:
        return [i - 1 if i and chunks[i - 1].source_id == c.source_id else None for i, c in enumerate(chunks)]
    with mock.patch.object(snapshot, "leans_on", previous_only), mock.patch.object(snapshot, "lists", lambda *a: {}):
        yield


Fitter = Callable[[Sequence[Example], LiveIndex], Scorer]
NEVER = re.compile(r"(?!)")


def patched(*patches: tuple[object, str, object]) -> Callable[[], AbstractContextManager[object]]:
    @contextmanager
    def context() -> Iterator[None]:
        with ExitStack() as stack:
            for target, name, value in patches:
                stack.enter_context(mock.patch.object(target, name, value))
            yield
    return context


FEATURE_ROWS: dict[str, tuple[Fitter, Callable[[], AbstractContextManager[object]]]] = {
    **{f"no feature {name}": (without(passage=[name]), nullcontext) for name in PASSAGE},
    **{f"no question feature {name}": (without(question=[name]), nullcontext) for name in QUESTION},
}
RULE_ROWS: dict[str, tuple[Fitter, Callable[[], AbstractContextManager[object]]]] = {
    "no chat filler words": (fit, patched((question, "_FILLER", frozenset(STOPWORDS_EN_PLUS)))),
    "no derivational prefixes": (fit, patched((question, "_PREFIXES", ()))),
    "no spelling variants": (fit, patched((question, "spellings", lambda w: {w}),
                                          (lexicon, "spellings", lambda w: {w}))),
    "no page parts": (fit, patched((question, "PAGE_PARTS", frozenset()))),
    "no set-aside terms": (fit, patched((question, "_EXCLUDING", NEVER))),
    "no comparison reading": (fit, patched((question, "_COMPARES", NEVER))),
    "no shouting rule": (fit, patched((question, "unshouted", lambda text: text))),
    "no markup stripping": (fit, patched((question, "without_markup", lambda text: " ".join(text.split())))),
    "no figures as terms": (fit, patched((question, "figures", lambda text: []))),
    "no near spellings": (fit, patched((lexicon.Lexicon, "_near", lambda self, word: []))),
    "no acronym phrases": (fit, patched((lexicon, "initialisms", lambda text: iter(())))),
    "no two-digit years": (fit, patched((lexicon, "_figure_keys", lambda t: [lexicon.figure_key(t.value or 0.0)]))),
    "no source balance": (fit, patched((searcher, "_balance", lambda hits, *rest: hits))),
    "no list lead-ins": (fit, no_lists),
    "no near-duplicate removal": (fit, patched((searcher, "NEAR_DUPLICATE", 2.0))),
}
ROWS: dict[str, tuple[Fitter, Callable[[], AbstractContextManager[object]]]] = {
    "plain fusion (floor)": (fusion_floor, patched((searcher, "_balance", lambda hits, *rest: hits),
                                                   (snapshot, "lists", lambda *a: {}),
                                                   (LiveIndex, "dense", lambda self, q: self.vectors @ q))),
    "full pipeline": (fit, nullcontext),
    **FEATURE_ROWS,
    **RULE_ROWS,
}


def run(label: str, open_searcher: Callable[[], Searcher], folder: Path) -> OutOfFold:
    fitter, context = ROWS[label]
    with context():
        searcher = open_searcher()
        return out_of_fold(searcher, examples(searcher), folder, lambda train: fitter(train, searcher.index))


def cells(figures: dict[str, float]) -> str:
    return (f"{figures['hit3']:.3f} {figures['mrr']:.3f} {figures['cov']:.2f} "
            f"{figures['answered']:.2f} {figures['abstained']:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    parser.add_argument("--only", nargs="*", choices=list(ROWS), help="these rows only")
    args = parser.parse_args()
    if not args.json:
        print("Out of fold, pooled over the five files. ranking: hit@3 MRR@10 coverage@5 when made to answer every "
              "question; AUC: answerable told from not; pipeline: hit@3 MRR@10 coverage@5 answered abstained",
              flush=True)
    with tempfile.TemporaryDirectory() as folder, seed_index() as open_searcher:
        for label in args.only or ROWS:
            found = run(label, open_searcher, Path(folder))
            if args.json:
                print(json.dumps({"row": label, "pipeline": found.pipeline, "ranking": found.ranking,
                                  "auc": found.auc}), flush=True)
                continue
            print(f"{label:28s} ranking {cells(found.ranking['all'])[:16]}  AUC {found.auc:.3f}  "
                  f"pipeline {cells(found.pipeline['all'])}", flush=True)
            if label == "full pipeline":
                for name in FILES:
                    print(f"    {name:5s} pipeline {cells(found.pipeline[name])}  "
                          f"ranking {cells(found.ranking[name])[:16]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
