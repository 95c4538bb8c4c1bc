"""Search over the live index: on topic or not, answered or not, and the passages ranked, balanced and deduplicated.

Every question is scored by the fitted scorer (index/search/scorer.py) over the features of
index/search/features.py: the best passages by dense cosine and by BM25 are the candidates, the passage model
orders them, and the question model says whether the corpus answers the question at all. A list's items follow
their lead-in, at its score; near-duplicates of a better passage are left out; each source the passage model finds
answering gets a place on the first page.

Outcomes. Answered: the question model's probability reaches the scorer's threshold. Otherwise off-topic when no
passage clears the abstention bar, the mean plus three standard deviations of the best dense scores that
background questions (index/model/background.py) get against this corpus; the build computes it and keeps it in the
generation's pointer, which spares every searcher the background questions' encode. Otherwise not answered: the
closest passages are returned as related, not as an answer, with the question's terms the corpus never mentions.
"""

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, replace
from enum import Enum
from functools import cached_property, lru_cache, partial
from pathlib import Path

import bm25s
import numpy as np

from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.model.background import BACKGROUND_FILE, BACKGROUND_QUESTIONS
from index.model.embedding import Embedder, ModelError
from index.search import snapshot
from index.search.answerability import Reading
from index.search.features import Candidates, candidates, question_features, source_features
from index.search.lexicon import Lexicon, Passage
from index.search.making import fill
from index.search.question import Kind, Query, common_words, read, without_markup
from index.search.scorer import Scorer, probability
from index.search.scorer import load as load_scorer
from index.search.snapshot import Snapshot
from index.search.terms import stem
from index.settings import IndexSettings
from index.store.chroma import FORMAT, Pointer, Store, StoreError

log = logging.getLogger(__name__)

BAR_SIGMAS = 3.0
MAX_QUESTION_CHARS = 1000
NEAR_DUPLICATE = 0.8
MAX_PASSAGES = 15  # three pages of five: what "More passages" pages through
LIST_ITEMS = 3
FIRST_PAGE = 5
RELATED = 3
PASSAGE_CACHE = 4096  # passages read as evidence, per snapshot: a few hundred questions' candidates
LOAD_ATTEMPTS = 3
_TOKEN = re.compile(r"\w+")


class QuestionError(ValueError):
    """A question that cannot be searched; the message tells the asker what to change."""


class Outcome(Enum):
    ANSWERED = "answered"
    NOT_ANSWERED = "not_answered"
    OFF_TOPIC = "off_topic"


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

    @property
    def answered(self) -> bool:
        return self.outcome is Outcome.ANSWERED


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


