"""An article as it will be written: its text, title line first, and the metadata it gave of itself, each value
as sources.toml takes it. The extractors (`extract`) make one; `articles` writes it."""

import unicodedata
from dataclasses import dataclass

from index.ingest.source_fields import MAX_FIELD_CHARS, SourceError, metadata_fields

FIELDS = ("title", "outlet", "author", "published", "url")


@dataclass(frozen=True)
class Article:
    """An article as it will be written: its text (title line first) and the metadata it gave of itself."""

    text: str
    title: str | None = None
    outlet: str | None = None
    author: str | None = None
    published: str | None = None
    url: str | None = None

    @classmethod
    def of(cls, paragraphs: list[str], **metadata: str | None) -> "Article":
        """The article of these paragraphs; a metadata value that would not do in sources.toml is left out."""
        kept = {key: value for key, value in ((k, clean_field(k, v)) for k, v in metadata.items()) if value}
        title = kept.get("title")
        return cls("\n\n".join([title, *paragraphs] if title else paragraphs) + "\n", **kept)

    def metadata(self) -> dict[str, str]:
        return {key: value for key in FIELDS if (value := getattr(self, key))}


def clean_field(key: str, value: str | None) -> str | None:
    """A metadata value as sources.toml takes it, cut to length; None when it is empty or not valid."""
    text = "".join(c for c in " ".join((value or "").split()) if not unicodedata.category(c).startswith("C"))
    if key != "url" and len(text) > MAX_FIELD_CHARS:
        text = text[:MAX_FIELD_CHARS - 1].rstrip() + "…"
    try:
        return metadata_fields(**{key: text}).get(key)
    except SourceError:
        return None
