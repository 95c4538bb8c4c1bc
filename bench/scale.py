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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synthetic import Writer, grow, write_corpus  # noqa: E402

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


@dataclass(frozen=True)
class Run:
    """What the measurements share: the temporary folder, the synthetic corpus, the store and the model."""

    tmp: Path
    seeds: Path
    writer: Writer
    settings: Any
    store: Any
    embedder: Any  # Dossier's, as a build loads it
    bare_model: Any  # one bare SentenceTransformer
    documents: int
    passages: list[str]

    def bare_encode(self, texts: list[str]) -> np.ndarray:
        from index.model.embedding import BATCH_SIZE

        return np.asarray(self.bare_model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True,
                                                 convert_to_numpy=True))


def set_up(paragraphs: int) -> Run:
    """The synthetic corpus written, the model loaded (and a bare one warmed up), the store opened."""
    from sentence_transformers import SentenceTransformer

    from index.ingest.chunking import chunk_document
    from index.ingest.corpus import load_document, source_paths
    from index.model.embedding import BATCH_SIZE, SentenceTransformerEmbedder, bundled_model_path
    from index.settings import IndexSettings
    from index.store.chroma import Store

    tmp = Path(tempfile.mkdtemp(prefix="dossier-scale-"))
    seeds = tmp / "seeds"
    writer = Writer(seed=20240521)
    write_corpus(seeds, paragraphs, writer)
    settings = IndexSettings(_env_file=None, seeds_dir=seeds, chroma_path=tmp / "chroma")  # type: ignore[call-arg]
    bare_model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    docs = [load_document(p, {}) for p in source_paths(seeds)]
    passages = [c.text for d in docs for c in chunk_document(d)]
    say(f"corpus: {len(docs)} documents, {len(passages)} passages in {seeds}")
    bare_model.encode(passages[:256], batch_size=BATCH_SIZE)  # warm-up
    return Run(tmp, seeds, writer, settings, Store.open(settings), SentenceTransformerEmbedder.load(), bare_model,
               len(docs), passages)


def measure_build(run: Run) -> dict[str, Any]:
    """The full build's embedding rate against a bare encode of every passage."""
    from index.builds.pipeline import build

    say("bare encode of every passage…")
    bare_seconds = seconds(lambda: run.bare_encode(run.passages))
    say("full build…")
    full = build(run.seeds, run.store, run.embedder)
    assert full.embedded == len(run.passages), full.to_json()
    return {"full": full, "embed_rate": full.embedded / full.stages["embedding"],
            "bare_rate": len(run.passages) / bare_seconds}


def measure_rebuilds(run: Run) -> dict[str, Any]:
    """An unchanged rebuild (the fixed start-up), then one document rewritten, three times, against a bare encode
    of its passages."""
    from index.builds.pipeline import build
    from index.ingest.chunking import chunk_document
    from index.ingest.corpus import load_document

    say("unchanged and incremental rebuilds…")
    unchanged = build(run.seeds, run.store, run.embedder)
    fixed = median_seconds(lambda: build(run.seeds, run.store, run.embedder), 3)
    changed = run.seeds / "dispatch_0007.txt"
    rebuilds, bare_documents, rebuild_stages = [], [], []
    for _ in range(3):  # a new version of the same document each time
        changed.write_text(run.writer.document(7), encoding="utf-8")
        new_passages = [c.text for c in chunk_document(load_document(changed, {}))]
        start = time.perf_counter()
        incremental = build(run.seeds, run.store, run.embedder)
        rebuilds.append(time.perf_counter() - start)
        rebuild_stages.append(incremental.stages)
        assert incremental.changed == 1 and incremental.embedded == len(new_passages), incremental.to_json()
        bare_documents.append(seconds(lambda texts=new_passages: run.bare_encode(texts)))
    return {"unchanged": unchanged, "fixed": fixed, "incremental": statistics.median(rebuilds),
            "bare_document": statistics.median(bare_documents), "stages": stage_medians(rebuild_stages),
            "embedded": len(new_passages)}


def measure_loading(run: Run, total: int, previous: Any) -> dict[str, Any]:
    """The grown generation's files made from Chroma, then loaded from them, in this process and in a new one
    (with its memory); returns the searcher and the questions for the query latency too."""
    from index.search.live_index import calibration_key
    from index.search.searcher import Searcher

    say(f"making the {total:,}-passage generation's files from Chroma, as a host without them does…")
    start = time.perf_counter()
    first = Searcher.open(run.settings, run.embedder)  # no bar in this pointer: it is measured here, as a build would
    fill_seconds = time.perf_counter() - start
    live = run.store.pointer()
    assert live is not None and len(first.index.chunks) == total
    run.store.switch(replace(live, bar=first.index.bar, spread=first.index.spread,
                             bar_key=calibration_key(live.model)), previous=previous)
    del first
    say(f"loading the {total:,}-passage index from its files, in this process and in a new one…")
    start = time.perf_counter()
    searcher = Searcher.open(run.settings, run.embedder)
    load_seconds = time.perf_counter() - start
    assert len(searcher.index.chunks) == total
    question_rng = random.Random(3)
    questions = [" ".join(question_rng.choice(run.passages).split()[:10]) + "?" for _ in range(8)]
    questions += ["What did officials say about water rights on the river?", "What is the capital of Peru?"]
    started = json.loads(subprocess.run([sys.executable, "-c", START_UP, str(run.seeds), str(run.tmp / "chroma"),
                                         *questions], cwd=ROOT, capture_output=True, text=True,
                                        check=True).stdout.splitlines()[-1])
    loaded, answered = ([now - before for now, before in zip(started[k], started["before"], strict=True)]
                        for k in ("loaded", "answered"))
    return {"fill_seconds": fill_seconds, "load_seconds": load_seconds, "start_up_seconds": started["seconds"],
            "loaded": loaded, "answered": answered, "searcher": searcher, "questions": questions}


