"""Answers rendered as Discord messages, and `pack`, the one function keeping messages in Discord's limits.

Quoted text goes through `markdown`: markdown escaped, masked links included, so a passage cannot break out of
its block quote or hide a link behind words; Discord's angle-bracket syntax broken (mentions of users, roles and
channels, slash commands, timestamps, custom emoji, `<scheme:…>` links), so it shows as typed; and `@everyone`
and `@here` neutralised, so nothing can ping even if allowed_mentions were lost. Escaping only adds characters
(backslashes, zero-width spaces); no word of a quote is dropped, except past a length limit, marked with `…`.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import discord

from bot.terminal import CLOSEST, RELATED, UNSURE, also_credit, attribution, covered, credit, unsure, verdict
from index.ingest.chunking import Chunk, sentence_spans
from index.ingest.corpus import Source
from index.ingest.source_fields import url_problem
from index.search.searcher import Answer, Confidence, Hit, OnTopic, Outcome, Searcher

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

CARDS = 3
QUESTION_ECHO_CHARS = 200
QUOTE_CHARS = 1500
ELLIPSIS = "…"
ALSO_TITLE = "Also reported by"
COLOUR = discord.Colour.dark_teal()
RELATED_COLOUR = discord.Colour.light_grey()  # related passages must not look like answers

_WORD = re.compile(r"\w+")
# Each markdown character, escaped wherever it stands (brackets too: a masked link needs them), and the line
# starts that make quotes, headings, subtext and lists. discord.utils.escape_markdown escapes only the first of
# several masked links on a line.
_MARKDOWN = re.compile(r"[\\*_~|`\[\]]|^>(?:>>)?\s|^#{1,3}|^\s*-", re.MULTILINE)
# The `<` that opens Discord's tags: <@id>, <#id>, </name:id>, <t:0:R>, <:name:id>, <a:name:id>, <id:…>, <x:/…>.
_TAG = re.compile(r"<(?=\S)")
# A link with its scheme, or an invite that Discord shows as one without (discord.gg/…, discord.com/invite/…); the
# trailing punctuation is not the link's.
_URL = re.compile(r"(?:https?://|(?<![\w.])(?=discord\.gg/|discord(?:app)?\.com/invite/))[^\s<>]*[^\s<>.,;:!?'\")\]]",
                  re.IGNORECASE)
_STOPWORDS = frozenset({
    "the", "and", "for", "are", "was", "were", "has", "have", "had", "with", "from", "that", "this", "what",
    "which", "who", "whom", "whose", "when", "where", "why", "how", "did", "does", "not", "but", "its",
    "their", "there", "they", "them", "than", "then", "into", "about", "over", "also", "been", "being", "can",
    "could", "would", "should", "will", "shall", "may", "might", "any", "all", "some", "more", "most",
    "other", "such", "only", "own", "same", "very", "just", "tell", "say", "said",
})


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


def _size(embed: discord.Embed) -> int:
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


def plain(text: str) -> str:
    """Text for places that show no markdown (footers): tags broken and mentions neutralised."""
    return discord.utils.escape_mentions(_TAG.sub("<\u200b", text))


def markdown(text: str) -> str:
    """Text for places that render markdown: markdown escaped, tags broken and mentions neutralised, words kept."""
    return plain(_MARKDOWN.sub(lambda match: "\\" + match.group(0), text))


def echo(question: str) -> str:
    """The question, safe to show back: shortened, then escaped. A link in it is shown in <…>, which Discord
    shows without a preview, so nobody can make an answer carry a page of their choosing."""
    text = truncate(" ".join(question.split()), QUESTION_ECHO_CHARS)
    between = _URL.split(text)
    links = [f"<{plain(url if '://' in url else f'https://{url}')}>" for url in _URL.findall(text)] + [""]
    return "".join(markdown(part) + link for part, link in zip(between, links, strict=True))


def _terms(text: str) -> set[str]:
    words = (w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOPWORDS)
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words}


def best_sentence(text: str, question: str) -> tuple[int, int] | None:
    """The span of the one sentence sharing most words with the question; None when no sentence stands out."""
    spans = sentence_spans(text)
    wanted = _terms(question)
    scores = [len(wanted & _terms(text[start:end])) for start, end in spans]
    best = max(scores, default=0)
    if len(spans) < 2 or best == 0 or scores.count(best) > 1:
        return None
    return spans[scores.index(best)]


def quote(text: str, question: str | None = None, limit: int = QUOTE_CHARS) -> str:
    """A passage as a one-line block quote, the sentence that best matches the question in bold."""
    text = truncate(" ".join(text.split()), limit)
    span = best_sentence(text, question) if question else None
    if span is None:
        return f"> {markdown(text)}"
    start, end = span
    return f"> {markdown(text[:start])}**{markdown(text[start:end])}**{markdown(text[end:])}"


def _source_embed(source: Source, description: str, footer: str) -> discord.Embed:
    url = source.url if source.url and url_problem(source.url) is None else None  # Discord refuses a bad url
    embed = discord.Embed(title=markdown(source.title), url=url, description=description, colour=COLOUR)
    if footer:
        embed.set_footer(text=plain(footer))
    return embed


def _with_also(embed: discord.Embed, hit: Hit) -> discord.Embed:
    """The card with the other sources that say the same thing, one line each: outlet · date · ¶ n."""
    if hit.also:
        lines = "\n".join(f"• {markdown(also_credit(also))}" for also in hit.also)
        embed.add_field(name=ALSO_TITLE, value=lines, inline=False)
    return embed


def card(hit: Hit, question: str, number: int) -> discord.Embed:
    """A quote card: the passage verbatim, its source's title (linked), where in the source it stands, and who else
    reports it."""
    where = attribution(hit.source, hit.chunk.paragraph)
    embed = _source_embed(hit.source, quote(hit.chunk.text, question), where)
    return _with_also(embed.set_author(name=f"Passage {number}"), hit)


def related_card(hit: Hit, number: int) -> discord.Embed:
    """A closest passage when nothing answers: grey, titled as not an answer, its source in the footer."""
    embed = discord.Embed(title=f"Related passage {number}: not an answer", description=quote(hit.chunk.text),
                          colour=RELATED_COLOUR)
    return _with_also(embed.set_footer(text=plain(credit(hit))), hit)


def _cards_first(cards: list[discord.Embed]) -> list[discord.Embed]:
    """The cards, their "also reported by" lines taken off from the last card back while they would not all fit in
    one message: a quote matters more than who else reports another."""
    for embed in reversed(cards):
        if sum(_size(e) for e in cards) <= EMBEDS_TOTAL_LIMIT:
            break
        embed.clear_fields()
    return cards


def answer_payload(answer: Answer, covers: Sequence[str], offset: int = 0, label: str = "Q") -> Payload:
    """The reply to a question (or a claim, under another `label`): up to three quote cards; or, when nothing
    answers, why, with the closest passages as related cards; or, off the corpus's topic, what the corpus covers."""
    content = f"**{label}:** {echo(answer.question)}"
    if answer.answered:
        if unsure(answer):
            content += f"\n{markdown(UNSURE)}"
        cards = [card(hit, answer.question, offset + n) for n, hit in enumerate(answer.hits, 1)]
        sent = pack("", _cards_first(cards)).embeds  # escaping lengthens quotes: say what fits, not what was found
        content += f"\nPassages {offset + 1}–{offset + len(sent)} of {answer.total}, quoted verbatim:"
        return pack(content, sent)
    content += f"\n{markdown(verdict(answer))}"
    if answer.related:
        content += f"\n{markdown(RELATED)}"
        return pack(content, _cards_first([related_card(hit, n) for n, hit in enumerate(answer.related, 1)]))
    if answer.note and answer.outcome is not Outcome.OFF_TOPIC:
        return pack(content)
    content += " It covers the sources below; try asking in their terms."
    listing = "\n".join(f"• {markdown(title)}" for title in covers) or "(the corpus is empty)"
    return pack(content, [discord.Embed(title="What the corpus covers", description=listing, colour=COLOUR)])


