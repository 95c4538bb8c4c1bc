"""Scale: build throughput, incremental rebuild and query latency at 100k passages, each against bare work.

Run: .venv/bin/python bench/scale.py [--paragraphs 20000]   (about 15 minutes on 2 cores; temporary folders)

A synthetic corpus (deterministic: seeded generator, Zipf-distributed vocabulary of ~6,000 words, 100
paragraphs per document) is written to a temporary seeds folder and indexed with the real model. Then:

- build throughput: passages per second of the build's embedding stage, and of the whole build, against one
  bare SentenceTransformer.encode of the same passage texts (target >= 0.8x);
- incremental rebuild: rebuilding after one document was rewritten, against a bare encode of that document's
  passages, with the fixed start-up (an unchanged rebuild: reading the index and the corpus) added (<= 1.5x);
- query latency at 100k passages: Searcher.search end to end against a bare single-question encode plus a
  brute-force numpy search of the same vectors (<= 1.5x). The passages beyond the corpus's own are synthetic
  records written through the Store directly: texts from the same generator, vectors the corpus's vectors
  with noise added (so scores spread as real ones do), not embedded by the model.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


START_UP = """
import json, sys, time
sys.path.insert(0, "bench")
from scale import resident_mb
from index.model.onnx_model import question_embedder
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import Store

settings = IndexSettings(_env_file=None, seeds_dir=sys.argv[1], chroma_path=sys.argv[2])
embedder = question_embedder(settings)
before = resident_mb()
start = time.perf_counter()
searcher = Searcher(Store.open_live(settings), embedder)
seconds = time.perf_counter() - start
loaded = resident_mb()
for question in sys.argv[3:]:
    searcher.search(question)
print(json.dumps({"seconds": seconds, "before": before, "loaded": loaded, "answered": resident_mb()}))
"""


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


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    return statistics.median(seconds(fn) for _ in range(runs))


def row(name: str, ours: float, bare: float, unit: str, target: str) -> None:
    print(f"{name:<34} {ours:>9.2f} {unit:<5} vs bare {bare:>9.2f} {unit:<5} = {ours / bare:5.2f}x  ({target})",
          flush=True)


def resident_mb() -> tuple[float, float]:
    """Resident memory of this process now (Linux): private (anonymous) and file-backed (mapped files, which every
    process of the host that maps the same files shares through the page cache), in MB."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(status["RssAnon"].split()[0]) / 1024, int(status["RssFile"].split()[0]) / 1024


