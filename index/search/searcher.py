"""Search over the live index: on topic or not, answered or not, and the passages ranked, balanced and deduplicated.

Every question is scored by the fitted scorer (index/search/scorer.py) over the features of
index/search/features.py: the best passages by dense cosine and by BM25 are the candidates, the passage model
orders them, and the question model says whether the corpus answers the question at all. A list's items follow
their lead-in, at its score; near-duplicates of a better passage are left out; each source the passage model finds
answering gets a place on the first page.

Outcomes. A question is refused only on a ground the reader can check:
- off topic: no passage clears the abstention bar, the mean plus three standard deviations of the best dense scores
  that background questions (index/model/background.py) get against this corpus, and the question names nobody and
  nothing the corpus names. The build computes the bar and keeps it in the generation's pointer, which spares every
  searcher the background questions' encode;
- not answered: the question names someone or something (a name, an acronym, a year, a sum, a page part) that the
  corpus never mentions in any form, and the question model does not find the rest of it answered anyway (a passage
  can answer "what happened in Karsk in 2019" without naming the town as the asker does). The closest passages are
  returned as related, not as an answer, with the terms the corpus never mentions.
Everything else is answered with its best passages, and `confidence` says whether the question model is sure of it.
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
from bm25s.stopwords import STOPWORDS_EN

from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.model.background import BACKGROUND_FILE, BACKGROUND_QUESTIONS
from index.model.embedding import Embedder, ModelError
from index.search import snapshot
from index.search.features import Candidates, candidates, question_features, source_features
from index.search.lexicon import Lexicon, Passage
from index.search.making import fill
from index.search.question import Kind, Query, plain_words, read, without_markup
from index.search.reading import Reading
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
FIRST_PAGE = 5
RELATED = 3
SUBJECT = 0.5  # a term used by this share of the passages is the corpus's own subject, for `compare`
PASSAGE_CACHE = 4096  # passages read as evidence, per snapshot: a few hundred questions' candidates
LOAD_ATTEMPTS = 3
_TOKEN = re.compile(r"\w+")
_BM25_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # how bm25s.tokenize splits the passages, stopwords "en"
_BM25_STOPWORDS = frozenset(STOPWORDS_EN)


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
        self.neighbours = snapshot.neighbours(self.chunks)
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
        return self._bm25_scores({stem(part) for t in query.terms if t.kind is not Kind.FIGURE
                                  for part in t.key.split("-")})

    def lexical_as_written(self, query: Query) -> np.ndarray:
        """BM25 scores for every word of the question as written but English stopwords, as the passages are indexed:
        a long or pasted question keeps words the question reader sets aside."""
        words = {w for w in _BM25_TOKEN.findall(query.text.lower()) if w not in _BM25_STOPWORDS}
        return self._bm25_scores({stem(w) for w in words})

    def _bm25_scores(self, words: set[str]) -> np.ndarray:
        tokens = [w for w in words if w in self._bm25.vocab_dict]
        if not tokens:
            return np.zeros(len(self.chunks), dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        return scores / (float(scores.max()) or 1.0)

    def share_mentioning(self, key: str) -> float:
        """The share of passages that use a term's words (a figure is never common)."""
        words = [w for w in (stem(part) for part in key.split("-")) if w in self._bm25.vocab_dict]
        if key.startswith("#") or not words or not self.chunks:
            return 0.0
        return float(np.count_nonzero(self._bm25.get_scores(words))) / len(self.chunks)

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
    outcome: Outcome  # refused only on a ground the reader can check (see the module docstring)
    confidence: Confidence
    best: dict[str, _Candidate]  # each source among the candidates with its best passage, best sources first
    answering: dict[str, _Candidate]  # those the source model finds answering
    mentioning: dict[str, set[str]]  # each source among the candidates: the question's terms its candidates mention


@dataclass(frozen=True)
class OnTopic:
    """What one source says on a topic: its best passage, and whether it surely addresses the topic (HIGH) or is
    only its closest passage (LOW); no passage when none of its passages mentions what sets the topic apart."""

    source: Source
    hit: Hit | None = None
    confidence: Confidence = Confidence.HIGH


