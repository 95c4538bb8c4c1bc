"""One writer per store: the build lock.

Embedded store: an OS file lock (`flock`, non-blocking) on a file beside CHROMA_PATH. The kernel releases it
when the process ends, however it ends, so a killed build never leaves the store locked. It only works
between processes on one host, which is all an embedded store can serve anyway.

Chroma server: a lease record in the `dossier_meta` collection, with an owner, a random token and an expiry,
renewed while the build runs. Chroma has no conditional write, so taking a lease is read, write, wait,
read again: two builds starting within the same fraction of a second could both believe they won, and the
build checks again just before it switches generations. Expiry is compared with the local clock, so hosts
need synchronised clocks (NTP). A lease whose holder is gone is taken over, and the build says so: one past
its expiry (LEASE_SECONDS after its last renewal), or one held by a process of this host that no longer runs.
"""

import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

LEASE_ID = "build-lease"
LEASE_SECONDS = 60.0
RENEW_EVERY = LEASE_SECONDS / 4
SETTLE_SECONDS = 0.5


class BuildRunning(Exception):
    """Another build holds the store's build lock; the message says who and since when."""


class LockLost(Exception):
    """This build's lease expired or was taken over before it could switch generations."""


@dataclass(frozen=True)
class Holder:
    """Who holds a build lock, written where a refused build can read it."""

    owner: str
    host: str
    pid: int
    since: str
    token: str = ""
    expires: float = 0.0

    def describe(self) -> str:
        return f"by {self.owner} (pid {self.pid} on {self.host}) since {self.since}"

    def gone(self) -> str | None:
        """Why this holder no longer holds its lease, or None while it may still be building."""
        if self.host == socket.gethostname() and not _running_here(self.pid):
            return "that process is no longer running"
        if self.expires <= time.time():
            return "its lease expired"
        return None


def _running_here(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def _holder(owner: str, token: str = "") -> Holder:
    return Holder(owner=owner, host=socket.gethostname(), pid=os.getpid(),
                  since=datetime.now(UTC).isoformat(timespec="seconds"), token=token)


class BuildLock(Protocol):
    took_over: str | None  # the stale lock this build took over, in words, for its report

    def check(self) -> None:
        """Raises LockLost when the lock is no longer this build's."""


class _FileLock:
    took_over: str | None = None  # the kernel frees a dead process's flock: there is never a stale one to take over

    def check(self) -> None:
        """A held flock cannot be taken away."""


def lock_path(chroma_path: Path) -> Path:
    """The lock file beside the store's folder (not inside it: Chroma owns that folder)."""
    return chroma_path.with_name(chroma_path.name + ".build.lock")


@contextlib.contextmanager
def file_lock(chroma_path: Path, owner: str) -> Iterator[BuildLock]:
    path = lock_path(chroma_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _running(_read_holder(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(_holder(owner))).encode(), 0)
        yield _FileLock()
    finally:
        # The file stays: deleting a lock file lets a third process lock a new inode while another waits.
        os.close(fd)


def _read_holder(fd: int) -> Holder | None:
    try:
        return Holder(**json.loads(os.pread(fd, 4096, 0)))
    except (ValueError, TypeError):
        return None


def _running(holder: Holder | None) -> BuildRunning:
    who = holder.describe() if holder else "by another process"
    return BuildRunning(f"A reindex is already running {who}; try again when it is done.")


class _Lease:
    """A lease record in the meta collection, renewed in a background thread until released."""

    def __init__(self, meta: "Collection", owner: str) -> None:
        self._meta = meta
        self._token = uuid.uuid4().hex
        self._holder = _holder(owner, token=self._token)
        self._stop = threading.Event()
        self._lost = False
        self.took_over: str | None = None

    def _current(self) -> Holder | None:
        documents = self._meta.get(ids=[LEASE_ID], include=["documents"])["documents"] or []
        if not documents or not documents[0]:
            return None
        try:
            return Holder(**json.loads(documents[0]))
        except (ValueError, TypeError):
            return None

    def _write(self) -> None:
        holder = replace(self._holder, expires=time.time() + LEASE_SECONDS)
        self._meta.upsert(ids=[LEASE_ID], embeddings=np.zeros((1, 1), np.float32),
                          documents=[json.dumps(asdict(holder))])

    def acquire(self) -> None:
        current = self._current()
        if current is not None:
            why = current.gone()
            if why is None:
                raise _running(current)
            self.took_over = f"took over the build lease held {current.describe()}: {why}"
            log.warning("%s", self.took_over)
        self._write()
        time.sleep(SETTLE_SECONDS)  # let a rival that read the same free lease write too, then see who won
        current = self._current()
        if current is None or current.token != self._token:
            raise _running(current)

    def renew_until_released(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            try:
                current = self._current()
                if current is None or current.token != self._token:
                    self._lost = True
                    log.error("the build lease was taken over %s", current.describe() if current else "")
                    return
                self._write()
            except Exception as exc:  # the server may be briefly unreachable; expiry decides, check() reports it
                log.warning("could not renew the build lease: %s", exc)
                log.debug("renewing the build lease failed", exc_info=True)

    def check(self) -> None:
        current = self._current()
        if self._lost or current is None or current.token != self._token or current.expires <= time.time():
            raise LockLost("This build lost its lease on the store (another build may have started); "
                           "the previous index stays live.")

    def release(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            current = self._current()
            if current is not None and current.token == self._token:
                self._meta.delete(ids=[LEASE_ID])


@contextlib.contextmanager
def lease(meta: "Collection", owner: str) -> Iterator[BuildLock]:
    held = _Lease(meta, owner)
    held.acquire()
    renewer = threading.Thread(target=held.renew_until_released, name="build-lease", daemon=True)
    renewer.start()
    try:
        yield held
    finally:
        held.release()
        renewer.join()