def stage_medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {stage: statistics.median(run.get(stage, 0.0) for run in runs) for stage in runs[0]}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=20_000, help="size of the synthetic corpus")
    parser.add_argument("--total", type=int, default=100_000, help="passages in the index for query latency")
    args = parser.parse_args()
    total = args.total
    load_start = os.getloadavg()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from sentence_transformers import SentenceTransformer

    from index.builds.pipeline import build
    from index.ingest.chunking import Chunk, chunk_document
    from index.ingest.corpus import Source, load_document, source_paths
    from index.model.embedding import BATCH_SIZE, SentenceTransformerEmbedder, bundled_model_path
    from index.search.searcher import Searcher, calibration_key
    from index.settings import IndexSettings
    from index.store.chroma import FORMAT, Pointer, Record, Store, collection_name

    tmp = Path(tempfile.mkdtemp(prefix="dossier-scale-"))
    seeds = tmp / "seeds"
    writer = Writer(seed=20240521)
    write_corpus(seeds, args.paragraphs, writer)
    settings = IndexSettings(_env_file=None, seeds_dir=seeds, chroma_path=tmp / "chroma")  # type: ignore[call-arg]
    embedder = SentenceTransformerEmbedder.load()
    bare_model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    docs = [load_document(p, {}) for p in source_paths(seeds)]
    passages = [c.text for d in docs for c in chunk_document(d)]
    say(f"corpus: {len(docs)} documents, {len(passages)} passages in {seeds}")
    bare_model.encode(passages[:256], batch_size=BATCH_SIZE)  # warm-up

    def bare_encode(texts: list[str]) -> np.ndarray:
        return np.asarray(bare_model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True,
                                            convert_to_numpy=True))

    say("bare encode of every passage…")
    bare_seconds = seconds(lambda: bare_encode(passages))

    say("full build…")
    store = Store.open(settings)
    full = build(seeds, store, embedder)
    assert full.embedded == len(passages), full.to_json()
    embed_rate = full.embedded / full.stages["embedding"]
    bare_rate = len(passages) / bare_seconds

    say("unchanged and incremental rebuilds…")
    unchanged = build(seeds, store, embedder)
    fixed = median_seconds(lambda: build(seeds, store, embedder), 3)
    changed = seeds / "dispatch_0007.txt"
    rebuilds, bare_documents, rebuild_stages = [], [], []
    for _ in range(3):  # a new version of the same document each time
        changed.write_text(writer.document(7), encoding="utf-8")
        new_passages = [c.text for c in chunk_document(load_document(changed, {}))]
        start = time.perf_counter()
        incremental = build(seeds, store, embedder)
        rebuilds.append(time.perf_counter() - start)
        rebuild_stages.append(incremental.stages)
        assert incremental.changed == 1 and incremental.embedded == len(new_passages), incremental.to_json()
        bare_documents.append(seconds(lambda texts=new_passages: bare_encode(texts)))
    incremental_seconds, bare_document = statistics.median(rebuilds), statistics.median(bare_documents)

    say(f"adding synthetic passages up to {total:,} through the Store…")
    pointer = store.pointer()
    assert pointer is not None
    collection = store.chunks_collection(collection_name(embedder.name))
    live = list(store.records(collection, pointer.generation, with_embeddings=True))
    real_vectors = np.stack([v for _, v in live if v is not None])
    generation = pointer.generation + 1
    rng = np.random.default_rng(7)
    extra = total - len(live)
    step = 5000
    for first in range(0, extra, step):
        count = min(step, extra - first)
        records = []
        for i in range(first, first + count):
            text = writer.paragraph()
            chunk = Chunk(id=f"synthetic_{i // 100:05d}.txt#p{i % 100 + 1}.0-{i:012d}",
                                         source_id=f"synthetic_{i // 100:05d}.txt", text=text, start=0,
                                         end=len(text), paragraph=i % 100 + 1)
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

    say(f"making the {total:,}-passage generation's files from Chroma, as a host without them does…")
    start = time.perf_counter()
    first = Searcher.open(settings, embedder)  # no bar in this pointer: it is measured here, as a build would
    fill_seconds = time.perf_counter() - start
    live = store.pointer()
    assert live is not None and len(first.index.chunks) == total
    store.switch(replace(live, bar=first.index.bar, spread=first.index.spread, bar_key=calibration_key(live.model)),
                 previous=pointer)
    del first
    say(f"loading the {total:,}-passage index from its files, in this process and in a new one…")
    start = time.perf_counter()
    searcher = Searcher.open(settings, embedder)
    load_seconds = time.perf_counter() - start
    assert len(searcher.index.chunks) == total
    vectors = searcher.index.vectors.copy()
    question_rng = random.Random(3)
    questions = [" ".join(question_rng.choice(passages).split()[:10]) + "?" for _ in range(8)]
    questions += ["What did officials say about water rights on the river?", "What is the capital of Peru?"]
    started = json.loads(subprocess.run([sys.executable, "-c", START_UP, str(seeds), str(tmp / "chroma"), *questions],
                                        cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    loaded, answered = ([now - before for now, before in zip(started[k], started["before"], strict=True)]
                        for k in ("loaded", "answered"))

    def bare_query(question: str) -> np.ndarray:
        query = bare_encode([question])[0]
        scores = vectors @ query
        top = np.argpartition(-scores, 10)[:10]
        return top[np.argsort(-scores[top])]

    ours_samples, bare_samples = [], []
    for run in range(16):  # alternating, so both see the same load from other work on the machine
        for question in questions:
            ours_samples.append(seconds(lambda q=question: searcher.search(q)))
            bare_samples.append(seconds(lambda q=question: bare_query(q)))
        if run == 0:  # warm-up
            ours_samples.clear()
            bare_samples.clear()
    ours_query, bare_query_seconds = statistics.median(ours_samples), statistics.median(bare_samples)

    load = os.getloadavg()
    print(f"Dossier scale benchmark: {len(docs)} synthetic documents, {len(passages):,} passages, "
          f"model {embedder.name}, {os.cpu_count()} CPUs, load average {load_start[0]:.2f} at the start, "
          f"{load[0]:.2f} at the end")
    row("build: embedding stage", embed_rate, bare_rate, "pass/s", "target >= 0.8x")
    row("build: end to end", full.embedded / full.seconds, bare_rate, "pass/s", "for information")
    print(f"  full build {full.seconds:.1f} s: " + ", ".join(f"{k} {v:.1f} s" for k, v in full.stages.items()))
    print(f"incremental rebuild, 1 of {len(docs)} documents rewritten ({len(new_passages)} passages embedded):")
    row("  rebuild minus fixed start-up", incremental_seconds - fixed, bare_document, "s", "target <= 1.5x")
    print(f"  rebuild {incremental_seconds:.2f} s = fixed start-up {fixed:.2f} s (an unchanged rebuild) + "
          f"{incremental_seconds - fixed:.2f} s; where the time goes (median of each stage): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in stage_medians(rebuild_stages).items()))
    print("  the unchanged rebuild's stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in unchanged.stages.items()))
    print(f"query latency at {total:,} passages ({total - len(passages):,} synthetic records "
          "added through the Store, not embedded by the model):")
    row("  Searcher.search vs encode+numpy", ours_query * 1000, bare_query_seconds * 1000, "ms", "target <= 1.5x")
    print(f"  loading the {total:,}-passage index from its files: {load_seconds:.2f} s in a running process (a "
          f"reload after a build), {started['seconds']:.2f} s in a new one (start-up) (target <= 3 s)")
    print(f"  the new process's memory for it, private + mapped from the files (shared by the host's processes): "
          f"{loaded[0]:.0f} + {loaded[1]:.0f} MB once loaded, {answered[0]:.0f} + {answered[1]:.0f} MB once "
          f"{len(questions)} questions touched every vector")
    print(f"  making its files from Chroma instead (a host without them, once a generation): {fill_seconds:.1f} s")
    print(json.dumps({
        "passages": len(passages), "documents": len(docs),
        "embed_rate": round(embed_rate, 1), "bare_rate": round(bare_rate, 1),
        "build_seconds": round(full.seconds, 1), "build_stages": {k: round(v, 2) for k, v in full.stages.items()},
        "rebuild_seconds": round(incremental_seconds, 2), "fixed_seconds": round(fixed, 2),
        "bare_document_seconds": round(bare_document, 2), "query_ms": round(ours_query * 1000, 2),
        "bare_query_ms": round(bare_query_seconds * 1000, 2), "load_seconds": round(load_seconds, 2),
        "start_up_load_seconds": round(started["seconds"], 2),
        "loaded_mb": [round(mb) for mb in loaded], "answered_mb": [round(mb) for mb in answered],
        "fill_seconds": round(fill_seconds, 1),
        "rebuild_stages": {k: round(v, 3) for k, v in stage_medians(rebuild_stages).items()},
        "load": [round(load_start[0], 2), round(load[0], 2)]}))
    shutil.rmtree(tmp, ignore_errors=True)  # about a gigabyte: the store, the generations' files, the corpus


if __name__ == "__main__":
    main()
