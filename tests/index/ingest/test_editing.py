"""Adding and removing sources: uploads are checked, written atomically with their metadata, and logged."""

import logging
import random
import re
import threading
import tomllib
from pathlib import Path

import pytest

from index.builds.pipeline import build
from index.ingest.corpus import MAX_FILE_BYTES, read_metadata
from index.ingest.editing import SourceExists, SourceNotFound, add_source, remove_source
from index.ingest.source_fields import SourceError, safe_name
from index.store.chroma import Store
from tests.conftest import FakeEmbedder, make_settings

ARTICLE = (b"Herat crossing reopens\n\nIranian and Taliban officials reopened the Islam Qala crossing on Monday, "
           b"traders in Herat said.\n\nThe border post had been closed for three weeks after a dispute over fuel "
           b"tariffs.\n")


def toml(seeds: Path) -> dict:
    return tomllib.loads((seeds / "sources.toml").read_text(encoding="utf-8"))


def test_an_upload_is_written_with_its_metadata_and_indexed(seeds_copy: Path, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture):
    """A valid upload lands in the seeds folder with its metadata, is logged with who did it, and indexes."""
    with caplog.at_level(logging.INFO, logger="index.ingest.editing"):
        change = add_source(seeds_copy, ARTICLE, "herat crossing.txt", actor="moderator Ana (123)",
                            title="  Herat crossing   reopens ", outlet="Tolo News", author="R. Karimi",
                            published="2024-03-04", url="https://tolonews.com/afghanistan/herat-crossing")
    assert (change.action, change.source.id, change.size) == ("added", "herat_crossing.txt", len(ARTICLE))
    assert change.source.title == "Herat crossing reopens" and "herat_crossing.txt" in change.message
    assert (seeds_copy / "herat_crossing.txt").read_bytes() == ARTICLE
    assert read_metadata(seeds_copy)["herat_crossing.txt"] == {
        "title": "Herat crossing reopens", "outlet": "Tolo News", "author": "R. Karimi",
        "published": "2024-03-04", "url": "https://tolonews.com/afghanistan/herat-crossing"}
    assert "herat_crossing.txt added by moderator Ana (123)" in caplog.text
    report = build(seeds_copy, Store.open(make_settings(tmp_path, seeds_copy)), FakeEmbedder())
    assert report.documents == 6 and report.errors == []
    assert not list(seeds_copy.glob(".*.tmp"))


def test_the_metadata_file_keeps_its_header_and_other_entries(seeds_copy: Path):
    """Rewriting sources.toml keeps its leading comments and every other source's values."""
    before = toml(seeds_copy)
    add_source(seeds_copy, ARTICLE, "new.txt", actor="a", title='Quotes "and" back\\slashes')
    text = (seeds_copy / "sources.toml").read_text(encoding="utf-8")
    assert text.startswith("# Metadata per source id")
    after = toml(seeds_copy)
    assert after.pop("new.txt") == {"title": 'Quotes "and" back\\slashes'} and after == before


def test_a_moderators_comments_and_order_survive_an_add_and_a_remove(seeds_copy: Path):
    """sources.toml keeps a comment a moderator wrote and the order of its entries through an add and a remove."""
    path = seeds_copy / "sources.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'author = "Mohamed Yosry"', 'author = "Mohamed Yosry"  # as the byline spells it') +
        '\n# Checked against the print edition.\n["aaa_late.txt"]\ntitle = "Added by hand, last"\n', encoding="utf-8")
    order = list(toml(seeds_copy))
    add_source(seeds_copy, ARTICLE, "new.txt", actor="a", title="New")
    remove_source(seeds_copy, "001_a36cb266d627397a.txt", actor="a")
    text = path.read_text(encoding="utf-8")
    assert 'author = "Mohamed Yosry"  # as the byline spells it' in text
    assert "# Checked against the print edition." in text
    assert list(toml(seeds_copy)) == [*(name for name in order if name != "001_a36cb266d627397a.txt"), "new.txt"]


def test_without_a_title_the_heading_stands_in_and_nothing_is_stored(seeds_copy: Path):
    """An upload without metadata gets the page's heading as its title and no metadata entry."""
    change = add_source(seeds_copy, ARTICLE, "plain.txt", actor="a")
    assert change.source.title == "Herat crossing reopens" and "plain.txt" not in toml(seeds_copy)


