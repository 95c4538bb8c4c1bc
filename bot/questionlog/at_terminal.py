"""`python -m bot ask --log`: questions asked in the terminal go to the question log as members' questions do, so
that `python -m bot gaps` and `stats` can be tried without Discord.

Each is logged as asked `via` "terminal", by the user running the command (its uid, hashed like a member's id),
with its words, as a home server's questions are: they are the operator's own.
"""

import os
import sys
import time

from bot.questionlog.entry import TERMINAL, Entry
from bot.questionlog.questionlog import QuestionLog, open_question_log
from bot.questionlog.schema import row_key
from bot.questionlog.vectors import VectorKeepingEmbedder
from bot.settings import Settings
from index.search.answer import Answer
from index.search.searcher import Searcher


class TerminalLog:
    """Queues each answer for the question log; `close` writes what is queued."""

    def __init__(self, questions: QuestionLog, searcher: Searcher) -> None:
        self.questions = questions
        self.searcher = searcher

    @classmethod
    def open(cls, settings: Settings, searcher: Searcher) -> "TerminalLog":
        """The log at DATABASE_PATH; when it is off or cannot be opened, says so once and records nothing."""
        questions = open_question_log(settings)
        if not questions.enabled:
            print(f"warning: --log: the questions are not logged, since {questions.off}.", file=sys.stderr)
        return cls(questions, searcher)

    def record(self, answer: Answer, started: float) -> None:
        embedder = self.searcher.embedder
        vector = embedder.recall(answer.question) if isinstance(embedder, VectorKeepingEmbedder) else None
        self.questions.record(Entry(
            id=row_key(), asked_at=time.time(), guild_id=None, channel_id=None, user_id=os.getuid(), via=TERMINAL,
            question=answer.question, private=False, outcome=answer.outcome.value,
            quoted=tuple((hit.chunk.id, hit.source.id) for hit in answer.hits), missing=answer.missing,
            generation=self.searcher.index.pointer.generation, latency_ms=(time.monotonic() - started) * 1000,
            vector=vector, model=embedder.name))

    def close(self) -> None:
        self.questions.close()
