"""Builds or updates the index from the seeds folder: load → clean → chunk → embed → store, incrementally.

A build holds the store's build lock throughout. It writes generation G + 1 beside the live G (after a rollback from
G + 1, the number after the highest ever live: numbers only go up), validates it (the live count matches, a probe
query finds its own passage, and a searcher loads it and computes the abstention bar that its pointer keeps), runs
the moderators' checks against it (index/builds/moderator_checks.py), and only then moves the pointer, keeping G as
the previous generation for a rollback. A document is unchanged when its content hash and its passages (ids and
offsets) are as stored: its records carry over untouched. Any other passage gets a new record, its embedding copied
from a stored passage with the same text where there is one, else computed.

A build with reasons not to switch is reported with `switched` false and its `reasons`, and G stays live;
with `force` it switches all the same, and the override is logged. `switch_reasons` are known before
anything is written (it would leave no documents, or remove most of them); the reason "checks" (the new
generation fails checks the live one passes) once G + 1 is written, which the next build cleans up.

Before the checks, the build finds for each passage the passages of other sources that say the same thing
(index/builds/corroboration.py), from the vectors the validating searcher loaded, and keeps them with G + 1; only the
pairs of the documents that changed are judged again. A live generation without them, or judged by other code,
is rebuilt even when no document changed.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from index.builds.changes import Changes, read_changes
from index.builds.corroboration import corroboration_key
from index.builds.files import Assembled, live_vectors
from index.builds.moderator_checks import CHECKS_FILE, Check, read_checks, unknown_sources
from index.builds.reasons import checked, checks_reason, read_not_stated, switch_reasons, unattributed
from index.builds.report import BuildReport, Progress, ProgressFn, StageClock
from index.builds.writing import corroborated, embedded, live_files, validate, validated_files, write
from index.ingest.corpus import read_metadata, source_paths
from index.model.embedding import Embedder
from index.search.making import make
from index.search.searcher import Searcher
from index.search.snapshot import Also, Vectors
from index.store.chroma import Store
from index.store.lock import BuildLock
from index.store.partners import Corroboration
from index.store.passages import FORMAT, Record, collection_name
from index.store.pointer import Pointer, StoreError

log = logging.getLogger(__name__)



def build(seeds_dir: Path, store: Store, embedder: Embedder, *, built_by: str = "command line",
          progress: ProgressFn | None = None, force: bool = False) -> BuildReport:
    """Brings the live index in line with the seeds folder, embedding only passages it has not seen.

    A build with reasons not to switch (see `switch_reasons` and the moderators' checks) leaves the live index
    as it is, unless `force`. Raises index.store.lock.BuildRunning at once when another build holds the store, and
    index.builds.moderator_checks.CheckError when checks.toml cannot be read.
    """
    checks = read_checks(seeds_dir)
    with store.build_lock(built_by) as lock:
        run = _start(_Asked(seeds_dir, store, embedder, lock, built_by, progress or (lambda _: None), checks, force))
        report = _build(run)
    report.model_seconds = embedder.load_seconds
    return report


def _build(run: "_Run") -> BuildReport:
    """The stages, in order; each adds its wall time to the report's `stages`."""
    paths, changes = _read(run)
    if _nothing_changed(run, changes):
        return _stay(run)
    run.report.reasons = switch_reasons(run.asked.seeds_dir, paths, len(run.live), run.report)
    if run.report.reasons and not run.asked.force:
        return _held(run)
    files = live_files(run.asked.store, run.pointer) if run.same_model and (changes.keep or changes.fresh) else None
    dimension = run.pointer.dimension if run.same_model and run.pointer is not None else run.asked.embedder.dimension
    vectors = _embed(run, changes, files, dimension)
    _write(run, changes, vectors)
    assembled, also = _corroborate(run, changes, files, dimension)
    new = _save(run, changes, assembled, also, files, dimension)
    searcher, new = _validate(run, changes, vectors, new, bool(assembled.chunks))
    if _fails_checks(run, searcher) and not run.asked.force:
        return _held(run)
    return _switch(run, new)


@dataclass(frozen=True)
class _Asked:
    """What a build was asked to do, and the lock it holds."""

    seeds_dir: Path
    store: Store
    embedder: Embedder
    lock: BuildLock
    built_by: str
    tell: ProgressFn
    checks: list[Check]
    force: bool


@dataclass
class _Run:
    """One build under way: what it was asked, the live generation it starts from, and its report."""

    asked: _Asked
    report: BuildReport
    clock: StageClock
    started: float
    pointer: Pointer | None  # the live generation's, None before the first build
    same_model: bool  # the live generation was embedded by this model: its records and vectors carry over
    generation: int  # the new generation's number
    collection: Any
    live: dict[str, list[Record]]  # the live generation's records by source (none of another model)
    corroboration: tuple[str, Corroboration | None]  # this code's key, and the live generation's partners

    @property
    def live_generation(self) -> int:
        return self.pointer.generation if self.pointer else 0


def _start(asked: _Asked) -> _Run:
    """Stage "index": the live generation as the store holds it now, and the number of the new one."""
    started = time.monotonic()
    report = BuildReport(took_over=asked.lock.took_over)
    clock = StageClock(report)
    store, model = asked.store, asked.embedder.name
    store.refresh()  # see what other processes wrote since this store was opened
    store.clean_leftovers()
    pointer = store.pointer()
    name = collection_name(model)
    same_model = pointer is not None and pointer.model == model and pointer.collection == name
    old_generation = pointer.generation if pointer else 0
    generation = max(old_generation, store.highest_generation()) + 1  # past one rolled back from, too
    collection = store.chunks_collection(name)
    live: dict[str, list[Record]] = defaultdict(list)
    if same_model:
        for record, _ in store.records(collection, old_generation):
            live[record.source.id].append(record)
    pages = store.read_pages(old_generation) if same_model else []
    corroboration = (corroboration_key(model), Corroboration.from_pages(pages) if pages else None)
    clock.end("index")
    return _Run(asked, report, clock, started, pointer, same_model, generation, collection, live, corroboration)


def _read(run: _Run) -> tuple[list[Path], Changes]:
    """Stage "reading": each source read against the live records, with what moderators should know of it."""
    seeds_dir, report = run.asked.seeds_dir, run.report
    metadata = read_metadata(seeds_dir)
    paths = source_paths(seeds_dir)
    not_stated = read_not_stated(seeds_dir, report)
    report.warnings += [{"source": CHECKS_FILE, "warning": warning}
                        for warning in unknown_sources(run.asked.checks, {path.name for path in paths})]
    changes = read_changes(paths, metadata, run.live, run.generation, report, run.asked.tell)
    run.clock.end("reading")
    report.unattributed = unattributed(sorted({r.source.id for r, _ in changes.fresh}), metadata, not_stated)
    return paths, changes


def _nothing_changed(run: _Run, changes: Changes) -> bool:
    """No passage to add or remove, and the live generation's partners judged by this code."""
    if not run.same_model or changes.fresh or changes.replaced:
        return False
    key, partners = run.corroboration
    if partners is not None and partners.key == key:
        return True
    log.info("generation %d has no corroboration judged by this code: making a new generation with it",
             run.live_generation)
    return False


def _stay(run: _Run) -> BuildReport:
    """The report of a build that found nothing to change: the live generation stays live."""
    run.report.generation = run.live_generation
    run.report.seconds = time.monotonic() - run.started
    log.info("nothing changed; generation %d stays live: %s", run.live_generation, run.report.to_json())
    return run.report


def _held(run: _Run) -> BuildReport:
    """The report of a build not switched to, for its reasons: the live generation stays live."""
    report = run.report
    report.generation, report.seconds = run.live_generation, time.monotonic() - run.started
    # Info, not a warning: the report says it to whoever asked for the build, the CLI's summary or the reindex reply.
    log.info("not switching to the new index: %s", " ".join(r.message for r in report.reasons))
    return report


def _embed(run: _Run, changes: Changes, files: Vectors | None, dimension: int) -> np.ndarray:
    """Stage "embedding": the new records' vectors, copied from a live passage with the same text, else computed."""
    reusable = {r.embed_digest: r.chunk.id for records in run.live.values() for r in records}
    vectors = embedded(run.asked.embedder, changes.fresh, reusable, live_vectors(files), dimension, run.report,
                       run.asked.tell)
    run.clock.end("embedding")
    return vectors


def _write(run: _Run, changes: Changes, vectors: np.ndarray) -> None:
    """Stage "writing": the new records into Chroma, the replaced ones marked as dying with the new generation."""
    write(run.asked.store, run.collection, changes.new_records, vectors, changes.replaced, run.generation,
          run.asked.tell)
    run.clock.end("writing")


def _corroborate(run: _Run, changes: Changes, files: Vectors | None, dimension: int) -> tuple[Assembled, Also]:
    """Stage "corroborating": the new generation assembled in reading order, and each passage's partners."""
    previous_sources = {source: frozenset(r.chunk.id for r in records) for source, records in run.live.items()}
    key, partners = run.corroboration
    found = corroborated(run.asked.store, run.collection, run.generation, changes, files, dimension,
                         (key, partners, previous_sources), run.report, run.asked.tell)
    run.clock.end("corroborating")
    return found


def _save(run: _Run, changes: Changes, assembled: Assembled, also: Also, files: Vectors | None,
          dimension: int) -> Pointer:
    """Stage "saving": the new generation's files, and the pointer that will make it live."""
    asked, report = run.asked, run.report
    built_at = datetime.now(UTC).isoformat(timespec="seconds")
    new = Pointer(collection=collection_name(asked.embedder.name), generation=run.generation,
                  model=asked.embedder.name, dimension=dimension, built_at=built_at, built_by=asked.built_by,
                  documents=changes.documents, chunks=report.chunks, format=FORMAT)
    make(asked.store.copies, new, assembled.chunks, assembled.sources, assembled.vectors, also,
         previous=files.folder if files is not None else None,
         progress=lambda done, total: asked.tell(Progress("saving", done, total)))
    run.clock.end("saving")
    return new


def _validate(run: _Run, changes: Changes, vectors: np.ndarray, new: Pointer,
              any_passage: bool) -> tuple[Searcher, Pointer]:
    """Stage "validating": Chroma holds what was written, and a searcher over the new files, with its pointer."""
    asked = run.asked
    asked.tell(Progress("validating", 0, 1))
    validate(asked.store, run.collection, run.generation, run.report.chunks, changes, vectors)
    searcher, new = validated_files(asked.store, asked.embedder, new, any_passage)
    asked.tell(Progress("validating", 1, 1))
    run.clock.end("validating")
    return searcher, new


def _fails_checks(run: _Run, searcher: Searcher) -> bool:
    """Stage "checking": whether the new generation fails moderators' checks that the live one passes."""
    asked = run.asked
    if not asked.checks:
        return False
    run.report.checks = checked(asked.checks, asked.store, asked.embedder, searcher, run.pointer, asked.tell)
    run.clock.end("checking")
    reason = checks_reason(run.report.checks)
    if reason is None:
        return False
    run.report.reasons.append(reason)
    return True


def _switch(run: _Run, new: Pointer) -> BuildReport:
    """The pointer moved to the new generation, the live one kept as the previous for a rollback."""
    asked, report = run.asked, run.report
    if report.reasons:
        report.forced = True
        log.warning("switching to generation %d although there are reasons not to (forced by %s): %s",
                    run.generation, asked.built_by, " ".join(r.message for r in report.reasons))
    asked.lock.check()
    if asked.store.pointer() != run.pointer:
        raise StoreError("another build switched the index while this one ran; keeping its index")
    asked.store.switch(new, previous=run.pointer)
    asked.store.copies.keep_only([new, run.pointer])  # the files of the generation before the previous one go now
    report.generation, report.switched = run.generation, True
    report.seconds = time.monotonic() - run.started
    log.info("built generation %d: %s", run.generation, report.to_json())
    return report
