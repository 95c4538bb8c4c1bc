"""Fitting the scorer (index/search/scorer.py) on the evaluation questions, and scoring it out of fold.

A question file is a fold. The passage model is fitted on the candidates of the answerable questions (a passage
is positive when it holds a quote the file lists as answering). The question and source models are fitted on
features read with passage models that did not see the question's file (stacking: leave one file out inside the
training files); a source is positive when one of its passages answers. The threshold is chosen on the question
model's out-of-fold probabilities, for AIM. `fit` never reads the file it is scored on, so `out_of_fold` reports
what unseen questions would get.

All three models are scikit-learn's LogisticRegression at its defaults (L2, C = 1) on standardised features:
nothing is tuned to the questions but the coefficients and the threshold.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval"
FILES = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7")
if not EVAL.is_dir():
    sys.exit(f"error: fitting and scoring the answers need the evaluation files, an optional checkout beside the "
             f"repository (a folder shared/eval next to its folder), and there is no {EVAL}")

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.terminal import answer_json  # noqa: E402
from index.builds.pipeline import build  # noqa: E402
from index.model.embedding import Embedder, SentenceTransformerEmbedder  # noqa: E402
from index.model.onnx_model import question_embedder  # noqa: E402
from index.search.features import PASSAGE, QUESTION, SOURCE, Candidates, question_features, source_features  # noqa: E402
from index.search.reading import Reading  # noqa: E402
from index.search.scorer import Linear, Scorer  # noqa: E402
from index.search.searcher import LiveIndex, Searcher  # noqa: E402
from index.settings import IndexSettings  # noqa: E402
from index.store.chroma import Store  # noqa: E402

REFUSED = 0.03  # the most of the answerable questions that refusals may take, out of fold
PRECISION = 0.90  # the least share of refusals that must be of questions the corpus does not answer, out of fold
SURE = 0.90  # the share of answerable questions among those answered with high confidence, out of fold
AIM = ("refuse on a shown ground (off topic, or a name the corpus never mentions) at most 3 % of the answerable "
       "questions out of fold; high confidence where 90 % of the questions so marked are answerable")


@dataclass(frozen=True)
class Example:
    """One evaluation question with its candidates, which of them answer it, and whether anything does."""

    file: str
    question: str
    reading: Reading
    candidates: Candidates
    positive: np.ndarray  # per candidate
    answerable: bool
    off_topic: bool  # refused as off topic, whatever the scorer
    missing: bool  # names what the corpus never mentions: refused when the question model is unsure


def questions(name: str) -> list[dict]:
    return [json.loads(line) for line in (EVAL / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _norm(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def examples(searcher: Searcher, files: Sequence[str] = FILES) -> list[Example]:
    """Every question of the files, read and its candidates found by the searcher, as the bot would."""
    index = searcher.index
    found = []
    for name in files:
        for q in questions(name):
            reading, candidates = searcher.evidence(q["question"])
            answers = [(g["source"], _norm(g["quote"])) for g in q["relevant"]]
            positive = np.array([any(index.chunks[p].source_id == s and quote in _norm(index.chunks[p].text)
                                     for s, quote in answers) for p in candidates.positions])
            off_topic = candidates.best_dense < index.bar and not reading.names_known
            found.append(Example(name, q["question"], reading, candidates, positive, bool(answers), off_topic,
                                 bool(reading.missing)))
    return found


def fit_linear(rows: np.ndarray, labels: np.ndarray, names: Sequence[str], all_names: tuple[str, ...]) -> Linear:
    from sklearn.linear_model import LogisticRegression

    x = rows[:, [all_names.index(n) for n in names]]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(max_iter=5000).fit((x - mean) / scale, labels)
    return Linear.of(tuple(names), all_names, mean, scale, model.coef_[0], float(model.intercept_[0]))


def fit_passage(train: Sequence[Example], names: Sequence[str]) -> Linear:
    answerable = [e for e in train if e.answerable]
    rows = np.concatenate([e.candidates.features for e in answerable])
    return fit_linear(rows, np.concatenate([e.positive for e in answerable]), names, PASSAGE)


def question_rows(exs: Sequence[Example], passage: Linear, index: LiveIndex) -> np.ndarray:
    return np.array([question_features(e.candidates, passage.logit(e.candidates.features), e.reading, index.bar,
                                       index.spread)
                     for e in exs]).reshape(len(exs), len(QUESTION))


@dataclass(frozen=True)
class Stacked:
    """The training questions as the question and source models see them, each read with a passage model fitted
    without its file: question features, whether answerable, and its file; and for the answerable ones, each
    source's features and whether it holds an answer."""

    rows: np.ndarray
    answerable: np.ndarray
    off_topic: np.ndarray
    missing: np.ndarray
    files: np.ndarray
    source_rows: np.ndarray
    source_answers: np.ndarray


