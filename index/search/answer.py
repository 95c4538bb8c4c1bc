"""What a search gives: an Answer (answered, not answered, off topic) with its Hits, what one source says on a topic
(OnTopic), and the question as it may be searched (`clean_question`) or a QuestionError saying what to change."""

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.search.question import without_markup

MAX_QUESTION_CHARS = 1000
_TOKEN = re.compile(r"\w+")


class QuestionError(ValueError):
    """A question that cannot be searched; the message tells the asker what to change."""


class Outcome(Enum):
    ANSWERED = "answered"
    NOT_ANSWERED = "not_answered"
    OFF_TOPIC = "off_topic"


class Confidence(Enum):
    HIGH = "high"
    LOW = "low"  # the closest passages, which may not answer the question exactly


@dataclass(frozen=True)
class Hit:
    """A passage found, with its source; `also` holds the passages of other sources that say the same thing
    (index/builds/corroboration.py), each with its cosine to this one as its score."""

    chunk: Chunk
    score: float
    source: Source
    also: tuple["Hit", ...] = ()


@dataclass(frozen=True)
class Answer:
    """The passages that answer a question, best first; or, when the corpus does not answer it, the closest
    passages (`related`, not an answer) and the question's terms the corpus never mentions (`missing`)."""

    question: str
    outcome: Outcome
    hits: tuple[Hit, ...] = ()
    total: int = 0
    related: tuple[Hit, ...] = ()
    missing: tuple[str, ...] = ()
    note: str | None = None
    confidence: Confidence = Confidence.HIGH

    @property
    def answered(self) -> bool:
        return self.outcome is Outcome.ANSWERED


@dataclass(frozen=True)
class OnTopic:
    """What one source says on a topic: its best passage, and whether it surely addresses the topic (HIGH) or is
    only its closest passage (LOW); no passage when none of its passages mentions what sets the topic apart."""

    source: Source
    hit: Hit | None = None
    confidence: Confidence = Confidence.HIGH


def clean_question(raw: str) -> str:
    """The question with control characters removed and spaces collapsed, or a QuestionError."""
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in raw)
    text = " ".join(text.split())
    if not text:
        raise QuestionError("The question is empty: ask something about Iran–Taliban ties.")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(text):,} characters long; keep it under {MAX_QUESTION_CHARS:,}.")
    if not _TOKEN.search(text):
        raise QuestionError("The question has no words in it.")
    if not _TOKEN.search(without_markup(text)):
        raise QuestionError("The question is only links, mentions or code: ask it in words.")
    return text


def is_mostly_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    return not letters or latin / len(letters) >= 0.5