@pytest.mark.parametrize("name", ["../evil.txt", "../../etc/cron.d/x.txt", "/etc/passwd.txt", "a/b.txt",
                                  "..\\evil.txt", "．．／evil.txt", "evil.txt\x00.png"])
def test_path_names_are_refused(seeds_copy: Path, name: str):
    """A file name that is a path, plainly or in look-alike characters, is refused and nothing is written."""
    before = sorted(p.name for p in seeds_copy.parent.rglob("*"))
    with pytest.raises(SourceError, match="plain file name"):
        add_source(seeds_copy, ARTICLE, name, actor="a")
    assert sorted(p.name for p in seeds_copy.parent.rglob("*")) == before


@pytest.mark.parametrize(("name", "safe"), [("Report 2024 (final).TXT", "Report_2024_final.txt"),
                                            (".hidden.txt", "hidden.txt"), ("-rf.txt", "rf.txt"),
                                            ("تقرير.txt", "تقرير.txt")])
def test_names_are_made_safe(name: str, safe: str):
    """Spaces and punctuation become underscores, leading dots and dashes go, letters of any script stay."""
    assert safe_name(name) == safe


@pytest.mark.parametrize(("name", "data", "words"), [
    ("notes.md", ARTICLE, "not a .txt file"),
    ("archive.txt.zip", ARTICLE, "not a .txt file"),
    ("noext", ARTICLE, "not a .txt file"),
    (".txt", ARTICLE, "no usable name"),
    ("x" * 120 + ".txt", ARTICLE, "bytes long"),
    ("تقرير" * 10 + ".txt", ARTICLE, "104 bytes long in UTF-8"),  # 54 characters, but 2 bytes per letter
    ("binary.txt", bytes(range(256)) * 4, "binary"),
    ("latin1.txt", "Iran and the Taliban met in Kabul on Monday, officials said. Café.".encode("latin-1"),
     "not valid UTF-8"),
    ("empty.txt", b"", "empty"),
    ("huge.txt", b"a" * (MAX_FILE_BYTES + 1), "MB limit"),
    ("chrome.txt", b"Latest News\n\n728 x 90\n\nPrint\n", "no article text"),
])
def test_bad_files_are_refused(seeds_copy: Path, name: str, data: bytes, words: str):
    """Wrong extension, overlong name, binary, non-UTF-8, empty, too large or boilerplate-only: refused."""
    with pytest.raises(SourceError, match=words):
        add_source(seeds_copy, data, name, actor="a")
    assert sorted(seeds_copy.glob("*.txt")) == sorted((seeds_copy.parent / "seeds").glob("0*.txt"))


@pytest.mark.parametrize(("field", "value", "words"), [
    ("published", "04/03/2024", "YYYY-MM-DD"),
    ("published", "2024-02-30", "YYYY-MM-DD"),
    ("published", "2024-3-4", "YYYY-MM-DD"),
    ("url", "javascript:alert(1)", "http"),
    ("url", "ftp://example.com/a", "http"),
    ("url", "https://", "http"),
    ("url", "https://user:pw@example.com/", "password"),
    ("url", "https://example.com/a b", "spaces"),
    ("url", "https://example.com:99999/", "not a valid address"),
    ("title", "x" * 300, "characters long"),
    ("author", "Ana\x07", "control characters"),
])
def test_bad_metadata_is_refused(seeds_copy: Path, field: str, value: str, words: str):
    """A malformed date or url, an overlong or control-character field, is refused before anything is written."""
    with pytest.raises(SourceError, match=words):
        add_source(seeds_copy, ARTICLE, "new.txt", actor="a", **{field: value})
    assert not (seeds_copy / "new.txt").exists() and "new.txt" not in toml(seeds_copy)


def test_a_name_at_the_byte_limit_is_kept(seeds_copy: Path):
    """A name of exactly 100 UTF-8 bytes (32 Chinese letters and .txt) is accepted as it is."""
    name = "报" * 32 + ".txt"
    assert len(name.encode()) == 100
    assert add_source(seeds_copy, ARTICLE, name, actor="a").source.id == name


