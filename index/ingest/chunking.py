"""Cuts a document's quotable paragraphs into passages: exact spans of the source text."""

import hashlib
import math
import re
from dataclasses import dataclass

from index.ingest.cleaning import paragraphs
from index.ingest.corpus import CorpusError, Document

MAX_WORDS = 80
# About 160,000 words: a book, not an article. Past it a file is refused rather than embedded for minutes.
MAX_PASSAGES = 2000
# A paragraph cut into this many passages or more is most likely a file that lost its line breaks.
WALL_PASSAGES = 5
# A sentence ends at . ! ? (closing quotes allowed) before a space and a capital or an opening quote,
# unless the word before the stop is a common abbreviation or an initial.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Gen|Lt|Col|Maj|Capt|Sgt|Gov|Sen|Rep|St|Jr|Sr|No|Jan|Feb|Mar|Apr|Jun|Jul|Aug"
    r"|Sep|Sept|Oct|Nov|Dec|vs|etc|U\.S|U\.N|U\.K|i\.e|e\.g)|\b[A-Z])\.$"
)


@dataclass(frozen=True)
class Chunk:
    """A passage: `source_text[start:end] == text`; `paragraph` is the article paragraph it belongs to, `item`
    whether that paragraph is an item of a list."""

    id: str
    source_id: str
    text: str
    start: int
    end: int
    paragraph: int
    item: bool = False


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence boundaries as offsets into `text`, each span stripped of surrounding spaces."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        stop = match.start() + len(match.group().rstrip())
        if _ABBREVIATION.search(text[start:stop]):
            continue
        spans.append((start, stop))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text.rstrip())))
    return spans


def _groups(text: str) -> list[tuple[int, int]]:
    """Whole sentences in as few passages of about MAX_WORDS words as fit, balanced in length."""
    sentences = sentence_spans(text)
    sizes = [len(text[start:end].split()) for start, end in sentences]
    parts = max(1, math.ceil(sum(sizes) / MAX_WORDS))
    target = sum(sizes) / parts
    groups: dict[int, tuple[int, int]] = {}
    words = 0
    for (start, end), size in zip(sentences, sizes, strict=True):
        # A sentence joins the passage its middle word falls in.
        group = min(parts - 1, int((words + size / 2) // target))
        words += size
        first = groups.get(group, (start, end))[0]
        groups[group] = (first, end)
    return [groups[g] for g in sorted(groups)]


def chunk_id(source_id: str, paragraph: int, part: int, text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{source_id}#p{paragraph}.{part}-{digest}"


def chunk_document(doc: Document) -> list[Chunk]:
    """The document's passages; a CorpusError when there would be more than MAX_PASSAGES of them."""
    found = paragraphs(doc.text, doc.source.title)
    words = sum(len(para.text.split()) for para in found)
    if words > MAX_PASSAGES * MAX_WORDS:  # cutting so much text would take long, and the answer is known
        raise CorpusError(f"the file holds {words:,} words of article text, more than the {MAX_PASSAGES:,} passages "
                          "a document may make; split it into several files")
    chunks = []
    for para in found:
        for part, (start, end) in enumerate(_groups(para.text)):
            text = para.text[start:end]
            chunks.append(Chunk(chunk_id(doc.source.id, para.number, part, text), doc.source.id, text,
                                para.start + start, para.start + end, para.number, para.item))
    if len(chunks) > MAX_PASSAGES:
        raise CorpusError(f"the file makes {len(chunks):,} passages, more than the {MAX_PASSAGES:,} a document may "
                          "make; split it into several files")
    return chunks


def layout_warning(chunks: list[Chunk]) -> str | None:
    """A warning when one paragraph makes many passages: they would all cite the same ¶ number."""
    parts: dict[int, int] = {}
    for chunk in chunks:
        parts[chunk.paragraph] = parts.get(chunk.paragraph, 0) + 1
    paragraph, count = max(parts.items(), key=lambda item: item[1], default=(0, 0))
    if count < WALL_PASSAGES:
        return None
    return (f"¶ {paragraph} makes {count:,} passages, all cited as ¶ {paragraph}: the file may have lost its "
            "paragraph breaks; put each paragraph on a line of its own")
