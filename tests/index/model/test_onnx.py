"""Questions embedded without torch: the ONNX export matches sentence-transformers, and the query processes
(`bot ask` and the bot) never import torch, transformers or sentence-transformers."""

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.model.background import BACKGROUND_QUESTIONS
from index.model.embedding import SentenceTransformerEmbedder, bundled_model_path
from index.model.onnx_export import MIN_COSINE, corpus_passages, ensure_export, question_file
from index.model.onnx_model import OnnxEmbedder, export_folder, pool, question_embedder, read_manifest
from index.settings import IndexSettings
from tests.conftest import EVAL, NO_EVAL, ROOT, SEEDS

HEAVY = ("torch", "transformers", "sentence_transformers")
UNUSED_BY_QUESTIONS = (*HEAVY, "chromadb")  # a question process reads the generation's files, the pointer by itself
QUESTION = "How many Taliban fighters got Iranian visas?"


def onnx_settings(cache: Path, model: str | None = None) -> IndexSettings:
    extra = {"embedding_model": model} if model else {}
    return IndexSettings(_env_file=None, seeds_dir=SEEDS, onnx_cache=cache, **extra)  # type: ignore[call-arg]


def model_copy(tmp_path: Path) -> Path:
    """The bundled model's files in a folder of its own (weights linked, not copied), to be edited."""
    folder = tmp_path / "model"
    shutil.copytree(bundled_model_path(), folder, ignore=shutil.ignore_patterns("model.safetensors"))
    (folder / "model.safetensors").symlink_to(bundled_model_path() / "model.safetensors")
    return folder


def test_mean_pooling_ignores_padding() -> None:
    """Mean pooling averages only the real tokens of each text, not its padding."""
    tokens = np.array([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]]], dtype=np.float32)
    assert pool(tokens, np.array([[1, 1, 0]]), "mean").tolist() == [[2.0, 1.0]]
    assert pool(tokens, np.array([[1, 1, 0]]), "max").tolist() == [[3.0, 2.0]]
    assert pool(tokens, np.array([[1, 1, 0]]), "cls").tolist() == [[1.0, 0.0]]


def test_question_files_read_jsonl_or_plain_lines(tmp_path: Path) -> None:
    """`index export --check` reads the evaluation sets' JSON Lines, or plain questions one a line."""
    path = tmp_path / "questions"
    path.write_text('{"id": "q1", "question": "Who trains them?"}\n\nWhere is Herat?\n', encoding="utf-8")
    assert question_file(path) == ["Who trains them?", "Where is Herat?"]


@pytest.fixture(scope="session")
def onnx_embedder(embedder: SentenceTransformerEmbedder) -> OnnxEmbedder:
    """The ONNX export of the bundled model, made (once per model hash) in the project's data/onnx."""
    folder, manifest = ensure_export(onnx_settings(ROOT / "data" / "onnx"), embedder)
    assert manifest.status == "ok", manifest.reason
    return OnnxEmbedder(folder, manifest, embedder.name)


@pytest.mark.slow
@pytest.mark.skipif(not EVAL.exists(), reason=NO_EVAL)
def test_onnx_matches_sentence_transformers(embedder: SentenceTransformerEmbedder,
                                            onnx_embedder: OnnxEmbedder) -> None:
    """On every seed passage and dev question, alone or in a batch, cosine with sentence-transformers ≥ 0.9999."""
    questions = [q for path in sorted(EVAL.glob("*.jsonl")) for q in question_file(path)]
    texts = corpus_passages(SEEDS) + questions
    assert len(questions) >= 60 and len(texts) > 140
    expected = embedder.encode(texts)
    batched = onnx_embedder.encode(texts)
    alone = np.concatenate([onnx_embedder.encode([t]) for t in texts])
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(expected * batched, axis=1))) >= MIN_COSINE
    assert float(np.min(np.sum(expected * alone, axis=1))) >= MIN_COSINE


ASK = """
import json, runpy, sys
sys.argv = ["bot", "ask", "--format", "json", sys.argv[1]]
try:
    runpy.run_module("bot", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})), file=sys.stderr)
""".replace("{heavy}", repr(set(UNUSED_BY_QUESTIONS)))


