"""`python -m bot gaps|stats`: what the question log says; `python -m bot log migrate|export|import|copy`: its
database, for its operator."""

import argparse
import json
import logging
from contextlib import closing

import numpy as np

from bot.questionlog import reports
from bot.questionlog.connect import open_database
from bot.questionlog.database import Location, LogDatabaseError, QuestionLogError
from bot.questionlog.schema import check_version
from bot.questionlog.vectors import store_vectors
from bot.settings import Settings
from index.ingest.corpus import CorpusError, read_metadata
from index.model.onnx_model import question_embedder

log = logging.getLogger("bot")


def report(settings: Settings, command: str, days: int, as_json: bool) -> int:
    """Prints the gaps or the stats of the last `days` days from the question log (DATABASE_URL or DATABASE_PATH)."""
    where = Location.of(settings)
    with closing(open_database(where, read_only=True)) as database:
        try:
            check_version(database)
            if command == "gaps":
                model = settings.embedding_model
                gaps = reports.gaps(database, days, lambda: question_embedder(settings), model,
                                    remember=lambda vectors: keep_vectors(where, model, vectors))
                print(json.dumps(gaps.to_json(), ensure_ascii=False) if as_json else reports.gaps_text(gaps))
                return 0
            stats = reports.stats(database, days)
        except LogDatabaseError as exc:
            raise QuestionLogError(f"cannot read the question log at {where}: {exc}") from exc
    titles = source_titles(settings)
    print(json.dumps(stats.to_json(titles), ensure_ascii=False) if as_json else reports.stats_text(stats, titles))
    return 0


def keep_vectors(where: Location, model: str, vectors: list[tuple[int, np.ndarray]]) -> None:
    """Keeps the embeddings gaps computed in the log, so the next gaps does not compute them again; a log this user
    cannot write is only read."""
    try:
        with closing(open_database(where)) as database, database.transaction():
            store_vectors(database, model, vectors)
    except QuestionLogError as exc:
        log.warning("could not keep the embeddings gaps computed in %s: %s", where, exc)


def source_titles(settings: Settings) -> dict[str, str]:
    """Source titles from sources.toml, to name the most quoted sources; an id stands for a source without one."""
    try:
        return {source_id: meta["title"] for source_id, meta in read_metadata(settings.seeds_dir).items()
                if "title" in meta}
    except CorpusError:
        return {}


def log_command(settings: Settings, args: argparse.Namespace) -> int:
    """`log migrate`, `log export --json`, `log import` or `log copy`."""
    from bot.questionlog import cli as logcli

    if args.log_command == "migrate":
        return logcli.migrate_command(settings)
    if args.log_command == "export":
        return logcli.export_command(settings)
    if args.log_command == "import":
        from bot.questionlog.restore import import_command

        return import_command(settings, args.file, args.json)
    return logcli.copy_command(settings, args.source, args.json)
