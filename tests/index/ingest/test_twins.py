"""The same article twice is one source: adding it again, by another name or address form, is refused naming the
source that holds it, and `replace` replaces that one."""

import shutil
from pathlib import Path

import pytest

from index.ingest.corpus import read_metadata, source_paths
from index.ingest.editing import SourceDuplicate, add_source
from index.ingest.source_fields import SourceError
from index.ingest.twins import address_key, find_twin
from tests.conftest import SEEDS

ARTICLE = (b"Depot plans for the border railway\n\nThe railway operator said on Monday that it would build a second "
           b"locomotive depot near the border crossing, so that trains no longer wait for engines.\n\nConstruction is "
           b"expected to take eighteen months and will be paid for from the line's freight revenue, it added.\n")
SEED = "003_eb7467070494d04b.txt"


@pytest.mark.parametrize("seed", [p.name for p in source_paths(SEEDS)])
def test_no_seed_is_taken_for_another(tmp_path: Path, seed: str) -> None:
    """The five seeds are five articles: with one of them taken out, none of the others is found to be it."""
    for path in source_paths(SEEDS):
        if path.name != seed:
            shutil.copy(path, tmp_path / path.name)
    assert find_twin(tmp_path, {}, (SEEDS / seed).read_text(encoding="utf-8"), None) is None


@pytest.mark.parametrize("seed", [p.name for p in source_paths(SEEDS)])
def test_a_seed_added_again_under_another_name_is_refused(seeds_copy: Path, seed: str) -> None:
    """Each seed, added again as a new file, is refused naming the seed; nothing is written."""
    before = sorted(p.name for p in seeds_copy.iterdir())
    with pytest.raises(SourceDuplicate, match=f"already in the corpus as {seed} \\(100% the same text\\)") as found:
        add_source(seeds_copy, (seeds_copy / seed).read_bytes(), "copy.txt", actor="a")
    assert found.value.source_id == seed and sorted(p.name for p in seeds_copy.iterdir()) == before


def test_a_corrected_copy_is_the_same_article_and_replace_replaces_it(seeds_copy: Path) -> None:
    """A copy with a sentence changed is still the same article; with replace it takes the original's place."""
    text = (seeds_copy / SEED).read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if len(line.split()) > 20)
    corrected = text.replace(first, first.replace(" the ", " that ", 1)).encode()
    with pytest.raises(SourceDuplicate, match=f"already in the corpus as {SEED} \\(9\\d% the same text\\)"):
        add_source(seeds_copy, corrected, "corrected.txt", actor="a")
    change = add_source(seeds_copy, corrected, "corrected.txt", actor="a", replace=True)
    assert (change.action, change.source.id) == ("replaced", SEED)
    assert (seeds_copy / SEED).read_bytes() == corrected and not (seeds_copy / "corrected.txt").exists()
    assert read_metadata(seeds_copy)[SEED]["author"] == "Mohamed Yosry"  # kept, since not given


def test_replacing_one_source_with_the_text_of_another_is_refused(seeds_copy: Path) -> None:
    """Replacing a source with text that another source already holds would make two of one article: refused."""
    with pytest.raises(SourceError, match=f"already in the corpus as {SEED} .*cannot also replace"):
        add_source(seeds_copy, (seeds_copy / SEED).read_bytes(), "000_cc1c5ba2909303bf.txt", actor="a",
                   replace=True)


@pytest.mark.parametrize("again", ["http://www.news.example/world/depot/", "https://news.example/world/depot#top",
                                   "https://NEWS.example:443/world/depot?utm_source=feed&utm_medium=x"])
def test_the_same_address_in_another_form_is_the_same_article(seeds_copy: Path, again: str) -> None:
    """An address differing only in scheme, www, case, port, slash, fragment or tracking is the same article."""
    add_source(seeds_copy, ARTICLE, "depot.txt", actor="a", url="https://news.example/world/depot")
    other_text = b"Depot opening\n\nA ceremony was held for the opening of the depot, with local officials present.\n"
    with pytest.raises(SourceDuplicate, match=r"already in the corpus as depot\.txt \(the same address\)"):
        add_source(seeds_copy, other_text, "depot-2.txt", actor="a", url=again)


def test_addresses_that_lead_elsewhere_differ() -> None:
    """Another path, host or query is another page."""
    key = address_key("https://news.example/world/depot?id=4")
    for other in ("https://news.example/world/depot?id=5", "https://news.example/world/depots?id=4",
                  "https://old.news.example/world/depot?id=4"):
        assert address_key(other) != key


def test_a_name_chosen_for_a_link_gives_way_to_another_article(seeds_copy: Path) -> None:
    """A link's name taken by another article becomes name-2, even with replace: only the same article is replaced."""
    add_source(seeds_copy, ARTICLE, "depot.txt", actor="a")
    other = b"Depot opening\n\nA ceremony was held for the opening of the depot, with local officials present.\n"
    change = add_source(seeds_copy, other, "depot.txt", actor="a", replace=True, free_name=True)
    assert (change.action, change.source.id) == ("added", "depot-2.txt")
    assert (seeds_copy / "depot.txt").read_bytes() == ARTICLE
    with pytest.raises(SourceDuplicate, match=r"already in the corpus as depot-2\.txt"):
        add_source(seeds_copy, other, "depot.txt", actor="a", free_name=True)
