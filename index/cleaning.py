"""Finds the article text in a saved web page: the paragraphs worth quoting, as spans of the raw text.

Pages carry site chrome (ad slots, banner sizes, print and share links, photo captions and credits, section
labels) and, after the article, a comment box and reader comments. The rules here are general, not per file:

1. The article ends at the first end-of-article marker (a comment box, a comment counter, a "latest news"
   list, "do you like this article?"); everything after it is dropped, reader comments included.
2. A line repeated on the next line is a photo caption rendered twice; a line ending in a bracketed credit
   like "[File]" is a caption. Both are dropped.
3. What is left is quotable only if it reads as prose: several words and sentence punctuation. Bylines,
   datelines, headings, ad slots and credits are labels, not passages.
"""

import re
from dataclasses import dataclass

_END_OF_ARTICLE = re.compile(
    r"""^(?:
        \d+\s+comments?
      | comments?(?:\s*\(\d+\))?
      | (?:be\s+the\s+first\s+to\s+comment|write\s+your\s+comment|leave\s+a\s+(?:comment|reply)
         |post\s+a\s+comment|add\s+a\s+comment|join\s+the\s+discussion|comment\s+policy)\b.*
      | (?:do|did)\s+you\s+(?:like|enjoy)\s+this\s+(?:article|story|post)\b.*
      | was\s+this\s+(?:article|story)\s+helpful\b.*
      | (?:latest|related|recommended|popular|more|trending)\s+(?:news|articles|stories|posts)
        (?:\s+(?:and|&)\s+(?:news|articles|stories|posts))?:?
      | please\s+let\s+us\s+know\s+if\s+you['’]re\s+having\s+issues\s+with\s+commenting\.?
      | this\s+site\s+uses\s+akismet\b.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_BRACKET_CREDIT = re.compile(r"\[[^\[\]]{1,80}\]\s*$")
_BULLET = re.compile(r"[-*•·]\s+")
_SENTENCE_PUNCT = re.compile(r"[.!?…][\"'”’)\]]*(?:\s|$)")
_WORD = re.compile(r"\w+")
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")
MIN_PROSE_WORDS = 6


@dataclass(frozen=True)
class Paragraph:
    """One quotable paragraph: `text == raw[start:end]`; `number` counts quotable paragraphs from 1."""

    number: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    text: str


def _lines(raw: str) -> list[_Line]:
    """Non-blank lines with their offsets, stripped of surrounding whitespace (NBSP included)."""
    lines = []
    for match in re.finditer(r"[^\n]+", raw):
        body = match.group()
        stripped = body.strip()
        if not stripped:
            continue
        start = match.start() + (len(body) - len(body.lstrip()))
        lines.append(_Line(start, start + len(stripped), stripped))
    return lines


def _key(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def is_end_of_article(line: str) -> bool:
    return bool(_END_OF_ARTICLE.match(line.strip()))


def is_prose(line: str) -> bool:
    return len(_WORD.findall(line)) >= MIN_PROSE_WORDS and bool(_SENTENCE_PUNCT.search(line))


def article_lines(raw: str) -> list[_Line]:
    """The lines before the first end-of-article marker, minus captions (rules 1 and 2)."""
    lines = []
    for line in _lines(raw):
        if is_end_of_article(line.text):
            break
        lines.append(line)
    keys = [_key(line.text) for line in lines]
    kept = []
    for i, line in enumerate(lines):
        repeated = (i > 0 and keys[i - 1] == keys[i]) or (i + 1 < len(lines) and keys[i + 1] == keys[i])
        if repeated or _BRACKET_CREDIT.search(line.text):
            continue
        kept.append(line)
    return kept


def paragraphs(raw: str, title: str | None = None) -> list[Paragraph]:
    """The quotable paragraphs of a page, numbered in reading order; the headline is not one of them."""
    found: list[Paragraph] = []
    title_key = _key(title or "")
    for line in article_lines(raw):
        if not is_prose(line.text) or _key(line.text) == title_key:
            continue
        start = line.start
        bullet = _BULLET.match(line.text)
        if bullet:
            start += bullet.end()
        found.append(Paragraph(len(found) + 1, start, line.end, raw[start : line.end]))
    return found


def first_heading(raw: str) -> str | None:
    """The first line of article text with a few words and no sentence: the title when metadata gives none."""
    for line in article_lines(raw):
        if len(_LETTER_WORD.findall(line.text)) >= 3 and not is_prose(line.text):
            return line.text
    return None
