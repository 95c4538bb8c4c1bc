"""Out-of-fold answer quality: each evaluation file scored by a scorer fitted on the other six, two floors, then
ablations; and how `compare` tells silent sources from the others, on topics of this repository's own.

Run: .venv/bin/python bench/quality.py [--json] [--only ROW...]   (several minutes: a temporary index of seeds/,
questions from the optional evaluation files: a folder shared/eval next to the repository's folder)

Rows:
- the ranking floor: plain reciprocal-rank fusion of the question's cosine with each passage alone and BM25 over its
  words as written (no question reader, no blended vectors, no lists), always answering;
- the refusal floor: the full pipeline refusing on the off-topic bar alone, never on a name the corpus lacks;
- the full pipeline, then the full pipeline with one feature or rule taken out and the scorer refitted without it.

What is out of fold: the scorer's coefficients and its two probabilities (the refusal threshold and the confidence
bar), fitted without the file they are measured on. What is not: the rules (which words name something, how the
corpus is searched for them, the page parts, the filler words) and the background questions, which were designed
with the evaluation files in view; a figure here cannot tell how much they were shaped by those files. Questions
nobody here has seen are the test of them.
"""

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from unittest import mock

import bm25s
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from out_of_fold import OutOfFold, out_of_fold, score  # noqa: E402

from bot.text import answer_json  # noqa: E402
from fit.examples import FILES, Example, examples, questions, require_evaluation_files, seed_index  # noqa: E402
from fit.models import fit  # noqa: E402
from index.search import english, features, hits, lexicon, question, snapshot  # noqa: E402
from index.search.answer import Answer, Confidence, Hit, Outcome, clean_question  # noqa: E402
from index.search.features import PASSAGE, QUESTION, RRF_K  # noqa: E402
from index.search.live_index import LiveIndex  # noqa: E402
from index.search.scorer import Scorer  # noqa: E402
from index.search.searcher import Searcher  # noqa: E402
from index.search.terms import stem  # noqa: E402

TOPICS = ROOT / "bench" / "data" / "compare_topics.jsonl"
FLOOR = "plain fusion (ranking floor)"
REFUSAL_FLOOR = "off-topic bar alone (refusal floor)"
FULL = "full pipeline"
Fitter = Callable[[Sequence[Example], LiveIndex], Scorer]
NEVER = re.compile(r"(?!)")


def without(passage: Sequence[str] = (), question: Sequence[str] = ()) -> Fitter:
    def fitter(train: Sequence[Example], index: LiveIndex) -> Scorer:
        return fit(train, index, [n for n in PASSAGE if n not in passage], [n for n in QUESTION if n not in question])
    return fitter


def off_topic_only(train: Sequence[Example], index: LiveIndex) -> Scorer:
    """The fitted scorer, never refusing on a missing name: only the off-topic bar refuses."""
    return replace(fit(train, index), threshold=0.0)


@contextmanager
def no_lists() -> Iterator[None]:
    """Passages lean only on the one before them, and a lead-in is ranked without its items."""
    def previous_only(chunks: list) -> list[int | None]:
        return [i - 1 if i and chunks[i - 1].source_id == c.source_id else None for i, c in enumerate(chunks)]
    with mock.patch.object(snapshot, "leans_on", previous_only), mock.patch.object(snapshot, "lists", lambda *a: {}):
        yield


def patched(*patches: tuple[object, str, object]) -> Callable[[], AbstractContextManager[object]]:
    @contextmanager
    def context() -> Iterator[None]:
        with ExitStack() as stack:
            for target, name, value in patches:
                stack.enter_context(mock.patch.object(target, name, value))
            yield
    return context


ROWS: dict[str, tuple[Fitter, Callable[[], AbstractContextManager[object]]]] = {
    REFUSAL_FLOOR: (off_topic_only, nullcontext),
    FULL: (fit, nullcontext),
    **{f"no feature {name}": (without(passage=[name]), nullcontext) for name in PASSAGE},
    **{f"no question feature {name}": (without(question=[name]), nullcontext) for name in QUESTION},
    "no chat filler words": (fit, patched((question, "_FILLER", frozenset(question.STOPWORDS_EN_PLUS)),
                                          (question, "_CHAT", frozenset()))),
    "wordfreq's common words for the dictionary": (fit, patched(
        (question, "listed_in_lower_case", lambda word: word in question.common_words()))),
    "no typo reading": (fit, patched((question, "misspelt_common_word", lambda word: None))),
    "no spelling variants": (fit, patched((english, "spellings", lambda w: {w}),
                                          (lexicon, "spellings", lambda w: {w}))),
    "no page parts": (fit, patched((question, "PAGE_PARTS", frozenset()), (question, "_READER_COMMENTS", NEVER))),
    "no capitalised phrases": (fit, patched((question, "_phrases", lambda text: iter(())))),
    "no quotation rule": (fit, patched((question, "_QUOTED", NEVER))),
    "no set-aside terms": (fit, patched((question, "_EXCLUDING", NEVER))),
    "no comparison reading": (fit, patched((question, "_COMPARES", NEVER))),
    "no shouting rule": (fit, patched((question, "unshouted", lambda text: text))),
    "no markup stripping": (fit, patched((question, "without_markup", lambda text: " ".join(text.split())))),
    "no figures as terms": (fit, patched((question, "figures", lambda text: []))),
    "no near spellings": (fit, patched((lexicon.Lexicon, "_near", lambda self, word: []))),
    "no abbreviations": (fit, patched((lexicon.Lexicon, "_abbreviated", lambda self, word: []))),
    "no related names (demonyms)": (fit, patched((lexicon, "related_names", lambda name: set()))),
    "no acronym phrases": (fit, patched((lexicon, "initialisms", lambda text: iter(())),
                                        (lexicon, "lower_case_initials", lambda text, stopwords: set()))),
    "no two-digit years": (fit, patched((lexicon, "_figure_keys", lambda t: [lexicon.figure_key(t.value or 0.0)]))),
    "no neighbours among candidates": (fit, patched((features, "NEAR", 0))),
    "no source balance": (fit, patched((hits, "balance", lambda shown, *rest: shown))),
    "no list lead-ins": (fit, no_lists),
    "no near-duplicate removal": (fit, patched((hits, "NEAR_DUPLICATE", 2.0))),
}


