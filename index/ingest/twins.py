"""The same article twice: a source of the seeds folder with the same address, or with nearly the same text.

Addresses are the same when they differ only in what does not change the page: http or https, a leading "www.",
the default port, a trailing slash, the fragment, and tracking parameters (utm_*, fbclid, gclid). Texts are
nearly the same when their quotable paragraphs (as cleaning finds them, so a page's chrome and comments do not
count) share at least SAME_TEXT of their three-word sequences (Jaccard): a copy saved by hand and the same page
fetched by its link, or a corrected version, pass; two reports of the same event do not.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from index.ingest.cleaning import paragraphs
from index.ingest.corpus import CorpusError, decode, read_capped, source_paths

SAME_TEXT = 0.8
SHINGLE_WORDS = 3
_TRACKING = re.compile(r"utm_\w+|fbclid|gclid|mc_cid|mc_eid", re.IGNORECASE)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Twin:
    """The source that already holds the article, and how that was seen (for the moderator)."""

    source_id: str
    why: str


def address_key(url: str) -> tuple[str, ...]:
    """What identifies the page an address leads to."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    try:
        port = "" if parts.port in (None, 80, 443) else str(parts.port)
    except ValueError:
        port = ""
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING.fullmatch(k)))
    return host, port, parts.path.rstrip("/"), query


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = [w for p in paragraphs(text) for w in _WORD.findall(p.text.lower())]
    return {tuple(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def find_twin(seeds_dir: Path, table: dict[str, dict[str, Any]], text: str, url: str | None) -> Twin | None:
    """A source already in the folder that is this article: the same address first, else nearly the same text."""
    present = {path.name: path for path in source_paths(seeds_dir)}
    if url:
        key = address_key(url)
        for source_id, entry in sorted(table.items()):
            if source_id in present and isinstance(entry.get("url"), str) and address_key(entry["url"]) == key:
                return Twin(source_id, "the same address")
    mine = _shingles(text)
    if not mine:
        return None
    for source_id, path in present.items():
        try:
            theirs = _shingles(decode(read_capped(path)))
        except (CorpusError, OSError):  # the build reports a file it cannot read; here it is just no twin
            continue
        share = len(mine & theirs) / len(mine | theirs) if theirs else 0.0
        if share >= SAME_TEXT:
            return Twin(source_id, f"{share:.0%} the same text")
    return None
