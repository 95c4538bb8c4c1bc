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

import hashlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from index.builds.corroboration import corroboration_key
from index.builds.files import Assembled, assemble, background_vectors, judged, live_vectors
from index.builds.moderator_checks import CHECKS_FILE, Check, CheckReport, read_checks, run_checks, unknown_sources
from index.ingest.chunking import Chunk, chunk_document, layout_warning
from index.ingest.corpus import (
    NOT_STATED,
    CorpusError,
    Document,
    load_document,
    read_metadata,
    read_table,
    source_paths,
)
from index.model.embedding import Embedder
from index.search import snapshot
from index.search.making import fill, make
from index.search.searcher import Searcher, calibration_key
from index.search.snapshot import Also, Vectors
from index.store.chroma import FORMAT, Pointer, Record, Store, StoreError, collection_name, live_filter
from index.store.lock import BuildLock
from index.store.partners import Corroboration

log = logging.getLogger(__name__)

EMBED_STEP = 64  # one model batch: progress moves with each
WRITE_STEP = 500
PROBE_RESULTS = 10
# What a quote is shown with that sources.toml may leave out; the build lists the sources that do, when it first
# indexes them, unless their entry's `not_stated` list says the article gives none.
ATTRIBUTION_FIELDS = ("outlet", "published", "url")


@dataclass(frozen=True)
class Progress:
    """Where a build is: `stage` is "reading", "embedding", "writing", "validating", "corroborating" or
    "checking"."""

    stage: str
    done: int
    total: int


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class Reason:
    """A reason not to switch to what a build made: `code` for programs, `message` for people."""

    code: str
    message: str


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    removed: int = 0
    unchanged: int = 0
    added: int = 0
    changed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    unattributed: list[dict[str, Any]] = field(default_factory=list)  # {"source", "missing": [field, ...]}
    generation: int = 0
    switched: bool = False
    reasons: list[Reason] = field(default_factory=list)
    forced: bool = False
    took_over: str | None = None
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    checks: CheckReport | None = None  # None when no checks ran (no checks.toml, or nothing to switch to)
    corroboration: dict[str, Any] | None = None  # {"bar", "passages", "judged"}, once the build found them
    model_seconds: float = 0.0  # of `seconds`, loading the embedding model (0: not loaded)

    @property
    def held(self) -> bool:
        """Not switched, for the reasons given."""
        return bool(self.reasons) and not self.switched

    def to_json(self) -> dict[str, Any]:
        report = {"documents": self.documents, "chunks": self.chunks, "embedded": self.embedded,
                  "removed": self.removed, "unchanged": self.unchanged, "added": self.added,
                  "changed": self.changed, "errors": self.errors, "warnings": self.warnings,
                  "unattributed": self.unattributed,
                  "generation": self.generation, "switched": self.switched,
                  "reasons": [{"code": r.code, "message": r.message} for r in self.reasons], "forced": self.forced,
                  "took_over": self.took_over, "seconds": round(self.seconds, 3),
                  "model_seconds": round(self.model_seconds, 3),
                  "stages": {k: round(v, 3) for k, v in self.stages.items()},
                  "checks": None if self.checks is None else self.checks.to_json(),
                  "corroboration": self.corroboration}
        return report

    def timing(self) -> str:
        """How many passages were embedded, and what the build's time went to: "0 passages embedded in 21 s" read
        as slow embedding, where the model's loading took the time."""
        took = f"{self.embedded} passages embedded; the build took {self.seconds:.1f} s"
        return took + (f", {self.model_seconds:.1f} s of it loading the embedding model" if self.model_seconds else "")

    def force_note(self, force: bool) -> str | None:
        """What `force` changed, when it changed nothing; None when it was not asked for or switched the build."""
        if not force or self.forced:
            return None
        if not self.switched:
            return "forced nothing: nothing changed, so there was nothing to switch to"
        return "forced nothing: no reason held this build back"


