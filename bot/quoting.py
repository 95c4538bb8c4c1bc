"""Text from outside (passages, questions, titles) made safe to show in Discord, and passages quoted.

Quoted text goes through `markdown`: markdown escaped, masked links included, so a passage cannot break out of
its block quote or hide a link behind words; Discord's angle-bracket syntax broken (mentions of users, roles and
channels, slash commands, timestamps, custom emoji, `<scheme:…>` links), so it shows as typed; and `@everyone`
and `@here` neutralised, so nothing can ping even if allowed_mentions were lost. Escaping only adds characters
(backslashes, zero-width spaces); no word of a quote is dropped, except past a length limit, marked with `…`.
"""

import re

import discord

from bot.payload import truncate
from index.ingest.chunking import sentence_spans

QUESTION_ECHO_CHARS = 200
QUOTE_CHARS = 1500

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
