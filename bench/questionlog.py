"""The question log's cost per question, and gaps and stats over 100,000 logged questions.

Run: .venv/bin/python bench/questionlog.py [--postgres]   (about four minutes; temporary databases only; with
--postgres, about ten: gaps and stats are measured on a throwaway PostgreSQL cluster too, as the tests start one)

- per question, on the event loop: what the Ask cog does after an answer (the entry built, its vector recalled,
  the entry queued), with the log on and off, and one warm search followed by it, on and off;
- per question, in the writer thread: entries written one transaction each, as questions arriving one at a time
  are, and in a burst (batched), with a 384-dimension embedding and three passages each;
- gaps and stats over 100,000 questions logged over 90 days: a realistic mix (60 % answered, 25 % not answered,
  10 % off-topic, 5 % refused, 2 % private, votes on 5 % of the answers), and the worst case where every one of
  the 100,000 is a gap. Each logged question is a distinct wording: the embedding of one of 316 base questions
  (the model's own) plus noise, at a cosine of about 0.9 to its base, so wordings of one base are "similar".
"""

import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.cogs.ask import Asked  # noqa: E402
from bot.questionlog import reports  # noqa: E402
from bot.questionlog.connect import open_database  # noqa: E402
from bot.questionlog.database import Location  # noqa: E402
from bot.questionlog.entry import Entry  # noqa: E402
from bot.questionlog.questionlog import QuestionLog  # noqa: E402
from bot.questionlog.retention import DAY_SECONDS  # noqa: E402
from bot.questionlog.vectors import VectorKeepingEmbedder  # noqa: E402
from index.builds.pipeline import build  # noqa: E402
from index.model.background import BACKGROUND_QUESTIONS  # noqa: E402
from index.model.embedding import Embedder, SentenceTransformerEmbedder  # noqa: E402
from index.model.onnx_model import question_embedder  # noqa: E402
from index.search.searcher import Searcher  # noqa: E402
from index.settings import IndexSettings  # noqa: E402
from index.store.chroma import Store  # noqa: E402
from tests.bot.questionlog.databases import running_cluster  # noqa: E402

LOGGED = 100_000
WRITES = 5_000
QUESTION = "How many Taliban fighters got Iranian visas?"
ACTORS = ["Iran", "the Taliban", "the IRGC", "Pakistan", "China", "Russia", "the United States", "India",
          "Tajikistan", "the UN"]
TOPICS = ["water from the Helmand river", "drone sales", "refugees", "border trade", "the Herat consulate",
          "opium smuggling", "the 1998 crisis", "ISIS-K", "Shia Hazaras", "railway projects", "fuel exports",
          "diplomatic recognition", "the Chabahar port", "Soleimani", "weapons shipments", "training camps",
          "visas for fighters", "the Kabul embassy", "mining deals", "media coverage"]


def base_questions() -> list[str]:
    """The questions the log is filled with: templates and background questions, and the evaluation questions when
    the optional evaluation files are checked out beside the repository (a folder shared/eval next to its folder)."""
    files = [ROOT.parent / "shared" / "eval" / name for name in ("dev.jsonl", "dev2.jsonl")]
    evaluation = [json.loads(line)["question"] for path in files if path.exists()
                  for line in path.read_text(encoding="utf-8").splitlines()]
    templated = [f"What does {actor} say about {topic}?" for actor in ACTORS for topic in TOPICS]
    return evaluation + list(BACKGROUND_QUESTIONS) + templated


