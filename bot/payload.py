"""A message as the bot sends it (`Payload`), and `pack`, the one function keeping messages inside Discord's limits
(`pack_all` spreads embeds over as few messages as the limits allow)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord

CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBEDS_TOTAL_LIMIT = 6000

ELLIPSIS = "…"


@dataclass(frozen=True)
class Payload:
    """One message: text and embeds already packed inside Discord's limits."""

    content: str
    embeds: tuple[discord.Embed, ...] = ()

    def send_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for send, reply, followup.send and edit alike."""
        return {"content": self.content or None, "embeds": list(self.embeds),
                "allowed_mentions": discord.AllowedMentions.none()}

    def with_note(self, note: str) -> "Payload":
        """The message with a line of (already safe) text under its content."""
        return pack(f"{self.content}\n{note}", self.embeds)

    def to_dict(self) -> dict[str, Any]:
        """The message as `python -m bot ask --format discord` prints it."""
        return {"content": self.content, "embeds": [e.to_dict() for e in self.embeds],
                "allowed_mentions": discord.AllowedMentions.none().to_dict()}


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, the cut marked with `…`."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + ELLIPSIS


def embed_size(data: dict[str, Any]) -> int:
    """Characters of an embed that count towards the 6000 a message may carry, as Discord counts them."""
    size = len(data.get("title", "")) + len(data.get("description", ""))
    size += len(data.get("footer", {}).get("text", "")) + len(data.get("author", {}).get("name", ""))
    return size + sum(len(f.get("name", "")) + len(f.get("value", "")) for f in data.get("fields", []))


def _clamp(data: dict[str, Any]) -> dict[str, Any]:
    """Each part of an embed inside its own limit."""
    if "title" in data:
        data["title"] = truncate(data["title"], TITLE_LIMIT)
    if "description" in data:
        data["description"] = truncate(data["description"], DESCRIPTION_LIMIT)
    if "footer" in data and "text" in data["footer"]:
        data["footer"]["text"] = truncate(data["footer"]["text"], FOOTER_LIMIT)
    if "author" in data and "name" in data["author"]:
        data["author"]["name"] = truncate(data["author"]["name"], AUTHOR_LIMIT)
    if "fields" in data:
        data["fields"] = [{**f, "name": truncate(f["name"], FIELD_NAME_LIMIT),
                           "value": truncate(f["value"], FIELD_VALUE_LIMIT)}
                          for f in data["fields"][:FIELDS_LIMIT]]
    return data


def packed_size(embed: discord.Embed) -> int:
    """What the embed counts towards the 6000 of a message once its parts are inside their limits."""
    return embed_size(_clamp(embed.to_dict()))  # type: ignore[arg-type]


def _fit(data: dict[str, Any], budget: int) -> dict[str, Any]:
    """An embed cut to `budget` characters: title, author and footer first, then the text, then fields."""
    parts = [(data, "title"), (data.get("author", {}), "name"), (data.get("footer", {}), "text"),
             (data, "description")]
    for holder, key in parts:
        if key in holder:
            holder[key] = truncate(holder[key], budget)
            budget -= len(holder[key])
    fields = []
    for f in data.get("fields", []):
        size = len(f["name"]) + len(f["value"])
        if size > budget:
            break
        fields.append(f)
        budget -= size
    if "fields" in data:
        data["fields"] = fields
    return data


def pack(content: str = "", embeds: Sequence[discord.Embed] = ()) -> Payload:
    """The message cut to fit every Discord limit: content, embed count, each embed part, the 6000 in total.

    Embeds are kept whole, in order, while they fit; the first that does not is dropped with all after it,
    unless it is the first embed, which is cut to fit instead.
    """
    budget = EMBEDS_TOTAL_LIMIT
    packed: list[discord.Embed] = []
    for embed in embeds[:EMBEDS_LIMIT]:
        data = _clamp(embed.to_dict())  # type: ignore[arg-type]
        if embed_size(data) > budget:
            if packed:
                break
            data = _fit(data, budget)
        budget -= embed_size(data)
        packed.append(discord.Embed.from_dict(data))
    return Payload(truncate(content, CONTENT_LIMIT), tuple(packed))


def pack_all(content: str, embeds: Sequence[discord.Embed]) -> list[Payload]:
    """The embeds in as few messages as Discord's limits allow, in order, the content on the first."""
    messages: list[list[discord.Embed]] = [[]]
    budget = EMBEDS_TOTAL_LIMIT
    for embed in embeds:
        size = packed_size(embed)
        if messages[-1] and (size > budget or len(messages[-1]) == EMBEDS_LIMIT):
            messages.append([])
            budget = EMBEDS_TOTAL_LIMIT
        messages[-1].append(embed)
        budget -= size
    return [pack(content if n == 0 else "", group) for n, group in enumerate(messages)]