def _quotes_a_passage(index: LiveIndex, reading: Reading, found: Candidates) -> bool:
    """Whether the question quotes one of its candidate passages: then what it names beside the quotation is a
    claim about the corpus's own words ("X said 'this'": did X?), which the passage answers."""
    return any(quote in plain_words(index.chunks[i].text) for quote in reading.query.quotes
               for i in found.positions.tolist())


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
            read("Warming up")  # the word lists a question is read with, loaded now rather than on the first question
        return index

    def reload(self) -> bool:
        """Loads the live generation if a build moved the pointer, or the store was replaced; True when it did."""
        if not self.store.reopen_if_replaced() and self.store.pointer() == self.index.pointer:
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
        if scored.outcome is Outcome.OFF_TOPIC:
            return Answer(question, Outcome.OFF_TOPIC)
        if scored.outcome is Outcome.NOT_ANSWERED:
            related = tuple(index.with_also(hit) for hit in _distinct(index, scored.ranked)[:RELATED])
            return Answer(question, Outcome.NOT_ANSWERED, related=related, missing=reading.missing_phrases())
        compares = reading.query.compares
        hits = _balance(_distinct(index, scored.ranked), list(scored.answering), compares)
        page = tuple(index.with_also(hit) for hit in hits[offset : offset + limit])
        return Answer(question, Outcome.ANSWERED, page, total=len(hits), confidence=scored.confidence)

    def compare(self, raw_topic: str) -> list[OnTopic]:
        """Every source with what it says on the topic (OnTopic). A source is silent only on a ground the reader can
        check: the topic is off the corpus's topic, or it names someone or something (a name, an acronym, a year) that
        none of the source's passages near the topic mentions. Names of the corpus's own subject (used by half its
        passages or more: "Iran" in a corpus on Iran) set no topic apart. Otherwise a source the source model does
        not find answering shows its closest passage, marked as such."""
        topic = clean_question(raw_topic)
        index = self.index
        if not index.chunks or not is_mostly_latin(topic):
            return [OnTopic(source) for source, _ in self.sources()]
        reading = Reading.of(read(topic), index.lexicon)
        scored = self._scored(index, reading)
        if scored.outcome is Outcome.OFF_TOPIC:
            return [OnTopic(source) for source, _ in self.sources()]
        apart = {t.key for t in reading.query.naming if index.share_mentioning(t.key) < SUBJECT}
        said = []
        for source, _ in self.sources():
            best, mentioned = scored.best.get(source.id), scored.mentioning.get(source.id, set())
            if source.id in scored.answering:
                said.append(OnTopic(source, self._hit(index, scored.answering[source.id])))
            elif best is not None and (mentioned & apart or not apart):
                said.append(OnTopic(source, self._hit(index, best), Confidence.LOW))
            else:
                said.append(OnTopic(source))
        return said

    @staticmethod
    def _hit(index: LiveIndex, candidate: _Candidate) -> Hit:
        chunk = index.chunks[candidate.position]
        score = round(float(probability(candidate.logit)), 4)
        return index.with_also(Hit(chunk, score, index.sources[chunk.source_id]))

    def evidence(self, raw_question: str) -> tuple[Reading, Candidates]:
        """The question as read against the corpus, and its candidate passages with their features: what the
        scorer weighs, and what bench/fitting.py fits it on."""
        index = self.index
        reading = Reading.of(read(clean_question(raw_question)), index.lexicon)
        return reading, self._candidates(index, reading)

    def _candidates(self, index: LiveIndex, reading: Reading) -> Candidates:
        query = self.embedder.encode([reading.query.topic])[0]
        return candidates(index, reading, *index.plain_and_dense(query), query)

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
        mentions = dict(zip(found.positions.tolist(), found.mentions, strict=True))
        ranked = _with_lists(index, candidates[:MAX_PASSAGES])
        best: dict[str, _Candidate] = {}  # each source's best passage, best sources first
        mentioning: dict[str, set[str]] = {}
        for candidate in candidates:
            source = index.chunks[candidate.position].source_id
            if source not in best:
                best[source] = candidate
            mentioning.setdefault(source, set()).update(mentions[candidate.position])
        answers = scorer.answering(source_features(np.array([c.logit for c in best.values()])))
        answering = {source: c for (source, c), yes in zip(best.items(), answers, strict=True) if yes}
        if found.best_dense < index.bar and not reading.names_known:
            outcome = Outcome.OFF_TOPIC
        elif reading.missing and chance < scorer.threshold and not _quotes_a_passage(index, reading, found):
            outcome = Outcome.NOT_ANSWERED
        else:
            outcome = Outcome.ANSWERED
        confidence = Confidence.HIGH if chance >= scorer.sure else Confidence.LOW
        return _Scored(ranked[:MAX_PASSAGES], outcome, confidence, best, answering, mentioning)

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