class LiveIndex:
    """An immutable snapshot of one generation (index/search/snapshot.py): passages, and their vectors mapped from the
    generation's files; read when first needed (see `prepare`), the lexicon and the BM25 index that reading and
    ranking a question use. Nothing in it refers back to it, so the last reference gone, it is gone at once."""

    def __init__(self, found: Snapshot) -> None:
        self.pointer = found.pointer
        self.chunks = found.chunks
        self.sources = found.sources
        self.vectors = found.vectors
        self.blended = found.blended
        self.leaning = found.leaning
        self.lists = snapshot.lists(self.chunks, self.leaning)
        self._position = {c.id: i for i, c in enumerate(self.chunks)}
        self._also = found.also
        self._folder = found.folder
        # A cache of a function of the passages, not of a method: a bound method would make a cycle through self.
        self._passage = lru_cache(maxsize=PASSAGE_CACHE)(partial(_read_passage, self.chunks, self.leaning,
                                                                 self.sources))
        self.bar = float("inf")
        self.spread = 1.0

    @cached_property
    def lexicon(self) -> Lexicon:
        """Every word, stem, figure and acronym phrase of the corpus. Read the first time a question is read
        (see `prepare`): a build's own snapshot, which only calibrates and corroborates, never needs it."""
        return snapshot.read_lexicon(self._folder)

    @cached_property
    def _bm25(self) -> bm25s.BM25:
        return snapshot.read_bm25(self._folder) if self.chunks else bm25s.BM25()

    def prepare(self) -> None:
        """Reads what reading and ranking a question need, so that the first question does not wait for it."""
        _ = self.lexicon, self._bm25

    @classmethod
    def load(cls, store: Store, generation: Pointer | None = None) -> "LiveIndex":
        """The live generation, or the one `generation` names (a build's, before it goes live): from its files on
        this host, made first from Chroma when they are missing or damaged."""
        for _ in range(LOAD_ATTEMPTS):
            pointer = generation or store.pointer()
            if pointer is None:
                raise StoreError("The index is empty: run `python -m index build` first.")
            if pointer.format != FORMAT:
                raise StoreError("The index was built by an older Dossier; rebuild it: `python -m index build`.")
            found = snapshot.read(store.copies, pointer) or fill(store, pointer, check=generation is None)
            if found is not None:
                return cls(found)
        raise StoreError("The index kept changing while it was read; try again when the build is done.")

    def dense(self, query: np.ndarray) -> np.ndarray:
        """Each passage's cosine with the question: alone or blended with the one it leans on, the higher."""
        return np.maximum(self.vectors @ query, self.blended @ query)

    def plain_and_dense(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each passage's cosine with the question alone, and `dense`."""
        plain = np.asarray(self.vectors @ query)
        return plain, np.maximum(plain, self.blended @ query)

    def lexical(self, query: Query) -> np.ndarray:
        """BM25 scores of every passage for the question's content words (stemmed), scaled by the best one."""
        words = {stem(part) for t in query.terms if t.kind is not Kind.FIGURE for part in t.key.split("-")}
        tokens = [w for w in words if w in self._bm25.vocab_dict]
        if not tokens:
            return np.zeros(len(self.chunks), dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        return scores / (float(scores.max()) or 1.0)

    def calibrate(self, embedder: Embedder, background: np.ndarray | None = None) -> None:
        """Sets the abstention bar: the one kept in the pointer when it was computed as this code would, else
        from background questions (see the module docstring), given as `background` vectors or encoded now."""
        if not self.chunks:
            return
        pointer = self.pointer
        if pointer.bar is not None and pointer.spread and pointer.bar_key == calibration_key(pointer.model):
            self.bar, self.spread = pointer.bar, pointer.spread
            return
        vectors = background if background is not None else embedder.encode(list(BACKGROUND_QUESTIONS))
        tops = np.max(self.dense(np.asarray(vectors, dtype=np.float32).T), axis=0).tolist()  # all in one product
        self.spread = float(np.std(tops)) or 1.0
        self.bar = float(np.mean(tops)) + BAR_SIGMAS * self.spread
        log.info("abstention bar %.3f (background mean %.3f, max %.3f)", self.bar, np.mean(tops), max(tops))

    def position(self, chunk_id: str) -> int | None:
        return self._position.get(chunk_id)

    def with_also(self, hit: Hit) -> Hit:
        """The hit with the closest passages of other sources that say the same thing: looked up, not computed."""
        i = self._position.get(hit.chunk.id)
        if i is None:
            return hit
        start, partners, cosines = self._also
        also = [(self.chunks[j], float(c)) for j, c in zip(partners[start[i] : start[i + 1]],
                                                          cosines[start[i] : start[i + 1]], strict=True)]
        return replace(hit, also=tuple(Hit(chunk, cosine, self.sources[chunk.source_id]) for chunk, cosine in also))

    def passage(self, i: int) -> Passage:
        """Passage i as evidence: its text, the passage before it in its source, and its source's labels. Cached
        in the snapshot itself, so that a reload drops the old snapshot's cache with it."""
        return self._passage(i)


def _read_passage(chunks: list[Chunk], leaning: list[int | None], sources: dict[str, Source], i: int) -> Passage:
    chunk = chunks[i]
    j = leaning[i]
    before = chunks[j].text if j is not None else ""
    source = sources[chunk.source_id]
    labels = "\n".join(label for label in (source.title, source.outlet, source.author) if label)
    return Passage(chunk.text, before, labels)


@dataclass(frozen=True)
class _Candidate:
    position: int
    logit: float  # the passage model's log-odds that it answers the question


@dataclass(frozen=True)
class _Scored:
    """A question's candidate passages ranked by the passage model, whether it is answered, and by which sources."""

    ranked: list[_Candidate]
    answered: bool  # the question model's probability reaches the scorer's threshold
    on_topic: bool  # some passage clears the abstention bar
    answering: dict[str, _Candidate]  # each source the source model finds answering, with its best passage


def _with_lists(index: LiveIndex, ranked: list[_Candidate]) -> list[_Candidate]:
    """The ranking with each list's items right after their lead-in, at its score: a lead-in ("…, including:")
    says what the list is about, and the items say what it holds, so alone it answers nothing."""
    placed: set[int] = set()
    grouped: list[_Candidate] = []
    for candidate in ranked:
        if candidate.position in placed:
            continue
        items = [i for i in index.lists.get(candidate.position, ()) if i not in placed]
        grouped += [candidate, *(_Candidate(i, candidate.logit) for i in items)]
        placed.update([candidate.position, *items])
    return grouped


def _distinct(index: LiveIndex, ranked: list[_Candidate]) -> list[Hit]:
    """The candidates as hits, scored by probability, a near-duplicate of a better one left out."""
    hits: list[Hit] = []
    seen: list[set[str]] = []
    for candidate in ranked:
        chunk = index.chunks[candidate.position]
        words = index.passage(candidate.position).words
        if any((shared := len(words & w)) >= NEAR_DUPLICATE * (len(words) + len(w) - shared) for w in seen):
            continue
        seen.append(words)
        hits.append(Hit(chunk, round(float(probability(candidate.logit)), 4), index.sources[chunk.source_id]))
    return hits


def _balance(hits: list[Hit], answering: list[str], compare: bool) -> list[Hit]:
    """The hits with each answering source (best first) among the first FIRST_PAGE, in their order otherwise.

    An answering source's best hit moves up only as late as it can and still make the first page. When the
    question compares the sources, every source among the hits answers, and each one's best hit comes first.
    """
    if compare:
        firsts: list[Hit] = []
        for hit in hits:
            if all(first.source.id != hit.source.id for first in firsts):
                firsts.append(hit)
        return firsts + [h for h in hits if h not in firsts]
    ordered: list[Hit] = []
    remaining = list(hits)
    while remaining and len(ordered) < FIRST_PAGE:
        shown = {h.source.id for h in ordered}
        unshown = [s for s in answering if s not in shown and any(h.source.id == s for h in remaining)]
        late = len(unshown) >= FIRST_PAGE - len(ordered)
        take = next(h for h in remaining if h.source.id in unshown) if late and unshown else remaining[0]
        ordered.append(take)
        remaining.remove(take)
    return ordered + remaining


@lru_cache(maxsize=8)
def calibration_key(model: str) -> str:
    """What the bar depends on besides the passages: the model, and this module and the background questions,
    whose code and text decide the dense scores and what they are compared with."""
    digest = hashlib.sha256(model.encode())
    for module in (Path(__file__), BACKGROUND_FILE):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:16]


class Searcher:
    """Answers questions from the live index; `reload` swaps in a new generation without a pause. Given a
    `generation`, it is a build's searcher over that generation before it goes live."""

    def __init__(self, store: Store, embedder: Embedder, generation: Pointer | None = None,
                 scorer: Scorer | None = None, background: np.ndarray | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.scorer = scorer  # None: the fitted scorer in index/search/scorer.json, read when first needed
        self.index = self._load(generation, background)

    @classmethod
    def open(cls, settings: IndexSettings, embedder: Embedder, scorer: Scorer | None = None) -> "Searcher":
        return cls(Store.open(settings), embedder, scorer=scorer)

    def _load(self, generation: Pointer | None = None, background: np.ndarray | None = None) -> LiveIndex:
        index = LiveIndex.load(self.store, generation)
        if index.pointer.model != self.embedder.name:
            raise ModelError(
                f"The index was built with the embedding model {index.pointer.model!r}, but EMBEDDING_MODEL is "
                f"{self.embedder.name!r}. Rebuild it with `python -m index build`, or set EMBEDDING_MODEL back."
            )
        index.calibrate(self.embedder, background)
        if generation is None:  # a build's snapshot (see Searcher) reads a question only if the build has checks
            index.prepare()
            common_words()  # loaded now rather than on the first question
        return index

    def reload(self) -> bool:
        """Loads the live generation if a build moved the pointer; True when it did."""
        if self.store.pointer() == self.index.pointer:
            return False
        self.store.refresh()  # another process may have built it
        self.index = self._load()
        self.store.forget_old_copies()
        return True

    def search(self, raw_question: str, limit: int = 5, offset: int = 0) -> Answer:
        question = clean_question(raw_question)
        if not is_mostly_latin(question):
            return Answer(question, Outcome.NOT_ANSWERED, note="Dossier's model reads English only; ask in English.")
        index = self.index  # one snapshot for the whole question, even if a reload swaps it meanwhile
        if not index.chunks:
            return Answer(question, Outcome.OFF_TOPIC, note="The corpus is empty.")
        reading = Reading.of(read(question), index.lexicon)
        scored = self._scored(index, reading)
        if not scored.answered:
            if not scored.on_topic:
                return Answer(question, Outcome.OFF_TOPIC, missing=reading.missing_phrases())
            related = tuple(index.with_also(hit) for hit in _distinct(index, scored.ranked)[:RELATED])
            return Answer(question, Outcome.NOT_ANSWERED, related=related, missing=reading.missing_phrases())
        compares = reading.query.compares
        hits = _balance(_distinct(index, scored.ranked), list(scored.answering), compares)
        page = tuple(index.with_also(hit) for hit in hits[offset : offset + limit])
        return Answer(question, Outcome.ANSWERED, page, total=len(hits))

    def compare(self, raw_topic: str) -> list[tuple[Source, Hit | None]]:
        """Every source with its best passage on the topic when the source model finds it answering, or None when
        it says nothing on it."""
        topic = clean_question(raw_topic)
        index = self.index
        if not index.chunks or not is_mostly_latin(topic):
            return [(source, None) for source, _ in self.sources()]
        scored = self._scored(index, Reading.of(read(topic), index.lexicon))
        found = _distinct(index, list(scored.answering.values())) if scored.on_topic else []
        best = {h.source.id: index.with_also(h) for h in found}
        return [(source, best.get(source.id)) for source, _ in self.sources()]

    def evidence(self, raw_question: str) -> tuple[Reading, Candidates]:
        """The question as read against the corpus, and its candidate passages with their features: what the
        scorer weighs, and what bench/fitting.py fits it on."""
        index = self.index
        reading = Reading.of(read(clean_question(raw_question)), index.lexicon)
        return reading, self._candidates(index, reading)

    def _candidates(self, index: LiveIndex, reading: Reading) -> Candidates:
        return candidates(index, reading, *index.plain_and_dense(self.embedder.encode([reading.query.topic])[0]))

    def _scored(self, index: LiveIndex, reading: Reading) -> _Scored:
        """The question's candidates ranked by the passage model, lists kept together, and how likely it is that
        the corpus answers it."""
        found = self._candidates(index, reading)
        scorer = self.scorer or load_scorer()
        logits = scorer.rank(found.features)
        chance = scorer.answerable(question_features(found, logits, reading, index.bar, index.spread))
        order = np.argsort(-logits, kind="stable").tolist()
        candidates = [_Candidate(position, logit) for position, logit in
                      zip(found.positions[order].tolist(), logits[order].tolist(), strict=True)]
        ranked = _with_lists(index, candidates[:MAX_PASSAGES])
        best: dict[str, _Candidate] = {}  # each source's best passage, best sources first
        for candidate in candidates:
            source = index.chunks[candidate.position].source_id
            if source not in best:
                best[source] = candidate
        answers = scorer.answering(source_features(np.array([c.logit for c in best.values()])))
        answering = {source: c for (source, c), yes in zip(best.items(), answers, strict=True) if yes}
        return _Scored(ranked[:MAX_PASSAGES], chance >= scorer.threshold, found.best_dense >= index.bar, answering)

    def context(self, chunk_id: str, radius: int = 1) -> list[Chunk]:
        """The passage and its neighbours in the same source, in reading order."""
        index = self.index
        i = index.position(chunk_id)
        if i is None:
            return []
        source_id = index.chunks[i].source_id
        return [c for c in index.chunks[max(0, i - radius) : i + radius + 1] if c.source_id == source_id]

    def sources(self) -> list[tuple[Source, int]]:
        counts: dict[str, int] = {}
        for chunk in self.index.chunks:
            counts[chunk.source_id] = counts.get(chunk.source_id, 0) + 1
        return [(self.index.sources[sid], n) for sid, n in sorted(counts.items())]
