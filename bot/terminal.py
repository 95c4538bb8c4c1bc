"""Answers rendered for a terminal (`text`) and for other programs (`json`, one object per line).

Every interface says the same three things: the passages that answer; or that the corpus does not answer, the
terms it never mentions and the closest passages, labelled as related and not an answer; or that the question
is off the corpus's topic, with what the corpus covers.
"""

import json
import textwrap
from collections.abc import Sequence

from index.corpus import Source
from index.search import Answer, Hit, Outcome

NOT_ANSWERED = "The corpus does not answer this."
OFF_TOPIC = "The corpus does not cover this."
RELATED = "Closest passages (related, not an answer):"


def _listing(terms: Sequence[str]) -> str:
    return terms[0] if len(terms) == 1 else f"{', '.join(terms[:-1])} or {terms[-1]}"


def verdict(answer: Answer) -> str:
    """What to say when there is no answer: why, in one or two sentences."""
    if answer.note:
        return answer.note
    said = OFF_TOPIC if answer.outcome is Outcome.OFF_TOPIC else NOT_ANSWERED
    if answer.missing:
        said += f" It never mentions {_listing(answer.missing)}."
    return said


def _passage(hit: Hit) -> dict[str, object]:
    return {"quote": hit.chunk.text, "score": hit.score, "paragraph": hit.chunk.paragraph,
            "source": hit.source.to_dict()}


def answer_json(answer: Answer) -> str:
    payload: dict[str, object] = {
        "question": answer.question, "answered": answer.answered, "outcome": answer.outcome.value,
        "passages": [_passage(hit) for hit in answer.hits], "related": [_passage(hit) for hit in answer.related],
        "missing": list(answer.missing)}
    if answer.note:
        payload["note"] = answer.note
    return json.dumps(payload, ensure_ascii=False)


def compare_json(topic: str, sources: Sequence[tuple[Source, Hit | None]]) -> str:
    return json.dumps({"topic": topic, "sources": [
        {"source": source.to_dict(), "passages": [_passage(hit)] if hit else []} for source, hit in sources]},
        ensure_ascii=False)


def attribution(hit: Hit) -> str:
    """Title — outlet · author · date · ¶ n, leaving out what the source does not say."""
    s = hit.source
    parts = [p for p in (s.outlet, s.author, s.published) if p] + [f"¶ {hit.chunk.paragraph}"]
    return f"{s.title} — {' · '.join(parts)}"


def _quotes(hits: Sequence[Hit], width: int, numbered: bool = True) -> list[str]:
    lines = []
    for n, hit in enumerate(hits, 1):
        lines.append(textwrap.fill(hit.chunk.text, width=width, initial_indent=f"{n}. " if numbered else "   ",
                                   subsequent_indent="   "))
        lines.append(textwrap.fill(attribution(hit), width=width, initial_indent="   — ", subsequent_indent="     "))
        if hit.source.url:
            lines.append(f"     {hit.source.url}")
        lines.append("")
    return lines


def answer_text(answer: Answer, covers: Sequence[str] = (), width: int = 88) -> str:
    lines = [f"Q: {answer.question}", ""]
    if answer.answered:
        lines += _quotes(answer.hits, width)
    else:
        lines.append(verdict(answer))
        if answer.related:
            lines += ["", RELATED, "", *_quotes(answer.related, width)]
        elif answer.outcome is Outcome.OFF_TOPIC and not answer.note and covers:
            lines += ["It covers these sources; try asking in their terms:", *(f"  • {title}" for title in covers)]
    return "\n".join(lines).rstrip()


def compare_text(topic: str, sources: Sequence[tuple[Source, Hit | None]], width: int = 88) -> str:
    lines = [f"Topic: {topic}", ""]
    for source, hit in sources:
        lines.append(textwrap.fill(source.title, width=width))
        if hit is None:
            lines += ["   (says nothing on this)", ""]
        else:
            lines += _quotes([hit], width, numbered=False)
    return "\n".join(lines).rstrip()
