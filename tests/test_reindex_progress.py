"""Progress on long builds: the CLI shows a bar per stage on a terminal, and the build reports every stage."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from index.build import Progress, build
from index.store import Store
from tests.conftest import ROOT, FakeEmbedder, make_settings


def test_the_build_reports_progress_through_every_stage(tmp_path: Path, seeds_copy: Path):
    """Each stage reports counts that rise to its total, in the order reading, embedding, writing, validating."""
    seen: list[Progress] = []
    build(seeds_copy, Store.open(make_settings(tmp_path, seeds_copy)), FakeEmbedder(), progress=seen.append)
    stages = list(dict.fromkeys(p.stage for p in seen))
    assert stages == ["reading", "embedding", "writing", "validating"]
    for stage in stages:
        counts = [p.done for p in seen if p.stage == stage]
        assert counts == sorted(counts) and counts[-1] == next(p.total for p in seen if p.stage == stage)


@pytest.mark.slow
def test_the_cli_draws_progress_bars_on_a_terminal(tmp_path: Path, seeds_copy: Path):
    """`python -m index build` on a terminal says it loads the model, draws tqdm bars, and prints its summary."""
    env = {**os.environ, "SEEDS_DIR": str(seeds_copy), "CHROMA_PATH": str(tmp_path / "chroma"),
           "HF_HUB_OFFLINE": "1"}
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
    stdout, _ = process.communicate(timeout=300)
    os.close(controller)
    assert process.returncode == 0
    assert drawn.startswith("Loading the embedding model…".encode())  # nothing silent while the model loads
    for stage in (b"reading", b"embedding", b"writing", b"validating"):
        assert stage in drawn
    assert b"item/s" in drawn or b"it/s" in drawn
    assert stdout.decode().startswith("Indexed 5 documents")
