"""Rendering answers for Discord: cards that attribute their source, replies that say what they show, and what
the corpus covers when nothing answers."""

import json
from dataclasses import replace

import pytest

from bot.payload import EMBEDS_TOTAL_LIMIT, embed_size
from bot.render import answer_payload, card, compare_payload, context_payloads, related_card
from bot.text import UNSURE, answer_json, answer_text, compare_json, compare_text
from index.ingest.chunking import Chunk
from index.ingest.corpus import Source, make_document
from index.search.answer import Answer, Confidence, Hit, OnTopic, Outcome
from tests.bot.harness import assert_within_limits
from tests.bot.test_quoting import unquote

SOURCE = Source(id="a.txt", title="A *title* with `ticks`", outlet="Outlet", author="Au Thor", published="2020-01-02",
                url="https://example.test/a")


def hit(text: str, source: Source = SOURCE, paragraph: int = 3) -> Hit:
    return Hit(Chunk(f"{source.id}#p{paragraph}", source.id, text, 0, len(text), paragraph), 0.9, source)


def test_card_attributes_and_links_the_source() -> None:
    """A card: the escaped title linked to the source, the passage quoted, outlet · author · date · ¶ n below."""
    data = card(hit("One sentence here."), "question", 4).to_dict()
    assert data["title"] == r"A \*title\* with \`ticks\`" and data["url"] == SOURCE.url
    assert data["footer"]["text"] == "Outlet · Au Thor · 2020-01-02 · ¶ 3"
    assert data["author"]["name"] == "Passage 4"
    assert data["description"] == "> One sentence here."


def test_card_leaves_off_a_url_discord_would_refuse() -> None:
    """A hand-written url that Discord would refuse is left off the card, so the answer can still be sent."""
    source = Source(id="c.txt", title="T", url="https://intranet/a b")
    assert "url" not in card(hit("Text.", source), "q", 1).to_dict()


def test_card_without_url_or_metadata() -> None:
    """A source with only a title gets an unlinked title, and a footer saying its outlet and date are not stated."""
    data = card(hit("Text.", Source(id="b.txt", title="Bare")), "q", 1).to_dict()
    assert "url" not in data and data["footer"]["text"] == "outlet not stated · date not stated · ¶ 3"


def test_related_card_says_what_its_source_does_not_state() -> None:
    """A related passage's footer says the outlet or the date is not stated, and keeps what is."""
    source = Source(id="c.txt", title="Report", outlet="Salaam Times")
    assert related_card(hit("Text.", source), 1).footer.text == "Report — Salaam Times · date not stated · ¶ 3"


def test_off_topic_names_the_corpus() -> None:
    """Off the corpus's topic, the reply says that is its ground and lists the source titles, escaped."""
    payload = answer_payload(Answer("off topic?", Outcome.OFF_TOPIC), ["First *source*", "Second"])
    assert "Off topic: the corpus does not cover this." in payload.content
    assert payload.embeds[0].description == "• First \\*source\\*\n• Second"


def test_not_answered_shows_related_cards_that_cannot_pass_for_answers() -> None:
    """No answer: the reply names what the corpus never mentions, and the closest passages come on grey cards
    titled "not an answer", with their source and paragraph."""
    answer = Answer("did Velquist go?", Outcome.NOT_ANSWERED, related=(hit("Iran hosted a delegation."),),
                    missing=("Velquist",))
    payload = answer_payload(answer, [])
    assert "The corpus never mentions Velquist." in payload.content
    assert "related, not an answer" in payload.content
    answer_card = card(hit("Iran hosted a delegation."), "q", 1)
    [related] = payload.embeds
    assert "not an answer" in (related.title or "") and related.title != answer_card.title
    assert related.colour != answer_card.colour
    assert "Iran hosted a delegation." in (related.description or "")
    assert SOURCE.title in (related.footer.text or "") and "¶ 3" in (related.footer.text or "")


def test_answer_numbers_cards_from_the_offset() -> None:
    """A later page says which passages it shows and numbers its cards on from there."""
    answer = Answer("q", Outcome.ANSWERED, (hit("A."), hit("B.")), total=5)
    payload = answer_payload(answer, [], offset=3)
    assert "Passages 4–5 of 5" in payload.content
    assert [e.author.name for e in payload.embeds] == ["Passage 4", "Passage 5"]


OTHER = Source(id="b.txt", title="Hostile [Claim](https://phish.test) <@&1> *title*", outlet="@everyone Daily",
               published="2021-05-06")
UNSTATED = Source(id="c.txt", title="A report with no outlet")


def test_card_lists_who_else_reports_it() -> None:
    """A card lists the other sources carrying the same claim under "Also reported by": outlet (or title when
    no outlet is stated), date and paragraph, one line each, every piece of it inert."""
    quoted = replace(hit("Iran armed the Taliban."), also=(hit("Tehran armed them.", OTHER, 7),
                                                           hit("Arms went to the Taliban.", UNSTATED, 2)))
    field = card(quoted, "Who armed the Taliban?", 1).to_dict()["fields"][0]
    assert field["name"] == "Also reported by"
    first, second = field["value"].split("\n")
    assert unquote(first.removeprefix("• ")) == "@everyone Daily · 2021-05-06 · ¶ 7"
    assert "@everyone" not in first and "\u200b" in first
    assert unquote(second.removeprefix("• ")) == "“A report with no outlet” · date not stated · ¶ 2"


