"""What English lists as ordinary words: a word a dictionary lists in lower case is no name, in any casing.

The dictionary is Hunspell's en_US word list (SCOWL) and its affix rules, as the spylls package ships them: it
lists "smuggler", "stockpile" and "ombudsman" in lower case and "Lisbon", "Nairobi" and "Nixon" capitalised. A word
counts as listed in lower case when it is a form of a lower-case entry by the dictionary's own rules ("stockpiling",
"smugglers", "prolong" from "long" and the prefix "pro"), in British or American spelling, with a prefix English
puts on any word ("overpromising"), a hyphenated form also written as one word ("write-off": "writeoff"), or a verb
and a particle written as one ("rollout", "drawdown").
The forms are made once, about 100,000 words, and kept as a sorted array of their 64-bit hashes (under a megabyte,
where the set of words would hold fourteen in every process that answers; Hunspell's own engine would take fifty).

A misspelt common word ("recieved", "tommorow") is no name either: a word one edit (two for words of eight letters
or more) from a common word that the dictionary lists in lower case, with the same first letter, is taken for a typo
of it.
"""

import logging
import re
from array import array
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from index.search.terms import spellings

log = logging.getLogger(__name__)

COMMON_SHARE = 1e-6  # wordfreq's "small" list: words used at least once per million
# Nouns made of a verb and a particle, written as one word: "drawdown", "rollout", "takeover". Two nouns written as
# one are not read this way: too many surnames are made so ("Goldsmith", "Blackwater").
PARTICLES = ("up", "out", "off", "down", "over", "back", "away")
BEFORE_PARTICLE = 3  # the shortest verb before a particle
# Prefixes English puts on any word to make another, beyond the few the dictionary's rules know ("re", "un", "pro"):
# "overpromising", "counterstrike", "non-binding".
PREFIXES = ("anti", "co", "counter", "inter", "mis", "multi", "non", "out", "over", "post", "pre", "self", "semi",
            "sub", "super", "under")
AFTER_PREFIX = 4  # letters the word after a prefix has at least
BATCH = 1024  # common words looked up at once


class DictionaryError(RuntimeError):
    """The English word list that tells names from words is missing: the installation is incomplete."""


@lru_cache(maxsize=65536)
def listed_in_lower_case(word: str) -> bool:
    """Whether the dictionary lists the word (lower-cased), one of its forms, or its other spelling, in lower case;
    or the word is such a verb and a particle written as one ("rollout")."""
    word = word.lower()
    return _listed(word) or any(word.endswith(p) and len(word) - len(p) >= BEFORE_PARTICLE
                                and _listed(word[: -len(p)]) for p in PARTICLES)


def _listed(word: str) -> bool:
    return bool(_all_listed([word])[0])


def _all_listed(words: list[str]) -> np.ndarray:
    """Whether each word, a spelling of it, or the word after a prefix English puts on any word, is a lower-case form:
    looked up all at once, since one word at a time costs a second over a common-word list."""
    spelt = [[spelling for whole in (word, *_bare(word)) for spelling in spellings(whole)] for word in words]
    entries = _lower_case()
    keys = np.fromiter((hash(s) for forms in spelt for s in forms), dtype=np.int64)
    found = entries[np.minimum(np.searchsorted(entries, keys), len(entries) - 1)] == keys
    return np.logical_or.reduceat(found, np.cumsum([0, *(len(f) for f in spelt[:-1])])) if words else found


def _bare(word: str) -> list[str]:
    bare = [word[len(p) :].lstrip("-") for p in PREFIXES if word.startswith(p)]
    return [b for b in bare if len(b) >= AFTER_PREFIX]


@lru_cache(maxsize=65536)
def misspelt_common_word(word: str) -> str | None:
    """The common word that `word` is one typo from (two for eight letters or more), or None."""
    word = word.lower()
    if len(word) < 4 or not word.isalpha():
        return None
    limit = 1 if len(word) < 8 else 2
    common = _common_by_start()
    for length in range(len(word) - limit, len(word) + limit + 1):
        found = process.extractOne(word, common.get((word[0], length), ()), scorer=OSA.distance, score_cutoff=limit)
        if found:
            return str(found[0])
    return None


