"""Search over the live index: on topic or not, answered or not, and the passages ranked, balanced and deduplicated.

Every question is scored by the fitted scorer (index/search/scorer.py) over the features of
index/search/features.py: the best passages by dense cosine and by BM25 are the candidates, the passage model
orders them, and the question model says whether the corpus answers the question at all (index/search/decision.py
says on which grounds a question is refused). A list's items follow their lead-in, at its score; near-duplicates of a
better passage are left out; each source the passage model finds answering gets a place on the first page
(index/search/hits.py). A question refused as not answered gets the closest passages, as related, not as an
answer, with the terms the corpus never mentions.
"""

import numpy as np

from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.model.embedding import Embedder, ModelError
from index.search import hits
from index.search.answer import (
    Answer,
    Confidence,
    OnTopic,
    Outcome,
    clean_question,
    is_mostly_latin,
)
from index.search.decision import Decision, decide
from index.search.evidence import gather
from index.search.features import Candidates
from index.search.live_index import LiveIndex
from index.search.question import read
from index.search.reading import Reading
from index.search.scorer import Scorer
from index.search.scorer import load as load_scorer
from index.settings import IndexSettings
from index.store.chroma import Store
from index.store.pointer import Pointer

RELATED = 3
SUBJECT = 0.5  # a term used by this share of the passages is the corpus's own subject, for `compare`


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
            related = tuple(index.with_also(h) for h in hits.distinct(index, scored.ranked)[:RELATED])
            return Answer(question, Outcome.NOT_ANSWERED, related=related, missing=reading.missing_phrases())
        compares = reading.query.compares
        shown = hits.balance(hits.distinct(index, scored.ranked), list(scored.answering), compares)
        page = tuple(index.with_also(hit) for hit in shown[offset : offset + limit])
        return Answer(question, Outcome.ANSWERED, page, total=len(shown), confidence=scored.confidence)

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
                said.append(OnTopic(source, hits.hit(index, scored.answering[source.id])))
            elif best is not None and (mentioned & apart or not apart):
                said.append(OnTopic(source, hits.hit(index, best), Confidence.LOW))
            else:
                said.append(OnTopic(source))
        return said

    def evidence(self, raw_question: str) -> tuple[Reading, Candidates]:
        """The question as read against the corpus, and its candidate passages with their features: what the
        scorer weighs, and what the fit (fit/) fits it on."""
        index = self.index
        reading = Reading.of(read(clean_question(raw_question)), index.lexicon)
        return reading, gather(index, reading, self.embedder)

    def _scored(self, index: LiveIndex, reading: Reading) -> Decision:
        return decide(index, reading, gather(index, reading, self.embedder), self.scorer or load_scorer())

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