def test_quote_cards_keep_their_place_before_also_lines() -> None:
    """Three cards of the longest quotes, each with three other sources, fit one message: the cards stay whole and
    lose their "also reported by" lines from the last back, as far as needed."""
    wordy = Source(id="d.txt", title="T" * 100, outlet="O" * 100, published="2020-01-01")
    also = tuple(hit("x", wordy, n) for n in range(1, 4))
    hits = tuple(replace(hit("w " * 2000, wordy, n), also=also) for n in range(1, 4))
    alone = sum(embed_size(card(replace(h, also=()), "q", 1).to_dict()) for h in hits)  # type: ignore[arg-type]
    assert alone < EMBEDS_TOTAL_LIMIT < sum(embed_size(card(h, "q", 1).to_dict()) for h in hits)  # type: ignore[arg-type]
    payload = answer_payload(Answer("q", Outcome.ANSWERED, hits, total=3), [])
    assert len(payload.embeds) == 3
    assert payload.embeds[0].fields and not payload.embeds[-1].fields
    assert_within_limits(payload.to_dict())


def test_context_shows_the_other_sources_passages_in_full() -> None:
    """The Context button's reply quotes in full, after the context, each passage of another source that says the
    same thing, with that source's own attribution; long ones go on in a second message within the limits."""
    others = tuple(hit(f"Passage {n}: " + "long words " * 180, OTHER, n) for n in range(1, 4))
    quoted = replace(hit("Iran armed the Taliban."), also=others)
    payloads = context_payloads(quoted, [quoted.chunk])
    embeds = [e.to_dict() for p in payloads for e in p.embeds]
    assert len(payloads) >= 2 and [e.get("author", {}).get("name") for e in embeds[1:]] == ["Also reported by"] * 3
    for shown, other in zip(embeds[1:], others, strict=True):
        assert unquote(shown["description"]) == " ".join(other.chunk.text.split())
        assert shown["footer"]["text"].endswith(f"¶ {other.chunk.paragraph}")
    for payload in payloads:
        assert_within_limits(payload.to_dict())


@pytest.mark.parametrize("confidence", list(Confidence))
def test_an_unsure_answer_says_so_in_every_interface(confidence: Confidence) -> None:
    """An answer whose passages are only the closest opens with a line saying the corpus may not answer exactly, on
    Discord, in the terminal and in JSON; a confident answer has no such line."""
    answer = Answer("did the council meet?", Outcome.ANSWERED, (hit("The council met in May."),), total=1,
                    confidence=confidence)
    says = confidence is Confidence.LOW
    assert (UNSURE in answer_payload(answer, []).content) is says
    assert (UNSURE in answer_text(answer)) is says
    assert json.loads(answer_json(answer))["confidence"] == confidence.value


def test_compare_marks_a_closest_passage_and_names_the_silent_sources() -> None:
    """A source that only comes near the topic has its card marked as such; a silent one is listed as saying
    nothing, in every interface."""
    other = replace(SOURCE, id="b.txt", title="Another report")
    silent = replace(SOURCE, id="c.txt", title="A silent report")
    said = [OnTopic(SOURCE, hit("The council met in May.")),
            OnTopic(other, hit("The council was mentioned.", other), Confidence.LOW), OnTopic(silent)]
    payload = compare_payload("council meetings", said)
    assert "may not address" not in (payload.embeds[0].author.name or "")
    assert "may not address" in (payload.embeds[1].author.name or "")
    assert payload.embeds[-1].title == "Say nothing on this" and "A silent report" in (payload.embeds[-1].description
                                                                                       or "")
    text = compare_text("council meetings", said)
    assert text.count("may not address") == 1 and "(says nothing on this)" in text
    assert [e["confidence"] for e in json.loads(compare_json("council meetings", said))["sources"]] == \
        ["high", "low", "high"]


def test_a_card_escaping_drops_is_not_counted_as_shown() -> None:
    """Three quotes whose escaping makes them too long to fit one message together: the text says how many
    passages the message really shows, never "Passages 1–3" over two cards."""
    starry = "*" * 1490 + " Iran armed the Taliban."
    answer = Answer("Who armed the Taliban?", Outcome.ANSWERED, tuple(hit(starry, SOURCE, n) for n in range(1, 4)),
                    total=7)
    payload = answer_payload(answer, [])
    shown = len(payload.embeds)
    assert shown < 3
    assert f"Passages 1–{shown} of 7" in payload.content and "Passages 1–3" not in payload.content
    assert [e.author.name for e in payload.embeds] == [f"Passage {n}" for n in range(1, shown + 1)]
    assert_within_limits(payload.to_dict())


def test_direction_overrides_in_metadata_reach_no_title() -> None:
    """A right-to-left override (or any bidirectional control) in a source's title, outlet or author, as a
    hand-edited sources.toml may hold, is taken out when the source is read, so no card (nor text) shows the words
    reversed."""
    text = "Iran armed the Taliban, officials in Herat said on Monday, adding that the shipments went on for years."
    tricky = make_document("r.txt", text, {"title": "Report \u202eeht no\u202c Taliban", "author": "\u202dAu Thor",
                                           "outlet": "Daily \u2066News\u2069", "published": "2020-01-02"}).source
    shown = card(hit(text, tricky), "q", 1).to_dict()
    texts = [shown["title"], shown["footer"]["text"]]
    assert not any(c in text for text in texts for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "Report eht no Taliban" in unquote(shown["title"])