def noisy(base: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` unit vectors at a cosine of about 0.9 to `base`."""
    sigma = np.sqrt((1 / 0.9**2 - 1) / base.shape[0])
    vectors = base + rng.normal(0, sigma, size=(count, base.shape[0])).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fill(where: Location, bases: list[str], vectors: np.ndarray, model: str, all_gaps: bool) -> None:
    """LOGGED questions over 90 days, written through QuestionLog as the bot writes them."""
    rng = np.random.default_rng(7)
    chooser = random.Random(7)
    log = QuestionLog.open(where, days=90, homes=[1])
    now = time.time()
    picks = rng.integers(0, len(bases), size=LOGGED)
    noise = np.concatenate([noisy(vectors[b], rng, 1) for b in picks])
    for n in range(LOGGED):
        roll = chooser.random()
        outcome = ("not_answered" if all_gaps else "answered" if roll < 0.60 else "not_answered" if roll < 0.85
                   else "off_topic" if roll < 0.95 else "refused")
        private = not all_gaps and chooser.random() < 0.02
        shown = chooser.sample(range(5), 3) if outcome == "answered" else []
        quoted = tuple((f"chunk{k}", f"00{k}.txt") for k in shown)
        log.record(Entry(id=n + 1, asked_at=now - chooser.random() * 89 * DAY_SECONDS, guild_id=1, channel_id=2,
                         user_id=chooser.randrange(5000), via="slash", question=f"{bases[picks[n]]} (#{n})",
                         private=private, outcome=outcome, quoted=quoted,
                         missing=("drones",) if outcome == "not_answered" and n % 3 == 0 else (),
                         generation=1, latency_ms=chooser.uniform(200, 3000), vector=noise[n], model=model))
        if outcome == "answered" and chooser.random() < 0.05:
            log.vote(n + 1, chooser.randrange(5000), 1, helpful=chooser.random() < 0.7)
        if n % 1000 == 999:
            log.flush(timeout=120)  # a burst of 100,000 would overflow the queue
    log.close()


def timed(function: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    embedder = SentenceTransformerEmbedder.load()  # builds and the base questions use the reference model
    bases = base_questions()
    vectors = embedder.encode(bases)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        index = IndexSettings(_env_file=None, seeds_dir=ROOT / "seeds", chroma_path=tmp / "chroma")  # type: ignore[call-arg]
        build(index.seeds_dir, Store.open(index), embedder)
        remembering = VectorKeepingEmbedder(question_embedder(index))  # the bot embeds questions so
        on_the_loop(Searcher.open(index, remembering), remembering, tmp)
        in_the_writer(vectors[0], tmp)
        for name, all_gaps in (("realistic mix", False), ("every question a gap", True)):
            path = tmp / f"{name}.sqlite3"
            reports_of(Location(path=path), f"SQLite, {name}", bases, vectors, embedder, all_gaps)
            if "--postgres" in sys.argv:
                with running_cluster() as cluster:
                    assert cluster is not None, "--postgres needs PostgreSQL installed (initdb)"
                    where = Location(url=SecretStr(cluster.create_database()), key=SecretStr("ab" * 32))
                    reports_of(where, f"PostgreSQL, {name}", bases, vectors, embedder, all_gaps)


def on_the_loop(searcher: Searcher, remembering: VectorKeepingEmbedder, tmp: Path) -> None:
    """The logging step after a warm search, as the Ask cog takes it on the event loop, with the log on and off."""
    on = QuestionLog.open(tmp / "loop.sqlite3", days=90, homes=[1])
    off = QuestionLog.disabled("off")
    figures: dict[str, tuple[list[float], list[float]]] = {"on": ([], []), "off": ([], [])}
    for n in range(600):  # alternating, so both see the same machine
        name, log = ("on", on) if n % 2 else ("off", off)
        asked = Asked(1, 2, 3, "slash")
        start = time.perf_counter()
        answer = searcher.search(QUESTION, limit=3)
        searched = time.perf_counter()
        log.record(asked.entry(answer.question, "answered",
                               quoted=tuple((h.chunk.id, h.source.id) for h in answer.hits),
                               generation=1, latency_ms=10.0, vector=remembering.recall(answer.question),
                               model=remembering.name))
        done = time.perf_counter()
        figures[name][0].append(done - searched)
        figures[name][1].append(done - start)
    on.close()
    for name, (logging_times, totals) in figures.items():
        print(f"log {name}: the logging step {statistics.median(logging_times) * 1e3:.3f} ms median, "
              f"{sorted(logging_times)[int(len(logging_times) * 0.99)] * 1e3:.3f} ms p99; search and logging "
              f"{statistics.mean(totals) * 1e3:.2f} ms mean, {statistics.median(totals) * 1e3:.2f} ms median")


def in_the_writer(vector: np.ndarray, tmp: Path) -> None:
    """The writer thread's time per question: one transaction each, and a burst of WRITES."""
    entries = [Entry(id=n + 1, asked_at=time.time(), guild_id=1, channel_id=2, user_id=n, via="slash",
                     question=f"{QUESTION} {n}", private=False, outcome="answered",
                     quoted=(("a", "1"), ("b", "2"), ("c", "3")), generation=1, latency_ms=10.0,
                     vector=vector, model="m") for n in range(WRITES)]
    one = QuestionLog.open(tmp / "one.sqlite3", days=90, homes=[1])
    start = time.perf_counter()
    for entry in entries:
        one.record(entry)
        one.flush()
    single = (time.perf_counter() - start) / WRITES
    one.close()
    burst = QuestionLog.open(tmp / "burst.sqlite3", days=90, homes=[1])
    start = time.perf_counter()
    for entry in entries:
        burst.record(entry)
    burst.flush(timeout=120)
    batched = (time.perf_counter() - start) / WRITES
    burst.close()
    print(f"in the writer thread, per question: {single * 1e3:.3f} ms one at a time (a transaction each), "
          f"{batched * 1e3:.3f} ms in a burst of {WRITES:,}")


def reports_of(where: Location, name: str, bases: list[str], vectors: np.ndarray, embedder: Embedder,
               all_gaps: bool) -> None:
    """Fills a log with LOGGED questions, then times gaps and stats over it."""
    start = time.perf_counter()
    fill(where, bases, vectors, embedder.name, all_gaps)
    filled = time.perf_counter() - start
    with closing(open_database(where, read_only=True)) as database:
        gaps_seconds = timed(lambda: reports.gaps(database, 90, lambda: embedder, embedder.name))
        stats_seconds = timed(lambda: reports.stats(database, 90))
        found = reports.gaps(database, 90, lambda: embedder, embedder.name)
    print(f"{LOGGED:,} logged questions ({name}; written in {filled:.0f} s): "
          f"gaps {gaps_seconds:.2f} s ({found.questions:,} questions in {len(found.groups):,} groups), "
          f"stats {stats_seconds:.2f} s", flush=True)


if __name__ == "__main__":
    main()
