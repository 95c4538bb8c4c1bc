"""What went wrong, in words an operator can act on, and the exit status that tells scripts the same.

Every entry point (`python -m index build`, `python -m bot ask`, `python -m bot`, the Discord reindex) passes
what it could not handle through `diagnose`: errors of Chroma, sqlite, the network, the settings and the disk
become one or two lines saying what happened and what to do. Anything else is a bug: the operator is told
to run again with -v, which shows the traceback.
"""

import argparse
import errno
import logging
import os
import shutil
import sqlite3
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.builds.child import BuildFailed
from index.builds.moderator_checks import CheckError
from index.ingest.corpus import CorpusError
from index.ingest.source_fields import SourceError
from index.model.embedding import ModelError
from index.settings import IndexSettings, SettingsError
from index.store.lock import BuildRunning, LockLost
from index.store.pointer import StoreDamaged, StoreError

log = logging.getLogger(__name__)

EXIT_ERROR = 1  # the corpus, the index or the model cannot be used as they are: the message says what to fix
EXIT_SETTINGS = 2  # a setting or the command line is wrong (argparse also exits 2)
EXIT_NOT_SWITCHED = 3  # a build was made but not switched to, for the reasons it reports; --force switches
EXIT_CHECKS_FAILED = 4  # `index checks`: the live index fails moderators' checks
EXIT_FILES_UNREAD = 5  # `index build`: the index is live, but some files could not be indexed (its `errors`)
EXIT_UNAVAILABLE = 69  # a service (the Chroma server, Discord) cannot be reached: try again once it is up
EXIT_SOFTWARE = 70  # an unexpected error, a bug: -v shows the traceback
EXIT_BUILD_RUNNING = 75  # another build holds the store: try again when it is done
EXIT_INTERRUPTED = 130  # stopped with Ctrl-C

# Chroma reports a full disk as a failure to write its log, without saying why; with this little room left
# on the store's disk, that is the reason.
LOW_DISK_BYTES = 64 * 1024 * 1024
_DAMAGE = ("file is not a database", "malformed", "failed to get segments", "no such table")
_UNREACHABLE = ("could not connect to a chroma server", "connection refused", "name or service not known",
                "timed out")


@dataclass(frozen=True)
class Failure:
    """What to tell the operator, and the exit status; `expected` is false for a bug."""

    message: str
    status: int
    expected: bool = True


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _mentions(errors: list[BaseException], phrases: tuple[str, ...]) -> bool:
    return any(phrase in str(e).lower() for e in errors for phrase in phrases)


def _free_bytes(path: Path) -> int | None:
    for folder in (path, *path.parents):
        try:
            return shutil.disk_usage(folder).free
        except OSError:
            continue
    return None


def _disk_full(errors: list[BaseException], settings: IndexSettings | None) -> bool:
    if any(isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) for e in errors):
        return True
    if _mentions(errors, ("no space left", "disk is full", "database or disk is full")):
        return True
    if settings is None or settings.uses_server or not any(_is_chroma_error(e) for e in errors):
        return False
    free = _free_bytes(settings.chroma_path)
    return free is not None and free < LOW_DISK_BYTES


def _is_chroma_error(error: BaseException) -> bool:
    """Whether chromadb raised it; a process that never imported chromadb has none."""
    chroma = sys.modules.get("chromadb.errors")
    return chroma is not None and isinstance(error, chroma.ChromaError)


def _unreachable(errors: list[BaseException]) -> bool:
    network = any(type(e).__name__ in ("ConnectError", "ConnectTimeout", "RemoteProtocolError", "ReadError",
                                       "ReadTimeout")
                  or isinstance(e, ConnectionError) for e in errors)
    return network or _mentions(errors, _UNREACHABLE)


def diagnose(error: BaseException, settings: IndexSettings | None = None) -> Failure:
    """The failure to report for `error`, raised while working with `settings` (None: not read yet)."""
    errors = list(_chain(error))
    store = settings.chroma_path if settings else Path("CHROMA_PATH")
    if isinstance(error, SettingsError):
        return Failure(str(error), EXIT_SETTINGS)
    if isinstance(error, BuildRunning):
        return Failure(str(error), EXIT_BUILD_RUNNING)
    if _disk_full(errors, settings):
        return Failure(f"The disk holding {store} is full. Free some space, then run the command again; "
                       "the index stays as it was before the failed write.", EXIT_ERROR)
    if settings is not None and settings.uses_server and _unreachable(errors):
        return Failure(f"Cannot reach the Chroma server at {settings.server_address}. Start it (`chroma run "
                       "--path data/chroma`) or correct CHROMA_HOST and CHROMA_PORT, then run the command again.",
                       EXIT_UNAVAILABLE)
    if any(isinstance(e, StoreDamaged | sqlite3.DatabaseError) for e in errors) or _mentions(errors, _DAMAGE):
        if settings is not None and settings.uses_server:
            return Failure(f"The Chroma server at {settings.server_address} reports damaged data ({error}). "
                           "Restart it on an empty --path, then run `python -m index build`.", EXIT_ERROR)
        return Failure(f"The Chroma store at {store} is damaged. Delete that folder and run `python -m index "
                       "build` to rebuild it from SEEDS_DIR.", EXIT_ERROR)
    if isinstance(error, CorpusError | SourceError | CheckError | ModelError | StoreError | LockLost | BuildFailed):
        return Failure(str(error), EXIT_ERROR)
    if isinstance(error, PermissionError):
        return Failure(f"Dossier may not write {error.filename}: give the user running it write access, or "
                       "point CHROMA_PATH elsewhere.", EXIT_ERROR)
    if isinstance(error, OSError):
        return Failure(f"{error.strerror or error}: {error.filename or store}.", EXIT_ERROR)
    return Failure(f"Unexpected error ({type(error).__name__}: {error}). Run the command again with -v to see "
                   "the traceback, and report it.", EXIT_SOFTWARE, expected=False)


class CommandParser(argparse.ArgumentParser):
    """A command line's parser whose subcommands refuse an argument they do not know with their own usage
    (`bot ask --jsn` shows how to call `ask`), where argparse would show the top command's."""

    def parse_known_args(  # type: ignore[override]  # argparse's overloads say no more than this
            self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self._subparsers is None:  # the subcommand's own parser: what it does not know is an error
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def report(failure: Failure, error: BaseException, verbose: bool) -> int:
    """Prints the failure as `error: …` on stderr, after the traceback when `verbose`; returns its status."""
    if verbose:
        traceback.print_exception(error, file=sys.stderr)
    print(f"error: {failure.message}", file=sys.stderr)
    return failure.status


def output_closed() -> int:
    """For a BrokenPipeError: whoever read stdout (`| head`) has gone, which is no error of Dossier's."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
    return 0
