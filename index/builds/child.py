"""A build in a child process, so the process that asks for it (the bot) never holds the model or the build's memory.

`build_in_child` starts `python -m index.builds.child`, hands it what to build on its stdin (pickled), and
reads back, as they come, the build's progress and then its report, or the exception it raised, which is
raised again here. The child makes its embedder from a recipe: a picklable call, by default the
sentence-transformers model the index was built with. It takes the store's build lock as any build does.

A child that dies (killed, out of memory) ends here as BuildFailed; like any interrupted build it leaves the
previous generation live, and the next build removes what it wrote. A child whose parent goes away sees its
stdin close and stops.
"""

import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from index import logging_setup
from index.builds.moderator_checks import CheckError
from index.builds.pipeline import build
from index.builds.report import BuildReport, ProgressFn
from index.ingest.corpus import CorpusError
from index.model.embedding import Embedder, ModelError
from index.settings import IndexSettings
from index.store.chroma import Store
from index.store.lock import BuildRunning, LockLost
from index.store.pointer import StoreError

log = logging.getLogger(__name__)

EXPECTED = (BuildRunning, LockLost, CorpusError, CheckError, ModelError, StoreError)


class BuildFailed(Exception):
    """The build process ended without a report; the previous index stays live."""


@dataclass(frozen=True)
class Request:
    settings: IndexSettings
    recipe: Callable[[], Embedder]
    built_by: str
    options: dict[str, Any]


def build_in_child(settings: IndexSettings, recipe: Callable[[], Embedder], *, built_by: str,
                   progress: ProgressFn | None = None, **options: Any) -> BuildReport:
    """Runs index.builds.pipeline.build in a child process and returns its report, or raises what it raised."""
    index_settings = IndexSettings.model_construct(**{k: getattr(settings, k) for k in IndexSettings.model_fields})
    request = pickle.dumps(Request(index_settings, recipe, built_by, options))
    child = subprocess.Popen([sys.executable, "-m", "index.builds.child"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    log.info("build process %d started for %s", child.pid, built_by)
    try:
        child.stdin.write(request)
        child.stdin.flush()
        while True:
            try:
                kind, value = pickle.load(child.stdout)
            except EOFError:
                raise BuildFailed(_ended(child.wait())) from None
            if kind == "progress" and progress is not None:
                progress(value)
            elif kind == "report":
                return value
            elif kind == "error":
                raise value
    finally:
        child.stdin.close()  # a child still running takes this as its cue to stop
        child.stdout.close()
        child.wait()


def _ended(code: int) -> str:
    if code < 0:
        return f"the build process was killed by {signal.Signals(-code).name} before it finished"
    return f"the build process stopped (exit status {code}) before it finished"


def _portable(error: BaseException) -> BaseException:
    """The exception as it can travel to the parent: itself if it pickles, else its type and message."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return BuildFailed(f"{type(error).__name__}: {error}")
    return error


def _stop_when_orphaned(stdin: BinaryIO) -> None:
    stdin.read()  # returns when the parent closes our stdin: done with us, or gone
    os._exit(1)


def main() -> None:
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything else printed goes to the log, not the channel
    logging_setup.configure(verbose=True)

    def send(kind: str, value: Any) -> None:
        pickle.dump((kind, value), channel)
        channel.flush()

    request: Request = pickle.load(sys.stdin.buffer)
    threading.Thread(target=_stop_when_orphaned, args=(sys.stdin.buffer,), daemon=True).start()
    try:
        report = build(request.settings.seeds_dir, Store.open(request.settings), request.recipe(),
                       built_by=request.built_by, progress=lambda p: send("progress", p), **request.options)
    except Exception as error:
        if not isinstance(error, EXPECTED):
            log.exception("the build failed")
        send("error", _portable(error))
        sys.exit(1)
    send("report", report)


if __name__ == "__main__":
    main()
