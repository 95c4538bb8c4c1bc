"""Incremental reindex: only what changed is embedded, removed documents leave, the report says so."""

import json
from pathlib import Path

import pytest

from index.builds.pipeline import build
from index.builds.report import BuildReport
from index.ingest.chunking import chunk_document
from index.ingest.corpus import load_document
from index.store.chroma import Store
from index.store.passages import collection_name
from tests.conftest import FakeEmbedder, make_settings

CHANGED = "003_eb7467070494d04b.txt"
REMOVED = "004_9fd61aad6fe509e9.txt"
OTHER = "002_e07d2383dc8947a8.txt"


@pytest.fixture
def store(tmp_path: Path, seeds_copy: Path) -> Store:
    return Store.open(make_settings(tmp_path, seeds_copy))


def live_sources(store: Store) -> dict[str, set[str]]:
    """Chunk ids per source id in the live generation."""
    pointer = store.pointer()
    assert pointer is not None
    found: dict[str, set[str]] = {}
    for record, _ in store.records(store.chunks_collection(pointer.collection), pointer.generation):
        found.setdefault(record.source.id, set()).add(record.chunk.id)
    return found


def test_first_build_embeds_every_passage(store: Store, seeds_copy: Path):
    """A first build embeds each passage once and reports the contract's counts."""
    embedder = FakeEmbedder()
    report = build(seeds_copy, store, embedder)
    assert (report.documents, report.added, report.removed, report.unchanged, report.errors) == (5, 5, 0, 0, [])
    assert report.embedded == report.chunks == embedder.passages > 0
    assert store.pointer().generation == 1  # type: ignore[union-attr]


def test_unchanged_rebuild_embeds_nothing_and_keeps_the_generation(store: Store, seeds_copy: Path):
    """Rebuilding an unchanged corpus embeds 0 passages and leaves the live generation as it is."""
    first = build(seeds_copy, store, FakeEmbedder())
    pointer = store.pointer()
    embedder = FakeEmbedder()
    again = build(seeds_copy, store, embedder)
    assert (again.embedded, embedder.calls, again.unchanged, again.chunks) == (0, 0, 5, first.chunks)
    assert not again.switched and store.pointer() == pointer


def test_changed_document_re_embeds_only_its_new_passages(store: Store, seeds_copy: Path):
    """Editing one paragraph of one document embeds just the passages whose text changed."""
    build(seeds_copy, store, FakeEmbedder())
    before = live_sources(store)
    path = seeds_copy / CHANGED
    text = path.read_text(encoding="utf-8")
    doc = load_document(path, {})
    target = chunk_document(doc)[2]
    path.write_text(text[: target.start] + "Officials in Herat confirmed the new crossing would open in May. "
                    + text[target.start :], encoding="utf-8")
    embedder = FakeEmbedder()
    report = build(seeds_copy, store, embedder)
    after = live_sources(store)
    assert (report.changed, report.unchanged, report.added, report.removed) == (1, 4, 0, 0)
    new_passages = after[CHANGED] - before[CHANGED]
    assert report.embedded == embedder.passages == len(new_passages) >= 1
    assert len(new_passages) < len(after[CHANGED])
    assert {k: v for k, v in after.items() if k != CHANGED} == {k: v for k, v in before.items() if k != CHANGED}


def test_metadata_change_re_records_without_embedding(store: Store, seeds_copy: Path):
    """A new title in sources.toml updates the document's passages without embedding any text."""
    build(seeds_copy, store, FakeEmbedder())
    toml = seeds_copy / "sources.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'title = "The Iranian regime\'s ties with Taliban"', 'title = "Iran and the Taliban"'), encoding="utf-8")
    report = build(seeds_copy, store, FakeEmbedder())
    assert (report.changed, report.embedded) == (1, 0)
    pointer = store.pointer()
    assert pointer is not None
    titles = {r.source.title for r, _ in store.records(store.chunks_collection(pointer.collection), pointer.generation)
              if r.source.id == REMOVED}
    assert titles == {"Iran and the Taliban"}


