"""What the fitted scorer (index/search/scorer.py) weighs: features of each candidate passage, and of the question.

Passage features, one row per candidate:
- `dense_gap`: the cosine of the question and the passage less the best passage's, so that a question's scores
  are read against each other;
- `bm25`: BM25 of the question's content words, over the best passage's;
- `dense_rank`, `bm25_rank`: log(1 + rank) by dense score (the cosine of the passage alone or blended with the
  one it leans on, the higher) and by BM25, ranks past the pool counted as the pool's size;
- `fusion`: reciprocal-rank fusion of the two ranks (k = 60, the value of Cormack et al.);
- `coverage`: the share of the question's content terms the passage mentions (with the one it leans on and its
  source's title, outlet and author);
- `named`: the same share for its specific terms that the corpus mentions (acronyms, figures, and names outside
  common English: "Velquist", not "Iran", which nearly every passage of a corpus about Iran mentions), 1 when it
  has none;
- `neighbour`: the better cosine of the passages before and after it in its source, less the best passage's: a
  question about what surrounds a passage it describes ("what else did he say") is answered next to it;
- `feedback`: the cosine with the question moved towards its best FEEDBACK passages (pseudo-relevance feedback),
  less the best such cosine;
- `plain_fusion`: reciprocal-rank fusion of the plain cosine's rank and BM25's over the question's words as
  written, which keeps what the question reader sets aside in long or pasted questions.
The neighbours of the best NEAR passages join the candidates, so that a neighbour can be ranked at all.

Question features, one row per question; the question model's probability sets how sure an answer is said to be,
and whether a question naming what the corpus never mentions is refused (index/search/searcher.py):
- `margin`: the best dense score less the off-topic bar, in standard deviations of the background questions'
  best scores: how close the question's wording is to the corpus;
- `missing`: how many of the things it names (names, acronyms, years, sums) the corpus never mentions in any form;
- `best_named`: `named` of the passage the passage model ranks first.

Source features, one row per source among the candidates, for whether it answers the question at all (which
sources the first page shows, and which `compare` lists as addressing a topic):
- `source_best`: the passage model's score of the source's best passage;
- `source_gap`: that score less the question's best passage's.

Other features measured and left out (bench/quality.py, docs/answers.md): the cosines themselves (plain or blended),
the best sentence's cosine inside a passage, the question embedded without its chat filler, whether a passage gives
the kind of answer asked for (a count, a date, a name), how rare in the candidates the names a passage shares are,
the best passage's score itself, and the share of the question's words the corpus never uses.
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from index.search.lexicon import Passage
from index.search.question import Kind, Query, common_words
from index.search.reading import Reading

PASSAGE = ("dense_gap", "bm25", "dense_rank", "bm25_rank", "fusion", "coverage", "named", "neighbour", "feedback",
           "plain_fusion")
QUESTION = ("margin", "missing", "best_named")
SOURCE = ("source_best", "source_gap")
POOL = 50  # candidates from each ranking: far past the fifteen passages a member can page through
RRF_K = 60


class Evidence(Protocol):
    """What `candidates` reads of an index (index.search.searcher.LiveIndex)."""

    vectors: np.ndarray
    neighbours: np.ndarray  # each passage's previous and next in its source, -1 for none

    def lexical(self, query: Query) -> np.ndarray: ...

    def lexical_as_written(self, query: Query) -> np.ndarray: ...

    def passage(self, i: int) -> Passage: ...


FEEDBACK = 3  # the passages whose vectors the question is moved towards, for `feedback`
NEAR = 10  # the passages whose neighbours join the candidates


@dataclass(frozen=True)
class Candidates:
    """The passages worth scoring for one question: positions in the index, and their features (PASSAGE)."""

    positions: np.ndarray
    features: np.ndarray
    best_dense: float
    mentions: tuple[frozenset[str], ...] = ()  # per candidate, the keys of the question's terms it mentions

    def column(self, name: str) -> np.ndarray:
        return self.features[:, PASSAGE.index(name)]


def candidates(index: Evidence, reading: Reading, plain: np.ndarray, dense: np.ndarray,
               query: np.ndarray) -> Candidates:
    """The best POOL passages by dense score and by BM25, and the neighbours of the best few, with their features;
    `plain` is each passage's cosine alone, `dense` the higher of that and the blended one."""
    lexical = index.lexical(reading.query)
    by_dense = _top(dense)
    by_lexical = _top(lexical)[: int(np.count_nonzero(lexical))]
    near = index.neighbours[by_dense[:NEAR]].ravel()
    positions = np.array(list(dict.fromkeys([*by_dense.tolist(), *by_lexical.tolist(), *near[near >= 0].tolist()])),
                         dtype=np.int64)
    dense_rank = _ranks(by_dense, positions)
    lexical_rank = _ranks(by_lexical, positions)
    terms = [t.key for t in reading.query.terms]
    specific = [t.key for t in reading.present_specific if t.kind is not Kind.NAME or t.key not in common_words()]
    coverage, named = np.zeros(len(positions)), np.ones(len(positions))
    mentions = []
    for k, i in enumerate(positions.tolist()):
        mentioned = frozenset(reading.mentioned(index.passage(i)))
        mentions.append(mentioned)
        if terms:
            coverage[k] = sum(key in mentioned for key in terms) / len(terms)
        if specific:
            named[k] = sum(key in mentioned for key in specific) / len(specific)
    sides = index.neighbours[positions]
    neighbour = np.where(sides >= 0, plain[np.maximum(sides, 0)], -1.0).max(axis=1) - plain.max()
    plain_rank = _ranks(_top(plain), positions)
    as_written = index.lexical_as_written(reading.query)
    written_rank = _ranks(_top(as_written)[: int(np.count_nonzero(as_written))], positions)
    moved = query + index.vectors[by_dense[:FEEDBACK]].mean(axis=0)
    feedback = index.vectors[positions] @ (moved / np.linalg.norm(moved))
    features = np.column_stack([
        plain[positions] - plain.max(), lexical[positions], np.log1p(dense_rank), np.log1p(lexical_rank),
        1 / (RRF_K + dense_rank) + 1 / (RRF_K + lexical_rank), coverage, named, neighbour,
        feedback - feedback.max(), 1 / (RRF_K + plain_rank) + 1 / (RRF_K + written_rank)]).astype(np.float64)
    return Candidates(positions, features, float(dense.max()), tuple(mentions))


def question_features(candidates: Candidates, scores: np.ndarray, reading: Reading, bar: float,
                      spread: float) -> np.ndarray:
    """The question's features (QUESTION), given the passage model's scores of its candidates."""
    best = int(np.argmax(scores))
    return np.array([(candidates.best_dense - bar) / spread, len(reading.missing), candidates.column("named")[best]],
                    dtype=np.float64)


def _top(scores: np.ndarray) -> np.ndarray:
    """The positions of the POOL best scores, best first."""
    if len(scores) > POOL:
        top = np.argpartition(-scores, POOL)[:POOL]
        return top[np.argsort(-scores[top], kind="stable")]
    return np.argsort(-scores, kind="stable")


def _ranks(ranking: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Each position's rank in `ranking` (0 is best); POOL for one it does not hold."""
    rank = {int(p): r for r, p in enumerate(ranking)}
    return np.array([rank.get(int(p), POOL) for p in positions], dtype=np.float64)


def source_features(best: np.ndarray) -> np.ndarray:
    """The features (SOURCE) of the sources whose best passages have these scores, the question's best first."""
    return np.stack([best, best - best[0]], axis=1) if len(best) else np.zeros((0, len(SOURCE)))
