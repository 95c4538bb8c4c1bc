"""The terminal mode, driven through a pseudo-terminal as a person uses it: type a question, edit it with the
arrow keys, recall one with the history, page with `more`, read around a passage with `context N`; answers wrap
to the terminal's width; and `bot ask --log` fills the question log that `gaps` and `stats` read."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.repl import Session
from bot.text import answer_text
from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.search.answer import Answer, Hit, Outcome
from index.search.searcher import Searcher
from index.settings import IndexSettings
from tests.conftest import ROOT, SEEDS
from tests.pseudo_terminal import LEFT, UP, PseudoTerminal, text

QUESTION = "How many Taliban fighters got Iranian visas?"
PROMPT = b"\n> "
COLUMNS = 64


def test_a_source_that_does_not_state_its_outlet_or_date_says_so():
    """In text, a passage of a source without outlet or date reads "outlet not stated", "date not stated"."""
    source = Source(id="001.txt", title="Report: Iranian Commanders Fighting Alongside Taliban Inside Afghanistan")
    passage = "Iranian commanders were seen fighting alongside the Taliban in Farah province, officials said."
    answer = Answer("Who fights beside the Taliban?", Outcome.ANSWERED,
                    (Hit(Chunk("c1", source.id, passage, 0, len(passage), 20), 0.9, source),), total=1)
    shown = " ".join(answer_text(answer).split())
    assert shown.endswith("— Report: Iranian Commanders Fighting Alongside Taliban Inside Afghanistan — "
                          "outlet not stated · date not stated · ¶ 20")


@pytest.fixture
def terminal_env(seeds_settings: IndexSettings, tmp_path: Path) -> dict[str, str]:
    """A terminal's environment over the seed index, with a home folder of its own for the question history."""
    env = {**os.environ, "SEEDS_DIR": str(SEEDS), "CHROMA_PATH": str(seeds_settings.chroma_path),
           "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path), "TERM": "xterm"}
    env.pop("DISCORD_TOKEN", None)
    return env


def terminal(env: dict[str, str]) -> PseudoTerminal:
    """`bot ask --top 2 -` on a terminal 64 columns wide, once it shows its first prompt."""
    session = PseudoTerminal([sys.executable, "-m", "bot", "ask", "--top", "2", "-"], env, ROOT, columns=COLUMNS)
    assert b"Ready." in session.expect(PROMPT)
    return session


@pytest.mark.slow
def test_type_edit_recall_page_and_read_around_in_the_terminal(terminal_env: dict[str, str], tmp_path: Path):
    """A question typed with a slip and mended with the left arrow is answered as mended, wrapped to the terminal,
    then the prompt; `more` shows passages 3 and 4; the up arrow recalls the question; `context 1` shows the
    paragraphs around the first passage; the history outlives the session."""
    session = terminal(terminal_env)
    session.type(QUESTION.replace("visas?", "visa?").encode() + LEFT + b"s\r")  # the cursor back over "?"
    first = text(session.expect(PROMPT))
    assert f"Q: {QUESTION}" in first and "more than 300 visas" in first
    assert "(passages 1–2 of" in first and "1. " in first and "3. " not in first
    assert max(len(line) for line in first.splitlines()) <= COLUMNS  # wrapped to the terminal, not to 88

    session.type(b"more\r")
    page = text(session.expect(PROMPT))
    assert "3. " in page and "4. " in page and "1. " not in page and "(passages 3–4 of" in page

    session.type(UP + UP + b"\r")  # "more", then the question
    again = text(session.expect(PROMPT))
    assert again.count(f"Q: {QUESTION}") == 1 and "more than 300 visas" in again and "1. " in again

    session.type(b"context 1\r")
    around = text(session.expect(PROMPT))
    assert "Context of ¶ 8 in “Taliban and Iranian Alliance against the" in around
    assert "¶ 7\n" in around and "¶ 8 · the quoted passage\n" in around and "¶ 9\n" in around
    session.type(b"context 99\r")
    assert "There is no passage 99: this answer has passages 1 to" in text(session.expect(PROMPT))
    session.type(b"\x04")  # Ctrl-D
    assert session.close() == 0

    history = tmp_path / ".dossier_history"
    assert QUESTION in history.read_text() and stat.S_IMODE(history.stat().st_mode) == 0o600
    later = terminal(terminal_env)
    later.type(UP + UP + UP + b"\r")  # "context 7", "context 1", then the question
    assert "more than 300 visas" in text(later.expect(PROMPT))
    later.type(b"\x04")
    assert later.close() == 0


@pytest.mark.slow
def test_ask_log_lets_gaps_and_stats_be_tried_without_discord(terminal_env: dict[str, str], tmp_path: Path):
    """`bot ask --log` records each question as the bot does, so `bot stats` counts them and `bot gaps` shows the
    one the corpus does not answer, with the term it never mentions."""
    env = {**terminal_env, "DATABASE_PATH": str(tmp_path / "questions.sqlite3")}
    questions = f"{QUESTION}\ndid zorvanek meet the taliban in herat?\n"
    asked = subprocess.run([sys.executable, "-m", "bot", "ask", "--log", "--format", "json", "-"], input=questions,
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert asked.returncode == 0, asked.stderr
    assert [json.loads(line)["outcome"] for line in asked.stdout.splitlines()] == ["answered", "not_answered"]

    def report(name: str) -> dict:
        done = subprocess.run([sys.executable, "-m", "bot", name, "--json"], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=300)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    stats = report("stats")
    assert stats["questions"] == 2 and stats["outcomes"]["answered"] == 1 and stats["answered_share"] == 0.5
    [gap] = report("gaps")["groups"]
    assert gap["examples"] == ["did zorvanek meet the taliban in herat?"] and gap["missing"] == ["Zorvanek"]


class Asked:
    """The searcher's pages of an answer, as `bot ask` gives them to the terminal mode, counting the searches."""

    def __init__(self, searcher: Searcher, top: int = 2) -> None:
        self.searcher, self.top, self.searches = searcher, top, 0

    def __call__(self, question: str, offset: int) -> Answer:
        self.searches += 1
        return self.searcher.search(question, limit=self.top, offset=offset)


def test_context_without_a_number_answers_with_its_usage(searcher: Searcher, capsys: pytest.CaptureFixture[str]):
    """`context` alone, or with a word, says how to use it and searches nothing; before any answer, `context 1`
    says to ask first."""
    asked = Asked(searcher)
    session = Session(searcher, asked)
    session.handle("context 1")
    assert "ask a question first" in capsys.readouterr().out
    session.handle(QUESTION)
    capsys.readouterr()
    for line in ("context", "context two", "context  N"):
        session.handle(line)
        out = capsys.readouterr().out
        assert out.startswith("`context N` shows the paragraphs around passage N"), (line, out)
        assert "Q: " not in out
    assert asked.searches == 1


def test_context_reaches_any_passage_of_the_answer(searcher: Searcher, capsys: pytest.CaptureFixture[str]):
    """After `more` shows passages 3 and 4, `context 1` still shows the first passage's paragraphs, `context 6`
    those of a passage not shown yet; only a number past the answer's passages is refused, saying how many."""
    session = Session(searcher, Asked(searcher))
    session.handle(QUESTION)
    assert session.last is not None and session.last.total >= 6
    first = session.last.hits[0]
    sixth = searcher.search(QUESTION, limit=1, offset=5).hits[0]
    session.handle("more")
    capsys.readouterr()
    for number, hit in ((1, first), (6, sixth)):
        session.handle(f"context {number}")
        shown = " ".join(capsys.readouterr().out.split())
        assert f"Context of ¶ {hit.chunk.paragraph} in “{hit.source.title}”" in shown, (number, shown)
    session.handle("context 99")
    assert capsys.readouterr().out.startswith(f"There is no passage 99: this answer has passages 1 to "
                                              f"{session.last.total}.")