class _Stages:
    """Wall time per stage, for the report."""

    def __init__(self, report: BuildReport) -> None:
        self._report = report
        self._mark = time.monotonic()

    def end(self, stage: str) -> None:
        now = time.monotonic()
        self._report.stages[stage] = self._report.stages.get(stage, 0.0) + now - self._mark
        self._mark = now


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build(seeds_dir: Path, store: Store, embedder: Embedder, *, built_by: str = "command line",
          progress: ProgressFn | None = None, force: bool = False) -> BuildReport:
    """Brings the live index in line with the seeds folder, embedding only passages it has not seen.

    A build with reasons not to switch (see `switch_reasons` and the moderators' checks) leaves the live index
    as it is, unless `force`. Raises index.store.lock.BuildRunning at once when another build holds the store, and
    index.builds.moderator_checks.CheckError when checks.toml cannot be read.
    """
    checks = read_checks(seeds_dir)
    with store.build_lock(built_by) as lock:
        report = _build(seeds_dir, store, embedder, lock, built_by, progress or (lambda _: None), checks, force)
    report.model_seconds = embedder.load_seconds
    return report


def unattributed(source_ids: list[str], metadata: dict[str, dict[str, str]],
                 not_stated: dict[str, set[str]]) -> list[dict[str, Any]]:
    """The sources whose metadata lacks an outlet, a date or a url that the article may give, and which: for
    moderators to fill in. A field `not_stated` marks for a source (the article gives none) is not lacking."""
    gaps = [(sid, [f for f in ATTRIBUTION_FIELDS if f not in {*metadata.get(sid, {}), *not_stated.get(sid, ())}])
            for sid in source_ids]
    return [{"source": source_id, "missing": missing} for source_id, missing in gaps if missing]


def read_not_stated(seeds_dir: Path, report: BuildReport) -> dict[str, set[str]]:
    """Each source's `not_stated` list in sources.toml: the attribution fields its article does not give. A value
    that names no such field is a warning."""
    marked: dict[str, set[str]] = {}
    for source_id, entry in read_table(seeds_dir).items():
        listed = entry.get(NOT_STATED, [])
        names = listed if isinstance(listed, list) else [listed]
        marked[source_id] = {name for name in names if name in ATTRIBUTION_FIELDS}
        if wrong := [repr(name) for name in names if name not in ATTRIBUTION_FIELDS]:
            report.warnings.append({"source": source_id, "warning": f"{NOT_STATED} lists {', '.join(wrong)}: it may "
                                    f"list only {', '.join(ATTRIBUTION_FIELDS)}"})
    return marked


def switch_reasons(seeds_dir: Path, paths: list[Path], live_documents: int, report: BuildReport) -> list[Reason]:
    """Why the index this build would make should not replace the live one: no documents, or most removed.

    Both are what a mistyped or emptied SEEDS_DIR looks like.
    """
    reasons = []
    if report.documents == 0:
        if not paths:
            others = sorted({p.suffix or p.name for p in seeds_dir.iterdir() if p.is_file()})
            found = f" (it holds {', '.join(others)} files)" if others else " (it is empty)"
            what = f"the seeds folder {seeds_dir} holds no .txt files{found}; check SEEDS_DIR"
        else:
            what = f"none of the {len(paths)} .txt files in {seeds_dir} could be indexed (see the errors)"
        reasons.append(Reason("no_documents", f"The index would hold no documents: {what}."))
    elif report.removed * 2 > live_documents:
        reasons.append(Reason("most_removed", f"The build would remove {report.removed} of the {live_documents} "
                                              f"live documents, more than half; check SEEDS_DIR ({seeds_dir})."))
    return reasons


def checks_reason(checks: CheckReport) -> Reason | None:
    """Why not to switch when the new index fails checks that the live one passes; None when it fails none."""
    if not checks.regressed:
        return None
    failed = "; ".join(f"“{check.question}”" for check in checks.regressed)
    count = f"{len(checks.regressed)} check" + ("s" if len(checks.regressed) > 1 else "")
    return Reason("checks", f"The new index fails {count} that the live index passes: {failed}. "
                            "Fix the corpus or checks.toml.")