def _sources(example: Example, logits: np.ndarray, index: LiveIndex) -> tuple[np.ndarray, np.ndarray]:
    """Each source's features among the question's candidates, and whether one of its passages answers it."""
    best: dict[str, tuple[float, bool]] = {}
    for k in np.argsort(-logits, kind="stable"):
        owner = index.chunks[example.candidates.positions[k]].source_id
        score, answers = best.get(owner, (float(logits[k]), False))
        best[owner] = (score, answers or bool(example.positive[k]))
    return source_features(np.array([s for s, _ in best.values()])), np.array([a for _, a in best.values()])


def stacked(train: Sequence[Example], names: Sequence[str], index: LiveIndex) -> Stacked:
    rows, answerable, off_topic, missing, files, source_rows, source_answers = [], [], [], [], [], [], []
    for held in sorted({e.file for e in train}):
        passage = fit_passage([e for e in train if e.file != held], names)
        inside = [e for e in train if e.file == held]
        rows.append(question_rows(inside, passage, index))
        answerable += [e.answerable for e in inside]
        off_topic += [e.off_topic for e in inside]
        missing += [e.missing for e in inside]
        files += [held] * len(inside)
        for e in inside:
            if e.answerable:
                features, answers = _sources(e, passage.logit(e.candidates.features), index)
                source_rows.append(features)
                source_answers.append(answers)
    return Stacked(np.concatenate(rows), np.array(answerable), np.array(off_topic), np.array(missing),
                   np.array(files), np.concatenate(source_rows), np.concatenate(source_answers))


def choose_threshold(chances: np.ndarray, seen: Stacked) -> float:
    """The highest probability below which refusing the questions that name what the corpus never mentions, with
    those off topic, refuses at most REFUSED of the answerable ones and is right PRECISION of the time, out of fold
    (0 when no probability does)."""
    budget = REFUSED * np.count_nonzero(seen.answerable)
    best = 0.0
    for threshold in np.unique(np.append(chances, 1.0)):
        refused = seen.off_topic | (seen.missing & (chances < threshold))
        wrong = np.count_nonzero(refused & seen.answerable)
        if wrong <= budget and wrong <= (1 - PRECISION) * np.count_nonzero(refused):
            best = float(threshold)
    return best


def choose_sure(chances: np.ndarray, seen: Stacked) -> float:
    """The lowest probability from which SURE of the questions answered (not refused as off topic) are answerable,
    out of fold."""
    answered = ~seen.off_topic
    for sure in np.unique(chances[answered]):
        marked = answered & (chances >= sure)
        if np.mean(seen.answerable[marked]) >= SURE:
            return float(sure)
    return 1.0


def fit(train: Sequence[Example], index: LiveIndex, passage_names: Sequence[str] = PASSAGE,
        question_names: Sequence[str] = QUESTION) -> Scorer:
    """The scorer fitted on the training questions; its threshold chosen out of fold among their files."""
    passage = fit_passage(train, passage_names)
    seen = stacked(train, passage_names, index)
    question = fit_linear(seen.rows, seen.answerable, question_names, QUESTION)
    chances = np.zeros(len(seen.answerable))
    for held in np.unique(seen.files):
        inside = seen.files == held
        model = fit_linear(seen.rows[~inside], seen.answerable[~inside], question_names, QUESTION)
        chances[inside] = 1 / (1 + np.exp(-model.logit(seen.rows[inside])))
    source = fit_linear(seen.source_rows, seen.source_answers, SOURCE, SOURCE)
    return Scorer(passage, question, source, choose_threshold(chances, seen), choose_sure(chances, seen), AIM,
                  tuple(np.unique(seen.files).tolist()))


@contextmanager
def seed_index() -> Iterator[Callable[[], Searcher]]:
    """A temporary index of seeds/, and a way to open searchers on it that embed questions as the bot and
    `bot ask` do (each question once per process). Each searcher makes the generation's files afresh from Chroma, so
    that a rule bench/quality.py turns off is off in them too."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = IndexSettings(_env_file=None, seeds_dir=ROOT / "seeds", chroma_path=Path(tmp) / "chroma")
        build(settings.seeds_dir, Store.open(settings), SentenceTransformerEmbedder.load())
        embedder = Remembering(question_embedder(settings))

        def open_searcher() -> Searcher:
            shutil.rmtree(settings.generations, ignore_errors=True)
            return Searcher.open(settings, embedder)

        yield open_searcher


class Remembering(Embedder):
    """An embedder that encodes each text once: the out-of-fold runs ask the same questions many times."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self._known: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._known]
        if todo:
            self._known.update(zip(todo, self.inner.encode(todo), strict=True))
        return np.stack([self._known[t] for t in texts])


