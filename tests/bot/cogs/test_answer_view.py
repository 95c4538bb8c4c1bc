"""The buttons under an answer, pressed through the real views: pages for the asker, context for anyone, each press
a search that costs a cooldown, and buttons that retire before the answer's token expires."""

import asyncio
import json
import re
from pathlib import Path

import pytest

from bot.questionlog.vectors import VectorKeepingEmbedder
from index.builds.pipeline import build
from index.model.embedding import Embedder
from index.search.answer import Hit
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import Store
from tests.bot.cogs.test_ask import BROAD, VISAS, only, unquote
from tests.bot.harness import EPHEMERAL, OTHER_MEMBER, Gateway, assert_safe, settings_for
from tests.conftest import make_settings

pytestmark = pytest.mark.slow  # the real model and the real seeds index


async def test_paging_costs_the_same_cooldown(seeds_settings: IndexSettings, searcher: Searcher,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """20 presses of "More passages" in one window run only the searches the cooldown allows; the rest are told."""
    searches = []
    search = searcher.search
    monkeypatch.setattr(searcher, "search", lambda *a, **k: searches.append(a) or search(*a, **k))
    gateway = await Gateway.connect(
        settings_for(seeds_settings, ask_cooldown_rate=3, ask_cooldown_seconds=60), searcher)
    try:
        latest = only(await gateway.command("ask", question=BROAD), "followup")
        refusals = []
        for _ in range(20):
            pressed = await gateway.press(latest, "More passages")
            if pressed[-1].kind == "edit":
                latest = pressed[-1]
            else:
                refusals.append(only(pressed, "reply").message)
    finally:
        await gateway.close()
    assert len(searches) == 3  # /ask and two pages: ASK_COOLDOWN_RATE=3
    assert "Passages 7–9 of" in latest.message["content"]
    assert len(refusals) == 18
    assert all(r["flags"] & EPHEMERAL and "try again in" in r["content"] for r in refusals)

async def test_more_passages_pages_for_the_asker_only(seeds_gateway: Gateway) -> None:
    """"More passages" replaces the cards with the next three; another member is told to ask their own."""
    first = only(await seeds_gateway.command("ask", question=BROAD), "followup")
    total = int(re.findall(r"Passages 1–3 of (\d+)", first.message["content"])[0])
    assert total > 6
    refused = await seeds_gateway.press(first, "More passages", who=OTHER_MEMBER)
    assert only(refused, "reply").message["flags"] & EPHEMERAL
    paged = await seeds_gateway.press(first, "More passages")
    assert [r.kind for r in paged] == ["deferred-update", "edit"]
    second = paged[1]
    assert second.url.endswith("/messages/@original")
    assert "Passages 4–6 of" in second.message["content"]
    assert [e["author"]["name"] for e in second.message["embeds"]] == ["Passage 4", "Passage 5", "Passage 6"]
    assert {e["description"] for e in second.message["embeds"]}.isdisjoint(
        e["description"] for e in first.message["embeds"])
    back = await seeds_gateway.press(second, "Previous")
    assert "Passages 1–3 of" in back[-1].message["content"]
    assert_safe(refused + paged + back)

async def test_show_context_is_private(seeds_gateway: Gateway, searcher: Searcher) -> None:
    """"Context 1" shows the first card's passage with its neighbours, to the presser only."""
    first = only(await seeds_gateway.command("ask", question=VISAS), "followup")
    context = only(await seeds_gateway.press(first, "Context 1", who=OTHER_MEMBER), "reply").message
    assert context["flags"] & EPHEMERAL
    card = first.message["embeds"][0]
    description = context["embeds"][0]["description"]
    assert unquote(card["description"]) in unquote(description)
    assert "the quoted passage" in description and description.count("> ") >= 2
    assert context["embeds"][0]["title"] == card["title"]

async def test_buttons_retire_when_they_time_out(seeds_settings: IndexSettings, searcher: Searcher) -> None:
    """After BUTTONS_TIMEOUT_SECONDS the answer is edited to drop its buttons, before its token expires."""
    gateway = await Gateway.connect(settings_for(seeds_settings, buttons_timeout_seconds=0.2), searcher)
    try:
        first = only(await gateway.command("ask", question=BROAD), "followup")
        assert first.message["components"]
        await asyncio.sleep(0.5)
        retired = gateway.http.requests[-1]
        assert retired.kind == "edit" and retired.message["components"] == []
        assert first.response["id"] in retired.url
    finally:
        await gateway.close()

async def test_context_shows_no_source_removed_since_the_answer(tmp_path: Path, seeds_copy: Path,
                                                                 embedder: Embedder) -> None:
    """A source removed after an answer was given is not shown by that answer's Context button: the passages of
    other sources "also reported by" are those of the index as it is when the button is pressed."""
    index = make_settings(tmp_path, seeds_copy)
    build(seeds_copy, Store.open(index), embedder)
    searcher = Searcher.open(index, VectorKeepingEmbedder(embedder))
    echoed = next(c for c in searcher.index.chunks
                  if searcher.index.with_also(Hit(c, 1.0, searcher.index.sources[c.source_id])).also)
    question = " ".join(echoed.text.split()[:40])
    hits = searcher.search(question, limit=3).hits
    number, hit = next((n, h) for n, h in enumerate(hits, 1) if h.also)
    removed = hit.also[0]
    gateway = await Gateway.connect(settings_for(index), searcher)
    try:
        answer = only(await gateway.command("ask", question=question), "followup")
        before = only(await gateway.press(answer, f"Context {number}"), "reply").message
        assert unquote(" ".join(removed.chunk.text.split())[:60]) in unquote(json.dumps(before, ensure_ascii=False))
        (seeds_copy / removed.source.id).unlink()
        build(seeds_copy, Store.open(index), embedder)
        assert searcher.reload()
        pressed = await gateway.press(answer, f"Context {number}")
    finally:
        await gateway.close()
    shown = unquote(json.dumps([r.message for r in pressed], ensure_ascii=False))
    assert " ".join(removed.chunk.text.split())[:60] not in shown
    assert removed.source.title not in shown