@pytest.mark.parametrize(("url", "words"), [
    ("https://localhost/article", "host such as example.com"),
    ("https://-bad-.com/", "host such as example.com"),
    ("https://example..com/", "host such as example.com"),
    ("https://exämple.com/", "outside ASCII"),
    ("https://example.com/faïla", "outside ASCII"),
    ("https://example.com/<x:/[Claim](https://phish.test)>", "'<'"),
    ("https://example.com/a|b", "'|'"),
    ('https://example.com/a"b', "'\"'"),
    ("https://example.com/a`b", "'`'"),
    ("https://example.com/[Claim]", "'['"),
    ("https://example.com/a\\b", "'\\\\'"),
    ("https://example.com/100%", "two hex digits"),
    ("https://example.com/a%zzb", "two hex digits"),
    ("https://example.com/a\tb", "spaces"),
    ("https:example.com", "not an http(s) address"),
])
def test_urls_discord_would_refuse_are_refused(seeds_copy: Path, url: str, words: str):
    """A url that is not plain ASCII web-address characters with a dotted host is refused, saying what is wrong."""
    with pytest.raises(SourceError, match=re.escape(words)):
        add_source(seeds_copy, ARTICLE, "new.txt", actor="a", url=url)
    assert not (seeds_copy / "new.txt").exists()


@pytest.mark.parametrize("url", ["https://en.wikipedia.org/wiki/Taliban_(disambiguation)",
                                 "https://example.com/a?b=c&d=%20e#frag", "http://203.0.113.7:8080/x",
                                 "HTTPS://Example.COM/Path;p=1,2*~'!$+="])
def test_valid_urls_are_kept(seeds_copy: Path, url: str):
    """Ordinary article addresses, with parentheses, queries, escapes, ports or an IP address, are stored as given."""
    add_source(seeds_copy, ARTICLE, "new.txt", actor="a", url=url)
    assert read_metadata(seeds_copy)["new.txt"]["url"] == url


def test_quoted_keys_and_nested_values_survive_a_rewrite(seeds_copy: Path):
    """A hand-written entry with quoted keys, a dotted key, a list and an inline table reads back the same."""
    path = seeds_copy / "sources.toml"
    path.write_text(path.read_text(encoding="utf-8") + '\n["hand.txt"]\ntitle = "Hand"\n"my key" = "v"\n'
                    '"a.b" = 1\ntags = ["x", "y"]\nextra = { "k 1" = 2, date = 2021-08-17 }\n', encoding="utf-8")
    before = toml(seeds_copy)
    add_source(seeds_copy, ARTICLE, "new.txt", actor="a", title="New")
    after = toml(seeds_copy)
    assert after.pop("new.txt") == {"title": "New"} and after == before
    assert after["hand.txt"]["a.b"] == 1 and "a" not in after["hand.txt"]


@pytest.mark.parametrize(("existing", "upload"), [
    ("003_eb7467070494d04b.txt", "OO3_eb7467070494d04b.txt"),  # letter O for digit 0
    ("herat.txt", "h\u0435r\u0430t.txt"),  # Cyrillic е and а
    ("map.txt", "rnap.txt"),  # rn for m
    ("map.txt", "\uff52\uff4eap.txt"),  # full-width rn: NFKC folds it to rn, which looks like m
])
@pytest.mark.parametrize("replace", [False, True])
def test_lookalike_names_are_refused(seeds_copy: Path, existing: str, upload: str, replace: bool):
    """A new name that only looks like an existing source id is refused, even with replace, naming the original."""
    if not (seeds_copy / existing).exists():
        add_source(seeds_copy, ARTICLE, existing, actor="a")
    before = sorted(p.name for p in seeds_copy.iterdir())
    with pytest.raises(SourceError, match=f"looks like the existing source {re.escape(existing)}"):
        add_source(seeds_copy, ARTICLE, upload, actor="a", replace=replace)
    assert sorted(p.name for p in seeds_copy.iterdir()) == before


