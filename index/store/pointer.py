"""The live pointer, and reading it without chromadb.

A question process (the bot, `bot ask`) needs one thing of Chroma once its generation's files are on disk: which
generation is live. Importing chromadb and opening its client for that costs about 60 MB and half a second, so
`read_pointers` reads the pointer records the way Chroma keeps them: from the embedded store's SQLite file
(read-only), or from a Chroma server over its HTTP API. index/store/chroma.py writes them, through chromadb.
"""

import contextlib
import json
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from index.settings import IndexSettings, SettingsError

META_COLLECTION = "dossier_meta"
POINTER_ID = "live"
PREVIOUS_ID = "previous"  # the generation that was live before, which a rollback returns to
SQLITE_FILE = "chroma.sqlite3"
API = "/api/v2/tenants/default_tenant/databases/default_database/collections"
HTTP_TIMEOUT_SECONDS = 10
# The metadata segment of Chroma's embedded store: a record's document is its metadata under "chroma:document".
_SQL = """
SELECT e.embedding_id, m.string_value FROM collections c
JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA'
JOIN embeddings e ON e.segment_id = s.id
JOIN embedding_metadata m ON m.id = e.id AND m.key = 'chroma:document'
WHERE c.name = ? AND e.embedding_id IN ({})
"""


class StoreError(Exception):
    """The store is unreachable, empty or was built differently; the message says what to do."""


class StoreDamaged(StoreError):
    """The embedded store's files are damaged: it has to be deleted and rebuilt."""


@dataclass(frozen=True)
class Pointer:
    """What the live index is: which collection and generation, built how, when and by whom."""

    collection: str
    generation: int
    model: str
    dimension: int
    built_at: str
    built_by: str
    documents: int
    chunks: int
    format: int = 1  # pointers written before FORMAT existed lack it
    bar: float | None = None  # the abstention bar, computed by the build (index/search/searcher.py calibration)
    spread: float | None = None  # the standard deviation of the background scores the bar was computed from
    bar_key: str | None = None  # how the bar was computed; a searcher that would compute it otherwise ignores it

    @classmethod
    def parse(cls, document: str | None) -> "Pointer | None":
        return cls(**json.loads(document)) if document else None


def check_folder(settings: IndexSettings) -> None:
    """Refuses a CHROMA_PATH that names a file, saying so, before anything looks inside it."""
    path = settings.chroma_path
    if not settings.uses_server and path.exists() and not path.is_dir():
        raise SettingsError(f"CHROMA_PATH is {path}, which is a file, not a folder: set CHROMA_PATH to the folder of "
                            "the index (`python -m index build` makes it), or move that file away.")


def read_pointers(settings: IndexSettings, *which: str) -> dict[str, Pointer | None]:
    """The pointer records named (POINTER_ID, PREVIOUS_ID), read without chromadb; None for one not written."""
    check_folder(settings)
    documents = _from_server(settings, which) if settings.uses_server else _from_file(settings, which)
    try:
        return {name: Pointer.parse(documents.get(name)) for name in which}
    except (ValueError, TypeError) as exc:
        raise StoreDamaged(f"the live pointer in {settings.chroma_path} cannot be read ({exc})") from exc


def _from_file(settings: IndexSettings, which: tuple[str, ...]) -> dict[str, str]:
    database = settings.chroma_path / SQLITE_FILE
    if not database.exists():
        raise StoreError(f"There is no index at {settings.chroma_path} (CHROMA_PATH) yet: run `python -m index build`.")
    try:
        with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=10)) as connection:
            rows = connection.execute(_SQL.format(",".join("?" * len(which))), (META_COLLECTION, *which)).fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(f"the Chroma store at {settings.chroma_path} stayed busy; try again") from exc
        raise StoreDamaged(f"the Chroma store at {settings.chroma_path} cannot be read ({exc})") from exc
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        raise StoreDamaged(f"the Chroma store at {settings.chroma_path} is damaged ({exc})") from exc
    return {str(name): str(document) for name, document in rows}


def _from_server(settings: IndexSettings, which: tuple[str, ...]) -> dict[str, str]:
    base = f"http://{settings.server_host}:{settings.server_port}{API}"
    try:
        meta = _request(f"{base}/{urllib.parse.quote(META_COLLECTION)}")
        found = _request(f"{base}/{meta['id']}/get", {"ids": list(which), "include": ["documents"]})
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # no meta collection: nothing was ever built on this server
            return {}
        raise StoreError(f"the Chroma server at {settings.server_address} answered {exc.code} ({exc.reason})") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise StoreError(f"cannot open the Chroma server at {settings.server_address}: {reason}") from exc
    return {str(name): str(document) for name, document in zip(found["ids"], found["documents"] or [], strict=True)
            if document}


def _request(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"},
                                     method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
        return json.loads(response.read())
