"""The abstention bar is computed once, by the build, and kept with the generation it belongs to."""

from dataclasses import replace
from pathlib import Path

from index.builds.pipeline import build
from index.model.background import BACKGROUND_QUESTIONS
from index.search.searcher import Searcher
from index.store.chroma import Store
from tests.conftest import FakeEmbedder, make_settings


def test_a_searcher_takes_the_bar_the_build_kept_without_encoding_the_background(tmp_path: Path) -> None:
    store = Store.open(make_settings(tmp_path))
    build(make_settings(tmp_path).seeds_dir, store, FakeEmbedder())
    pointer = store.pointer()
    assert pointer is not None and pointer.bar is not None

    question_side = FakeEmbedder()
    searcher = Searcher(store, question_side)
    assert question_side.calls == 0
    assert searcher.index.bar == pointer.bar


def test_a_bar_computed_another_way_is_computed_again_and_comes_out_the_same(tmp_path: Path) -> None:
    store = Store.open(make_settings(tmp_path))
    build(make_settings(tmp_path).seeds_dir, store, FakeEmbedder())
    pointer = store.pointer()
    assert pointer is not None
    store.switch(replace(pointer, bar_key="written by an older Dossier"), previous=None)

    question_side = FakeEmbedder()
    searcher = Searcher(store, question_side)
    assert question_side.calls == len(BACKGROUND_QUESTIONS)
    assert searcher.index.bar == pointer.bar


def test_a_rollback_brings_back_the_bar_of_the_generation_it_returns_to(seeds_copy: Path, tmp_path: Path) -> None:
    store = Store.open(make_settings(tmp_path, seeds_copy))
    build(seeds_copy, store, FakeEmbedder())
    first = store.pointer()
    assert first is not None
    for path in sorted(seeds_copy.glob("*.txt"))[:2]:
        path.unlink()
    build(seeds_copy, store, FakeEmbedder())
    second = store.pointer()
    assert second is not None and second.generation == first.generation + 1 and second.bar != first.bar

    store.rollback("a moderator")
    assert Searcher(store, FakeEmbedder()).index.bar == first.bar