def _build(seeds_dir: Path, store: Store, embedder: Embedder, lock: BuildLock, built_by: str,
           tell: ProgressFn, checks: list[Check], force: bool) -> BuildReport:
    started = time.monotonic()
    report = BuildReport(took_over=lock.took_over)
    stages = _Stages(report)
    store.refresh()  # see what other processes wrote since this store was opened
    store.clean_leftovers()
    pointer = store.pointer()
    name = collection_name(embedder.name)
    same_model = pointer is not None and pointer.model == embedder.name and pointer.collection == name
    old_generation = pointer.generation if pointer else 0
    generation = max(old_generation, store.highest_generation()) + 1  # past one rolled back from, too
    collection = store.chunks_collection(name)

    live: dict[str, list[Record]] = defaultdict(list)
    if same_model:
        for record, _ in store.records(collection, old_generation):
            live[record.source.id].append(record)
    key = corroboration_key(embedder.name)
    pages = store.read_pages(old_generation) if same_model else []
    live_corroboration = Corroboration.from_pages(pages) if pages else None
    stages.end("index")

    metadata = read_metadata(seeds_dir)
    paths = source_paths(seeds_dir)
    not_stated = read_not_stated(seeds_dir, report)
    report.warnings += [{"source": CHECKS_FILE, "warning": warning}
                        for warning in unknown_sources(checks, {path.name for path in paths})]
    keep, fresh = _read(paths, metadata, live, generation, report, tell)
    stages.end("reading")
    report.unattributed = unattributed(sorted({r.source.id for r, _ in fresh}), metadata, not_stated)

    on_disk = {path.name for path in paths}
    report.removed = sum(1 for source_id in live if source_id not in on_disk)
    kept_ids = {r.record_id for r in keep}
    replaced = [r.record_id for records in live.values() for r in records if r.record_id not in kept_ids]
    documents = len({r.source.id for r in keep} | {r.source.id for r, _ in fresh})
    report.documents, report.chunks = documents, len(keep) + len(fresh)

    if same_model and not fresh and not replaced:
        if live_corroboration is not None and live_corroboration.key == key:
            report.generation = old_generation
            report.seconds = time.monotonic() - started
            log.info("nothing changed; generation %d stays live: %s", old_generation, report.to_json())
            return report
        log.info("generation %d has no corroboration judged by this code: making a new generation with it",
                 old_generation)

    report.reasons = switch_reasons(seeds_dir, paths, len(live), report)
    if report.reasons and not force:
        return _held(report, old_generation, started)

    live_files = _live_files(store, pointer) if same_model and (keep or fresh) else None
    dimension = pointer.dimension if same_model and pointer is not None else embedder.dimension
    reusable = {r.embed_digest: r.chunk.id for records in live.values() for r in records}
    vectors = _vectors(embedder, fresh, reusable, live_vectors(live_files), dimension, report, tell)
    stages.end("embedding")

    new_records = [record for record, _ in fresh]
    _write(store, collection, new_records, vectors, replaced, generation, tell)
    stages.end("writing")

    previous_sources = {source: frozenset(r.chunk.id for r in records) for source, records in live.items()}
    assembled, also = _corroborate(store, collection, generation, keep, new_records, live_files, dimension,
                                   (key, live_corroboration, previous_sources), report, tell)
    stages.end("corroborating")

    built_at = datetime.now(UTC).isoformat(timespec="seconds")
    new = Pointer(collection=name, generation=generation, model=embedder.name, dimension=dimension,
                  built_at=built_at, built_by=built_by, documents=documents, chunks=report.chunks, format=FORMAT)
    make(store.copies, new, assembled.chunks, assembled.sources, assembled.vectors, also,
         previous=live_files.folder if live_files is not None else None,
         progress=lambda done, total: tell(Progress("saving", done, total)))
    stages.end("saving")

    tell(Progress("validating", 0, 1))
    _validate(store, collection, generation, report.chunks, new_records, keep, vectors)
    searcher, new = _validated_files(store, embedder, new, bool(assembled.chunks))
    tell(Progress("validating", 1, 1))
    stages.end("validating")
    if checks:
        report.checks = _run_checks(checks, store, embedder, searcher, pointer, tell)
        stages.end("checking")
        reason = checks_reason(report.checks)
        if reason is not None:
            report.reasons.append(reason)
            if not force:
                return _held(report, old_generation, started)
    if report.reasons:
        report.forced = True
        log.warning("switching to generation %d although there are reasons not to (forced by %s): %s", generation,
                    built_by, " ".join(r.message for r in report.reasons))
    lock.check()
    if store.pointer() != pointer:
        raise StoreError("another build switched the index while this one ran; keeping its index")
    store.switch(new, previous=pointer)
    store.copies.keep_only([new, pointer])  # the files of the generation before the previous one go now
    report.generation, report.switched = generation, True
    report.seconds = time.monotonic() - started
    log.info("built generation %d: %s", generation, report.to_json())
    return report


def _held(report: BuildReport, live_generation: int, started: float) -> BuildReport:
    """The report of a build not switched to, for its reasons: the live generation stays live."""
    report.generation, report.seconds = live_generation, time.monotonic() - started
    # Info, not a warning: the report says it to whoever asked for the build, the CLI's summary or the reindex reply.
    log.info("not switching to the new index: %s", " ".join(r.message for r in report.reasons))
    return report


