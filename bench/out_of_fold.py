"""Scoring a fit out of fold for bench/quality.py: each evaluation file answered by a scorer fitted on the others
(fit/), then scored by the evaluation checkout's score.py."""

import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from unittest import mock

import numpy as np

from bot.text import answer_json
from fit.examples import EVAL, FILES, ROOT, Example, questions
from fit.models import question_rows
from index.search.scorer import Scorer
from index.search.searcher import Searcher


def answers(searcher: Searcher, name: str, scorer: Scorer) -> list[str]:
    """The JSON lines `bot ask --format json -` would print for the file's questions with this scorer."""
    searcher.scorer = scorer
    return [answer_json(searcher.search(q["question"])) for q in questions(name)]


def answers_made_to_answer(searcher: Searcher, name: str, scorer: Scorer) -> list[str]:
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
        always[held] = answers_made_to_answer(searcher, held, scorer)
        inside = [e for e in exs if e.file == held]
        chances += [scorer.answerable(row) for row in question_rows(inside, scorer.passage, searcher.index)]
        labels += [e.answerable for e in inside]
    searcher.scorer = None
    return OutOfFold(score(lines, folder), score(always, folder), float(roc_auc_score(labels, chances)))