def respond(searcher: Searcher, question: str, offset: int = 0, label: str = "Q") -> tuple[Answer, Payload]:
    """Searches and renders one page of the answer: what the bot sends and `ask --format discord` prints."""
    answer = searcher.search(question, limit=CARDS, offset=offset)
    payload = answer_payload(answer, covered(searcher, answer), offset, label)
    if answer.answered:  # the buttons (Context N, More passages) go by the cards the message holds
        answer = replace(answer, hits=answer.hits[: len(payload.embeds)])
    return answer, payload


def compare_payload(topic: str, sources: Sequence[OnTopic]) -> Payload:
    """Each source's closest passage on a topic, one card per source (a card says when the passage is only the
    closest and may not address the topic), and the sources that say nothing on it."""
    speaking = [(said.hit, said.confidence) for said in sources if said.hit]
    cards = _cards_first([_compare_card(hit, sure, topic, n) for n, (hit, sure) in enumerate(speaking, 1)])
    silent = [said.source.title for said in sources if said.hit is None]
    if silent:
        listing = "\n".join(f"• {markdown(title)}" for title in silent)
        cards.append(discord.Embed(title="Say nothing on this", description=listing, colour=RELATED_COLOUR))
    return pack(f"**Topic:** {echo(topic)}\nEach source's closest passage on it, quoted verbatim:", cards)


