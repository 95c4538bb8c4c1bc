"""The fitted scorer: three logistic regressions, the passage model (which passages answer the question, ranked),
the question model (how likely it is that the corpus answers it) and the source model (which sources answer it).

All three are fitted on the evaluation questions by `python -m fit` (fit/), which writes SCORER_FILE; their
features are in index/search/features.py. Applying them is a dot product: the bot never imports the library that
fits them.
The question model's probability decides two things, at probabilities the fit chose out of fold for the aims it
names: below `threshold`, a question that names what the corpus never mentions is refused; from `sure` up, an answer
is given with high confidence, and below it with a line saying that the corpus may not answer it exactly.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from index.search.features import PASSAGE, QUESTION, SOURCE

SCORER_FILE = Path(__file__).with_name("scorer.json")


class ScorerError(Exception):
    """The scorer file is missing, unreadable or names features this code does not compute."""


@dataclass(frozen=True)
class Linear:
    """A logistic regression over named features, standardised by `mean` and `scale`."""

    features: tuple[str, ...]
    columns: tuple[int, ...]  # where each feature is in the full feature row
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def of(cls, names: tuple[str, ...], all_names: tuple[str, ...], mean: Any, scale: Any, coef: Any,
           intercept: float) -> "Linear":
        unknown = [n for n in names if n not in all_names]
        if unknown:
            raise ScorerError(f"the scorer uses features this code does not compute: {', '.join(unknown)}; "
                              "refit it with `python -m fit`")
        return cls(tuple(names), tuple(all_names.index(n) for n in names), np.asarray(mean, np.float64),
                   np.asarray(scale, np.float64), np.asarray(coef, np.float64), float(intercept))

    def logit(self, rows: np.ndarray) -> np.ndarray:
        """Log-odds for each row of full features (or one row)."""
        x = rows[..., list(self.columns)]
        return np.asarray(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": _rounded(self.mean), "scale": _rounded(self.scale),
                "coef": _rounded(self.coef), "intercept": round(self.intercept, 6)}


@dataclass(frozen=True)
class Scorer:
    """The passage, question and source models, and the probability at which a question counts as answered."""

    passage: Linear
    question: Linear
    source: Linear
    threshold: float  # below it, a question naming what the corpus never mentions is refused
    sure: float = 0.5  # from it up, an answer is given with high confidence
    aim: str = ""
    fitted_on: tuple[str, ...] = ()

    def rank(self, features: np.ndarray) -> np.ndarray:
        """Each candidate's log-odds of answering the question."""
        return self.passage.logit(features)

    def answerable(self, features: np.ndarray) -> float:
        """The probability that the question has an answer in the corpus."""
        return float(_sigmoid(self.question.logit(features)))

    def answering(self, features: np.ndarray) -> np.ndarray:
        """For each source (a row of SOURCE features), whether it more likely answers the question than not."""
        return np.asarray(self.source.logit(features) >= 0)

    def to_json(self) -> dict[str, Any]:
        return {"passage": self.passage.to_json(), "question": self.question.to_json(),
                "source": self.source.to_json(), "threshold": round(self.threshold, 6), "sure": round(self.sure, 6),
                "aim": self.aim,
                "fitted_on": list(self.fitted_on)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Scorer":
        try:
            passage, question, source = (
                Linear.of(tuple(data[key]["features"]), names, data[key]["mean"], data[key]["scale"],
                          data[key]["coef"], data[key]["intercept"])
                for key, names in (("passage", PASSAGE), ("question", QUESTION), ("source", SOURCE)))
            return cls(passage, question, source, float(data["threshold"]), float(data["sure"]),
                       str(data.get("aim", "")), tuple(data.get("fitted_on", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise ScorerError(f"the scorer file is not a fitted scorer ({exc!r}); refit it with "
                              "`python -m fit`") from exc


@cache
def load(path: Path = SCORER_FILE) -> Scorer:
    try:
        return Scorer.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise ScorerError(f"cannot read the scorer at {path}: {exc}") from exc


def probability(logit: np.ndarray | float) -> np.ndarray:
    return np.asarray(_sigmoid(np.asarray(logit)))


def _sigmoid(x: Any) -> Any:
    return 1 / (1 + np.exp(-x))


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]
