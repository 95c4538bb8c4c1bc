"""Who else says it: for each passage, the passages of other sources that carry the same claim.

Two passages of different sources say the same thing when both hold:
- they are close: the cosine of their vectors reaches the bar, the mean plus three standard deviations of the
  cosines between passages of different sources in this corpus. Passages of one corpus share its topic, so that
  distribution is what sharing a topic gives; a pair in its far tail says more than the topic (as the abstention
  bar in index/search/searcher.py is the far tail of what off-topic questions score);
- they agree on what both pin down: where both name people or bodies (a name written with a capital, an
  acronym), both give years, both give months or both give other figures, they share at least one of that kind, as
  the lexicon finds a term ("IRGC" finds "Islamic Revolutionary Guard Corps", "$190m" finds "$190 million"). One
  outlet giving fewer details is no disagreement; two giving different years are two events.

For each passage and each other source, the partner is the closest passage of that source meeting both; a passage
keeps its partners in the six sources closest to it, and members see the three closest. The build computes the
partners from the vectors it already holds and keeps them with the generation (index/store/partners.py), so a question
only looks them up. A build keeps its predecessor's partners between sources it did not touch and judges again only the
pairs of the documents that changed, as long as the bar it was judged against is within a tenth of a standard
deviation of the new corpus's; otherwise it judges every pair. A passage whose kept partners' sources change may be
left with fewer than a full judgement would give it (never a wrong one), until the next full judgement.
"""

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.ingest.chunking import Chunk
from index.search.lexicon import Lexicon
from index.search.question import Kind, Term, common_words, is_name, without_markup
from index.search.terms import FULL_MONTHS, MONTHS, WORD, figures, normalise, times
from index.store.partners import BAR_SIGMAS, KEPT, Corroboration

log = logging.getLogger(__name__)

_SCALE_WORDS = frozenset({"half", "dozen", "hundred", "thousand", "million", "billion"})
DRIFT = 0.1  # in standard deviations: how far the bar may move before every pair is judged again
SAMPLE = 2000  # passages whose cross-source cosines estimate the bar; all of them in a smaller corpus
BLOCK_FLOATS = 1 << 24  # cosines computed at once: 64 MB of float32
ANCHORS_CACHED = 50_000  # passages' anchors held at once while judging: about 10 kB each, 500 MB at most


@lru_cache(maxsize=8)
def corroboration_key(model: str) -> str:
    """What the partners depend on besides the passages: the model, and the code of the rule and of the terms."""
    digest = hashlib.sha256(model.encode())
    search = Path(__file__).parents[1] / "search"
    for module in (Path(__file__), search / "question.py", search / "lexicon.py", search / "terms.py"):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Anchors:
    """What a passage pins down: the names, dates and figures it gives, and its lexicon to find another's in it."""

    kinds: dict[str, tuple[Term, ...]]
    lexicon: Lexicon

    @classmethod
    def of(cls, text: str) -> "Anchors":
        """The passage's terms as a question's are read (index/search/question.py), keeping those that pin a claim down:
        names written with a capital (names as a question's are, but not common ones such as countries) and
        acronyms; years and months (a month written with a capital); other figures and times. Only capitalised words
        can be names, so only they are looked up among common words: a passage is read several times faster than a
        question."""
        kinds: dict[str, list[Term]] = defaultdict(list)
        for figure in figures(text):
            if figure.text.lower() not in _SCALE_WORDS:  # "million" read alone out of "$40 million"
                kinds["year" if figure.year else "figure"].append(
                    Term(figure.text, f"#{figure.value:g}", Kind.FIGURE, figure.value))
        kinds["figure"] += [Term(t, t, Kind.TIME) for t in sorted(times(text))]
        for token in dict.fromkeys(part for word in WORD.findall(without_markup(text)) for part in word.split("-")):
            if not token[:1].isupper() or any(c.isdigit() for c in token):
                continue
            word = normalise(token)
            letters = [c for c in token if c.isalpha()]
            if len(letters) >= 2 and all(c.isupper() for c in letters):
                kinds["name"].append(Term(token, word, Kind.ACRONYM))
            elif FULL_MONTHS.get(word, word) in MONTHS and word != "may":  # "May" opens sentences as often
                kinds["month"].append(Term(token, FULL_MONTHS.get(word, word), Kind.WORD))
            elif is_name(token, word) and word not in common_words():  # a country named by both pins down nothing
                kinds["name"].append(Term(token, word, Kind.NAME))
        return cls({kind: tuple(terms) for kind, terms in kinds.items() if terms}, Lexicon.build([text]))

    def mentions(self, term: Term) -> bool:
        return bool(self.lexicon.forms(term))


def agree(a: Anchors, b: Anchors) -> bool:
    """Whether two passages share a name, a year, a month and a figure of each kind that both give."""
    for kind in a.kinds.keys() & b.kinds.keys():
        if not any(b.mentions(t) for t in a.kinds[kind]) and not any(a.mentions(t) for t in b.kinds[kind]):
            return False
    return True