def test_removed_document_leaves_the_index(store: Store, seeds_copy: Path):
    """Deleting a source file removes its passages from the next generation, embedding nothing."""
    first = build(seeds_copy, store, FakeEmbedder())
    gone = len(live_sources(store)[REMOVED])
    (seeds_copy / REMOVED).unlink()
    report = build(seeds_copy, store, FakeEmbedder())
    assert (report.removed, report.documents, report.embedded) == (1, 4, 0)
    assert REMOVED not in live_sources(store)
    assert report.chunks == first.chunks - gone


def test_added_document_embeds_only_its_passages(store: Store, seeds_copy: Path):
    """A new source file is embedded on its own; the others are unchanged."""
    build(seeds_copy, store, FakeEmbedder())
    (seeds_copy / "005_new.txt").write_text(
        "Border talks\n\nIranian and Taliban officials met in Kabul on Monday to discuss water rights on the "
        "Helmand river.\n\nBoth sides said the talks would continue next month in Tehran.\n", encoding="utf-8")
    report = build(seeds_copy, store, FakeEmbedder())
    assert (report.added, report.unchanged, report.embedded) == (1, 5, len(live_sources(store)["005_new.txt"]))


def test_dead_records_are_cleaned_at_the_next_build(store: Store, seeds_copy: Path):
    """Records only an older generation than the previous one needs are deleted by the next build; the previous
    generation's stay, for a rollback."""
    build(seeds_copy, store, FakeEmbedder())
    removed = len(live_sources(store)[REMOVED])
    (seeds_copy / REMOVED).unlink()
    build(seeds_copy, store, FakeEmbedder())
    dying = len(live_sources(store)[OTHER])
    (seeds_copy / OTHER).unlink()
    report = build(seeds_copy, store, FakeEmbedder())
    collection = store.chunks_collection(collection_name(FakeEmbedder().name))
    # The third build kept what died in the second: the second was the previous generation when it started.
    assert collection.count() - report.chunks == removed + dying
    build(seeds_copy, store, FakeEmbedder())  # nothing changed, but it cleans what only the first needed
    assert collection.count() - report.chunks == dying


def test_model_change_rebuilds_into_a_new_collection(store: Store, seeds_copy: Path):
    """Building with another model embeds everything anew; the old model's collection stays while its generation
    is the previous one (for a rollback), and is dropped by the build after the next switch."""
    build(seeds_copy, store, FakeEmbedder("model-a"))
    report = build(seeds_copy, store, FakeEmbedder("model-b"))
    assert report.embedded == report.chunks and store.pointer().model == "model-b"  # type: ignore[union-attr]
    build(seeds_copy, store, FakeEmbedder("model-b"))
    assert collection_name("model-a") in {c.name for c in store.client.list_collections()}
    (seeds_copy / REMOVED).unlink()
    assert build(seeds_copy, store, FakeEmbedder("model-b")).switched
    build(seeds_copy, store, FakeEmbedder("model-b"))
    names = {c.name for c in store.client.list_collections()}
    assert collection_name("model-a") not in names and collection_name("model-b") in names


def test_report_json_keeps_the_contract(store: Store, seeds_copy: Path):
    """The JSON report has the contract's keys with their types, plus the extensions."""
    report: BuildReport = build(seeds_copy, store, FakeEmbedder())
    data = json.loads(json.dumps(report.to_json()))
    for key in ("documents", "chunks", "embedded", "removed", "unchanged"):
        assert isinstance(data[key], int)
    assert data["errors"] == [] and data["switched"] is True
    assert set(data["stages"]) == {"index", "reading", "embedding", "writing", "corroborating", "saving", "validating"}
    assert set(data["corroboration"]) == {"bar", "passages", "judged"}
    assert data["corroboration"]["judged"] == data["chunks"]
