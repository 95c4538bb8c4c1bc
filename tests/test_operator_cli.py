"""Operator faults through the command lines, run as subprocesses with the real model: the exit status and the
message say what happened, the old answers are still served, and no traceback is printed."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.settings import IndexSettings
from tests.conftest import ROOT, SEEDS, copy_of_seed_index
from tests.pseudo_terminal import PseudoTerminal

pytestmark = pytest.mark.slow

SEED_TITLES = [tomllib.loads((SEEDS / "sources.toml").read_text(encoding="utf-8"))[name]["title"]
               for name in sorted(p.name for p in SEEDS.glob("*.txt"))]  # in source id order, as listed
QUESTIONS = "How many Taliban fighters got Iranian visas?\nWhat is the capital of Peru?\n"


def run(args: list[str], env: dict[str, str], stdin: str | None = None,
        cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], input=stdin, capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def environment(seeds: Path, chroma: Path) -> dict[str, str]:
    env = {**os.environ, "SEEDS_DIR": str(seeds), "CHROMA_PATH": str(chroma), "HF_HUB_OFFLINE": "1"}
    env.pop("DISCORD_TOKEN", None)
    return env


def answers(env: dict[str, str]) -> list[dict]:
    result = run(["bot", "ask", "--format", "json", "-"], env, stdin=QUESTIONS)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, seeds_settings: IndexSettings) -> tuple[Path, list[dict]]:
    """A copy of the session's seed index, and what `bot ask` answers from it."""
    chroma = copy_of_seed_index(seeds_settings, tmp_path_factory.mktemp("operator"))
    return chroma, answers(environment(SEEDS, chroma))


@pytest.fixture
def live(built: tuple[Path, list[dict]], tmp_path: Path) -> tuple[Path, list[dict]]:
    """A copy of the built index for one test to break."""
    chroma, before = built
    shutil.copytree(chroma, tmp_path / "chroma")
    return tmp_path / "chroma", before


def test_empty_and_mistyped_seeds_dir_keep_the_old_answers(live: tuple[Path, list[dict]], tmp_path: Path):
    """Empty folder and .md-only folder: exit 3, not switched, said once; a file or a missing folder: exit 1; the
    answers stay."""
    chroma, before = live
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "iran.md").write_text("# Iran\n\nIran and the Taliban met.\n", encoding="utf-8")
    (tmp_path / "corpus.txt").write_text("Iran and the Taliban met in Kabul, officials said.\n", encoding="utf-8")
    cases = {"empty": (3, "holds no .txt files (it is empty)"), "notes": (3, "holds no .txt files (it holds .md"),
             "corpus.txt": (1, "is a file, not a folder"), "sedes": (1, "which does not exist")}
    for name, (status, words) in cases.items():
        as_json = name != "empty"
        result = run(["index", "build", *(["--json"] if as_json else [])], environment(tmp_path / name, chroma))
        assert result.returncode == status, (name, result.stderr)
        if status == 3:  # a held build's reasons are in its summary or report, not again as a log line
            assert (result.stdout + result.stderr).count(words) == 1
        assert "Traceback" not in result.stderr
        if not as_json:
            assert result.stdout.startswith("Not switched: generation 1 stays live.") and "--force" in result.stdout
        elif status == 3:
            report = json.loads(result.stdout.splitlines()[-1])
            assert report["switched"] is False and report["reasons"][0]["code"] == "no_documents"
    assert answers(environment(SEEDS, chroma)) == before


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs, the smallest real full disk; skipped where this user may not mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_named_and_the_answers_come_back_once_space_is_freed(built: tuple[Path, list[dict]],
                                                                            small_disk: Path, tmp_path: Path):
    """On a real full disk the build and `ask` say the disk is full; after freeing space, the old answers return."""
    chroma, before = built
    store = small_disk / "chroma"
    shutil.copytree(chroma, store)
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    for n in range(2):  # more passages than what is left of the disk can hold
        paragraphs = [f"Report {n}, part {i}: officials in Herat and Kabul discussed water, trade and the border "
                      f"crossing at length on day {i}, delegates from both sides said afterwards." for i in range(120)]
        (seeds / f"big{n}.txt").write_text(f"Report {n}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (shutil.disk_usage(small_disk).free - 300_000))
    env = environment(seeds, store)
    result = run(["index", "build"], env)
    assert result.returncode == 1, result.stderr
    assert f"error: The disk holding {store} is full. Free some space" in result.stderr
    assert "Traceback" not in result.stderr
    # Reading may need room to replay the failed build's log: then `ask` says so, else it answers as before.
    full = run(["bot", "ask", "--format", "json", "-"], environment(SEEDS, store), stdin=QUESTIONS)
    assert "Traceback" not in full.stderr
    if full.returncode:
        assert full.returncode == 1 and "is full. Free some space" in full.stderr
    else:
        assert [json.loads(line) for line in full.stdout.splitlines()] == before
    filler.unlink()
    assert answers(environment(SEEDS, store)) == before


def test_blank_lines_are_skipped_and_no_answer_lists_what_the_corpus_covers(built: tuple[Path, list[dict]]):
    """Piped blank lines are not questions (exit 0); a question with no answer is told what the corpus covers."""
    chroma, _ = built
    stdin = "\n" + QUESTIONS.replace("\n", "\n\n   \n", 1) + "\t\n"
    result = run(["bot", "ask", "-"], environment(SEEDS, chroma), stdin=stdin)
    assert result.returncode == 0 and result.stderr == ""
    visas, peru = result.stdout.strip().split("\n\nQ: ")
    assert visas.startswith("Q: How many Taliban fighters") and "more than 300 visas" in visas
    lines = peru.splitlines()
    assert lines[2:4] == ["Off topic: the corpus does not cover this.",
                          "It covers these sources; try asking in their terms:"]
    assert lines[4:] == [f"  • {title}" for title in SEED_TITLES]


def test_ask_from_another_folder_uses_the_project_paths(built: tuple[Path, list[dict]], tmp_path: Path):
    """Run elsewhere, relative SEEDS_DIR and CHROMA_PATH still mean the project's; a wrong store is not created."""
    chroma, before = built
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = os.path.relpath(chroma, ROOT)
    env = {**environment(Path("seeds"), Path(relative)), "PYTHONPATH": str(ROOT)}
    result = run(["bot", "ask", "--format", "json", "-"], env, stdin=QUESTIONS, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == before
    missing = run(["bot", "ask", "anything"], {**env, "CHROMA_PATH": "data/no-such-index"}, cwd=elsewhere)
    assert missing.returncode == 1 and "There is no index at" in missing.stderr
    assert list(elsewhere.iterdir()) == [] and not (ROOT / "data" / "no-such-index").exists()


def test_the_terminal_says_it_is_loading_then_ready(built: tuple[Path, list[dict]]):
    """In a terminal, `ask -` shows "Loading the model…", then "Ready." and its prompt, answers, and prompts again."""
    chroma, _ = built
    session = PseudoTerminal([sys.executable, "-m", "bot", "ask", "-"], environment(SEEDS, chroma), ROOT)
    shown = session.expect(b"\n> ")
    assert shown.index("Loading the model…".encode()) < shown.index(b"Ready.")
    session.type(b"How many Taliban fighters got Iranian visas?\n")
    assert b"more than 300 visas" in session.expect(b"\n> ")
    session.type(b"\x04")  # Ctrl-D
    assert session.close() == 0
    assert b"Traceback" not in session.seen
