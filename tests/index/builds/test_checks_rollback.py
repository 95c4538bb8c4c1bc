"""Moderators' checks before a switch, and rollback to the previous generation: over a real embedded Chroma store
with the fast fake embedder, and through `python -m index` with the real model."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.text import answer_json
from index.builds.moderator_checks import MAX_CHECKS, CheckError, read_checks
from index.builds.pipeline import build
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import NothingToRollBack, Store
from index.store.pointer import PREVIOUS_ID
from tests.conftest import ROOT, FakeEmbedder, copy_of_seed_index, make_settings

HERAT = "004_9fd61aad6fe509e9.txt"
PERU = "What is the capital of Peru?"


@pytest.fixture
def index(tmp_path: Path, seeds_copy: Path) -> IndexSettings:
    return make_settings(tmp_path, seeds_copy)


def passage_of(store: Store, source_id: str) -> str:
    """A passage of `source_id` in the live index: the fake embedder answers with it when asked its words."""
    searcher = Searcher(store, FakeEmbedder())
    return next(c.text for c in searcher.index.chunks if c.source_id == source_id and 200 < len(c.text) < 1000)


def write_checks(seeds: Path, *checks: tuple[str, str | None]) -> None:
    """checks.toml with (question, source) checks; a None source means `unanswered = true`."""
    expect = [f"source = {json.dumps(source)}" if source else "unanswered = true" for _, source in checks]
    tables = [f"[[check]]\nquestion = {json.dumps(question)}\n{line}\n" for (question, _), line in zip(checks, expect,
                                                                                                     strict=True)]
    (seeds / "checks.toml").write_text("\n".join(tables), encoding="utf-8")


def answers(store: Store, questions: list[str]) -> list[str]:
    """What the live index answers, as `bot ask --format json` prints it."""
    searcher = Searcher(store, FakeEmbedder())
    return [answer_json(searcher.search(question)) for question in questions]


def test_a_build_that_breaks_a_check_is_not_switched_and_force_switches(
        index: IndexSettings, seeds_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Removing the source a check expects holds the build back: the report names the check and what came instead,
    the live generation and its answers stay; `force` switches, and the override is logged."""
    store = Store.open(index)
    build(seeds_copy, store, FakeEmbedder())
    herat = passage_of(store, HERAT)
    write_checks(seeds_copy, (herat, HERAT), (PERU, None))
    first = build(seeds_copy, store, FakeEmbedder())
    assert first.checks is None and not first.switched  # nothing changed: nothing to check
    before = answers(store, [herat, PERU])

    (seeds_copy / HERAT).unlink()
    held = build(seeds_copy, store, FakeEmbedder())
    assert (held.switched, held.held, held.generation) == (False, True, 1)
    report = held.to_json()
    assert report["switched"] is False and report["checks"]["passed"] == 1
    (failed,) = report["checks"]["failed"]
    assert failed["question"] == herat and failed["expected"] == HERAT and HERAT not in failed["got"]
    assert failed["regressed"] is True and len(failed["got"]) <= 3
    assert store.pointer().generation == 1 and answers(store, [herat, PERU]) == before  # type: ignore[union-attr]

    with caplog.at_level(logging.WARNING, logger="index"):
        forced = build(seeds_copy, store, FakeEmbedder(), built_by="moderator Ana", force=True)
    assert forced.switched and forced.generation == 2 and not forced.held
    assert "forced by moderator Ana" in caplog.text and herat[:40] in caplog.text
    assert HERAT not in {s.id for s, _ in Searcher(store, FakeEmbedder()).sources()}


def test_a_check_that_failed_already_does_not_hold_a_build(index: IndexSettings, seeds_copy: Path) -> None:
    """A check that fails on the live index too is reported, not a reason to keep the old index."""
    write_checks(seeds_copy, ("Who ordered the attacks in Herat?", "999_not_a_source.txt"))
    store = Store.open(index)
    first = build(seeds_copy, store, FakeEmbedder())
    assert first.switched and first.checks is not None and len(first.checks.failed) == 1
    (seeds_copy / HERAT).unlink()
    second = build(seeds_copy, store, FakeEmbedder())
    assert second.switched and second.to_json()["checks"]["failed"][0]["regressed"] is False


