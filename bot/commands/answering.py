"""`python -m bot ask` and `compare`: answers in the terminal, as text, JSON or the message the bot would send."""

import json
import logging
import sys
import time
from collections.abc import Iterator

from bot.questionlog.at_terminal import TerminalLog
from bot.questionlog.vectors import VectorKeepingEmbedder
from bot.repl import Ask, Session
from bot.settings import Settings
from bot.text import answer_json, answer_text, compare_json, compare_text, covered, text_width
from index.diagnose import diagnose
from index.model.onnx_model import question_embedder
from index.search.answer import Answer, Outcome, QuestionError
from index.search.searcher import Searcher
from index.store.chroma import Store

log = logging.getLogger("bot")


def _questions(args: list[str]) -> Iterator[str]:
    """The question on the command line, or each non-blank line of stdin for `-`."""
    if args == ["-"]:
        for line in sys.stdin:
            if line.strip():
                yield line.rstrip("\n")
    else:
        yield " ".join(args)


class IndexFollower:
    """Between questions, loads a generation another process built, checking at most every `every` seconds."""

    def __init__(self, searcher: Searcher, every: float) -> None:
        self.searcher = searcher
        self.every = every
        self.checked = time.monotonic()

    def __call__(self) -> None:
        if self.every <= 0 or time.monotonic() - self.checked < self.every:
            return
        self.checked = time.monotonic()
        try:
            if self.searcher.reload():
                log.info("now answering from generation %d", self.searcher.index.pointer.generation)
        except Exception as exc:  # keep answering from the index loaded before, whatever the newer one's fault
            log.warning("could not load the newer index; answering from the one loaded before: %s",
                        diagnose(exc).message)


def open_searcher(settings: Settings, keep_vectors: bool = False) -> Searcher:
    """The searcher over the live index; it never creates a store, and says so while the model loads.

    The index's model is checked before the configured one is loaded: a changed EMBEDDING_MODEL is told at once,
    not after a load or a download. `keep_vectors` keeps the questions' vectors for the question log.
    """
    if sys.stderr.isatty():
        print("Loading the model…", file=sys.stderr, flush=True)
    store = Store.open_live(settings)
    embedder = question_embedder(settings)
    return Searcher(store, VectorKeepingEmbedder(embedder) if keep_vectors else embedder)


def discord_line(searcher: Searcher, question: str, page: Ask) -> str:
    """The message the bot would send for this question, as JSON: the answer, or the error it would reply."""
    from bot.render import answer_payload, text_payload  # discord is imported only when a payload is asked for

    try:
        answer = page(question, 0)
    except QuestionError as exc:
        return json.dumps(text_payload(str(exc)).to_dict(), ensure_ascii=False)
    return json.dumps(answer_payload(answer, covered(searcher, answer)).to_dict(), ensure_ascii=False)


def ask(settings: Settings, questions: list[str], fmt: str, top: int, log_questions: bool = False) -> int:
    """Answers the question, or each line of stdin; on a terminal, the terminal mode (bot/repl.py)."""
    if fmt == "discord":
        from bot.render import CARDS  # discord is imported only when a payload is asked for

        top = CARDS  # a page of the answer, as the bot sends it
    searcher = open_searcher(settings, keep_vectors=log_questions)
    follow = IndexFollower(searcher, settings.index_check_seconds)
    asked = TerminalLog.open(settings, searcher) if log_questions else None

    def page(question: str, offset: int) -> Answer:
        follow()
        started = time.monotonic()
        answer = searcher.search(question, limit=top, offset=offset)
        if asked is not None and offset == 0:
            asked.record(answer, started)
        return answer

    try:
        if questions == ["-"] and sys.stdin.isatty() and fmt == "text":
            Session(searcher, page).run()
            return 0
        return answer_each(searcher, _questions(questions), fmt, page)
    finally:
        if asked is not None:
            asked.close()


def answer_each(searcher: Searcher, questions: Iterator[str], fmt: str, page: Ask) -> int:
    """Prints the answer to each question in `fmt`; 1 when a question could not be searched in text."""
    failures = 0
    for question in questions:
        if fmt == "discord":
            print(discord_line(searcher, question, page), flush=True)
            continue
        try:
            answer = page(question, 0)
        except QuestionError as exc:
            if fmt == "text":
                print(f"error: {exc}", file=sys.stderr)
                failures += 1
                continue
            answer = Answer(" ".join(question.split()), Outcome.NOT_ANSWERED, note=str(exc))
        if fmt == "json":
            print(answer_json(answer), flush=True)
        else:
            print(answer_text(answer, covered(searcher, answer), text_width()) + "\n", flush=True)
    return 1 if failures else 0


def compare(settings: Settings, words: list[str], fmt: str) -> int:
    """One passage per source on the topic, every source listed."""
    topic = " ".join(words)
    sources = open_searcher(settings).compare(topic)
    topic = " ".join(topic.split())
    if fmt == "json":
        print(compare_json(topic, sources))
    elif fmt == "discord":
        from bot.render import compare_payload  # discord is imported only when a payload is asked for

        print(json.dumps(compare_payload(topic, sources).to_dict(), ensure_ascii=False))
    else:
        print(compare_text(topic, sources, text_width()))
    return 0
