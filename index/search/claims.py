"""The claim to check in a text too long to search whole: its one or two sentences that carry most of what the
corpus can check.

A sentence carries a claim the corpus can check when it states something (it is no question) about things the
corpus names: names, acronyms and figures it mentions. The two that name most are searched (then those with more of
the corpus's other words first); with none naming anything, the one sentence with most of the corpus's words. Chat
around a claim ("lol look at this", "source?") names nothing the corpus holds and is left out.
"""

import logging
import re

from index.ingest.chunking import sentence_spans
from index.search.lexicon import Lexicon
from index.search.question import read
from index.search.reading import Reading

log = logging.getLogger(__name__)

SENTENCES = 2
# Chat often starts a sentence in lower case: a stop after a word of four letters or digits or more (not "U.S.",
# "Mr.") ends one before a lower-case letter too, as a line break does.
_CHAT_END = re.compile(r"(?<=[^\W_]{4}[.!?…])\s+(?=[a-z])|\s*\n\s*")


def claim_of(text: str, lexicon: Lexicon, limit: int) -> str:
    """The text when it has at most `limit` characters; else the one or two of its sentences that carry claims the
    corpus can check (see above), in their order: one when two are too long, cut at a word when it alone is."""
    if len(" ".join(text.split())) <= limit:
        return " ".join(text.split())
    sentences = [" ".join(line[start:end].split()) for line in _CHAT_END.split(text)
                 for start, end in sentence_spans(line)]
    weights = [_weight(sentence, lexicon) for sentence in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: weights[i], reverse=True)
    naming = [i for i in ranked if weights[i][0] and weights[i][1]]
    for count in range(min(SENTENCES, len(naming)) or 1, 0, -1):
        claim = " ".join(sentences[i] for i in sorted(ranked[:count]))
        if len(claim) <= limit:
            return claim
    cut = sentences[ranked[0]][: limit + 1]  # one sentence longer than the limit
    return cut[: cut.rfind(" ")] if " " in cut else cut[:limit]


def _weight(sentence: str, lexicon: Lexicon) -> tuple[int, int, int]:
    """Whether it states something, then how many of its specific terms and of its words the corpus mentions."""
    reading = Reading.of(read(sentence), lexicon)
    words = sum(1 for term in reading.query.terms if reading.forms[term.key])
    return (not sentence.rstrip().endswith("?"), len(reading.present_specific), words)
