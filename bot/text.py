"""Answers as text for a terminal and as JSON for other programs (one object per line), and the wording every
interface uses for a refusal, which the Discord cards (bot/render.py) take from here.

Every interface says the same things: the passages that answer, led by a line saying so when they are only the
closest ones and may not answer exactly; or a refusal on the ground it stands on: that the corpus never mentions
what the question names (with the closest passages, labelled as related and not an answer), or that the question
is off the corpus's topic (with what the corpus covers). Under each quote come the passages of other sources that
say the same thing ("also reported by"), which `context N` shows in full.
"""

import json
import shutil
import sys
import textwrap
from collections.abc import Sequence

from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.search.answer import Answer, Confidence, Hit, OnTopic, Outcome
from index.search.searcher import Searcher

NOT_ANSWERED = "The corpus does not answer this."
NEVER_MENTIONS = "The corpus never mentions {}."
OFF_TOPIC = "Off topic: the corpus does not cover this."
UNSURE = "Closest passages; the corpus may not answer this exactly."
SILENT = "(says nothing on this)"
CLOSEST = "(its closest passage; it may not address this)"
RELATED = "Closest passages (related, not an answer):"
ALSO = "also reported by"
OUTLET_NOT_STATED = "outlet not stated"
DATE_NOT_STATED = "date not stated"
WIDTH = 88  # when the output is not a terminal
MAX_WIDTH = 100  # longer lines are hard to read, however wide the terminal
MIN_WIDTH = 30


def _listing(terms: Sequence[str]) -> str:
    return terms[0] if len(terms) == 1 else f"{', '.join(terms[:-1])} or {terms[-1]}"


def covered(searcher: Searcher, answer: Answer) -> list[str]:
    """The titles of the sources, to tell what the corpus covers when a question is off its topic; else none."""
    return [source.title for source, _ in searcher.sources()] if answer.outcome is Outcome.OFF_TOPIC else []


def verdict(answer: Answer) -> str:
    """What to say when there is no answer: the ground it stands on, in one sentence."""
    if answer.note:
        return answer.note
    if answer.outcome is Outcome.OFF_TOPIC:
        return OFF_TOPIC
    return NEVER_MENTIONS.format(_listing(answer.missing)) if answer.missing else NOT_ANSWERED


def unsure(answer: Answer) -> bool:
    """Whether an answer's passages are only the closest ones, which may not answer exactly."""
    return answer.answered and answer.confidence is Confidence.LOW


def _passage(hit: Hit) -> dict[str, object]:
    return {"quote": hit.chunk.text, "score": hit.score, "paragraph": hit.chunk.paragraph,
            "source": hit.source.to_dict(),
            "also": [{"quote": also.chunk.text, "paragraph": also.chunk.paragraph, "source": also.source.to_dict()}
                     for also in hit.also]}


def answer_json(answer: Answer) -> str:
    payload: dict[str, object] = {
        "question": answer.question, "answered": answer.answered, "outcome": answer.outcome.value,
        "confidence": answer.confidence.value, "passages": [_passage(hit) for hit in answer.hits],
        "related": [_passage(hit) for hit in answer.related], "missing": list(answer.missing)}
    if answer.note:
        payload["note"] = answer.note
    return json.dumps(payload, ensure_ascii=False)


def compare_json(topic: str, sources: Sequence[OnTopic]) -> str:
    return json.dumps({"topic": topic, "sources": [
        {"source": said.source.to_dict(), "passages": [_passage(said.hit)] if said.hit else [],
         "confidence": said.confidence.value} for said in sources]}, ensure_ascii=False)


def text_width() -> int:
    """How wide to wrap: the terminal's width (up to MAX_WIDTH), or WIDTH when the output is not a terminal."""
    if not sys.stdout.isatty():
        return WIDTH
    return max(MIN_WIDTH, min(shutil.get_terminal_size((WIDTH, 24)).columns, MAX_WIDTH))


