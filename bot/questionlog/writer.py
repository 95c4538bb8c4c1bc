"""How the question log writes: one thread with its own connection, fed by a queue any thread may add to.

The event loop only puts an entry on the queue, and a database error (or any other) is logged, never raised to the
member who asked. When a database server cannot be reached, entries wait in memory (up to QUEUE_LIMIT) and the
thread reconnects; what cannot wait is dropped and counted (`lost`), and a vote or a forget waiting for an answer is
told at once that it failed. What is written is the log's own business (bot/questionlog/questionlog.py).
"""

import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any

from bot.questionlog.database import Database, Location, LogDatabaseError, LogUnavailable, QuestionLogError
from bot.questionlog.retention import delete_older_than
from bot.questionlog.schema import open_migrated

log = logging.getLogger(__name__)

QUEUE_LIMIT = 10_000  # entries waiting to be written; past this (a database stuck for minutes) they are dropped
WRITE_EVERY_SECONDS = 0.5  # how often the writer writes what is queued (a vote or a flush wakes it at once)
BATCH_LIMIT = 500  # entries written in one transaction
TRANSACTION_TRIES = 5  # a transaction that lost a deadlock to another process is run again, this many times in all
RECONNECT_SECONDS = (0.25, 5.0)  # the first wait before reconnecting to a server, and the longest
PURGE_EVERY_SECONDS = 3600.0


@dataclass
class Op:
    """A unit of work for the writer thread; `done` carries its result to whoever waits for one. An op without
    `run` is a marker: it is done once everything queued before it is."""

    run: Callable[[Database], Any] | None
    what: str
    done: Future[Any] | None = None


STOP = Op(None, "stop")


def settle(done: Future[Any], outcome: Any) -> None:
    """Resolves a future with a result or an exception, unless whoever waited for it gave up (cancelled it)."""
    with contextlib.suppress(InvalidStateError):
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)


