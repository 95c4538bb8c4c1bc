"""How a generation's corroborating partners are kept and read: for each passage, the passages of other sources
that carry the same claim (judged by index/builds/corroboration.py), closest first, stored in pages with the
generation (index/store/chroma.py) and looked up by the searcher."""

import json
from collections.abc import Sequence
from dataclasses import dataclass

BAR_SIGMAS = 3.0
SHOWN = 3  # partners shown with a passage
KEPT = 2 * SHOWN  # partners kept per passage: what is shown, and as many again for when a partner's source changes
PAGE_ENTRIES = 2000  # passages per stored page


@dataclass(frozen=True)
class Corroboration:
    """A generation's partners: for each passage (chunk id), its partner in each other source, closest first."""

    key: str
    mean: float
    spread: float
    partners: dict[str, tuple[tuple[str, float], ...]]
    judged: int = 0  # passages whose partners the build that made it judged

    @property
    def bar(self) -> float:
        return self.mean + BAR_SIGMAS * self.spread if self.spread > 0 else float("inf")

    def of(self, chunk_id: str) -> tuple[tuple[str, float], ...]:
        """The passage's partners, closest first: (chunk id, cosine)."""
        return self.partners.get(chunk_id, ())

    def pages(self) -> list[str]:
        """The partners as JSON pages, the first with the bar, for the store."""
        items = sorted(self.partners.items())
        pages = [items[start : start + PAGE_ENTRIES] for start in range(0, len(items), PAGE_ENTRIES)] or [[]]
        head = {"key": self.key, "mean": self.mean, "spread": self.spread}
        return [json.dumps({**(head if n == 0 else {}), "partners": {k: [list(p) for p in v] for k, v in page}},
                           separators=(",", ":")) for n, page in enumerate(pages)]

    @classmethod
    def from_pages(cls, pages: Sequence[str]) -> "Corroboration":
        bodies = [json.loads(page) for page in pages]
        partners = {chunk_id: tuple((str(other), float(cosine)) for other, cosine in found)
                    for body in bodies for chunk_id, found in body["partners"].items()}
        head = bodies[0]
        return cls(head["key"], float(head["mean"]), float(head["spread"]), partners)
