"""The embedded store's files hold moderators' names (who built each generation): only the user running Dossier may
read them."""

import stat
from pathlib import Path

from index.builds.pipeline import build
from index.store.chroma import Store
from index.store.pointer import SQLITE_FILE
from tests.conftest import FakeEmbedder, make_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_is_readable_by_its_owner_only(tmp_path: Path, seeds_copy: Path) -> None:
    """A new store's folder is 0700 and its database 0600; one left readable by others (as earlier versions made
    it) is closed to them when next opened."""
    settings = make_settings(tmp_path, seeds_copy)
    build(seeds_copy, Store.open(settings), FakeEmbedder())
    folder, database = settings.chroma_path, settings.chroma_path / SQLITE_FILE
    assert (mode(folder), mode(database)) == (0o700, 0o600)
    folder.chmod(0o755)
    database.chmod(0o644)
    Store.open(settings, create=False)
    assert (mode(folder), mode(database)) == (0o700, 0o600)
