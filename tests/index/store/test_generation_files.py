"""Each generation's files on this host: written by the build before it switches, read by every searcher, made
again from Chroma (the store of record) when missing or damaged, and the same whichever way they were made."""

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from index.builds.pipeline import build
from index.search import snapshot
from index.search.making import fill
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import Store
from index.store.copies import Copies, folder_name
from index.store.pointer import POINTER_ID, PREVIOUS_ID, read_pointers
from tests.conftest import FakeEmbedder, make_settings, on_topic_scorer

QUESTIONS = ["Iran and the Taliban share a long border", "Who sends weapons to the fighters?",
             "What happened to the diplomats in Mazar-i-Sharif?"]
SAME = ("vectors.npy", "blended.npy", "leaning.npy", "text.txt", "text_ends.npy", "ids.txt", "fields.npy",
        "sources.json", "also_start.npy", "also_partners.npy", "also_cosines.npy")


def answers(store: Store) -> list[list[tuple[str, float]]]:
    searcher = Searcher(store, FakeEmbedder(), scorer=on_topic_scorer())
    return [[(h.chunk.id, h.score) for h in searcher.search(q).hits] for q in QUESTIONS]


def bm25_scores(folder: Path) -> dict[str, list[float]]:
    index = snapshot.read_bm25(folder)
    return {token: np.round(index.get_scores([token]), 5).tolist() for token in index.vocab_dict if token}


def assert_same_files(made: Path, filled: Path) -> None:
    """Two copies of one generation hold the same passages, vectors, partners, BM25 weights and lexicon."""
    for name in SAME:
        assert (made / name).read_bytes() == (filled / name).read_bytes(), name
    assert bm25_scores(made) == bm25_scores(filled)
    lexicons = [snapshot.read_lexicon(folder) for folder in (made, filled)]
    assert lexicons[0].keys == lexicons[1].keys and dict(lexicons[0].phrases) == dict(lexicons[1].phrases)
    assert {k: sorted(v) for k, v in lexicons[0].by_initial.items()} == {
        k: sorted(v) for k, v in lexicons[1].by_initial.items()}


@pytest.fixture
def settings(tmp_path: Path, seeds_copy: Path) -> IndexSettings:
    return make_settings(tmp_path, seeds_copy)


def test_the_build_writes_the_files_a_copy_filled_from_chroma_would_hold(settings: IndexSettings, tmp_path: Path):
    """An incremental build's files (tokens and lexicons of unchanged sources reused) equal those made whole
    from Chroma, which is what a host without them makes."""
    store = Store.open(settings)
    build(settings.seeds_dir, store, FakeEmbedder())
    path = settings.seeds_dir / "002_e07d2383dc8947a8.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("Taliban", "Taleban"), encoding="utf-8")
    (settings.seeds_dir / "004_9fd61aad6fe509e9.txt").unlink()
    assert build(settings.seeds_dir, store, FakeEmbedder()).changed == 1
    pointer = store.pointer()
    assert pointer is not None
    elsewhere = Store(settings.model_copy(update={"generations_path": tmp_path / "other-host"}), store.client)
    filled = fill(elsewhere, pointer, check=True)
    assert filled is not None
    assert_same_files(store.copies.folder(pointer), filled.folder)


def test_a_searcher_makes_missing_files_from_chroma_and_answers_the_same(settings: IndexSettings,
                                                                         caplog: pytest.LogCaptureFixture):
    """Files deleted (a new host, a cleaned disk): the next searcher makes them from Chroma, says so in the log,
    and answers as before."""
    store = Store.open(settings)
    build(settings.seeds_dir, store, FakeEmbedder())
    before = answers(store)
    shutil.rmtree(settings.generations)
    with caplog.at_level(logging.INFO, logger="index.search.making"):
        assert answers(store) == before
    assert "making the files of generation 1 on this host from Chroma" in caplog.text
    assert Copies.check(store.copies.folder(store.pointer())) is None  # type: ignore[arg-type]


def test_a_damaged_file_is_made_again_from_chroma_never_an_error(settings: IndexSettings,
                                                                 caplog: pytest.LogCaptureFixture):
    """A file that no longer matches its hash (a bad disk, a hand edit) is noticed, logged, and the generation
    made again from Chroma: the answers are what they were."""
    store = Store.open(settings)
    build(settings.seeds_dir, store, FakeEmbedder())
    before = answers(store)
    vectors = store.copies.folder(store.pointer()) / "vectors.npy"  # type: ignore[arg-type]
    damaged = bytearray(vectors.read_bytes())
    damaged[-7] ^= 0xFF
    vectors.write_bytes(bytes(damaged))
    with caplog.at_level(logging.INFO):
        assert answers(Store(settings)) == before  # as another process would: the build trusts what it just wrote
    assert "vectors.npy does not match its hash" in caplog.text
    assert "making the files of generation 1 on this host from Chroma" in caplog.text


def test_the_pointer_read_without_chromadb_is_the_pointer(settings: IndexSettings):
    """The live and previous pointers, read from the store's file as a question process reads them, are those
    Chroma gives, through builds and a rollback."""
    store = Store.open(settings)

    def both() -> tuple[object, object]:
        light = read_pointers(settings, POINTER_ID, PREVIOUS_ID)
        return light[POINTER_ID], light[PREVIOUS_ID]

    assert both() == (None, None)
    build(settings.seeds_dir, store, FakeEmbedder())
    assert both() == (store.pointer(), None)
    (settings.seeds_dir / "004_9fd61aad6fe509e9.txt").unlink()
    build(settings.seeds_dir, store, FakeEmbedder())
    assert both() == (store.pointer(), store.pointer(PREVIOUS_ID)) and both()[1] is not None
    store.rollback("test")
    assert both() == (store.pointer(), None)


def test_only_the_live_and_previous_generations_keep_files(settings: IndexSettings):
    """Each build deletes the files of generations no longer live nor kept for a rollback; a rollback finds its
    generation's files where they were."""
    store = Store.open(settings)
    names = []
    for removed in ("004_9fd61aad6fe509e9.txt", "003_eb7467070494d04b.txt"):
        build(settings.seeds_dir, store, FakeEmbedder())
        names.append(folder_name(store.pointer()))  # type: ignore[arg-type]
        (settings.seeds_dir / removed).unlink()
    build(settings.seeds_dir, store, FakeEmbedder())
    names.append(folder_name(store.pointer()))  # type: ignore[arg-type]
    assert sorted(p.name for p in settings.generations.iterdir()) == names[1:]
    previous = store.rollback("test")
    assert snapshot.read(store.copies, previous) is not None
    manifest = json.loads((settings.generations / names[1] / "manifest.json").read_text())
    assert "vectors.npy" in manifest["files"] and "bm25/vocab.index.json" in manifest["files"]