@pytest.mark.parametrize(("text", "says"), [
    ('[[check]]\nquestion = "Who?"\n', "either `source"),
    ('[[check]]\nquestion = "Who?"\nsource = "a.txt"\nunanswered = true\n', "not both"),
    ('[[check]]\nquestion = ""\nunanswered = true\n', "`question` must be"),
    ('[[check]]\nquestion = "Who?"\nunanswered = false\n', "can only be true"),
    ('[[check]]\nquestion = "Who?"\nsorce = "a.txt"\n', "only `question`"),
    ("[[check]\n", "cannot be read"),
    ("deep = " + "[" * 5000 + "]" * 5000 + "\n", "cannot be read: it is nested too deeply"),
    ('[[check]]\nquestion = "Who?"\nunanswered = true\n' * (MAX_CHECKS + 1),
     f"holds {MAX_CHECKS + 1} checks; keep it within {MAX_CHECKS}"),
])
def test_a_bad_checks_file_stops_the_build_with_what_to_fix(index: IndexSettings, seeds_copy: Path, text: str,
                                                            says: str) -> None:
    """A checks.toml that cannot be used is refused before anything is built, saying which check is wrong."""
    (seeds_copy / "checks.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CheckError, match=says):
        read_checks(seeds_copy)
    store = Store.open(index)
    with pytest.raises(CheckError):
        build(seeds_copy, store, FakeEmbedder())
    assert store.pointer() is None


def test_rollback_restores_the_previous_answers_byte_for_byte(index: IndexSettings, seeds_copy: Path) -> None:
    """After a build that changed the answers, a rollback brings back exactly what was answered before; a second
    rollback is refused, and the next build starts again from the generation rolled back to, numbered past the one
    rolled back from: generation numbers only go up."""
    store = Store.open(index)
    build(seeds_copy, store, FakeEmbedder())
    questions = [passage_of(store, HERAT), passage_of(store, "000_cc1c5ba2909303bf.txt"), PERU]
    before = answers(store, questions)
    (seeds_copy / HERAT).unlink()
    assert build(seeds_copy, store, FakeEmbedder()).generation == 2
    assert answers(store, questions) != before

    pointer = store.rollback("moderator Ana")
    assert (pointer.generation, pointer.built_by) == (1, "command line")
    assert answers(store, questions) == before
    assert HERAT in {s.id for s, _ in Searcher(store, FakeEmbedder()).sources()} and not (seeds_copy / HERAT).exists()
    with pytest.raises(NothingToRollBack, match="nothing to roll back to: generation 1 is the only one kept"):
        store.rollback("moderator Ana")

    again = build(seeds_copy, store, FakeEmbedder())
    assert again.switched and again.generation == 3 and answers(store, questions) != before
    assert store.rollback("cli").generation == 1 and answers(store, questions) == before
    assert build(seeds_copy, store, FakeEmbedder()).generation == 4 and store.pointer().generation == 4  # type: ignore[union-attr]


def test_rollback_refused_when_there_is_nothing_to_roll_back_to(index: IndexSettings, seeds_copy: Path) -> None:
    """An empty store, and a store built once, have no previous generation."""
    store = Store.open(index)
    with pytest.raises(NothingToRollBack, match="never been built"):
        store.rollback("cli")
    build(seeds_copy, store, FakeEmbedder())
    with pytest.raises(NothingToRollBack, match="generation 1 is the only one kept"):
        store.rollback("cli")
    assert store.pointer().generation == 1  # type: ignore[union-attr]


def test_held_and_failed_builds_keep_the_previous_generation(index: IndexSettings, seeds_copy: Path) -> None:
    """A build held back by checks, or one that changed nothing, still leaves the previous generation whole for a
    rollback: only a switch replaces it."""
    store = Store.open(index)
    build(seeds_copy, store, FakeEmbedder())
    herat = passage_of(store, HERAT)
    before = answers(store, [herat])
    (seeds_copy / "000_cc1c5ba2909303bf.txt").unlink()
    build(seeds_copy, store, FakeEmbedder())
    write_checks(seeds_copy, (herat, HERAT))
    (seeds_copy / HERAT).unlink()
    assert build(seeds_copy, store, FakeEmbedder()).held
    (seeds_copy / "checks.toml").unlink()
    (seeds_copy / HERAT).write_text("", encoding="utf-8")  # unreadable: its last good version stays live
    assert not build(seeds_copy, store, FakeEmbedder()).switched
    assert store.pointer(PREVIOUS_ID).generation == 1  # type: ignore[union-attr]
    assert store.rollback("cli").generation == 1 and answers(store, [herat]) == before


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], input=stdin, capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_cli_checks_exit_3_force_and_rollback_byte_for_byte(tmp_path: Path, seeds_copy: Path,
                                                           seeds_settings: IndexSettings) -> None:
    """With the real model through the CLIs: a build that breaks a check exits 3 unswitched, --force switches,
    `index rollback` brings back the earlier `bot ask` output byte for byte, and a second rollback is refused."""
    env = {**os.environ, "SEEDS_DIR": str(seeds_copy), "CHROMA_PATH": str(copy_of_seed_index(seeds_settings, tmp_path)),
           "HF_HUB_OFFLINE": "1"}
    for name in ("CHROMA_HOST", "CHROMA_PORT"):
        env.pop(name, None)
    questions = "Who is behind the murder of the Herat police chief's brother?\nWhat is the capital of Peru?\n"
    before = run(["bot", "ask", "--format", "json", "-"], env, questions)
    assert before.returncode == 0 and HERAT in before.stdout
    write_checks(seeds_copy, ("Who is behind the murder of the Herat police chief's brother?", HERAT), (PERU, None))
    assert json.loads(run(["index", "checks", "--json"], env).stdout) == {"passed": 2, "failed": []}

    (seeds_copy / HERAT).unlink()
    held = run(["index", "build", "--json"], env)
    assert held.returncode == 3, held.stderr
    report = json.loads(held.stdout.splitlines()[-1])
    assert report["switched"] is False and report["generation"] == 1
    assert report["checks"]["passed"] == 1 and report["checks"]["failed"][0]["expected"] == HERAT
    assert run(["bot", "ask", "--format", "json", "-"], env, questions).stdout == before.stdout
    forced = run(["index", "build", "--json", "--force"], env)
    assert forced.returncode == 0 and json.loads(forced.stdout.splitlines()[-1])["switched"] is True
    assert run(["bot", "ask", "--format", "json", "-"], env, questions).stdout != before.stdout

    rolled = run(["index", "rollback", "--json"], env)
    assert rolled.returncode == 0, rolled.stderr
    assert json.loads(rolled.stdout)["generation"] == 1
    assert run(["bot", "ask", "--format", "json", "-"], env, questions).stdout == before.stdout
    again = run(["index", "rollback"], env)
    assert again.returncode == 1 and "nothing to roll back to" in again.stderr and "Traceback" not in again.stderr