def attribution(source: Source, paragraph: int | None = None) -> str:
    """outlet · author · date · ¶ n. A missing outlet or date is said to be not stated, so that nobody takes it
    for left off; a missing author is left out, as news reports often name none."""
    parts = [source.outlet or OUTLET_NOT_STATED, *filter(None, [source.author]), source.published or DATE_NOT_STATED]
    if paragraph is not None:
        parts.append(f"¶ {paragraph}")
    return " · ".join(parts)


def credit(hit: Hit) -> str:
    """Title — outlet · author · date · ¶ n."""
    return f"{hit.source.title} — {attribution(hit.source, hit.chunk.paragraph)}"


def also_credit(hit: Hit) -> str:
    """Who else reports a passage, in short: outlet (its title when the outlet is not stated) · date · ¶ n."""
    who = hit.source.outlet or f"“{hit.source.title}”"
    return f"{who} · {hit.source.published or DATE_NOT_STATED} · ¶ {hit.chunk.paragraph}"


def _quotes(hits: Sequence[Hit], width: int, first: int | None = 1) -> list[str]:
    """The passages wrapped to `width`, each with its credit and url; numbered from `first`, or not at all."""
    lines = []
    for n, hit in enumerate(hits, first or 1):
        lines.append(textwrap.fill(hit.chunk.text, width=width, initial_indent=f"{n}. " if first else "   ",
                                   subsequent_indent="   "))
        lines.append(textwrap.fill(credit(hit), width=width, initial_indent="   — ", subsequent_indent="     "))
        if hit.source.url:
            lines.append(f"     {hit.source.url}")
        lines += [textwrap.fill(credit(also), width=width, initial_indent=f"   {ALSO} ", subsequent_indent="     ")
                  for also in hit.also]
        lines.append("")
    return lines


def answer_text(answer: Answer, covers: Sequence[str] = (), width: int = WIDTH, first: int = 1) -> str:
    """The answer for a terminal, its passages numbered from `first` (a further page goes on from the last)."""
    lines = [f"Q: {answer.question}", ""]
    if answer.answered:
        if unsure(answer) and first == 1:
            lines += [UNSURE, ""]
        lines += _quotes(answer.hits, width, first)
    else:
        lines.append(verdict(answer))
        if answer.related:
            lines += ["", RELATED, "", *_quotes(answer.related, width)]
        elif answer.outcome is Outcome.OFF_TOPIC and not answer.note and covers:
            lines += ["It covers these sources; try asking in their terms:", *(f"  • {title}" for title in covers)]
    return "\n".join(lines).rstrip()


def compare_text(topic: str, sources: Sequence[OnTopic], width: int = WIDTH) -> str:
    lines = [f"Topic: {topic}", ""]
    for said in sources:
        lines.append(textwrap.fill(said.source.title, width=width))
        if said.hit is None:
            lines += [f"   {SILENT}", ""]
        else:
            if said.confidence is Confidence.LOW:
                lines.append(f"   {CLOSEST}")
            lines += _quotes([said.hit], width, first=None)
    return "\n".join(lines).rstrip()


def context_text(hit: Hit, chunks: Sequence[Chunk], width: int = WIDTH) -> str:
    """A passage between its neighbours in the source, each under its paragraph number: the Context button's card."""
    if not chunks:
        return "That passage is no longer in the index; ask again to quote the current corpus."
    lines = [textwrap.fill(f"Context of ¶ {hit.chunk.paragraph} in “{hit.source.title}”:", width=width), ""]
    for chunk in chunks:
        lines.append(f"¶ {chunk.paragraph}" + (" · the quoted passage" if chunk.id == hit.chunk.id else ""))
        lines += [textwrap.fill(chunk.text, width=width, initial_indent="   ", subsequent_indent="   "), ""]
    lines.append(textwrap.fill(f"{hit.source.title} — {attribution(hit.source)}", width=width,
                               initial_indent="— ", subsequent_indent="  "))
    if hit.source.url:
        lines.append(f"  {hit.source.url}")
    if hit.also:
        lines += ["", f"{ALSO.capitalize()}:", ""]
        lines += _quotes(hit.also, width, first=None)
    return "\n".join(lines).rstrip()
