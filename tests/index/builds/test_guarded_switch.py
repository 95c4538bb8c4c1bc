"""Guarded switches: a build that would empty the index or drop most of it is not switched without force."""

import shutil
from pathlib import Path

import pytest

from index.builds.pipeline import build
from index.ingest.corpus import CorpusError
from index.search.searcher import Searcher
from index.store.chroma import Store
from tests.conftest import FakeEmbedder, make_settings

QUESTION = "Iran sent weapons to the Taliban and trained their fighters"


@pytest.fixture
def store(tmp_path: Path, seeds_copy: Path) -> Store:
    """A real embedded store holding the five seeds, built with the fast fake embedder."""
    store = Store.open(make_settings(tmp_path, seeds_copy))
    build(seeds_copy, store, FakeEmbedder())
    return store


def answers(store: Store) -> list[str]:
    return [hit.chunk.id for hit in Searcher(store, FakeEmbedder()).search(QUESTION).hits]


@pytest.mark.parametrize("contents", [{}, {"notes.md": "# Notes\n\nIran and the Taliban.\n"}],
                         ids=["empty folder", "markdown only"])
def test_a_seeds_folder_without_documents_is_not_switched_to(store: Store, tmp_path: Path,
                                                             contents: dict[str, str]):
    """An empty folder, or one of .md files, leaves the live index and its answers as they were."""
    before, pointer = answers(store), store.pointer()
    folder = tmp_path / "wrong"
    folder.mkdir()
    for name, text in contents.items():
        (folder / name).write_text(text, encoding="utf-8")
    report = build(folder, store, FakeEmbedder())
    assert not report.switched and report.held and report.removed == 5
    assert [r.code for r in report.reasons] == ["no_documents"]
    assert "holds no .txt files" in report.reasons[0].message
    assert (".md" in report.reasons[0].message) == bool(contents)
    json = report.to_json()
    assert json["switched"] is False and json["reasons"][0]["code"] == "no_documents"
    assert store.pointer() == pointer and answers(store) == before


def test_a_folder_whose_files_all_fail_says_so(store: Store, tmp_path: Path):
    """When every .txt fails to index, the reason points at the errors rather than at SEEDS_DIR."""
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"\xff\xfe\x00binary")
    report = build(folder, store, FakeEmbedder())
    assert report.held and "none of the 1 .txt files" in report.reasons[0].message
    assert report.errors and report.errors[0]["source"] == "a.txt"


def test_removing_more_than_half_needs_force(store: Store, seeds_copy: Path):
    """Three of five documents gone is held back; forced, it switches and says it was forced."""
    pointer = store.pointer()
    for path in sorted(seeds_copy.glob("*.txt"))[:3]:
        path.unlink()
    held = build(seeds_copy, store, FakeEmbedder())
    assert held.held and [r.code for r in held.reasons] == ["most_removed"]
    assert "remove 3 of the 5" in held.reasons[0].message and store.pointer() == pointer
    forced = build(seeds_copy, store, FakeEmbedder(), force=True)
    assert forced.switched and forced.forced and forced.documents == 2
    assert {s.id for s, _ in Searcher(store, FakeEmbedder()).sources()} == {p.name for p in seeds_copy.glob("*.txt")}


def test_removing_half_or_less_switches(store: Store, seeds_copy: Path):
    """Two of five documents removed is an ordinary change: switched, with no reason given."""
    for path in sorted(seeds_copy.glob("*.txt"))[:2]:
        path.unlink()
    report = build(seeds_copy, store, FakeEmbedder())
    assert report.switched and report.reasons == [] and report.removed == 2


def test_a_forced_empty_index_is_searched_as_an_empty_corpus(store: Store, tmp_path: Path):
    """Forced to hold nothing, the index loads and every question is told the corpus is empty."""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert build(empty, store, FakeEmbedder(), force=True).switched
    searcher = Searcher(store, FakeEmbedder())
    answer = searcher.search(QUESTION)
    assert not answer.answered and answer.note == "The corpus is empty." and searcher.sources() == []


def test_a_first_build_of_an_empty_folder_makes_no_index(tmp_path: Path):
    """With nothing live yet, an empty folder is still refused: no empty generation goes live."""
    empty = tmp_path / "empty"
    empty.mkdir()
    store = Store.open(make_settings(tmp_path, empty))
    report = build(empty, store, FakeEmbedder())
    assert report.held and store.pointer() is None


def test_seeds_dir_that_is_a_file_gets_its_own_message(store: Store, tmp_path: Path, seeds_copy: Path):
    """A SEEDS_DIR naming a file says so, rather than that it does not exist."""
    path = tmp_path / "seeds.txt"
    shutil.copy(next(seeds_copy.glob("*.txt")), path)
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        build(path, store, FakeEmbedder())
    with pytest.raises(CorpusError, match="does not exist"):
        build(tmp_path / "sedes", store, FakeEmbedder())
