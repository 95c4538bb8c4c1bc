"""Finds the article text in a .txt source, often a web page saved as text: the paragraphs worth quoting, as
spans of the raw text. (A link, an HTML page or a PDF is extracted when it is added, by `extract`'s general
rules; what that writes into the seeds folder is text, read here like any other.)

Pages carry site chrome (ad slots, banner sizes, print and share links, photo captions and credits, section
labels) and, after the article, a comment box and reader comments. The rules here are general, not per file:

1. The article ends at the first end-of-article marker (a comment box, a comment counter, a "latest news"
   list, "do you like this article?"; `end_of_article.toml` lists them, each with where it was seen);
   everything after it is dropped, reader comments included. It also ends at the first reader comment, known
   by its shape when no marker announces it: a name, then when it was posted ("3 hours ago", a date) on the
   same line or the next, then a few lines of short text. A byline has the same head, but the whole article
   follows it.
2. A line repeated on the next line is a photo caption rendered twice; a line ending in a bracketed credit
   like "[File]" is a caption. Both are dropped.
3. What is left is quotable only if it reads as prose: several words and sentence punctuation, or the colon
   that ends a list's lead-in. Bylines, datelines, headings, ad slots and credits are labels, not passages.

An HTML page saved as .txt is not cleaned: `looks_like_html` lets the corpus refuse it, since a quote must be
the file's own text and a page's paragraphs are wrapped in tags and entities.
"""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

END_OF_ARTICLE_FILE = Path(__file__).with_name("end_of_article.toml")


def _end_of_article_markers(path: Path) -> re.Pattern[str]:
    """One pattern matching a whole line that any marker of the data file matches."""
    markers = tomllib.loads(path.read_text(encoding="utf-8"))["marker"]
    return re.compile("^(?:" + "|".join(f"(?:{marker['pattern']})" for marker in markers) + ")$", re.IGNORECASE)


_END_OF_ARTICLE = _end_of_article_markers(END_OF_ARTICLE_FILE)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_CLOCK = r"\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?"
_DATE = (r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
         rf"|(?:[a-z]+,?\s+)?{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
         rf"|(?:[a-z]+,?\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}})")
_POSTED = (r"(?:(?:posted|commented|replied|edited)\s+)?(?:on\s+)?"
           r"(?:(?:\d+|an?|one)\s+(?:second|sec|minute|min|hour|hr|day|week|month|year)s?\s+ago|just\s+now"
           rf"|(?:today|yesterday)(?:\s+at\s+{_CLOCK})?|{_DATE}(?:,?\s+(?:at\s+)?{_CLOCK})?)")
_NAME = r"[@\w][\w.'’@-]*(?:\s+[\w.'’@-]+){0,3}"
_POSTED_LINE = re.compile(rf"{_POSTED}(?:\s*[·•|]\s*(?:reply|edited))?", re.IGNORECASE)
_NAME_LINE = re.compile(_NAME)
_NAME_AND_POSTED = re.compile(rf"{_NAME}\s*(?:[·•|—–-]|,|\bon\b)\s*{_POSTED}(?:\s+said:?|\s+says:?)?",
                              re.IGNORECASE)
COMMENT_PROSE_LINES = 3
COMMENT_WORDS = 120
_HTML_START = re.compile(r"\s*(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?(?:p|div|span|a|br|li|ul|ol|h[1-6]|table|tr|td|img|script|style|meta|link|section"
                       r"|article|header|footer|nav|em|strong|b|i|title|figure|figcaption)\b[^<>]*>", re.IGNORECASE)
HTML_SAMPLE_CHARS = 100_000
_BRACKET_CREDIT = re.compile(r"\[[^\[\]]{1,80}\]\s*$")
_BULLET = re.compile(r"[-*•·]\s+")
# A sentence's end, or a list's lead-in ("…, including:"), which says what its items are about.
_SENTENCE_PUNCT = re.compile(r"[.!?…][\"'”’)\]]*(?:\s|$)|:\s*$")
_WORD = re.compile(r"\w+")
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")
MIN_PROSE_WORDS = 6
TITLE_WORDS = 2


@dataclass(frozen=True)
class Paragraph:
    """One quotable paragraph: `text == raw[start:end]`; `number` counts quotable paragraphs from 1."""

    number: int
    start: int
    end: int
    text: str
    item: bool = False  # an item of a list (a line that opens with a bullet)


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


def looks_like_html(text: str) -> bool:
    """A web page's markup rather than its text: it opens as an HTML document, or tags fill most of its lines."""
    sample = text[:HTML_SAMPLE_CHARS]
    if _HTML_START.match(sample):
        return True
    lines = sum(1 for line in sample.splitlines() if line.strip())
    tags = len(_HTML_TAG.findall(sample))
    return tags >= 5 and tags * 2 >= lines


def _comment_heads(lines: list[_Line]) -> list[tuple[int, int]]:
    """Where each comment-shaped head starts, and where the text under it starts."""
    heads = []
    for i, line in enumerate(lines):
        if _NAME_AND_POSTED.fullmatch(line.text):
            heads.append((i, i + 1))
        elif (i + 1 < len(lines) and _NAME_LINE.fullmatch(line.text)
              and _POSTED_LINE.fullmatch(lines[i + 1].text)):
            heads.append((i, i + 2))
    return heads


def first_comment(lines: list[_Line]) -> int | None:
    """The line that opens the first reader comment: a comment-shaped head with only short text under it."""
    heads = _comment_heads(lines)
    for n, (head, body) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        prose = [line.text for line in lines[body:end] if is_prose(line.text)]
        if len(prose) <= COMMENT_PROSE_LINES and sum(len(p.split()) for p in prose) <= COMMENT_WORDS:
            return head
    return None


def article_lines(raw: str) -> list[_Line]:
    """The lines before the first end-of-article marker or reader comment, minus captions (rules 1 and 2)."""
    lines = []
    for line in _lines(raw):
        if is_end_of_article(line.text):
            break
        lines.append(line)
    comment = first_comment(lines)
    if comment is not None:
        lines = lines[:comment]
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
        found.append(Paragraph(len(found) + 1, start, line.end, raw[start : line.end], bullet is not None))
    return found


def first_heading(raw: str) -> str | None:
    """The first line of article text with two words or more and no sentence: the title when metadata gives none.
    One word alone is more often a site's section or menu ("News", "Print") than a headline."""
    for line in article_lines(raw):
        if len(_LETTER_WORD.findall(line.text)) >= TITLE_WORDS and not is_prose(line.text):
            return line.text
    return None
