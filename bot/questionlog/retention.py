"""What the question log deletes, and when: rows older than QUESTION_LOG_DAYS, a member's rows when they ask, the
row of a deleted message, and the words of every server that is not a home server. A wording goes with the last
question that used it."""

from collections.abc import Collection, Sequence
from typing import Any

from bot.questionlog.database import Database
from bot.questionlog.entry import TERMINAL

DAY_SECONDS = 86_400


def keep_words_at_home(database: Database, homes: Collection[int]) -> None:
    """Drops the words (text, missing terms, wording) and channel of every row not asked in a home server (or at
    the operator's own terminal): a server taken out of MODERATOR_GUILD_IDS takes its questions' text with it."""
    homes = sorted(homes)
    elsewhere = f"via != '{TERMINAL}'"
    if homes:
        elsewhere += f" AND (guild_id IS NULL OR guild_id NOT IN ({', '.join('?' * len(homes))}))"
    with database.transaction():
        database.execute("UPDATE questions SET question = NULL, wording_id = NULL, missing = '[]' "
                         f"WHERE (question IS NOT NULL OR wording_id IS NOT NULL OR missing != '[]') AND {elsewhere}",
                         homes)
        database.execute(f"UPDATE questions SET channel_id = NULL WHERE channel_id IS NOT NULL AND {elsewhere}", homes)
        drop_unused_wordings(database)


def delete_older_than(database: Database, days: int, now: float) -> int:
    """Deletes, in one transaction, the questions asked more than `days` days before `now`; how many went."""
    with database.transaction():
        deleted = database.execute("DELETE FROM questions WHERE asked_at < ?", (now - days * DAY_SECONDS,))
        drop_unused_wordings(database)
    return deleted


def drop_unused_wordings(database: Database) -> None:
    database.execute("DELETE FROM wordings WHERE id NOT IN "
                     "(SELECT wording_id FROM questions WHERE wording_id IS NOT NULL)")


def delete_questions(database: Database, where: str, args: Sequence[Any]) -> int:
    """Deletes the questions matching `where` (their passages and votes go with them), and their wordings if no
    other question uses them; returns how many questions went."""
    wordings = [row[0] for row in database.fetchall(
        f"SELECT DISTINCT wording_id FROM questions WHERE wording_id IS NOT NULL AND {where}", args)]
    deleted = database.execute(f"DELETE FROM questions WHERE {where}", args)
    database.executemany("DELETE FROM wordings WHERE id = ? AND NOT EXISTS "
                         "(SELECT 1 FROM questions WHERE wording_id = ?)", [(w, w) for w in wordings])
    return deleted


def forget_member(database: Database, guild_id: int, user_hash: str) -> tuple[int, int]:
    """Deletes a member's questions and votes in one server (their hash is that server's); how many of each went."""
    questions = delete_questions(database, "guild_id = ? AND user_hash = ?", (guild_id, user_hash))
    votes = database.execute("DELETE FROM votes WHERE user_hash = ?", (user_hash,))
    return questions, votes