def plain_fusion(found: Searcher, limit: int = 10) -> Callable[[str], Answer]:
    """Answers by plain reciprocal-rank fusion: the cosine of the question with each passage alone, and BM25 over the
    question's words as written (English stopwords out, stemmed), nothing else."""
    index = found.index
    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenize([c.text for c in index.chunks], stopwords="en", stemmer=_stems, show_progress=False),
               show_progress=False)

    def answer(raw: str) -> Answer:
        text = clean_question(raw)
        dense = index.vectors @ found.embedder.encode([text])[0]
        words = [w for w in bm25s.tokenize([text], stopwords="en", stemmer=_stems, return_ids=False,
                                           show_progress=False)[0] if w in bm25.vocab_dict]
        lexical = np.asarray(bm25.get_scores(words)) if words else np.zeros(len(index.chunks))
        fused = sum(1 / (RRF_K + np.argsort(np.argsort(-scores, kind="stable"))) for scores in (dense, lexical))
        hits = tuple(Hit(index.chunks[i], float(fused[i]), index.sources[index.chunks[i].source_id])
                     for i in np.argsort(-fused, kind="stable")[:limit])
        return Answer(text, Outcome.ANSWERED, hits, total=len(hits), confidence=Confidence.LOW)
    return answer


def _stems(words: list[str]) -> list[str]:
    return [stem(w) for w in words]


def run(label: str, open_searcher: Callable[[], Searcher], folder: Path) -> OutOfFold:
    if label == FLOOR:
        answer = plain_fusion(open_searcher())
        lines = {name: [answer_json(answer(q["question"])) for q in questions(name)] for name in FILES}
        figures = score(lines, folder)
        return OutOfFold(figures, figures, float("nan"))
    fitter, context = ROWS[label]
    with context():
        found = open_searcher()
        return out_of_fold(found, examples(found), folder, lambda train: fitter(train, found.index))


def compare_figures(found: Searcher) -> dict[str, float]:
    """`compare` on this repository's own topics: precision and recall of "says nothing", and the share of the
    sources that address a topic shown with a passage."""
    silent_right = silent_wrong = spoke_silent = addressing = shown = 0
    for line in TOPICS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for said in found.compare(row["topic"]):
            addresses = said.source.id in row["addressed_by"]
            silent_right += said.hit is None and not addresses
            silent_wrong += said.hit is None and addresses
            spoke_silent += said.hit is not None and not addresses
            addressing += addresses
            shown += addresses and said.hit is not None
    called = silent_right + silent_wrong
    return {"silent_precision": silent_right / called if called else 1.0,
            "silent_recall": silent_right / (silent_right + spoke_silent) if silent_right + spoke_silent else 1.0,
            "addressing_shown": shown / addressing if addressing else 1.0}


def cells(figures: dict[str, float]) -> str:
    return (f"{figures['hit3']:.3f} {figures['mrr']:.3f} {figures['cov']:.2f} {figures['answered']:.3f} "
            f"{figures['abstained']:.2f} {figures['precision']:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    parser.add_argument("--only", nargs="*", choices=[FLOOR, *ROWS, "compare"], help="these rows only")
    args = parser.parse_args()
    require_evaluation_files()
    chosen = args.only or [FLOOR, *ROWS, "compare"]
    if not args.json:
        print("Out of fold, pooled over the seven files. ranking: hit@3 MRR@10 when made to answer every question; "
              "AUC: answerable told from not; pipeline: hit@3 MRR@10 coverage@5 answered abstained "
              "refusal-precision", flush=True)
    with tempfile.TemporaryDirectory() as folder, seed_index() as open_searcher:
        for label in [row for row in chosen if row != "compare"]:
            found = run(label, open_searcher, Path(folder))
            if args.json:
                print(json.dumps({"row": label, "pipeline": found.pipeline, "ranking": found.ranking,
                                  "auc": found.auc}), flush=True)
                continue
            print(f"{label:40s} ranking {cells(found.ranking['all'])[:11]}  AUC {found.auc:.3f}  "
                  f"pipeline {cells(found.pipeline['all'])}", flush=True)
            if label in (FLOOR, REFUSAL_FLOOR, FULL):
                for name in FILES:
                    print(f"    {name:5s} pipeline {cells(found.pipeline[name])}  "
                          f"ranking {cells(found.ranking[name])[:11]}", flush=True)
        if "compare" in chosen:
            figures = compare_figures(open_searcher())
            print(json.dumps({"row": "compare", **figures}) if args.json else
                  f"compare on {TOPICS.name}: says nothing, precision {figures['silent_precision']:.2f} recall "
                  f"{figures['silent_recall']:.2f}; sources that address a topic shown "
                  f"{figures['addressing_shown']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
