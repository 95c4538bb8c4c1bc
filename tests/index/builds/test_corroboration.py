"""Who else says it: partners judged at build time, kept with the generation, shown with each quote."""

import json
import re
import shutil
from pathlib import Path

import pytest

from bot.text import answer_json, answer_text
from index.builds.corroboration import Anchors, agree
from index.builds.pipeline import build
from index.model.embedding import Embedder
from index.search.answer import Hit
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import Store
from tests.conftest import SEEDS, make_settings

CLAIM = ("Iran's Revolutionary Guards handed the Taliban's Velmora Brigade $40 million in March 2022 to attack "
         "border posts in Kastrin province, two Afghan intelligence officials said.")
PARAPHRASE = ("Two officials of Afghan intelligence said that in March 2022 the Velmora Brigade of the Taliban "
              "received $40 million from Iran's Revolutionary Guards to strike border posts in Kastrin province.")
OTHER_CLAIM = ("Iran's Revolutionary Guards handed the Taliban's Velmora Brigade $5 million in June 2015 to attack "
               "police stations in Kastrin province, a former Afghan commander said.")
PLANTED = {"005_ledger.txt": ("Northern Ledger", "2022-04-02", CLAIM),
           "006_courier.txt": ("Dashtak Courier", "2022-04-05", PARAPHRASE),
           "007_review.txt": ("Marvak Review", "2021-11-20", OTHER_CLAIM)}
QUESTION = "What did Iran's Revolutionary Guards give the Velmora Brigade to attack border posts in Kastrin?"
SANCTIONS = "2018, the US Treasury Department sanctioned two Iranian officials"
CLAIMED = "The US Treasury sanctioned two Iranian officials in October 2018 for supporting the Taliban."


def plant(seeds: Path) -> None:
    """Three made-up sources: a claim, its paraphrase by another outlet, and a third outlet's other claim."""
    with (seeds / "sources.toml").open("a", encoding="utf-8") as toml:
        for name, (outlet, published, text) in PLANTED.items():
            (seeds / name).write_text(f"{outlet} report\n\n{text}\n", encoding="utf-8")
            toml.write(f'\n["{name}"]\ntitle = "{outlet} report"\noutlet = "{outlet}"\npublished = "{published}"\n')


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Searcher:
    """The seeds and the three made-up sources, built with the real model."""
    root = tmp_path_factory.mktemp("planted")
    shutil.copytree(SEEDS, root / "seeds")
    plant(root / "seeds")
    settings = make_settings(root, root / "seeds")
    build(settings.seeds_dir, Store.open(settings), embedder)
    return Searcher.open(settings, embedder)


def passages(output: str) -> list[dict]:
    """Every passage of `ask --format json` output, answers and related alike."""
    answer = json.loads(output)
    return answer["passages"] + answer["related"]


def source_text(source_id: str, seeds: Path = SEEDS) -> str:
    return (seeds / source_id).read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_paraphrase_by_another_outlet_is_reported_with_the_claim(planted: Searcher) -> None:
    """The claim's passage lists the other outlet's paraphrase under `also`, and the paraphrase lists the claim."""
    shown = {p["source"]["id"]: p for p in passages(answer_json(planted.search(QUESTION)))}
    assert {"005_ledger.txt", "006_courier.txt"} <= shown.keys()
    also = {a["source"]["id"]: a for a in shown["005_ledger.txt"]["also"]}
    assert also["006_courier.txt"]["quote"] == PARAPHRASE
    assert also["006_courier.txt"]["source"]["outlet"] == "Dashtak Courier"
    assert [a["quote"] for a in shown["006_courier.txt"]["also"]] == [CLAIM]


@pytest.mark.slow
def test_a_passage_on_the_same_topic_with_another_claim_is_not_corroboration(planted: Searcher) -> None:
    """A third outlet's passage as close in words but with another sum and year is listed with neither."""
    shown = {p["source"]["id"]: p for p in passages(answer_json(planted.search(QUESTION)))}
    assert "007_review.txt" in shown  # it is on the topic: the search finds it
    for source_id in ("005_ledger.txt", "006_courier.txt"):
        assert OTHER_CLAIM not in [a["quote"] for a in shown[source_id]["also"]]
    assert shown["007_review.txt"]["also"] == []


