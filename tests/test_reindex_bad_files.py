"""Bad source files: each gets a clear error, the rest is indexed, and a good file turned bad stays live."""

from pathlib import Path

import pytest

from index.build import build
from index.store import Store
from tests.conftest import FakeEmbedder, make_settings

GOOD = "003_eb7467070494d04b.txt"
BOILERPLATE = "Latest News\n\n728 x 90\n\nPrint\n\nShare on Facebook\n\nWrite your comment\n\nGreat article!\n"
BAD_FILES = {
    "invalid_utf8.txt": (b"Iran and the Taliban \xff\xfe met in Kabul on Monday, officials said.\n", "not valid UTF-8"),
    "binary.txt": (bytes(range(256)) * 8, "binary"),
    "empty.txt": (b"  \n\n ", "empty"),
    "huge.txt": (b"Iran and the Taliban met again in Kabul this week, officials said.\n" * 160_000, "MB, over"),
    "boilerplate.txt": (BOILERPLATE.encode(), "no article text"),
    "utf16.txt": ("Iran and the Taliban met again in Kabul.".encode("utf-16"), "UTF-16"),
}


@pytest.fixture
def store(tmp_path: Path, seeds_copy: Path) -> Store:
    return Store.open(make_settings(tmp_path, seeds_copy))


def live_source_ids(store: Store) -> set[str]:
    pointer = store.pointer()
    assert pointer is not None
    return {r.source.id for r, _ in store.records(store.chunks_collection(pointer.collection), pointer.generation)}


def live_texts(store: Store, source_id: str) -> set[str]:
    pointer = store.pointer()
    assert pointer is not None
    return {r.chunk.text for r, _ in store.records(store.chunks_collection(pointer.collection), pointer.generation)
            if r.source.id == source_id}


def test_each_bad_file_gets_a_clear_error_and_the_rest_is_indexed(store: Store, seeds_copy: Path):
    """Invalid UTF-8, binary, empty, 10 MB, boilerplate-only and UTF-16 files are reported; the seeds index."""
    for name, (data, _) in BAD_FILES.items():
        (seeds_copy / name).write_bytes(data)
    assert len(BAD_FILES["huge.txt"][0]) > 10_000_000
    report = build(seeds_copy, store, FakeEmbedder())
    errors = {e["source"]: e["error"] for e in report.errors}
    assert set(errors) == set(BAD_FILES)
    for name, (_, words) in BAD_FILES.items():
        assert words in errors[name], (name, errors[name])
    assert report.documents == 5 and live_source_ids(store) == {p.name for p in seeds_copy.glob("0*.txt")}


@pytest.mark.parametrize("spoil", ["binary", "invalid_utf8", "empty", "boilerplate", "unreadable"])
def test_a_good_file_turned_bad_keeps_its_last_good_version(store: Store, seeds_copy: Path, spoil: str,
                                                            monkeypatch: pytest.MonkeyPatch):
    """A file that indexed well, then turns bad, stays live as it was while the error is reported."""
    build(seeds_copy, store, FakeEmbedder())
    before = live_texts(store, GOOD)
    path = seeds_copy / GOOD
    if spoil == "unreadable":
        read_bytes = Path.read_bytes

        def denied(self: Path) -> bytes:
            if self.name == GOOD:  # a chmod 000 file, which root (running CI here) could still read
                raise PermissionError(13, "Permission denied", str(self))
            return read_bytes(self)

        monkeypatch.setattr(Path, "read_bytes", denied)
    else:
        path.write_bytes({"binary": bytes(range(256)), "invalid_utf8": b"Iran \xc3\x28 Taliban.",
                          "empty": b"", "boilerplate": BOILERPLATE.encode()}[spoil])
    (seeds_copy / "004_9fd61aad6fe509e9.txt").unlink()  # another change, so a new generation is written
    embedder = FakeEmbedder()
    report = build(seeds_copy, store, embedder)
    assert [e["source"] for e in report.errors] == [GOOD]
    assert report.switched and report.documents == 4 and embedder.passages == 0
    assert live_texts(store, GOOD) == before
    if spoil == "unreadable":
        assert report.errors[0]["error"] == "cannot read the file: Permission denied"