# Four other articles, so that adding them is not refused as adding the same article twice.
OTHERS = [b"Dam levels fall\n\nWater in the reservoir fell to its lowest level in a decade after a dry summer.\n",
          b"Wheat prices\n\nFlour mills in the west raised their prices for the third time since the harvest.\n",
          b"Road repairs\n\nCrews began resurfacing the mountain pass road, which closes every winter after snow.\n",
          b"School term\n\nThe provincial education office said the new term would start a week later than planned.\n"]


def shuffled_article(seed: int) -> bytes:
    """An article of its own for each seed: the words of ARTICLE in another order, so no two are the same text."""
    words = ARTICLE.decode().split()
    random.Random(seed).shuffle(words)
    return f"Report\n\n{' '.join(words)}.\n".encode()


def test_distinct_names_are_not_lookalikes(seeds_copy: Path):
    """Names that merely share letters, or differ in case, are not refused as look-alikes."""
    add_source(seeds_copy, ARTICLE, "herat.txt", actor="a")
    for name, article in zip(("heart.txt", "Herat.txt", "herat2.txt", "003_eb7467070494d04c.txt"), OTHERS,
                             strict=True):
        assert add_source(seeds_copy, article, name, actor="a").action == "added"


def test_overwriting_needs_the_replace_flag(seeds_copy: Path):
    """Uploading over an existing source is refused unless replace is asked for; replacing keeps its metadata."""
    existing = "003_eb7467070494d04b.txt"
    original = (seeds_copy / existing).read_bytes()
    with pytest.raises(SourceExists, match="already exists"):
        add_source(seeds_copy, ARTICLE, existing, actor="a")
    assert (seeds_copy / existing).read_bytes() == original
    change = add_source(seeds_copy, ARTICLE, existing, actor="a", replace=True, published="2021-08-18")
    assert change.action == "replaced" and (seeds_copy / existing).read_bytes() == ARTICLE
    assert change.kept == ("title", "outlet", "author")
    assert "It keeps the earlier title, outlet and author, since this upload did not give them" in change.message
    assert read_metadata(seeds_copy)[existing] == {
        "title": "Taliban and Iran: Does the movement pose a threat to the mullah regime?",
        "outlet": "The Reference (CEMO Center, Paris)", "author": "Mohamed Yosry", "published": "2021-08-18"}


def test_removing_a_source_deletes_file_and_metadata(seeds_copy: Path, caplog: pytest.LogCaptureFixture):
    """Removing by id deletes the file and its metadata entry, says what went, and logs who did it."""
    with caplog.at_level(logging.INFO, logger="index.ingest.editing"):
        change = remove_source(seeds_copy, "004_9fd61aad6fe509e9.txt", actor="moderator Bo")
    assert change.action == "removed" and change.source.title == "The Iranian regime's ties with Taliban"
    assert "The Iranian regime's ties with Taliban" in change.message
    assert not (seeds_copy / "004_9fd61aad6fe509e9.txt").exists()
    assert "004_9fd61aad6fe509e9.txt" not in toml(seeds_copy) and len(toml(seeds_copy)) == 4
    assert "removed by moderator Bo" in caplog.text


@pytest.mark.parametrize("source_id", ["nope.txt", "../seeds/000_cc1c5ba2909303bf.txt", "sources.toml"])
def test_removing_an_unknown_id_is_refused(seeds_copy: Path, source_id: str):
    """An id that is not a source in the folder, including a path to one, is refused and nothing changes."""
    with pytest.raises(SourceError):
        remove_source(seeds_copy, source_id, actor="a")
    assert len(list(seeds_copy.glob("*.txt"))) == 5 and (seeds_copy / "sources.toml").exists()


def test_unknown_id_error_type(seeds_copy: Path):
    """An unknown id raises SourceNotFound, which callers can tell apart from bad input."""
    with pytest.raises(SourceNotFound):
        remove_source(seeds_copy, "nope.txt", actor="a")


def test_concurrent_uploads_keep_every_entry(seeds_copy: Path):
    """Uploads from several threads at once each keep their metadata entry."""
    errors: list[BaseException] = []

    def upload(i: int) -> None:
        try:
            add_source(seeds_copy, shuffled_article(i), f"upload{i}.txt", actor=f"moderator {i}", outlet=f"Outlet {i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {f"upload{i}.txt": {"outlet": f"Outlet {i}"} for i in range(8)}.items() <= toml(seeds_copy).items()
