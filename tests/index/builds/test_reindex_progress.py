"""Progress on long builds: the CLI shows a bar per stage on a terminal, and the build reports every stage."""

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from index.builds.pipeline import build
from index.builds.report import Progress
from index.store.chroma import Store
from tests.conftest import ROOT, FakeEmbedder, make_settings


def test_the_build_reports_progress_through_every_stage(tmp_path: Path, seeds_copy: Path):
    """Each stage reports counts that rise to its total, in the order reading, embedding, writing, corroborating,
    saving (the new generation's files), validating."""
    seen: list[Progress] = []
    build(seeds_copy, Store.open(make_settings(tmp_path, seeds_copy)), FakeEmbedder(), progress=seen.append)
    stages = list(dict.fromkeys(p.stage for p in seen))
    assert stages == ["reading", "embedding", "writing", "corroborating", "saving", "validating"]
    for stage in stages:
        counts = [p.done for p in seen if p.stage == stage]
        assert counts == sorted(counts) and counts[-1] == next(p.total for p in seen if p.stage == stage)


def build_on_a_terminal(env: dict[str, str]) -> tuple[bytes, str]:
    """`python -m index build` with a terminal 100 columns wide on stderr: what it drew there, and its stdout."""
    controller, terminal = pty.openpty()
    # A real terminal has a size; tqdm draws nothing on one 0 columns wide, which a bare pty is.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "index", "build"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    drawn = b""
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError:  # the terminal closes with the process
            break
        if not data:
            break
        drawn += data
    stdout, _ = process.communicate(timeout=600)
    os.close(controller)
    assert process.returncode == 0
    return drawn, stdout.decode()


@pytest.mark.slow
def test_the_cli_says_what_each_long_step_does_on_a_terminal(tmp_path: Path, seeds_copy: Path):
    """A first build on a terminal draws a bar per stage, says it loads the model only while it does (after
    reading, before embedding), then says what the one-time ONNX export does, how long it takes and took. A build
    with nothing changed reads the corpus, then neither loads the model nor embeds nor exports."""
    env = {**os.environ, "SEEDS_DIR": str(seeds_copy), "CHROMA_PATH": str(tmp_path / "chroma"),
           "ONNX_CACHE": str(tmp_path / "onnx"), "HF_HUB_OFFLINE": "1"}
    drawn, summary = build_on_a_terminal(env)
    loading = drawn.index("Loading the embedding model…".encode())
    loaded = drawn.index(b"Loaded the embedding model in")
    assert drawn.index(b"reading") < loading < loaded < drawn.index(b"embedding:")
    assert drawn[loading:loaded].endswith(b"\r\x1b[K")  # the loading line is wiped once the model is loaded
    for stage in (b"writing", b"validating"):
        assert stage in drawn
    assert b"item/s" in drawn or b"it/s" in drawn
    exporting = drawn.index(b"Exporting all-MiniLM-L6-v2 to ONNX, once per model, so that questions are embedded "
                            b"without torch; it takes from 10 s to a minute")
    assert exporting < drawn.index(b"tracing the transformer") < drawn.index(b"Done in ")
    assert re.search(rb"Done in \d+ s: matches sentence-transformers \(lowest cosine", drawn)
    assert summary.startswith("Indexed 5 documents")

    drawn, summary = build_on_a_terminal(env)
    assert b"Loading" not in drawn and b"embedding" not in drawn and b"Exporting" not in drawn
    assert summary.startswith("Nothing changed: generation 1 stays live")