@pytest.mark.slow
def test_bot_ask_never_imports_torch(seeds_settings: IndexSettings, tmp_path: Path) -> None:
    """With no export yet, `bot ask` makes one in a child process and answers; torch never enters its own process,
    nor chromadb (the generation's files are there, and the pointer is read from the store's file)."""
    cache = tmp_path / "onnx"
    env = {**os.environ, "SEEDS_DIR": str(SEEDS), "CHROMA_PATH": str(seeds_settings.chroma_path),
           "ONNX_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    for run in ("exports", "reuses"):
        done = subprocess.run([sys.executable, "-c", ASK, QUESTION], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=600, check=True)
        answer = json.loads(done.stdout)
        assert answer["answered"] and "more than 300 visas" in answer["passages"][0]["quote"]
        assert json.loads(done.stderr.splitlines()[-1]) == [], run
        exports = [p for p in cache.iterdir() if p.is_dir()]
        assert len(exports) == 1 and read_manifest(exports[0]) is not None
        manifest = read_manifest(exports[0])
        assert manifest is not None and manifest.status == "ok"
        if run == "exports":
            first = manifest
    assert manifest == first  # the second process found the export and did not make it again


BOT = """
import asyncio, json, sys
from pydantic import SecretStr
from bot import client
from bot.settings import Settings
from index.builds.child import build_in_child

async def start(self, token, *, reconnect=True):
    await self.setup_hook()
    answer = await asyncio.to_thread(self.searcher.search, sys.argv[1])
    report = await asyncio.to_thread(build_in_child, self.settings, self.searcher.embedder.recipe(), built_by="test")
    print(json.dumps({"answered": answer.answered, "cogs": sorted(self.cogs), "rebuilt": report.documents,
                      "embedder": type(self.searcher.embedder.inner).__name__,  # inside the log's VectorKeepingEmbedder
                      "heavy": sorted(m for m in sys.modules if m.split(".")[0] in {heavy})}))

client.Dossier.start = start  # everything `python -m bot` does but connecting to Discord
asyncio.run(client.main(Settings(), SecretStr("not-a-token")))
""".replace("{heavy}", repr(set(UNUSED_BY_QUESTIONS)))


@pytest.mark.slow
def test_bot_never_imports_torch(seeds_settings: IndexSettings, onnx_embedder: OnnxEmbedder, tmp_path: Path) -> None:
    """The bot, started as `python -m bot` starts it, answers with ONNX and reindexes (in a child), without torch and
    without chromadb (which the build, in its own process, imports)."""
    env = {**os.environ, "SEEDS_DIR": str(SEEDS), "CHROMA_PATH": str(seeds_settings.chroma_path),
           "ONNX_CACHE": str(ROOT / "data" / "onnx"), "HF_HUB_OFFLINE": "1",
           "DATABASE_PATH": str(tmp_path / "questions.sqlite3")}
    done = subprocess.run([sys.executable, "-c", BOT, QUESTION], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    assert report == {"answered": True, "cogs": ["Ask", "Check", "Compare", "Help", "Moderation", "Privacy"],
                      "rebuilt": 5, "embedder": "OnnxEmbedder", "heavy": []}


@pytest.mark.slow
def test_model_that_cannot_be_exported_falls_back_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A model whose pooling the ONNX path does not do is embedded by sentence-transformers, said once in the log."""
    folder = model_copy(tmp_path)
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_mean_sqrt_len_tokens=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    settings = onnx_settings(tmp_path / "onnx", str(folder))
    with caplog.at_level(logging.WARNING, logger="index"):
        first = question_embedder(settings)  # the export runs in a child, which records why it cannot be done
        [export] = [p for p in settings.onnx_cache.iterdir() if p.is_dir()]
        assert getattr(read_manifest(export), "status", None) == "unsupported"
        second = question_embedder(settings)  # finds that record: no second child
    assert isinstance(first, SentenceTransformerEmbedder) and isinstance(second, SentenceTransformerEmbedder)
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and r.name.startswith("index")]
    assert len(warnings) == 2 and warnings[0] == warnings[1]  # one line per process start
    assert "sentence-transformers, not ONNX" in warnings[0] and "mean_sqrt_len" in warnings[0]


@pytest.mark.slow
def test_export_that_differs_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A model whose config adds a prompt the graph does not see fails the check; questions fall back."""
    folder = model_copy(tmp_path)
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: "}, "default_prompt_name": "query"}))
    settings = onnx_settings(tmp_path / "onnx", str(folder))
    _, manifest = ensure_export(settings)
    assert manifest.status == "mismatch" and manifest.min_cosine < MIN_COSINE
    with caplog.at_level(logging.WARNING, logger="index"):
        assert isinstance(question_embedder(settings), SentenceTransformerEmbedder)
    [warning] = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and r.name.startswith("index")]
    assert "differs from sentence-transformers" in warning


SCORED = ["dev.jsonl", "dev2.jsonl"]


@pytest.fixture(scope="module")
def answers_by_backend(seeds_settings: IndexSettings, onnx_embedder: OnnxEmbedder) -> dict[str, list[str]]:
    """`bot ask --format json -` over the questions of SCORED, through each backend: one process each, one answer
    line per question, in order."""
    questions = [q for name in SCORED for q in question_file(EVAL / name)]
    found = {}
    for backend in ("onnx", "sentence-transformers"):
        env = {**os.environ, "SEEDS_DIR": str(SEEDS), "CHROMA_PATH": str(seeds_settings.chroma_path),
               "ONNX_CACHE": str(ROOT / "data" / "onnx"), "EMBEDDING_BACKEND": backend, "HF_HUB_OFFLINE": "1"}
        found[backend] = subprocess.run([sys.executable, "-m", "bot", "ask", "--format", "json", "-"],
                                        input="\n".join(questions) + "\n", env=env, cwd=ROOT, capture_output=True,
                                        text=True, check=True).stdout.splitlines()
        assert len(found[backend]) == len(questions)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not EVAL.exists(), reason=NO_EVAL)
