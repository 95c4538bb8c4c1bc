"""Retrieval quality with the real model, scored by the shared scorer against DESIGN.md's thresholds."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SEEDS, SHARED

pytestmark = pytest.mark.slow

EVAL = SHARED / "eval"


@pytest.mark.skipif(not (EVAL / "score.py").exists(), reason="../shared/eval is not beside the checkout")
@pytest.mark.parametrize("name", ["dev", "dev2"])
def test_dev_sets_meet_design_thresholds(tmp_path, name):
    """Through the CLI, each dev file reaches DESIGN.md's thresholds: hit@3, MRR, coverage, answered, abstained."""
    DEV = EVAL / f"{name}.jsonl"
    env = {**os.environ, "SEEDS_DIR": str(SEEDS), "CHROMA_PATH": str(tmp_path / "chroma"), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "index", "build"], env=env, cwd=ROOT, check=True, capture_output=True)
    questions = "\n".join(json.loads(line)["question"] for line in DEV.read_text(encoding="utf-8").splitlines())
    answers = subprocess.run([sys.executable, "-m", "bot", "ask", "--format", "json", "-"], input=questions,
                             env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    (tmp_path / "answers.jsonl").write_text(answers, encoding="utf-8")
    score = subprocess.run([sys.executable, str(SHARED / "eval" / "score.py"), str(DEV),
                            str(tmp_path / "answers.jsonl"), str(SEEDS)], capture_output=True, text=True)
    print(score.stdout)
    assert score.returncode == 0, score.stdout
