"""Packing messages: `pack` at every Discord limit, and no message allowed to ping."""

import random

import discord
import pytest

from bot.payload import (
    AUTHOR_LIMIT,
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBEDS_LIMIT,
    EMBEDS_TOTAL_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_LIMIT,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    embed_size,
    pack,
)
from tests.bot.harness import NO_PINGS, assert_within_limits


def embed(**parts: str) -> discord.Embed:
    made = discord.Embed(title=parts.get("title"), description=parts.get("description"))
    if "footer" in parts:
        made.set_footer(text=parts["footer"])
    if "author" in parts:
        made.set_author(name=parts["author"])
    return made


@pytest.mark.parametrize("size", [CONTENT_LIMIT - 1, CONTENT_LIMIT, CONTENT_LIMIT + 1, 10 * CONTENT_LIMIT])
def test_pack_content_at_the_limit(size: int) -> None:
    """Content up to 2000 characters is kept whole; longer content is cut to exactly 2000, ending in …."""
    content = pack("x" * size).content
    assert len(content) == min(size, CONTENT_LIMIT)
    assert content.endswith("…") == (size > CONTENT_LIMIT)

@pytest.mark.parametrize(("part", "limit"), [("title", TITLE_LIMIT), ("description", DESCRIPTION_LIMIT),
                                             ("footer", FOOTER_LIMIT), ("author", AUTHOR_LIMIT)])
@pytest.mark.parametrize("over", [0, 1])
def test_pack_each_embed_part_at_its_limit(part: str, limit: int, over: int) -> None:
    """Each embed part is kept at exactly its limit and cut to it one character over."""
    packed = pack(embeds=[embed(**{part: "y" * (limit + over)})]).embeds[0]
    value = {"title": packed.title, "description": packed.description, "footer": packed.footer.text,
             "author": packed.author.name}[part] or ""
    assert len(value) == limit
    assert value.endswith("…") == bool(over)

def test_pack_fields_at_their_limits() -> None:
    """At most 25 fields survive, names cut to 256 and values to 1024."""
    made = discord.Embed()
    for _ in range(FIELDS_LIMIT + 1):
        made.add_field(name="n" * (FIELD_NAME_LIMIT + 1), value="v" * FIELD_VALUE_LIMIT)
    data = pack(embeds=[made]).embeds[0].to_dict()
    assert_within_limits({"embeds": [data]})
    fields = data.get("fields", [])
    assert fields and all(len(f["name"]) == FIELD_NAME_LIMIT and len(f["value"]) == FIELD_VALUE_LIMIT
                          for f in fields)

def test_pack_keeps_ten_embeds() -> None:
    """Ten small embeds pass; an eleventh is dropped."""
    assert len(pack(embeds=[embed(title="t")] * EMBEDS_LIMIT).embeds) == EMBEDS_LIMIT
    assert len(pack(embeds=[embed(title="t")] * (EMBEDS_LIMIT + 1)).embeds) == EMBEDS_LIMIT

def test_pack_total_exactly_6000_is_kept() -> None:
    """Embeds totalling exactly 6000 characters are kept whole; one more character drops the last embed."""
    exact = [embed(description="d" * 3000), embed(description="d" * 3000)]
    assert [embed_size(e.to_dict()) for e in pack(embeds=exact).embeds] == [3000, 3000]  # type: ignore[arg-type]
    over = [embed(description="d" * 3000), embed(description="d" * 3001)]
    assert len(pack(embeds=over).embeds) == 1

def test_pack_cuts_a_lone_embed_over_6000_keeping_its_attribution() -> None:
    """One embed over 6000 in total is cut in its text, not in its title, author or footer."""
    big = embed(title="t" * TITLE_LIMIT, description="d" * DESCRIPTION_LIMIT, footer="f" * FOOTER_LIMIT,
                author="a" * AUTHOR_LIMIT)
    data = pack(embeds=[big]).embeds[0].to_dict()
    assert embed_size(data) == EMBEDS_TOTAL_LIMIT  # type: ignore[arg-type]
    assert data["title"] == "t" * TITLE_LIMIT and data["footer"]["text"] == "f" * FOOTER_LIMIT
    assert data["description"].endswith("…")

def test_pack_random_messages_fit() -> None:
    """Whatever is thrown at it, pack's output is inside every limit."""
    rng = random.Random(7)
    for _ in range(200):
        embeds = []
        for _ in range(rng.randint(0, 14)):
            made = embed(title="t" * rng.randint(1, 400), description="d" * rng.randint(1, 6000),
                         footer="f" * rng.randint(1, 3000), author="a" * rng.randint(1, 400))
            for _ in range(rng.randint(0, 30)):
                made.add_field(name="n" * rng.randint(1, 300), value="v" * rng.randint(1, 1200))
            embeds.append(made)
        payload = pack("c" * rng.randint(0, 4000), embeds)
        assert_within_limits(payload.to_dict())

def test_payload_allows_no_mentions() -> None:
    """Every payload, as sent and as printed, carries allowed_mentions that parse nothing."""
    payload = pack("hi")
    assert payload.to_dict()["allowed_mentions"] == NO_PINGS
    assert payload.send_kwargs()["allowed_mentions"].to_dict() == NO_PINGS
