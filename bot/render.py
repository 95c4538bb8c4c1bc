"""Answers rendered as Discord messages: quote cards and related cards, the reply to a question, a comparison, a
card's context; and short plain messages. Quoted text goes through bot.quoting, and every message through `pack`
(bot.payload), which keeps it inside Discord's limits."""

from collections.abc import Sequence
from dataclasses import replace

import discord

from bot.payload import DESCRIPTION_LIMIT, EMBEDS_TOTAL_LIMIT, Payload, pack, pack_all, packed_size
from bot.quoting import echo, markdown, plain, quote
from bot.text import CLOSEST, RELATED, UNSURE, also_credit, attribution, covered, credit, unsure, verdict
from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.ingest.source_fields import url_problem
from index.search.answer import Answer, Confidence, Hit, OnTopic, Outcome
from index.search.searcher import Searcher

CARDS = 3
ALSO_TITLE = "Also reported by"
COLOUR = discord.Colour.dark_teal()
RELATED_COLOUR = discord.Colour.light_grey()  # related passages must not look like answers


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
        if sum(packed_size(e) for e in cards) <= EMBEDS_TOTAL_LIMIT:
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


def text_payload(text: str) -> Payload:
    """A short plain message (errors, refusals), escaped and inside the limits."""
    return pack(markdown(text))
