"""A synthetic corpus for bench/scale.py: deterministic (a seeded generator), news-like prose drawn from a
Zipf-distributed vocabulary of about 6,000 words, 100 paragraphs per document; and synthetic passages added to a
store past the corpus's own."""

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PARAGRAPHS_PER_DOC = 100
COMMON = ("the", "of", "and", "to", "in", "a", "that", "for", "on", "with", "said", "by", "as", "at", "from",
          "was", "is", "its", "were", "has", "have", "will", "would", "after", "officials", "government", "border",
          "talks", "security", "militants", "forces", "province", "minister", "report", "according", "meeting",
          "region", "water", "trade", "refugees", "fuel", "embassy", "delegation", "envoy", "commander",
          "sanctions", "agreement", "ceasefire", "attack", "drought", "crossing", "river", "council", "election",
          "support", "weapons", "funding", "aid", "smuggling", "relations", "influence", "pressure", "statement",
          "spokesman", "analysts", "diplomats", "week", "month", "year", "capital", "leaders", "militia",
          "fighters", "convoy", "market", "prices", "shrine", "pilgrims", "treaty", "dispute", "tensions",
          "military")


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    """Common news words first, then made-up names and terms, in Zipf order of frequency."""
    syllables = ["ka", "bul", "her", "at", "zar", "an", "mir", "dos", "tan", "gol", "ra", "shi", "far", "ab",
                 "ul", "nor", "qal", "ez", "bad", "han", "ri", "sar", "tol", "vi", "om", "ya", "das", "pur"]
    made: set[str] = set()
    while len(made) < size - len(COMMON):
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        made.add(word.capitalize() if rng.random() < 0.3 else word)
    return list(COMMON) + sorted(made)


class Writer:
    """Deterministic news-like prose: sentences of 9-20 words drawn from a Zipf vocabulary."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng)
        self.weights = [1 / (rank + 1) for rank in range(len(self.words))]

    def sentence(self) -> str:
        words = self.rng.choices(self.words, self.weights, k=self.rng.randint(9, 20))
        return " ".join(words).capitalize() + "."

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(2, 3)))

    def document(self, number: int) -> str:
        heading = f"Dispatch {number}: " + " ".join(self.rng.choices(self.words[len(COMMON):], k=4))
        return heading + "\n\n" + "\n\n".join(self.paragraph() for _ in range(PARAGRAPHS_PER_DOC)) + "\n"


def write_corpus(seeds: Path, paragraphs: int, writer: Writer) -> None:
    seeds.mkdir(parents=True)
    for number in range(paragraphs // PARAGRAPHS_PER_DOC):
        (seeds / f"dispatch_{number:04d}.txt").write_text(writer.document(number), encoding="utf-8")


def grow(store: Any, model: str, writer: Writer, total: int, say: Callable[[str], None]) -> Any:
    """Synthetic passages added through the Store up to `total`, and switched to; returns the pointer before.

    Their texts come from `writer`, their vectors are the live passages' vectors with noise added (so scores spread
    as real ones do), not embedded by the model."""
    from index.ingest.chunking import Chunk
    from index.ingest.corpus import Source
    from index.store.passages import FORMAT, Record, collection_name
    from index.store.pointer import Pointer

    say(f"adding synthetic passages up to {total:,} through the Store…")
    pointer = store.pointer()
    assert pointer is not None
    collection = store.chunks_collection(collection_name(model))
    live = list(store.records(collection, pointer.generation, with_embeddings=True))
    real_vectors = np.stack([v for _, v in live if v is not None])
    generation, rng, extra, step = pointer.generation + 1, np.random.default_rng(7), total - len(live), 5000
    for first in range(0, extra, step):
        count = min(step, extra - first)
        records = []
        for i in range(first, first + count):
            text = writer.paragraph()
            chunk = Chunk(id=f"synthetic_{i // 100:05d}.txt#p{i % 100 + 1}.0-{i:012d}",
                          source_id=f"synthetic_{i // 100:05d}.txt", text=text, start=0, end=len(text),
                          paragraph=i % 100 + 1)
            source = Source(id=chunk.source_id, title=f"Synthetic {i // 100}")
            records.append(Record(f"g{generation}:{chunk.id}", chunk, source, "synthetic", f"s{i}", generation))
        base = real_vectors[rng.integers(0, len(real_vectors), count)]
        noisy = base + rng.normal(0, 0.04, base.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        store.add(collection, records, noisy)
        say(f"  {first + count:,} of {extra:,}")
    store.switch(Pointer(collection=pointer.collection, generation=generation, model=pointer.model,
                         dimension=pointer.dimension, built_at=pointer.built_at, built_by="bench/scale.py",
                         documents=pointer.documents + (extra + 99) // 100, chunks=total, format=FORMAT),
                 previous=pointer)
    return pointer
