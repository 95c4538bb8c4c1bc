"""Bad source files: each gets a clear error, the rest is indexed, and a good file turned bad stays live."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from index.builds.pipeline import build
from index.ingest import corpus
from index.ingest.corpus import CorpusError
from index.store.chroma import Store
from tests.conftest import ROOT, FakeEmbedder, make_settings

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
        opened = os.open

        def denied(file: Any, flags: int, *args: Any) -> int:
            if Path(file).name == GOOD:  # a chmod 000 file, which root (running CI here) could still read
                raise PermissionError(13, "Permission denied", str(file))
            return opened(file, flags, *args)

        monkeypatch.setattr(os, "open", denied)
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


def test_a_link_out_of_the_seeds_folder_is_refused(store: Store, seeds_copy: Path, tmp_path: Path) -> None:
    """A .txt that is a link to a file outside SEEDS_DIR is listed in `errors` and never quoted; a link to a file
    inside it is indexed as usual."""
    notes = tmp_path / "operator" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("Private notes\n\nThe operator's password for the server is swordfish, written down here so "
                     "that it is not forgotten again.\n", encoding="utf-8")
    (seeds_copy / "notes.txt").symlink_to(notes)
    (seeds_copy / "again.txt").symlink_to(seeds_copy / GOOD)
    report = build(seeds_copy, store, FakeEmbedder())
    assert report.errors == [{"source": "notes.txt", "error": "the file is a link to a file outside the seeds "
                                                                "folder, which is never indexed; copy the article "
                                                                "into the folder instead"}]
    assert "notes.txt" not in live_source_ids(store) and "again.txt" in live_source_ids(store)
    pointer = store.pointer()
    assert pointer is not None
    texts = [r.chunk.text for r, _ in store.records(store.chunks_collection(pointer.collection), pointer.generation)]
    assert not any("swordfish" in text for text in texts)


def test_files_are_read_with_a_byte_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose size the file system reports as 0 (as /proc does) is read only up to the cap, then refused."""
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0 and len(status.read_bytes()) > 100
    monkeypatch.setattr(corpus, "MAX_FILE_BYTES", 100)
    with pytest.raises(CorpusError, match="over the 0 MB limit"):
        corpus.read_capped(status)


def test_deeply_nested_sources_toml_is_a_clear_error(tmp_path: Path, seeds_copy: Path) -> None:
    """sources.toml nested thousands deep stops `python -m index build` with the usual one-line error and status 1,
    not the message and status of a bug."""
    (seeds_copy / "sources.toml").write_text("deep = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"sources\.toml is not valid TOML: it is nested too deeply"):
        corpus.read_table(seeds_copy)
    env = {**os.environ, "SEEDS_DIR": str(seeds_copy), "CHROMA_PATH": str(tmp_path / "chroma"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "index", "build", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "error: sources.toml is not valid TOML: it is nested too deeply" in result.stderr
    assert "Traceback" not in result.stderr


def odd_entries(seeds: Path) -> dict[str, str]:
    """Puts a dangling link, a looping link, a FIFO and a folder, each named *.txt, in `seeds`; returns the words
    each one's error must carry."""
    (seeds / "dangling.txt").symlink_to(seeds / "gone.txt")
    (seeds / "looping.txt").symlink_to(seeds / "looping.txt")
    os.mkfifo(seeds / "pipe.txt")
    (seeds / "folder.txt").mkdir()
    return {"dangling.txt": "does not exist", "looping.txt": "loop", "pipe.txt": "named pipe",
            "folder.txt": "a folder"}


def test_links_pipes_and_folders_named_txt_are_each_reported(store: Store, seeds_copy: Path) -> None:
    """A dangling link, a looping link, a FIFO (which must not hang the build) and a folder named *.txt are each
    listed in `errors` with their reason, and the seeds are indexed."""
    expected = odd_entries(seeds_copy)
    report = build(seeds_copy, store, FakeEmbedder())
    errors = {e["source"]: e["error"] for e in report.errors}
    assert set(errors) == set(expected)
    for name, words in expected.items():
        assert words in errors[name], (name, errors[name])
    assert report.switched and report.documents == 5


def test_a_build_with_unreadable_files_exits_with_its_own_status(store: Store, seeds_copy: Path) -> None:
    """`python -m index build` with files it could not read indexes the rest, names each file and why, and exits
    with status 5 (documented), not 0; the same corpus without them exits 0."""
    build(seeds_copy, store, FakeEmbedder())  # the subprocesses below embed nothing: the fake model is not on disk
    expected = odd_entries(seeds_copy)
    (seeds_copy / "binary.txt").write_bytes(bytes(range(256)))
    (seeds_copy / "utf16.txt").write_bytes("Iran and the Taliban met again in Kabul.".encode("utf-16"))
    (seeds_copy / "empty.txt").write_bytes(b"")
    expected.update({"binary.txt": "binary", "utf16.txt": "UTF-16", "empty.txt": "empty"})
    env = {**os.environ, "SEEDS_DIR": str(seeds_copy), "CHROMA_PATH": str(seeds_copy.parent / "chroma"),
           "EMBEDDING_MODEL": FakeEmbedder().name}
    result = subprocess.run([sys.executable, "-m", "index", "build", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 5, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["documents"] == 5 and report["generation"] == 1
    errors = {e["source"]: e["error"] for e in report["errors"]}
    assert set(errors) == set(expected)
    assert all(words in errors[name] for name, words in expected.items()), errors
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| 5 |" in readme
    for name in expected:
        os.unlink(seeds_copy / name) if name != "folder.txt" else (seeds_copy / name).rmdir()
    again = subprocess.run([sys.executable, "-m", "index", "build"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