def distribution(vectors: np.ndarray, sources: np.ndarray) -> tuple[float, float]:
    """The mean and standard deviation of the cosines between passages of different sources: all pairs, or those
    among SAMPLE passages drawn with a fixed seed. (0, 0) when there are no two sources."""
    n = len(vectors)
    pick = np.arange(n) if n <= SAMPLE else np.sort(np.random.default_rng(0).choice(n, SAMPLE, replace=False))
    cosines = vectors[pick] @ vectors[pick].T
    cross = np.triu(sources[pick][:, None] != sources[pick][None, :], 1)
    values = cosines[cross]
    if len(values) < 2:
        return 0.0, 0.0
    return float(values.mean()), float(values.std())


def corroborate(chunks: Sequence[Chunk], vectors: np.ndarray, key: str, previous: Corroboration | None = None,
                previous_sources: dict[str, frozenset[str]] | None = None) -> Corroboration:
    """The partners of every passage. `previous` (the live generation's, whose passages per source were
    `previous_sources`) is kept for the sources whose passages are unchanged, when it was judged the same way
    against a bar that still holds."""
    source_ids = [c.source_id for c in chunks]
    numbers = {source: n for n, source in enumerate(dict.fromkeys(source_ids))}
    sources = np.array([numbers[s] for s in source_ids], dtype=np.int64)
    mean, spread = distribution(vectors, sources)
    current: dict[str, set[str]] = defaultdict(set)
    for chunk in chunks:
        current[chunk.source_id].add(chunk.id)
    kept: dict[str, tuple[tuple[str, float], ...]] = {}
    touched = set(current)
    if previous is not None and previous_sources is not None and _still_holds(previous, key, mean, spread):
        mean, spread, kept = previous.mean, previous.spread, previous.partners
        touched = {s for s, ids in current.items() if previous_sources.get(s) != ids}
    rows = np.array([i for i, s in enumerate(source_ids) if s in touched], dtype=np.int64)
    source_of = dict(zip((c.id for c in chunks), source_ids, strict=True))
    steady = current.keys() - touched

    def untouched(chunk_id: str) -> bool:
        return source_of.get(chunk_id, "") in steady

    partners: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for chunk_id, found in kept.items():
        if untouched(chunk_id):
            partners[chunk_id] += [(other, cosine) for other, cosine in found if untouched(other)]
    if spread > 0:
        bar = mean + BAR_SIGMAS * spread
        for i, j, cosine in _judged(chunks, vectors, sources, rows, bar):
            partners[chunks[i].id].append((chunks[j].id, cosine))
    ordered = {k: tuple(sorted(v, key=lambda p: -p[1])[:KEPT]) for k, v in partners.items() if v}
    return Corroboration(key, mean, spread, ordered, judged=len(rows))


def _still_holds(previous: Corroboration, key: str, mean: float, spread: float) -> bool:
    """Whether the previous partners were judged by this rule against a bar within DRIFT of today's."""
    bar = mean + BAR_SIGMAS * spread
    if previous.key != key or spread <= 0 or previous.spread <= 0:
        return False
    if abs(previous.bar - bar) > DRIFT * spread:
        log.info("the corroboration bar moved from %.3f to %.3f: judging every pair again", previous.bar, bar)
        return False
    return True


def _judged(chunks: Sequence[Chunk], vectors: np.ndarray, sources: np.ndarray, rows: np.ndarray,
            bar: float) -> Iterable[tuple[int, int, float]]:
    """(passage, partner, cosine): for each passage of a touched source (`rows`) in each other source, and for each
    other passage in each touched source, the closest passage there over the bar that agrees with it; for each
    passage, in the KEPT closest sources that have one."""
    step = max(1, BLOCK_FLOATS // max(1, len(vectors)))
    in_rows = np.zeros(len(chunks), dtype=bool)
    in_rows[rows] = True
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (from, to, cosine), over the bar
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        cosines = vectors[part] @ vectors.T
        r, j = np.nonzero((cosines >= bar) & (sources[part][:, None] != sources[None, :]))
        i, close = part[r], cosines[r, j]
        back = ~in_rows[j]  # an untouched passage's partner in a touched source
        found += [(i, j, close), (j[back], i[back], close[back])]
    if not found or not sum(len(i) for i, _, _ in found):
        return
    origin, target, cosine = (np.concatenate(parts) for parts in zip(*found, strict=True))
    order = np.lexsort((-cosine, origin))  # by passage, closest first
    origin, target, cosine = origin[order], target[order], cosine[order]
    anchors = lru_cache(maxsize=ANCHORS_CACHED)(lambda k: Anchors.of(chunks[k].text))
    ends = np.flatnonzero(np.diff(origin)) + 1
    for first, end in zip(np.concatenate([[0], ends]), np.concatenate([ends, [len(origin)]]), strict=True):
        a = int(origin[first])
        judged: set[int] = set()  # the sources in which a partner of `a` is found
        for k in range(first, end):
            b, source = int(target[k]), int(sources[target[k]])
            if source in judged:
                continue
            if agree(anchors(a), anchors(b)):
                yield a, b, round(float(cosine[k]), 4)
                judged.add(source)
                if len(judged) >= KEPT:
                    break
