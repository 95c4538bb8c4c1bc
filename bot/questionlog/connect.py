"""Opens the question log's database where a Location says it is: the SQLite file, or the PostgreSQL server, whose
driver is imported only then. Above both engines, so that neither imports the other nor this."""

from bot.questionlog.database import Database, Location
from bot.questionlog.sqlite import SQLiteDatabase


def open_database(where: Location, *, read_only: bool = False) -> Database:
    """A connection to the log's database; read-only ones are for reports. Raises QuestionLogError (or
    LogUnavailable when a server cannot be reached)."""
    if where.url is not None:
        from bot.questionlog.postgres import PostgresDatabase  # psycopg only for a log on PostgreSQL

        return PostgresDatabase(where, read_only)
    return SQLiteDatabase(where, read_only)