class LogWriter:
    """The queue and the writer thread of a question log: ops go in from any thread without waiting, and the
    thread runs them in batches, deleting rows older than `days` on the way."""

    def __init__(self, where: Location | None, days: int, key: bytes = b"", off: str | None = None) -> None:
        self.where = where
        self.days = days
        self.off = off  # why the log is off, or None while it records
        self.lost = 0  # entries never written since the log opened (dropped or failed), that nobody was told of
        self._key = key
        self._pending: deque[Op] = deque()  # appended to by any thread, emptied by the writer
        self._wake = threading.Event()  # wakes the writer before WRITE_EVERY_SECONDS is up
        self._thread: threading.Thread | None = None
        self._database: Database | None = None  # the writer's connection; None while a server cannot be reached
        self._down_since = 0.0
        self._retry_at = 0.0
        self._next_purge = 0.0
        self._lock = threading.Lock()
        self._closing = threading.Lock()
        self._dropped = 0  # entries refused since the writer last caught up

    @property
    def enabled(self) -> bool:
        return self.off is None

    @property
    def reachable(self) -> bool:
        """Whether the writer holds a connection (False while a database server cannot be reached)."""
        return self._database is not None

    def flush(self, timeout: float = 10.0) -> None:
        """Waits until everything queued so far has been written (or has failed, or waits for a server that cannot
        be reached). Not for the event loop."""
        if self.enabled:
            done: Future[None] = Future()
            self._pending.append(Op(None, "flush", done))  # past QUEUE_LIMIT too: a flush is never dropped
            self._wake.set()
            done.result(timeout=timeout)

    def close(self) -> None:
        """Writes what is queued, stops the writer thread and closes the database. From any thread, any number of
        times."""
        with self._closing:
            if self._thread is None:
                return
            self.off = "closed"
            self._pending.append(STOP)
            self._wake.set()
            self._thread.join()
            self._thread = None
            if self._database is not None:
                self._database.close()
                self._database = None

    def _start(self, database: Database) -> None:
        """Starts the writer thread on its first connection."""
        self._database = database
        self._thread = threading.Thread(target=self._write_forever, name="question-log", daemon=True)
        self._thread.start()

    def _put(self, op: Op, urgent: bool = False) -> None:
        """Queues an op, or drops it when QUEUE_LIMIT are waiting; `urgent` wakes the writer (someone waits)."""
        if len(self._pending) < QUEUE_LIMIT:
            self._pending.append(op)
            if urgent:
                self._wake.set()
            return
        with self._lock:
            self._dropped += 1
            self.lost += op.done is None  # whoever waits for the op is told below
            first = self._dropped == 1
        if first:
            log.error("question log: %d writes are waiting (the database is slow, stuck or cannot be reached); new "
                      "entries are dropped until it catches up", QUEUE_LIMIT)
        if op.done is not None:
            settle(op.done, QuestionLogError("the question log is behind"))

    def _report_dropped(self) -> None:
        with self._lock:
            dropped, self._dropped = self._dropped, 0
        if dropped:
            log.error("question log: dropped %d entries while %d writes were waiting (%d lost since it opened)",
                      dropped, QUEUE_LIMIT, self.lost)

    def _lose(self, count: int) -> None:
        with self._lock:
            self.lost += count
    def _write_forever(self) -> None:
        """Every WRITE_EVERY_SECONDS, or when woken, writes what is queued, in batches of a transaction each.

        Waking on a timer rather than on each entry writes many questions in one transaction, and keeps the
        writer from taking the interpreter from the event loop on every question. Whatever goes wrong in a round,
        the thread goes on, and whoever waited for the round is answered."""
        while True:
            batch: list[Op] = []
            try:
                self._wait()
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), BATCH_LIMIT))]
                database = self._connected(last=STOP in batch)
                if database is None:
                    self._hold(batch)
                else:
                    self._purge_if_due(database)
                    work = [op for op in batch if op.run is not None]
                    if work:
                        self._write(database, work)
                self._report_dropped()
            except Exception as error:
                log.exception("question log: the writer failed (%s); it goes on", type(error).__name__)
                for op in batch:
                    if op.run is not None and op.done is not None:
                        settle(op.done, QuestionLogError(f"the question log failed ({type(error).__name__})"))
            for marker in batch:
                if marker.run is None and marker.done is not None:
                    settle(marker.done, None)
            if STOP in batch:
                return

    def _wait(self) -> None:
        """Until there is something to write (or WRITE_EVERY_SECONDS pass); while the server cannot be reached,
        until it is time to try it again, or someone waits for an answer (which is then told it failed)."""
        if self._database is None:
            self._wake.wait(max(0.0, self._retry_at - time.monotonic()))
        elif not self._pending:
            self._wake.wait(WRITE_EVERY_SECONDS)
        self._wake.clear()

    def _connected(self, last: bool = False) -> Database | None:
        """The writer's connection, made again once the server is back; None while it cannot be reached (`last`:
        the log is closing, so it is tried once more whenever it was last tried). A SQLite file deleted or replaced
        while the log writes is made again at its path, where reports read, rather than written on unseen."""
        if self._database is not None and self._database.replaced():
            log.warning("question log: %s was deleted or replaced while the bot ran; writing to a new one there",
                        self.where)
            self._database.close()
            self._database, self._retry_at = None, 0.0
        if self._database is not None:
            return self._database
        assert self.where is not None
        if time.monotonic() < self._retry_at and not last:
            return None
        try:
            self._database, self._key, _ = open_migrated(self.where)
        except QuestionLogError as error:
            waited = time.monotonic() - self._down_since
            self._retry_at = time.monotonic() + min(RECONNECT_SECONDS[1], max(RECONNECT_SECONDS[0], waited / 2))
            log.debug("question log: still cannot reach %s: %s", self.where, error)
            return None
        log.warning("question log: %s can be reached again after %.1f s; what waited for it is written now",
                    self.where, time.monotonic() - self._down_since)
        return self._database

    def _disconnected(self, error: LogDatabaseError) -> None:
        assert self._database is not None
        with contextlib.suppress(Exception):
            self._database.close()
        self._database = None
        self._down_since = time.monotonic()
        self._retry_at = self._down_since + RECONNECT_SECONDS[0]
        log.error("question log: lost the connection to %s (%s); entries wait in memory (up to %d) until it is back",
                  self.where, error, QUEUE_LIMIT)

    def _hold(self, batch: list[Op]) -> None:
        """While the server cannot be reached: entries go back to the front of the queue, and whoever waits for
        an answer is told it failed. When the log is closing they are lost, and counted."""
        records = [op for op in batch if op.run is not None and op.done is None]
        for op in batch:
            if op.run is not None and op.done is not None:
                settle(op.done, LogUnavailable(f"the question log's database at {self.where} cannot be reached"))
        if STOP in batch:
            lost = len(records) + sum(op.run is not None for op in self._pending)
            self._pending.clear()
            if lost:
                self._lose(lost)
                log.error("question log: %d entries were not written: %s could not be reached when the bot stopped",
                          lost, self.where)
            return
        self._pending.extendleft(reversed(records))

    def _write(self, database: Database, batch: list[Op]) -> None:
        """Writes the batch in one transaction. When one op fails on its own (a vote on a question that was never
        recorded, an entry the code cannot store), each op is tried alone, so that op alone is lost; a database
        that cannot be written (locked, full) loses the batch; a server that cannot be reached loses nothing yet
        (the batch waits for it)."""
        try:
            results = self._run(database, batch)
        except Exception as error:
            if isinstance(error, LogDatabaseError) and error.unreachable:
                self._disconnected(error)
                self._hold(batch)
                return
            whole_database = isinstance(error, LogDatabaseError) and not error.conflict
            if len(batch) > 1 and not whole_database:
                for n, op in enumerate(batch):
                    if self._database is not database:  # the connection went while trying them one by one
                        self._hold(batch[n:])
                        return
                    self._write(database, [op])
                return
            self._lose(sum(op.done is None for op in batch))
            what = f"the {batch[0].what}" if len(batch) == 1 else f"{len(batch)} entries"
            if isinstance(error, LogDatabaseError):
                log.error("question log: could not write %s: %s", what, error)
            else:  # a bug: the traceback tells where
                log.error("question log: could not write %s: %s: %s", what, type(error).__name__, error,
                          exc_info=error)
            for op in batch:
                if op.done is not None:
                    settle(op.done, QuestionLogError(f"{type(error).__name__}: {error}"))
            return
        for op, result in zip(batch, results, strict=True):
            if op.done is not None:
                settle(op.done, result)

    @staticmethod
    def _run(database: Database, batch: list[Op]) -> list[Any]:
        """The batch's results, from one transaction; one that lost a deadlock to another process is run again."""
        tries = 0
        while True:
            tries += 1
            try:
                with database.transaction():
                    return [op.run(database) for op in batch if op.run is not None]
            except LogDatabaseError as error:
                if not error.retry or tries == TRANSACTION_TRIES:
                    raise
                time.sleep(random.uniform(0, 0.05 * tries))  # the other process's transaction goes first

    def _purge_if_due(self, database: Database) -> None:
        now = time.time()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_SECONDS
        try:
            deleted = delete_older_than(database, self.days, now)
        except LogDatabaseError as error:
            log.error("question log: could not delete rows older than %d days: %s", self.days, error)
            if error.unreachable:
                self._disconnected(error)
            return
        if deleted:
            log.info("question log: deleted %d questions older than %d days", deleted, self.days)

