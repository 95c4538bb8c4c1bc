"""Fitting the scorer (index/search/scorer.py) on the evaluation questions (fit/examples.py).

A question file is a fold. The passage model is fitted on the candidates of the answerable questions (a passage
is positive when it holds a quote the file lists as answering). The question and source models are fitted on
features read with passage models that did not see the question's file (stacking: leave one file out inside the
training files); a source is positive when one of its passages answers. The threshold is chosen on the question
model's out-of-fold probabilities, for AIM. `fit` never reads the file it is scored on, so bench/quality.py can
report what unseen questions would get.

All three models are scikit-learn's LogisticRegression at its defaults (L2, C = 1) on standardised features:
nothing is tuned to the questions but the coefficients and the threshold. The features, each source's best passage
and the off-topic rule come from index/search/evidence.py, the code the searcher serves with.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fit.examples import Example
from index.search.evidence import best_by_source, question_row, ranked, source_rows
from index.search.features import PASSAGE, QUESTION, SOURCE
from index.search.live_index import LiveIndex
from index.search.scorer import Linear, Scorer

REFUSED = 0.03  # the most of the answerable questions that refusals may take, out of fold
PRECISION = 0.90  # the least share of refusals that must be of questions the corpus does not answer, out of fold
SURE = 0.90  # the share of answerable questions among those answered with high confidence, out of fold
AIM = ("refuse on a shown ground (off topic, or a name the corpus never mentions) at most 3 % of the answerable "
       "questions out of fold; high confidence where 90 % of the questions so marked are answerable")


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
    return np.array([question_row(index, e.reading, e.candidates, passage.logit(e.candidates.features))
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
    best = best_by_source(index, ranked(example.candidates, logits))
    answering = {index.chunks[p].source_id
                 for p, yes in zip(example.candidates.positions.tolist(), example.positive, strict=True) if yes}
    return source_rows(best), np.array([source in answering for source in best])


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
