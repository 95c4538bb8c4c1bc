"""Answers rendered for a terminal (`text`) and for other programs (`json`, one object per line)."""

import json
import textwrap
from collections.abc import Sequence

from index.search import Answer, Hit

NO_ANSWER = "The corpus does not answer this."
COVERS_HINT = "It covers the sources below; try asking in their terms."


def answer_json(answer: Answer) -> str:
    passages = [{"quote": hit.chunk.text, "score": hit.score, "paragraph": hit.chunk.paragraph,
                 "source": hit.source.to_dict()} for hit in answer.hits]
    payload: dict[str, object] = {"question": answer.question, "answered": answer.answered, "passages": passages}
    if answer.note:
        payload["note"] = answer.note
    return json.dumps(payload, ensure_ascii=False)


def attribution(hit: Hit) -> str:
    """Title — outlet · author · date · ¶ n, leaving out what the source does not say."""
    s = hit.source
    parts = [p for p in (s.outlet, s.author, s.published) if p] + [f"¶ {hit.chunk.paragraph}"]
    return f"{s.title} — {' · '.join(parts)}"


def answer_text(answer: Answer, covers: Sequence[str] = (), width: int = 88) -> str:
    """The answer for a terminal; with no answer, as on Discord, the titles of what the corpus covers."""
    lines = [f"Q: {answer.question}", ""]
    if not answer.answered:
        lines.append(f"{answer.note or NO_ANSWER} {COVERS_HINT}" if covers else answer.note or NO_ANSWER)
        lines += [f"  • {title}" for title in covers]
        return "\n".join(lines)
    for n, hit in enumerate(answer.hits, 1):
        quote = textwrap.fill(hit.chunk.text, width=width, initial_indent=f"{n}. ", subsequent_indent="   ")
        lines += [quote, textwrap.fill(attribution(hit), width=width, initial_indent="   — ",
                                       subsequent_indent="     ")]
        if hit.source.url:
            lines.append(f"     {hit.source.url}")
        lines.append("")
    return "\n".join(lines).rstrip()
