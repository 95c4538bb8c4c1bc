"""Moderators' checks: questions with the answer they must get, run against an index before it goes live.

`checks.toml` in the seeds folder holds them, each a `[[check]]` table with a `question` and either `source`
(the id of a source that must be among the first three passages quoted) or `unanswered = true` (the corpus
must not answer it):

    [[check]]
    question = "Who ordered the attacks in Herat?"
    source = "001_a36cb266d627397a.txt"

    [[check]]
    question = "What is the capital of Peru?"
    unanswered = true
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.ingest.corpus import read_toml
from index.search.answer import QuestionError
from index.search.searcher import Searcher

CHECKS_FILE = "checks.toml"
FIRST_PASSAGES = 3
UNANSWERED = "unanswered"
MAX_CHECKS = 200


class CheckError(ValueError):
    """checks.toml cannot be read; the message says which check and what to fix."""


@dataclass(frozen=True)
class Check:
    question: str
    expected: str  # a source id, or UNANSWERED

    def run(self, searcher: Searcher) -> "Result":
        """The check against the index `searcher` reads: the sources of its first three passages."""
        try:
            answer = searcher.search(self.question, limit=FIRST_PASSAGES)
        except QuestionError as error:
            raise CheckError(f"{CHECKS_FILE}: the question {self.question!r} cannot be searched: {error}") from error
        got = tuple(hit.source.id for hit in answer.hits)
        passed = not answer.answered if self.expected == UNANSWERED else self.expected in got
        return Result(self, passed, got)


@dataclass(frozen=True)
class Result:
    check: Check
    passed: bool
    got: tuple[str, ...]  # the sources of the first passages, in order; empty when the corpus did not answer

    def to_json(self) -> dict[str, Any]:
        return {"question": self.check.question, "expected": self.check.expected, "got": list(self.got)}


def read_checks(seeds_dir: Path) -> list[Check]:
    """The checks in SEEDS_DIR/checks.toml; none when there is no such file. At most MAX_CHECKS: each costs a
    search on every build, twice when it fails."""
    path = seeds_dir / CHECKS_FILE
    if not path.exists():
        return []
    try:
        table = read_toml(path)
    except (ValueError, OSError) as error:
        raise CheckError(f"{CHECKS_FILE} cannot be read: {error}") from error
    entries = table.get("check", [])
    if not isinstance(entries, list) or set(table) - {"check"}:
        raise CheckError(f"{CHECKS_FILE} must hold only [[check]] tables")
    if len(entries) > MAX_CHECKS:
        raise CheckError(f"{CHECKS_FILE} holds {len(entries):,} checks; keep it within {MAX_CHECKS}, the questions "
                         "that matter most")
    return [_check(n, entry) for n, entry in enumerate(entries, 1)]


def _check(number: int, entry: Any) -> Check:
    where = f"{CHECKS_FILE}, check {number}"
    if not isinstance(entry, dict) or not isinstance(entry.get("question"), str) or not entry["question"].strip():
        raise CheckError(f"{where}: `question` must be some text")
    has_source, unanswered = "source" in entry, entry.get("unanswered")
    if set(entry) - {"question", "source", "unanswered"}:
        raise CheckError(f"{where}: only `question`, `source` and `unanswered` are known")
    if has_source == (unanswered is not None):
        raise CheckError(f"{where}: give either `source = \"<id>\"` or `unanswered = true`, not both or neither")
    if has_source and (not isinstance(entry["source"], str) or not entry["source"].strip()):
        raise CheckError(f"{where}: `source` must be a source id (a file name in the seeds folder)")
    if not has_source and unanswered is not True:
        raise CheckError(f"{where}: `unanswered` can only be true")
    return Check(entry["question"], entry["source"] if has_source else UNANSWERED)


@dataclass(frozen=True)
class CheckReport:
    """The checks run against a new index; `regressed` are the failures that passed on the live one."""

    results: list[Result]
    regressed: frozenset[Check]

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.results)

    @property
    def failed(self) -> list[Result]:
        return [result for result in self.results if not result.passed]

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": [{**result.to_json(), "regressed": result.check in self.regressed}
                                                  for result in self.failed]}


def run_checks(checks: list[Check], searcher: Searcher) -> list[Result]:
    return [check.run(searcher) for check in checks]


def failure_text(result: Result) -> str:
    """One failed check, for people."""
    expected = "no answer" if result.check.expected == UNANSWERED else result.check.expected
    got = ", ".join(result.got) or "no answer"
    return f"“{result.check.question}”: expected {expected}, got {got}"


def unknown_sources(checks: list[Check], source_ids: set[str]) -> list[str]:
    """What to warn about checks expecting a source the corpus does not have: they can never pass."""
    return [f"“{check.question}” expects {check.expected}, an unknown source (no such file in the seeds folder), "
            "so it can never pass: correct the source id" for check in checks
            if check.expected != UNANSWERED and check.expected not in source_ids]