def _run_checks(checks: list[Check], store: Store, embedder: Embedder, new: Searcher, live: Pointer | None,
                tell: ProgressFn) -> CheckReport:
    """The checks against the new generation. Those that fail are run against the live one too, which tells a
    check the build broke from one that failed already. With no live index, nothing can break; with one of
    another model, which this embedder cannot search, every failure counts as broken."""
    tell(Progress("checking", 0, len(checks)))
    results = run_checks(checks, new)
    failed = [result.check for result in results if not result.passed]
    regressed: frozenset[Check] = frozenset()
    if failed and live is not None:
        if live.model == embedder.name:
            before = run_checks(failed, Searcher(store, embedder, live))
            regressed = frozenset(result.check for result in before if result.passed)
        else:
            regressed = frozenset(failed)
    tell(Progress("checking", len(checks), len(checks)))
    return CheckReport(results, regressed)


def _unchanged(previous: list[Record], doc: Document, chunks: list[Chunk]) -> bool:
    """Same text and metadata, cut into the same passages (the chunker may have changed since)."""
    if any(r.doc_digest != doc.digest for r in previous):
        return False
    stored = sorted((r.chunk.id, r.chunk.start, r.chunk.end, r.chunk.item) for r in previous)
    return stored == sorted((c.id, c.start, c.end, c.item) for c in chunks)


def _records(doc: Document, chunks: list[Chunk], generation: int) -> list[tuple[Record, str]]:
    return [(Record(f"g{generation}:{c.id}", c, doc.source, doc.digest, _digest(c.text), generation), c.text)
            for c in chunks]


def _read(paths: list[Path], metadata: dict[str, dict[str, str]], live: dict[str, list[Record]], generation: int,
          report: BuildReport, tell: ProgressFn) -> tuple[list[Record], list[tuple[Record, str]]]:
    """Reads every source: the live records it keeps (unchanged, or a last good version of one that can no longer
    be read), and the new records of the others, with their texts. Counts each in the report."""
    keep: list[Record] = []
    fresh: list[tuple[Record, str]] = []
    for done, path in enumerate(paths, 1):
        tell(Progress("reading", done, len(paths)))
        previous = live.get(path.name, [])
        try:
            doc = load_document(path, metadata.get(path.name, {}))
            chunks = chunk_document(doc)
            if not chunks:
                raise CorpusError("no article text found: only site chrome, captions or comments")
            warning = layout_warning(chunks)
            if warning:
                report.warnings.append({"source": path.name, "warning": warning})
        except (CorpusError, OSError) as exc:
            error = str(exc) if isinstance(exc, CorpusError) else f"cannot read the file: {exc.strerror}"
            report.errors.append({"source": path.name, "error": error})
            if previous:
                log.warning("%s: %s; its last good version stays live", path.name, error)
                keep.extend(previous)
            continue
        if previous and _unchanged(previous, doc, chunks):
            report.unchanged += 1
            keep.extend(previous)
            continue
        if previous:
            report.changed += 1
        else:
            report.added += 1
        fresh.extend(_records(doc, chunks, generation))
    return keep, fresh


def _corroborate(store: Store, collection: Any, generation: int, keep: list[Record], new_records: list[Record],
                 live_files: Vectors | None, dimension: int,
                 live: tuple[str, Corroboration | None, dict[str, frozenset[str]]], report: BuildReport,
                 tell: ProgressFn) -> tuple[Assembled, Also]:
    """The new generation's passages and vectors, in reading order, and their partners (kept in the store, and
    returned as positions for its files). `live` is the code key, and the live generation's partners and its
    passages per source, which the partners of unchanged sources are kept from."""
    tell(Progress("corroborating", 0, 1))
    # The vectors as Chroma keeps them (its cosine space moves their last bits): what a copy made from it would hold.
    stored = store.embeddings(collection, [r.record_id for r in new_records])
    kept_as = np.array([stored[r.record_id] for r in new_records], dtype=np.float32).reshape(-1, dimension)
    assembled = assemble(keep, new_records, kept_as, live_files, dimension)
    found, also = judged(assembled, *live)
    store.write_pages(generation, found.pages())
    report.corroboration = {"bar": round(found.bar, 4) if math.isfinite(found.bar) else None,
                            "passages": len(found.partners), "judged": found.judged}
    tell(Progress("corroborating", 1, 1))
    return assembled, also


