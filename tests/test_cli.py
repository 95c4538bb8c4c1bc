"""The command-line contracts of DESIGN.md: `python -m index build` and `python -m bot ask`, run as a user would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow

PASSAGE_KEYS = {"quote", "score", "paragraph", "source"}
SOURCE_KEYS = {"id", "title", "outlet", "author", "published", "url"}


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "SEEDS_DIR": str(SEEDS), "CHROMA_PATH": str(data / "chroma"), "HF_HUB_OFFLINE": "1"}
    env.pop("DISCORD_TOKEN", None)
    return env


@pytest.fixture(scope="module")
def first_build(cli_env: dict[str, str]) -> dict:
    result = run(["index", "build", "--json"], cli_env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_build_json_reports_the_contract_counts(first_build):
    """`build --json` ends with one JSON object holding the contract's counts for the five seeds."""
    assert first_build["documents"] == 5
    assert first_build["chunks"] == first_build["embedded"] > 0
    assert (first_build["removed"], first_build["unchanged"], first_build["errors"]) == (0, 0, [])


def test_rebuild_without_changes_embeds_nothing(cli_env, first_build):
    """Building again with the same seeds embeds no passage and reports all documents unchanged."""
    result = run(["index", "build", "--json"], cli_env)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["embedded"], report["unchanged"], report["chunks"]) == (0, 5, first_build["chunks"])


def test_ask_json_answers_each_stdin_line_in_order(cli_env, first_build):
    """`ask --format json -` prints one object per question, in order, with verbatim attributed quotes."""
    questions = ["How many Taliban fighters got Iranian visas?", "Who won the 2014 Tour de France?"]
    result = run(["bot", "ask", "--format", "json", "-"], cli_env, stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["question"] for a in answers] == questions
    visas, off_topic = answers
    assert visas["answered"] and visas["outcome"] == "answered" and visas["related"] == []
    assert visas["confidence"] in ("high", "low") and off_topic["confidence"] == "high"
    assert {k: off_topic[k] for k in ("answered", "outcome", "passages", "related")} == \
        {"answered": False, "outcome": "off_topic", "passages": [], "related": []}
    for passage in visas["passages"]:
        assert set(passage) >= PASSAGE_KEYS and set(passage["source"]) >= SOURCE_KEYS
        assert passage["quote"] in (SEEDS / passage["source"]["id"]).read_text(encoding="utf-8")
    assert "more than 300 visas" in visas["passages"][0]["quote"]


def test_ask_json_not_answered_names_missing_terms_and_related_passages(cli_env, first_build):
    """A question about someone the corpus never names gets no passage, the name as missing, and related
    passages that are verbatim and attributed."""
    result = run(["bot", "ask", "--format", "json", "did zorvanek meet the taliban in herat?"], cli_env)
    answer = json.loads(result.stdout)
    assert (answer["answered"], answer["outcome"], answer["passages"]) == (False, "not_answered", [])
    assert answer["missing"] == ["Zorvanek"]
    assert 1 <= len(answer["related"]) <= 3
    for passage in answer["related"]:
        assert set(passage) >= PASSAGE_KEYS and passage["source"]["title"]
        assert passage["quote"] in (SEEDS / passage["source"]["id"]).read_text(encoding="utf-8")


def test_ask_text_says_what_is_missing_and_labels_related_passages(cli_env, first_build):
    """The terminal says the corpus does not answer, what it never mentions, then related passages as such."""
    result = run(["bot", "ask", "what did zorvanek say about the rocket seized near kandahar?"], cli_env)
    assert "The corpus never mentions Zorvanek." in result.stdout
    assert "Closest passages (related, not an answer):" in result.stdout


def test_ask_text_off_topic_lists_what_the_corpus_covers(cli_env, first_build):
    """Off the corpus's topic, the terminal says that is the ground and lists the source titles, as the Discord reply
    does."""
    result = run(["bot", "ask", "how do I bake bread?"], cli_env)
    assert "Off topic: the corpus does not cover this." in result.stdout
    assert "• Taliban and Iranian Alliance against the West" in result.stdout


def test_compare_lists_every_source_with_its_passage_or_none(cli_env, first_build):
    """`compare --format json` lists all five sources; each passage is verbatim from its own source."""
    result = run(["bot", "compare", "--format", "json", "Iranian", "rifles", "and", "rockets", "for", "the", "Taliban"],
                 cli_env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["topic"] == "Iranian rifles and rockets for the Taliban"
    assert len(report["sources"]) == 5
    for entry in report["sources"]:
        for passage in entry["passages"]:
            assert passage["source"]["id"] == entry["source"]["id"]
            assert passage["quote"] in (SEEDS / entry["source"]["id"]).read_text(encoding="utf-8")
    assert sum(1 for entry in report["sources"] if entry["passages"]) >= 3


def test_ask_text_shows_quote_then_source_line(cli_env, first_build):
    """The terminal format prints the quote and, under it, title, outlet, date and paragraph."""
    result = run(["bot", "ask", "How", "much", "money", "does", "the", "IRGC", "give", "the", "Taliban?"], cli_env)
    assert result.returncode == 0, result.stderr
    first = " ".join(result.stdout.split("\n\n")[1].split())
    assert first.startswith("1. Significant military support") and "$190 million annually." in first
    assert first.endswith("— Taliban and Iran: Does the movement pose a threat to the mullah regime? — "
                          "The Reference (CEMO Center, Paris) · Mohamed Yosry · 2021-08-17 · ¶ 10")


BAD_QUESTIONS = {
    "empty": ("\u200b", "The question is empty"),  # blank lines are skipped; this one only looks blank
    "huge": ("why" * 3333 + "?", "The question is 10,000 characters long"),
    "control characters": ("\x00\x07\x1b\x7f\x08", "The question is empty"),
    "persian": ("چرا ایران از طالبان حمایت می کند؟", "reads English only"),
}


def test_bad_questions_get_a_clear_note_not_a_traceback(cli_env, first_build):
    """Empty, 10,000-character, control-character and Persian questions each get a clear note and no quote."""
    stdin = "\n".join(q for q, _ in BAD_QUESTIONS.values()) + "\n"
    result = run(["bot", "ask", "--format", "json", "-"], cli_env, stdin=stdin)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(BAD_QUESTIONS)
    for (_, expected), answer in zip(BAD_QUESTIONS.values(), answers, strict=True):
        assert not answer["answered"] and answer["passages"] == []
        assert expected in answer["note"]


def test_control_characters_inside_a_question_are_dropped(cli_env, first_build):
    """Stray control characters are removed and the rest of the question is answered."""
    result = run(["bot", "ask", "--format", "json", "How many Taliban\x07 fighters got\x1b Iranian visas?"],
                 cli_env)
    answer = json.loads(result.stdout)
    assert answer["question"] == "How many Taliban fighters got Iranian visas?"
    assert "more than 300 visas" in answer["passages"][0]["quote"]


def test_empty_question_in_text_mode_exits_with_message(cli_env, first_build):
    """In the terminal, an empty question prints a one-line error and exits 2, a bad command line; no traceback."""
    result = run(["bot", "ask", "  "], cli_env)
    assert result.returncode == 2
    assert result.stderr.startswith("error: The question is empty") and "Traceback" not in result.stderr


def test_ask_before_any_build_says_to_build(tmp_path: Path, cli_env):
    """Asking with no index tells the user to run the build, without a traceback."""
    result = run(["bot", "ask", "anything"], {**cli_env, "CHROMA_PATH": str(tmp_path / "empty")})
    assert result.returncode == 1
    assert "python -m index build" in result.stderr and "Traceback" not in result.stderr