@pytest.mark.slow
def test_every_also_quote_is_verbatim_and_attributed(searcher: Searcher) -> None:
    """Each `also` quote is its source file's text at the passage's place, with the source's own attribution."""
    questions = ["The US said Iran's training, money and arms for the Taliban were plain meddling.",
                 CLAIMED,
                 "How does Iran support the Taliban?"]
    chunks = {c.text: c for c in searcher.index.chunks}
    sources = {source.id: source.to_dict() for source, _ in searcher.sources()}
    found = [also for q in questions for p in passages(answer_json(searcher.search(q))) for also in p["also"]]
    assert found
    for also in found:
        chunk = chunks[also["quote"]]
        assert source_text(chunk.source_id)[chunk.start : chunk.end] == also["quote"]
        assert also["source"] == sources[chunk.source_id] and also["paragraph"] == chunk.paragraph


@pytest.mark.slow
def test_terminal_text_says_who_else_reports_each_quote(searcher: Searcher) -> None:
    """Under a quote that another outlet carries, the text output has an "also reported by" line naming it."""
    answer = searcher.search(CLAIMED)
    quoted = next(hit for hit in answer.hits if SANCTIONS in hit.chunk.text)
    assert quoted.also
    text = " ".join(answer_text(answer).split())
    for also in quoted.also:
        assert f"also reported by {also.source.title} — " in text
        assert re.search(rf"also reported by {re.escape(also.source.title)} — [^¶]*¶ {also.chunk.paragraph}\b", text)


def partners_by_source(searcher: Searcher) -> dict[tuple[str, str], tuple[str, ...]]:
    """(passage's source, partner's source) → the pairs shown that way, over every passage, to compare
    generations."""
    index = searcher.index
    pairs: dict[tuple[str, str], list[str]] = {}
    for chunk in index.chunks:
        for also in index.with_also(Hit(chunk, 1.0, index.sources[chunk.source_id])).also:
            pairs.setdefault((chunk.source_id, also.source.id), []).append(f"{chunk.id}>{also.chunk.id}")
    return {k: tuple(sorted(v)) for k, v in pairs.items()}


@pytest.mark.slow
def test_an_edit_rejudges_only_its_document_and_a_rollback_restores_the_pairs(
        tmp_path: Path, seeds_copy: Path, embedder: Embedder) -> None:
    """Changing the year of one claim drops its pair in the new generation, judges only that document's passages
    and keeps every other pair; a rollback brings the old pair back."""
    settings: IndexSettings = make_settings(tmp_path, seeds_copy)
    store = Store.open(settings)
    build(seeds_copy, store, embedder)
    before = Searcher(store, embedder)
    edited = next(c for c in before.index.chunks if SANCTIONS in c.text)
    old = partners_by_source(before)
    assert any(edited.id in pair for pairs in old.values() for pair in pairs)

    path = seeds_copy / edited.source_id
    path.write_text(path.read_text(encoding="utf-8").replace("In October 2018, the US Treasury",
                                                             "In October 2009, the US Treasury"), encoding="utf-8")
    report = build(seeds_copy, store, embedder)
    assert report.switched and report.embedded == 1
    edited_passages = sum(1 for c in before.index.chunks if c.source_id == edited.source_id)
    assert report.corroboration is not None and report.corroboration["judged"] == edited_passages
    after = Searcher(store, embedder)
    new = partners_by_source(after)
    changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    assert changed and all(edited.source_id in k for k in changed)
    moved = next(c for c in after.index.chunks if "In October 2009, the US Treasury" in c.text)
    assert after.index.with_also(Hit(moved, 1.0, after.index.sources[moved.source_id])).also == ()

    store.rollback("test")
    assert partners_by_source(Searcher(store, embedder)) == old


def test_names_dates_and_figures_agree_as_the_lexicon_finds_them() -> None:
    """An acronym finds its words, a sum finds its value, and an outlet giving fewer details does not disagree."""
    full = Anchors.of("The Islamic Revolutionary Guard Corps paid $190 million in 2019, officials said.")
    assert agree(full, Anchors.of("In 2019 the IRGC paid $190m, officials told reporters."))
    assert agree(full, Anchors.of("The Guards paid the militants, officials said."))


def test_different_years_sums_or_names_disagree() -> None:
    """Two passages that give different years, different sums or different people say different things."""
    claim = Anchors.of("Commander Orlan Tessmark paid $40 million in 2022 to the Velmora Brigade.")
    assert not agree(claim, Anchors.of("Commander Orlan Tessmark paid $40 million in 2015 to the Velmora Brigade."))
    assert not agree(claim, Anchors.of("Commander Orlan Tessmark paid $5 million in 2022 to the Velmora Brigade."))
    assert not agree(claim, Anchors.of("Commander Brennholt Zorvanek paid $40 million in 2022 to a brigade."))
