"""`python -m index add URL|FILE`, run as an operator would, against a news site on 127.0.0.1: the article and its
sources.toml entry are written, what was read is said, and a refusal exits non-zero and writes nothing."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.builds.pipeline import build
from index.ingest.corpus import read_metadata
from index.store.chroma import Store
from tests.conftest import ROOT, FakeEmbedder, make_settings
from tests.news_site import ARTICLE_PATH, PAGES, NewsSite, serving, two_column_pdf

pytestmark = pytest.mark.slow

ADDED = "khaf-herat-freight.txt"
TITLE = "Freight trains to run on the Khaf–Herat line, officials say"
CANONICAL = "https://frontier-ledger.example/world/2017/08/05/khaf-herat-freight"


@pytest.fixture(scope="module")
def site() -> Iterator[NewsSite]:
    with serving() as running:
        yield running


def add(seeds: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    settings = {"SEEDS_DIR": str(seeds), "FETCH_ALLOW_HOSTS": "127.0.0.1", **env}
    return subprocess.run([sys.executable, "-m", "index", "add", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **settings}, timeout=120)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def test_a_link_is_written_with_what_it_says_of_itself(site: NewsSite, seeds_copy: Path, tmp_path: Path) -> None:
    """The article lands in SEEDS_DIR as text with its metadata, the output lists what was read, and `build`
    indexes it."""
    done = add(seeds_copy, site.url(ARTICLE_PATH))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Added “{TITLE}” as {ADDED} (1.0 kB). It becomes searchable once `python -m index build` has run.",
        f"Read from the article: title “{TITLE}”, outlet The Frontier Ledger, author Parisa Navabi, published "
        f"2017-08-05, address {CANONICAL}."]
    text = (seeds_copy / ADDED).read_text(encoding="utf-8")
    assert text.startswith(f"{TITLE}\n\nIranian and Afghan railway officials agreed") and "cookies" not in text
    assert read_metadata(seeds_copy)[ADDED] == {"title": TITLE, "outlet": "The Frontier Ledger",
                                                "author": "Parisa Navabi", "published": "2017-08-05",
                                                "url": CANONICAL}
    report = build(seeds_copy, Store.open(make_settings(tmp_path, seeds_copy)), FakeEmbedder())
    assert (report.documents, report.added, report.errors) == (6, 6, [])


def test_typed_metadata_wins(site: NewsSite, seeds_copy: Path) -> None:
    """Fields given on the command line replace what the article says, and the output marks them as given."""
    done = add(seeds_copy, site.url(ARTICLE_PATH), "--author", "Desk staff", "--published", "2017-08-06")
    assert done.returncode == 0, done.stderr
    assert "author Desk staff (as given), published 2017-08-06 (as given)" in done.stdout
    entry = read_metadata(seeds_copy)[ADDED]
    assert (entry["author"], entry["published"], entry["outlet"]) == ("Desk staff", "2017-08-06", "The Frontier Ledger")


@pytest.mark.parametrize(("name", "data", "source_id", "read"), [
    ("freight.html", (PAGES / "article.html").read_bytes(), "freight.txt", f"address {CANONICAL}."),
    ("rail.pdf", two_column_pdf(), "rail.txt", "title “Rail freight report, first quarter”, outlet not stated, "
                                               "author Darius Kamali, published not stated, address not stated."),
    ("notes.txt", (PAGES / "notes.txt").read_bytes(), "notes.txt", None),
])
def test_files_are_added_by_their_kind(seeds_copy: Path, tmp_path: Path, name: str, data: bytes, source_id: str,
                                       read: str | None) -> None:
    """An .html page and a PDF are extracted, and say what was read; a .txt is taken as it is."""
    (tmp_path / name).write_bytes(data)
    done = add(seeds_copy, str(tmp_path / name))
    assert done.returncode == 0, done.stderr
    assert f" as {source_id} (" in done.stdout.splitlines()[0]
    if read is None:
        assert (seeds_copy / source_id).read_bytes() == data and len(done.stdout.splitlines()) == 1
    else:
        assert done.stdout.splitlines()[1].endswith(read)


@pytest.mark.parametrize(("path", "env", "says"), [
    (ARTICLE_PATH, {"FETCH_ALLOW_HOSTS": ""}, "The address 127.0.0.1 is a loopback address"),
    ("named:/to?url=http://127.0.0.1:{port}" + ARTICLE_PATH, {"FETCH_ALLOW_HOSTS": "localhost"},
     "After a redirect, the address 127.0.0.1 is a loopback address"),
    ("/to?url=http://192.168.0.10/article", {}, "After a redirect, the address 192.168.0.10 is a private address"),
    ("/hop/6", {}, "The link redirects more than 5 times"),
    ("/big", {}, "over the 5 MB limit"),
    ("/logo.png", {}, "The link gives image/png"),
    ("/slow", {"FETCH_TIMEOUT_SECONDS": "1"}, "127.0.0.1 took more than 1 s to answer"),
    ("/private/khaf-herat-freight", {}, "/robots.txt does not let Dossier fetch"),
    ("/world/customs-talks", {}, "for subscribers only (a paywall)"),
    ("/world", {}, "No article text was found"),
])
def test_refusals_write_nothing(site: NewsSite, seeds_copy: Path, path: str, env: dict[str, str], says: str) -> None:
    """Each refusal exits 1 with one line saying why, and the seeds folder is left exactly as it was."""
    before = snapshot(seeds_copy)
    url = site.named(path.removeprefix("named:")) if path.startswith("named:") else site.url(path)
    done = add(seeds_copy, url.replace("{port}", str(site.port)), **env)
    assert done.returncode == 1 and says in done.stderr.splitlines()[-1], done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: ") and done.stdout == ""
    assert snapshot(seeds_copy) == before


def test_the_same_article_twice_is_one_source(site: NewsSite, seeds_copy: Path, tmp_path: Path) -> None:
    """Adding the article again, by its link or as a saved page, names the source that holds it; --replace
    replaces that source."""
    assert add(seeds_copy, site.url(ARTICLE_PATH)).returncode == 0
    before = snapshot(seeds_copy)
    again = add(seeds_copy, site.url("/hop/2"))
    assert again.returncode == 1 and again.stderr.splitlines()[-1] == (
        f"error: This article is already in the corpus as {ADDED} (the same address). Pass --replace to replace it.")
    (tmp_path / "saved.html").write_bytes((PAGES / "article.html").read_bytes())
    saved = add(seeds_copy, str(tmp_path / "saved.html"))
    assert saved.returncode == 1 and f"already in the corpus as {ADDED}" in saved.stderr
    assert snapshot(seeds_copy) == before
    replaced = add(seeds_copy, str(tmp_path / "saved.html"), "--replace", "--title", "Freight by rail")
    assert replaced.returncode == 0 and replaced.stdout.startswith(f"Replaced “Freight by rail” as {ADDED}")
    assert not (seeds_copy / "saved.txt").exists()


def test_bad_arguments_are_refused_before_anything_is_read(seeds_copy: Path, tmp_path: Path) -> None:
    """An invalid date exits 2 (a bad argument), a file of another kind 1; nothing is fetched, read or written."""
    before = snapshot(seeds_copy)
    bad_date = add(seeds_copy, "https://news.example/a", "--published", "5 August 2017")
    assert bad_date.returncode == 2 and "is not a date written YYYY-MM-DD" in bad_date.stderr
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    other = add(seeds_copy, str(tmp_path / "notes.docx"))
    assert other.returncode == 1 and "is not a .txt, .html, .htm or .pdf file" in other.stderr
    assert snapshot(seeds_copy) == before