def measure_queries(run: Run, searcher: Any, questions: list[str]) -> tuple[float, float]:
    """Median seconds of Searcher.search, and of a bare encode plus a brute-force numpy search."""
    vectors = searcher.index.vectors.copy()

    def bare_query(question: str) -> np.ndarray:
        query = run.bare_encode([question])[0]
        scores = vectors @ query
        top = np.argpartition(-scores, 10)[:10]
        return top[np.argsort(-scores[top])]

    ours_samples, bare_samples = [], []
    for turn in range(16):  # alternating, so both see the same load from other work on the machine
        for question in questions:
            ours_samples.append(seconds(lambda q=question: searcher.search(q)))
            bare_samples.append(seconds(lambda q=question: bare_query(q)))
        if turn == 0:  # warm-up
            ours_samples.clear()
            bare_samples.clear()
    return statistics.median(ours_samples), statistics.median(bare_samples)


def report(run: Run, total: int, built: dict[str, Any], rebuilt: dict[str, Any], loading: dict[str, Any],
           queries: tuple[float, float], load_start: tuple[float, float, float]) -> None:
    """The figures, for people, then one line of JSON."""
    load, full, (ours_query, bare_query) = os.getloadavg(), built["full"], queries
    print(f"Dossier scale benchmark: {run.documents} synthetic documents, {len(run.passages):,} passages, "
          f"model {run.embedder.name}, {os.cpu_count()} CPUs, load average {load_start[0]:.2f} at the start, "
          f"{load[0]:.2f} at the end")
    row("build: embedding stage", built["embed_rate"], built["bare_rate"], "pass/s", "target >= 0.8x")
    row("build: end to end", full.embedded / full.seconds, built["bare_rate"], "pass/s", "for information")
    print(f"  full build {full.seconds:.1f} s: " + ", ".join(f"{k} {v:.1f} s" for k, v in full.stages.items()))
    incremental, fixed = rebuilt["incremental"], rebuilt["fixed"]
    print(f"incremental rebuild, 1 of {run.documents} documents rewritten ({rebuilt['embedded']} passages embedded):")
    row("  rebuild minus fixed start-up", incremental - fixed, rebuilt["bare_document"], "s", "target <= 1.5x")
    print(f"  rebuild {incremental:.2f} s = fixed start-up {fixed:.2f} s (an unchanged rebuild) + "
          f"{incremental - fixed:.2f} s; where the time goes (median of each stage): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in rebuilt["stages"].items()))
    print("  the unchanged rebuild's stages: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in rebuilt["unchanged"].stages.items()))
    print(f"query latency at {total:,} passages ({total - len(run.passages):,} synthetic records "
          "added through the Store, not embedded by the model):")
    row("  Searcher.search vs encode+numpy", ours_query * 1000, bare_query * 1000, "ms", "target <= 1.5x")
    loaded, answered = loading["loaded"], loading["answered"]
    print(f"  loading the {total:,}-passage index from its files: {loading['load_seconds']:.2f} s in a running "
          f"process (a reload after a build), {loading['start_up_seconds']:.2f} s in a new one (start-up) "
          "(target <= 3 s)")
    print(f"  the new process's memory for it, private + mapped from the files (shared by the host's processes): "
          f"{loaded[0]:.0f} + {loaded[1]:.0f} MB once loaded, {answered[0]:.0f} + {answered[1]:.0f} MB once "
          f"{len(loading['questions'])} questions touched every vector")
    print(f"  making its files from Chroma instead (a host without them, once a generation): "
          f"{loading['fill_seconds']:.1f} s")
    print(json.dumps({
        "passages": len(run.passages), "documents": run.documents,
        "embed_rate": round(built["embed_rate"], 1), "bare_rate": round(built["bare_rate"], 1),
        "build_seconds": round(full.seconds, 1), "build_stages": {k: round(v, 2) for k, v in full.stages.items()},
        "rebuild_seconds": round(incremental, 2), "fixed_seconds": round(fixed, 2),
        "bare_document_seconds": round(rebuilt["bare_document"], 2), "query_ms": round(ours_query * 1000, 2),
        "bare_query_ms": round(bare_query * 1000, 2), "load_seconds": round(loading["load_seconds"], 2),
        "start_up_load_seconds": round(loading["start_up_seconds"], 2),
        "loaded_mb": [round(mb) for mb in loaded], "answered_mb": [round(mb) for mb in answered],
        "fill_seconds": round(loading["fill_seconds"], 1),
        "rebuild_stages": {k: round(v, 3) for k, v in rebuilt["stages"].items()},
        "load": [round(load_start[0], 2), round(load[0], 2)]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=20_000, help="size of the synthetic corpus")
    parser.add_argument("--total", type=int, default=100_000, help="passages in the index for query latency")
    args = parser.parse_args()
    load_start = os.getloadavg()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run = set_up(args.paragraphs)
    built, rebuilt = measure_build(run), measure_rebuilds(run)
    previous = grow(run.store, run.embedder.name, run.writer, args.total, say)
    loading = measure_loading(run, args.total, previous)
    queries = measure_queries(run, loading.pop("searcher"), loading["questions"])
    report(run, args.total, built, rebuilt, loading, queries, load_start)
    shutil.rmtree(run.tmp, ignore_errors=True)  # about a gigabyte: the store, the generations' files, the corpus


if __name__ == "__main__":
    main()
