"""Look-alike names: a skeleton in the sense of Unicode's UTS #39, so that names which look alike compare equal.

Unicode's confusables table maps each character that can be mistaken for another to one prototype (Cyrillic
"а" to Latin "a", "0" to "O", "ｍ" and "m" to "rn"); two strings look alike when mapping every character to
its prototype gives the same string, their skeleton. The table comes from the package confusable-homoglyphs,
which stores it both ways (each prototype with its look-alikes, and each look-alike with its prototype), so it
does not say which side is the prototype. Every look-alike has exactly one prototype, so the table splits the
characters into classes, one per prototype; mapping each character to a fixed member of its class (the
prototype itself where that is several characters, such as "rn") compares strings as the skeleton does.
"""

import functools
import unicodedata

_LRM = "\u200e"  # the package wraps right-to-left characters in left-to-right marks


@functools.cache
def _representatives() -> dict[str, str]:
    """Each confusable character's class member: the prototype where it is several characters, else the least."""
    from confusable_homoglyphs.confusables import confusables_data  # loads a 1 MB table: only when needed

    parent: dict[str, str] = {}

    def root(item: str) -> str:
        while parent.setdefault(item, item) != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for key, entries in confusables_data.items():
        for entry in entries:
            a, b = root(key.strip(_LRM)), root(entry["c"].strip(_LRM))
            if a != b:
                parent[max(a, b, key=_rank)] = min(a, b, key=_rank)
    return {item: root(item) for item in parent if len(item) == 1 and root(item) != item}


def _rank(item: str) -> tuple[int, str]:
    return (len(item) == 1, item)  # a multi-character prototype first, then the least character


def skeleton(text: str) -> str:
    """`text` with every character replaced by its look-alike class's member; equal skeletons look alike."""
    table = _representatives()
    for _ in range(3):  # a multi-character prototype's own characters map too; they are prototypes themselves
        mapped = unicodedata.normalize("NFD", "".join(table.get(c, c) for c in unicodedata.normalize("NFD", text)))
        if mapped == text:
            break
        text = mapped
    return text


def lookalike(name: str, others: list[str]) -> str | None:
    """The first of `others` that differs from `name` but looks like it, or None."""
    shape = skeleton(unicodedata.normalize("NFKC", name))
    return next((other for other in others
                 if other != name and skeleton(unicodedata.normalize("NFKC", other)) == shape), None)
