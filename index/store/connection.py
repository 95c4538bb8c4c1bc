"""Opening Chroma: a client of the Chroma server or of the embedded store, the embedded store checked for damage
before Chroma reads it and closed to other users, and the model an index was built with checked before use."""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.model.embedding import ModelError
from index.settings import IndexSettings
from index.store.pointer import SQLITE_FILE, Pointer, StoreDamaged, StoreError, check_folder

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

OWNER_ONLY_FOLDER = 0o700
OWNER_ONLY_FILE = 0o600
SERVER_SECONDS = 60.0  # a Chroma server's answer to one request, a build's largest write included


def connect(settings: IndexSettings, *, create: bool = True) -> ClientAPI:
    """A client of the Chroma server or the embedded store; a reader (`create=False`) never makes a new store.
    chromadb is imported here, the first time a process needs more of the store than the pointer."""
    check_folder(settings)
    try:
        if settings.uses_server:
            return _server_client(settings)
        path = settings.chroma_path
        if not create and not (path / SQLITE_FILE).exists():
            raise StoreError(f"There is no index at {path} (CHROMA_PATH) yet: run `python -m index build`.")
        path.mkdir(mode=OWNER_ONLY_FOLDER, parents=True, exist_ok=True)
        check_integrity(path)
        client = persistent_client(path)
        owner_only(path)
        return client
    except StoreError:
        raise
    except Exception as exc:  # chromadb raises bare ValueError/ConnectionError variants
        where = (f"the Chroma server at {settings.server_address}" if settings.uses_server
                 else f"the Chroma store at {settings.chroma_path}")
        raise StoreError(f"cannot open {where}: {exc}") from exc


def _server_client(settings: IndexSettings) -> ClientAPI:
    """chromadb.HttpClient with a timeout on every request: chromadb sets none, so a server that stops answering
    would hold the calling thread for ever. Making the client asks the server things already, so its heartbeat is
    asked first, within the same bound."""
    import chromadb

    with urllib.request.urlopen(f"http://{settings.server_address}/api/v2/heartbeat", timeout=SERVER_SECONDS):
        pass
    client = chromadb.HttpClient(host=settings.server_host, port=settings.server_port, settings=_chroma_settings())
    client._server._session.timeout = SERVER_SECONDS  # type: ignore[attr-defined]  # its httpx.Client
    return client


def owner_only(path: Path) -> None:
    """Closes the store's folder and database to other users: the pointer names the moderators who built each
    generation. A store of another user's, which this one only reads, is left as it is."""
    for held, allowed in ((path, OWNER_ONLY_FOLDER), (path / SQLITE_FILE, OWNER_ONLY_FILE)):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if stat.S_IMODE(held.stat().st_mode) & ~allowed:
                held.chmod(allowed)


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def persistent_client(path: Path) -> ClientAPI:
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())


def check_integrity(path: Path) -> None:
    """Refuses a damaged store before Chroma reads it: some damage makes Chroma's native code abort the process."""
    database = path / SQLITE_FILE
    if not database.exists():
        return
    try:
        with contextlib.closing(sqlite3.connect(database, timeout=10)) as connection:
            verdict = connection.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):  # a writer holds it; that is no damage
            return
        raise StoreDamaged(f"the Chroma store at {path} is damaged ({exc})") from exc
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        raise StoreDamaged(f"the Chroma store at {path} is damaged ({exc})") from exc
    if verdict != [("ok",)]:
        raise StoreDamaged(f"the Chroma store at {path} is damaged ({verdict[0][0]})")


def check_model(pointer: Pointer | None, model: str) -> None:
    """Refuses a model other than the one the live index was built with, before that model is loaded (or, for a
    model hub name, downloaded)."""
    if pointer is not None and pointer.model != model:
        raise ModelError(f"The index was built with the embedding model {pointer.model!r}, but EMBEDDING_MODEL is "
                         f"{model!r}. Rebuild it with `python -m index build`, or set EMBEDDING_MODEL back.")
