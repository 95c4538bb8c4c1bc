"""The terminal mode: `python -m bot ask -` on a terminal, one question after another.

Lines are read with readline (the standard library's, GNU readline or libedit): the arrow keys edit the line
and recall earlier questions, kept in HISTORY_FILE between sessions. After each answer comes the prompt again.
As under the Discord buttons, `more` shows the answer's next passages and `context N` the paragraphs around
passage N.
"""

import contextlib
import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.text import answer_text, context_text, covered, text_width
from index.search.answer import Answer, Hit, QuestionError
from index.search.searcher import Searcher

log = logging.getLogger(__name__)

PROMPT = "> "
HISTORY_FILE = Path("~/.dossier_history")
HISTORY_LINES = 1000
READY = ("Ready. Type a question and press Enter; then `more` for further passages, `context N` for the "
         "paragraphs around passage N. The arrow keys edit and recall; Ctrl-D quits.")

CONTEXT_USAGE = ("`context N` shows the paragraphs around passage N of the answer, on screen or not: give its number, "
                 "such as `context 2`.")

Ask = Callable[[str, int], Answer]  # (question, offset) → the page of the answer starting at that passage


class Session:
    """Answers what is typed, keeping the last answer on screen for `more` and `context N`."""

    def __init__(self, searcher: Searcher, ask: Ask) -> None:
        self.searcher = searcher
        self.ask = ask
        self.last: Answer | None = None
        self.offset = 0
        self.seen: dict[int, Hit] = {}  # the passages of the last answer fetched so far, by their number

    def run(self) -> None:
        """Reads and answers lines until Ctrl-D."""
        with _history():
            print(READY, file=sys.stderr, flush=True)
            while True:
                try:
                    line = input(PROMPT)
                except EOFError:
                    print()
                    return
                self.handle(line)

    def handle(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        if words == ["more"]:
            self.more()
        elif words[0] == "context" and len(words) <= 2:  # a longer line starting so is a question
            if len(words) == 2 and words[1].isdigit():
                self.context(int(words[1]))
            else:
                print(CONTEXT_USAGE, flush=True)
        else:
            self.question(line)

    def question(self, question: str) -> None:
        try:
            answer = self.ask(question, 0)
        except QuestionError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return
        self.show(answer, 0)

    def more(self) -> None:
        last = self.last
        if last is None or not last.answered:
            print("`more` shows further passages of an answer; ask a question first.", flush=True)
            return
        offset = self.offset + len(last.hits)
        if offset >= last.total:
            print(f"No more passages: all {last.total} are shown.", flush=True)
            return
        self.show(self.ask(last.question, offset), offset)

    def context(self, number: int) -> None:
        """The paragraphs around passage `number` of the last answer, on screen or not (fetched if need be)."""
        last = self.last
        listed = 0 if last is None else last.total if last.answered else len(last.related)
        if last is None or not listed:
            print("`context N` shows the paragraphs around passage N of an answer; ask a question first.", flush=True)
            return
        if not 1 <= number <= listed:
            print(f"There is no passage {number}: this answer has passages 1 to {listed}.", flush=True)
            return
        if number not in self.seen:  # a page not shown yet: fetched, not shown
            page = self.ask(last.question, number - 1)
            self.seen.update(enumerate(page.hits, number))
        hit = self.seen[number]
        print(context_text(hit, self.searcher.context(hit.chunk.id), text_width()) + "\n", flush=True)

    def show(self, answer: Answer, offset: int) -> None:
        width = text_width()
        print(answer_text(answer, covered(self.searcher, answer), width, first=offset + 1), flush=True)
        if offset == 0:  # a new answer
            self.seen = {}
        self.last, self.offset = answer, offset
        listed = answer.hits if answer.answered else answer.related
        self.seen.update(enumerate(listed, offset + 1))
        if listed:
            print("\n" + textwrap.fill(next_steps(answer, offset), width))
        print(flush=True)


def next_steps(answer: Answer, offset: int) -> str:
    """What can be typed after this answer, and how many passages it has."""
    context = "context N for the paragraphs around passage N"
    if not answer.answered:
        return f"({context})"
    last = offset + len(answer.hits)
    if last < answer.total:
        return f"(passages {offset + 1}–{last} of {answer.total}: more for the next; {context})"
    return f"(passages {offset + 1}–{last} of {answer.total}, all shown; {context})"


@contextlib.contextmanager
def _history() -> Iterator[None]:
    """Line editing for input(), and the questions of earlier sessions to recall; saved again at the end."""
    import readline  # importing it is what gives input() line editing

    path = HISTORY_FILE.expanduser()
    readline.set_history_length(HISTORY_LINES)
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    try:
        yield
    finally:
        try:
            path.touch(mode=0o600, exist_ok=True)  # questions may be private: readable by their asker only
            readline.write_history_file(path)
        except OSError as exc:
            log.warning("could not save the question history in %s: %s", path, exc)