def answers(searcher: Searcher, name: str, scorer: Scorer) -> list[str]:
    """The JSON lines `bot ask --format json -` would print for the file's questions with this scorer."""
    searcher.scorer = scorer
    return [answer_json(searcher.search(q["question"])) for q in questions(name)]


def ranked(searcher: Searcher, name: str, scorer: Scorer) -> list[str]:
    """The same, the pipeline made to answer every question: how it ranks, whatever it would refuse."""
    with mock.patch.object(searcher.index, "bar", -np.inf):
        return answers(searcher, name, replace(scorer, threshold=0.0))


def score(lines: dict[str, list[str]], folder: Path) -> dict[str, dict[str, float]]:
    """The shared scorer's figures for each file's answer lines, and for all of them pooled ("all")."""
    figures = {}
    pooled_questions, pooled_answers = folder / "all.questions.jsonl", folder / "all.answers.jsonl"
    pooled_questions.write_text("".join((EVAL / f"{n}.jsonl").read_text(encoding="utf-8") for n in lines),
                                encoding="utf-8")
    pooled_answers.write_text("".join("\n".join(v) + "\n" for v in lines.values()), encoding="utf-8")
    for name in [*lines, "all"]:
        questions_file = pooled_questions if name == "all" else EVAL / f"{name}.jsonl"
        answers_file = folder / f"{name}.answers.jsonl"
        if name != "all":
            answers_file.write_text("\n".join(lines[name]) + "\n", encoding="utf-8")
        else:
            answers_file = pooled_answers
        out = subprocess.run([sys.executable, str(EVAL / "score.py"), str(questions_file), str(answers_file),
                              str(ROOT / "seeds")], capture_output=True, text=True).stdout
        figures[name] = parse_scores(out.strip().splitlines()[-1])
    return figures


def parse_scores(line: str) -> dict[str, float]:
    """The shared scorer's line as numbers: hit3, mrr, cov, answered and abstained as rates, and the counts."""
    found: dict[str, float] = {}
    for key, pattern in (("hit3", r"hit@3[= ]+([\d.]+)"), ("mrr", r"MRR@10[= ]+([\d.]+)"),
                         ("cov", r"coverage@5[= ]+([\d.]+)"), ("precision", r"refusal-precision[= ]+([\d.]+)")):
        match = re.search(pattern, line)
        found[key] = float(match.group(1)) if match else float("nan")
    for key in ("answered", "abstained"):
        match = re.search(rf"{key}[= ]+(\d+)/(\d+)", line)
        found[key] = int(match.group(1)) / int(match.group(2)) if match and int(match.group(2)) else 1.0
    for key in ("boilerplate", "not[- ]verbatim", "unattributed"):
        match = re.search(rf"{key}[= ]+(\d+)", line)
        found[key.replace("[- ]", "_")] = float(match.group(1)) if match else float("nan")
    return found


@dataclass(frozen=True)
class OutOfFold:
    """What a pipeline scores on files it was not fitted on: as it answers (`pipeline`), as it ranks when made to
    answer everything (`ranking`), and how well its question model tells answerable from not (`auc`, pooled)."""

    pipeline: dict[str, dict[str, float]]
    ranking: dict[str, dict[str, float]]
    auc: float


def out_of_fold(searcher: Searcher, exs: Sequence[Example], folder: Path,
                fitter: Callable[[Sequence[Example]], Scorer]) -> OutOfFold:
    """Each file answered by a scorer fitted on the other files, then scored; plus the pooled figures."""
    from sklearn.metrics import roc_auc_score

    lines, always, chances, labels = {}, {}, [], []
    for held in FILES:
        scorer = fitter([e for e in exs if e.file != held])
        lines[held] = answers(searcher, held, scorer)
        always[held] = ranked(searcher, held, scorer)
        inside = [e for e in exs if e.file == held]
        chances += [scorer.answerable(row) for row in question_rows(inside, scorer.passage, searcher.index)]
        labels += [e.answerable for e in inside]
    searcher.scorer = None
    return OutOfFold(score(lines, folder), score(always, folder), float(roc_auc_score(labels, chances)))