@cache
def _common_by_start() -> dict[tuple[str, int], tuple[str, ...]]:
    """Common words the dictionary lists in lower case, by first letter and length: what a typo is close to. A typo
    seldom changes a word's first letter."""
    from wordfreq import get_frequency_dict

    common = [word for word, share in get_frequency_dict("en", wordlist="small").items()
              if share >= COMMON_SHARE and word.isalpha()]
    found: dict[tuple[str, int], list[str]] = {}
    for start in range(0, len(common), BATCH):  # in batches: a few thousand spellings at a time in memory
        batch = common[start : start + BATCH]
        for word, listed in zip(batch, _all_listed(batch), strict=True):
            if listed:
                found.setdefault((word[0], len(word)), []).append(word)
    return {key: tuple(words) for key, words in found.items()}


@cache
def _lower_case() -> np.ndarray:
    """The hashes of every form of every entry listed in lower case, by the dictionary's own affix rules, sorted.
    Python's own string hash: the array lives and dies with the process, whose hash seed it shares."""
    folder = _dictionary()
    prefixes, suffixes = _affixes((folder / "en_US.aff").read_text(encoding="utf-8").splitlines())
    hashes = array("q")  # machine integers: no hundred thousand strings or ints left behind in the heap
    with (folder / "en_US.dic").open(encoding="utf-8") as dic:
        next(dic)  # the first line counts the rest
        for line in dic:
            word, _, flags = line.strip().replace("’", "'").partition("/")
            if word[:1].islower():
                forms = _forms(word, flags, prefixes, suffixes)
                hashes.extend(hash(form) for form in forms | {f.replace("-", "") for f in forms if "-" in f})
    return np.unique(np.frombuffer(hashes, dtype=np.int64))


def _dictionary() -> Path:
    """The folder of the en_US word list and affix rules that spylls ships."""
    spec = find_spec("spylls")
    found = [Path(p) / "hunspell" / "data" / "en" for p in (spec.submodule_search_locations or [])] if spec else []
    if not found or not (found[0] / "en_US.dic").is_file() or not (found[0] / "en_US.aff").is_file():
        raise DictionaryError("The English word list (en_US.dic and .aff of the spylls package) is missing; "
                              "reinstall Dossier with `bash scripts/setup`.")
    return found[0]


@dataclass(frozen=True)
class _Affix:
    """One of Hunspell's affix rules: take `strip` off the word's end (its start, for a prefix) and put `add` there,
    when the word matches `condition`; `cross` when a prefix and a suffix may both apply."""

    strip: str
    add: str
    condition: re.Pattern[str]
    cross: bool


def _affixes(lines: list[str]) -> tuple[dict[str, list[_Affix]], dict[str, list[_Affix]]]:
    """The prefix and suffix rules of an affix file, by flag."""
    rules: dict[str, dict[str, list[_Affix]]] = {"PFX": {}, "SFX": {}}
    cross: dict[str, bool] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[0] in rules and parts[2] in ("Y", "N"):
            cross[parts[1]] = parts[2] == "Y"
        elif len(parts) >= 5 and parts[0] in rules:
            kind, flag, strip, add, condition = parts[:5]
            pattern = f"^{condition}" if kind == "PFX" else f"{condition}$"
            rules[kind].setdefault(flag, []).append(_Affix("" if strip == "0" else strip, "" if add == "0" else add,
                                                           re.compile(pattern), cross.get(flag, False)))
    return rules["PFX"], rules["SFX"]


def _forms(word: str, flags: str, prefixes: dict[str, list[_Affix]], suffixes: dict[str, list[_Affix]]) -> set[str]:
    """The word and every form its flags make of it: "stockpile/DSG" gives "stockpiled", "stockpiles"…"""
    suffixed = {(word[: len(word) - len(r.strip)] + r.add, r.cross) for f in flags for r in suffixes.get(f, ())
                if r.condition.search(word)}
    found = {word, *(form for form, _ in suffixed)}
    for rule in (r for f in flags for r in prefixes.get(f, ())):
        bases = [word, *(form for form, cross in suffixed if cross and rule.cross)]
        found.update(rule.add + base[len(rule.strip):] for base in bases if rule.condition.search(base))
    return found
