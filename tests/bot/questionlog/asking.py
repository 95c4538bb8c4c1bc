"""What the question log's tests ask the bot and read back: questions the index built with the fake embedder
answers or not, entries as the cogs make them, the rows the log holds, and the buttons of an answer."""

import contextlib

from bot.questionlog.connect import open_database
from bot.questionlog.database import Location
from bot.questionlog.entry import Entry
from tests.bot.harness import CHANNEL_ID, GUILD_ID, MEMBER_ID, Gateway, Request

OFF_TOPIC = "What is the capital of Peru?"
MISSING = "Kaftarzadeh"  # a name the corpus never mentions


def answerable(gateway: Gateway, nth: int = 0) -> str:
    """A question the fake embedder answers for sure: the words of a passage of the index."""
    return [c.text for c in gateway.bot.searcher.index.chunks if 200 < len(c.text) < 900][nth]


def unanswerable(gateway: Gateway, nth: int = 0) -> str:
    """A question on the corpus's subject that it does not answer: a passage's words and a name it lacks."""
    return f"{answerable(gateway, nth)} {MISSING}"


def rows(gateway: Gateway, sql: str, *args: object) -> list[tuple[object, ...]]:
    """What the log's database holds, once the bot's writes are done."""
    gateway.bot.questions.flush()
    with contextlib.closing(open_database(Location.of(gateway.bot.settings), read_only=True)) as database:
        return database.fetchall(sql, args)


def labels(request: Request) -> list[str]:
    """The labels of the buttons under a message."""
    return [c["label"] for row in request.message.get("components", []) for c in row["components"]]


def entry(question_id: int, asked_at: float, **details: object) -> Entry:
    """An answered question in the home server, with `details` changed."""
    values: dict[str, object] = {"id": question_id, "asked_at": asked_at, "guild_id": GUILD_ID,
                                 "channel_id": CHANNEL_ID, "user_id": MEMBER_ID, "via": "slash",
                                 "question": f"question {question_id}", "private": False, "outcome": "answered"}
    return Entry(**{**values, **details})  # type: ignore[arg-type]