def _validated_files(store: Store, embedder: Embedder, new: Pointer, any_passage: bool) -> tuple[Searcher, Pointer]:
    """A searcher over the new generation's files, read back as every searcher will read them, and its pointer with
    the abstention bar, computed once for all from the background questions' vectors the store keeps."""
    background = background_vectors(store, embedder) if any_passage else None
    searcher = Searcher(store, embedder, new, background=background)
    if math.isfinite(searcher.index.bar):
        new = replace(new, bar=searcher.index.bar, spread=searcher.index.spread,
                      bar_key=calibration_key(embedder.name))
    return searcher, new


def _live_files(store: Store, pointer: Pointer | None) -> Vectors | None:
    """The live generation's files on this host (made from Chroma first if they are not), whose vectors, tokens
    and lexicons the new generation reuses."""
    if pointer is None:
        return None
    found = snapshot.read_vectors(store.copies, pointer)
    if found is None and (filled := fill(store, pointer, check=False)) is not None:
        found = Vectors.of(filled)
    return found


def _vectors(embedder: Embedder, fresh: list[tuple[Record, str]], reusable: dict[str, str],
             live: Callable[[str], np.ndarray | None], dimension: int, report: BuildReport,
             tell: ProgressFn) -> np.ndarray:
    """Embeddings for the new records: copied from a live passage with the same text, else computed."""
    vectors = np.zeros((len(fresh), dimension), dtype=np.float32)
    todo = []
    for i, (record, text) in enumerate(fresh):
        chunk_id = reusable.get(record.embed_digest)
        known = live(chunk_id) if chunk_id is not None else None
        if known is not None:
            vectors[i] = known
        else:
            todo.append((i, text))
    # Steps of similar length waste little on padding, as one encode over all the texts would.
    todo.sort(key=lambda item: len(item[1]))
    for start in range(0, len(todo), EMBED_STEP):
        part = todo[start : start + EMBED_STEP]
        vectors[[i for i, _ in part]] = embedder.encode([text for _, text in part])
        tell(Progress("embedding", start + len(part), len(todo)))
    report.embedded = len(todo)
    return vectors


def _write(store: Store, collection: Any, records: list[Record], vectors: np.ndarray, replaced: list[str],
           generation: int, tell: ProgressFn) -> None:
    """Adds the new generation's records, then marks the replaced ones as dying with it."""
    total = len(records) + len(replaced)
    tell(Progress("writing", 0, total))
    for start in range(0, len(records), WRITE_STEP):
        store.add(collection, records[start : start + WRITE_STEP], vectors[start : start + WRITE_STEP])
        tell(Progress("writing", min(start + WRITE_STEP, len(records)), total))
    for start in range(0, len(replaced), WRITE_STEP):
        store.mark_died(collection, replaced[start : start + WRITE_STEP], generation)
        tell(Progress("writing", len(records) + min(start + WRITE_STEP, len(replaced)), total))


def _validate(store: Store, collection: Any, generation: int, expected: int, new_records: list[Record],
              keep: list[Record], vectors: np.ndarray) -> None:
    """The new generation holds exactly the passages it should, and a probe query finds one of them.

    The probe searches only this build's records when there are any: a filter that few records pass is fast,
    where the generation's range filter costs a scan of the whole collection (0.4 s at 100k passages).
    """
    count = store.count_live(collection, generation)
    if count != expected:
        raise StoreError(f"the new index holds {count} passages where {expected} were written; "
                         "keeping the old one")
    if new_records:
        probe_id, probe, where = new_records[0].record_id, vectors[0], {"born": generation}
    elif keep:
        probe_id, where = keep[0].record_id, live_filter(generation)
        probe = store.embeddings(collection, [probe_id])[probe_id]
    else:
        return
    found = collection.query(query_embeddings=[probe], n_results=min(PROBE_RESULTS, expected), where=where,
                             include=["distances"])
    ids, distances = found["ids"][0], (found["distances"] or [[]])[0]
    exact = [i for i, d in zip(ids, distances, strict=True) if d < 1e-4]
    # Identical passages share a vector: more of them than the query returns may hide the probe's own id.
    if probe_id not in exact and not (exact and len(exact) == len(ids)):
        raise StoreError("a probe query on the new index did not find its own passage; keeping the old one")