@pytest.mark.parametrize("questions", SCORED)
def test_scorer_figures_are_the_same_as_with_sentence_transformers(
        answers_by_backend: dict[str, list[str]], tmp_path: Path, questions: str) -> None:
    """The evaluation files' scorer prints the same figures for answers through ONNX as through
    sentence-transformers."""
    start = sum(len(question_file(EVAL / name)) for name in SCORED[:SCORED.index(questions)])
    count = len(question_file(EVAL / questions))
    scores = {}
    for backend, answers in answers_by_backend.items():
        (tmp_path / backend).write_text("\n".join(answers[start : start + count]) + "\n", encoding="utf-8")
        scores[backend] = subprocess.run([sys.executable, str(EVAL / "score.py"), str(EVAL / questions),
                                          str(tmp_path / backend), str(SEEDS)], capture_output=True, text=True).stdout
    print(scores["onnx"])
    assert scores["onnx"] == scores["sentence-transformers"] and "hit@3" in scores["onnx"]


@pytest.mark.slow
def test_export_check_says_what_it_does_as_it_goes(onnx_embedder: OnnxEmbedder, tmp_path: Path) -> None:
    """`index export --check FILE` on a model exported already says, a line per step, that it checks the export
    on so many texts, loads the model, embeds the texts with each, and how it came out, in how many seconds."""
    exported = export_folder(onnx_settings(ROOT / "data" / "onnx"))  # made by the onnx_embedder fixture
    shutil.copytree(exported, tmp_path / "onnx" / exported.name)  # a copy, since the check writes its findings
    env = {**os.environ, "SEEDS_DIR": str(SEEDS), "ONNX_CACHE": str(tmp_path / "onnx"), "HF_HUB_OFFLINE": "1"}
    export = [sys.executable, "-m", "index", "export"]
    questions = tmp_path / "questions.txt"
    questions.write_text(f"{QUESTION}\nWho trains Taliban fighters in Iran?\n", encoding="utf-8")
    done = subprocess.run([*export, "--check", str(questions)], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    texts = len(corpus_passages(SEEDS)) + len(BACKGROUND_QUESTIONS) + 2
    expected = [rf"Checking the ONNX export of all-MiniLM-L6-v2 against sentence-transformers on {texts} texts…",
                r"Loading the embedding model…", r"Loaded the embedding model in \d+\.\d s\.",
                rf"  embedding {texts} texts with sentence-transformers…",
                r"  embedding them with the ONNX export, in batches, then one at a time…",
                rf"Done in \d+ s: matches sentence-transformers \(lowest cosine 0\.9999\d+ over {texts} texts\)"]
    lines = done.stderr.splitlines()
    assert len(lines) == len(expected), done.stderr
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