def _compare_card(hit: Hit, confidence: Confidence, topic: str, number: int) -> discord.Embed:
    embed = card(hit, topic, number)
    return embed.set_author(name=f"Passage {number} {CLOSEST}") if confidence is Confidence.LOW else embed


def context_payloads(hit: Hit, chunks: Sequence[Chunk]) -> list[Payload]:
    """A card's passage between its neighbours in the source, each labelled with its paragraph; then, in full, the
    passages of other sources that say the same thing: in one message when they fit, else in more."""
    if not chunks:
        return [pack("That passage is no longer in the index; ask again to quote the current corpus.")]
    parts = []
    for chunk in chunks:
        label = f"¶ {chunk.paragraph}" + (" · the quoted passage" if chunk.id == hit.chunk.id else "")
        parts.append(f"**{label}**\n{quote(chunk.text)}")
    embeds = [_source_embed(hit.source, "\n\n".join(parts), attribution(hit.source))]
    for also in hit.also:
        where = attribution(also.source, also.chunk.paragraph)
        text = quote(also.chunk.text, limit=DESCRIPTION_LIMIT // 2)  # in full: passages are far shorter
        embeds.append(_source_embed(also.source, text, where).set_author(name=ALSO_TITLE))
    return pack_all(f"Context of ¶ {hit.chunk.paragraph}:", embeds)


def pack_all(content: str, embeds: Sequence[discord.Embed]) -> list[Payload]:
    """The embeds in as few messages as Discord's limits allow, in order, the content on the first."""
    messages: list[list[discord.Embed]] = [[]]
    budget = EMBEDS_TOTAL_LIMIT
    for embed in embeds:
        size = _size(embed)
        if messages[-1] and (size > budget or len(messages[-1]) == EMBEDS_LIMIT):
            messages.append([])
            budget = EMBEDS_TOTAL_LIMIT
        messages[-1].append(embed)
        budget -= size
    return [pack(content if n == 0 else "", group) for n, group in enumerate(messages)]


def text_payload(text: str) -> Payload:
    """A short plain message (errors, refusals), escaped and inside the limits."""
    return pack(markdown(text))
