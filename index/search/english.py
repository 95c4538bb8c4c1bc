"""What English lists as ordinary words: a word a dictionary lists in lower case is no name, in any casing.

The dictionary is Hunspell's en_US word list (SCOWL), as the spylls package ships it: it lists "smuggler",
"stockpile" and "ombudsman" in lower case and "Lisbon", "Nairobi" and "Nixon" capitalised. A word counts as listed
in lower case when it, or the word it inflects (English endings taken off: "stockpiling" is "stockpile" + "ing",
"smugglers" is "smuggler" + "s"; a prefix too: "reopening" is "re" + "opening"), is a lower-case entry, in British
or American spelling, a hyphenated entry also written as one word ("write-off": "writeoff"), or a verb and a
particle written as one ("rollout", "drawdown"). Only the entries are read, not Hunspell's affix engine: the word
list costs a few megabytes, the engine fifty.

A misspelt common word ("recieved", "tommorow") is no name either: a word one edit (two for words of eight letters
or more) from a common word that the dictionary lists in lower case, with the same first letter, is taken for a typo
of it.
"""

import logging
from functools import cache, lru_cache
from importlib.util import find_spec
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA

from index.search.terms import spellings

log = logging.getLogger(__name__)

COMMON_SHARE = 1e-6  # wordfreq's "small" list: words used at least once per million


class DictionaryError(RuntimeError):
    """The English word list that tells names from words is missing: the installation is incomplete."""


def _word_list() -> Path:
    spec = find_spec("spylls")
    found = [Path(p) / "hunspell" / "data" / "en" / "en_US.dic" for p in (spec.submodule_search_locations or [])] \
        if spec else []
    if not found or not found[0].is_file():
        raise DictionaryError("The English word list (en_US.dic of the spylls package) is missing; reinstall "
                              "Dossier with `bash scripts/setup`.")
    return found[0]


@cache
def _lower_case() -> frozenset[str]:
    """The entries listed in lower case."""
    entries: set[str] = set()
    lines = _word_list().read_text(encoding="utf-8").splitlines()[1:]  # the first line counts the entries
    for line in lines:
        word = line.split("/", 1)[0].strip().replace("’", "'")
        if word[:1].islower():
            entries.add(word)
            if "-" in word:
                entries.add(word.replace("-", ""))
    return frozenset(entries)


# Nouns made of a verb and a particle, written as one word: "drawdown", "rollout", "takeover". Two nouns written as
# one are not read this way: too many surnames are made so ("Goldsmith", "Blackwater").
PARTICLES = ("up", "out", "off", "down", "over", "back", "away")
BEFORE_PARTICLE = 3  # the shortest verb before a particle


@lru_cache(maxsize=65536)
def listed_in_lower_case(word: str) -> bool:
    """Whether the dictionary lists the word (lower-cased), an inflection of it, or its other spelling, in lower
    case; or the word is such a verb and a particle written as one ("rollout")."""
    word = word.lower()
    return _listed(word) or any(word.endswith(p) and len(word) - len(p) >= BEFORE_PARTICLE
                                and _listed(word[: -len(p)]) for p in PARTICLES)


# Inflectional endings, and what may stand before them: "tried" is "try", "making" is "make", "stopped" is "stop".
_ENDINGS = (("ies", "y"), ("ied", "y"), ("ier", "y"), ("iest", "y"), ("ily", "y"), ("es", ""), ("s", ""),
            ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("er", ""), ("er", "e"), ("est", ""), ("est", "e"),
            ("ly", ""), ("ly", "le"), ("'s", ""))


def inflected_from(word: str) -> set[str]:
    """The word, and the words it may inflect: "stopped" → {"stopped", "stopp", "stop", "stoppe"}."""
    found = {word}
    for ending, base in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 2:
            root = word[: -len(ending)]
            found |= {root + base, root[:-1]} if root[-1:] == root[-2:-1] else {root + base}
    return found


# Prefixes English puts on a word to make another: "reopen", "misreport", "counterstrike".
_PREFIXES = ("anti", "co", "counter", "de", "dis", "inter", "mis", "non", "out", "over", "post", "pre", "re", "sub",
             "super", "un", "under")
_AFTER_PREFIX = 4  # letters the word after a prefix has at least


def _listed(word: str) -> bool:
    entries = _lower_case()
    bare = [word[len(p) :].lstrip("-") for p in _PREFIXES if word.startswith(p)]
    return any(form in entries for whole in (word, *(b for b in bare if len(b) >= _AFTER_PREFIX))
               for spelling in spellings(whole) for form in inflected_from(spelling))


@cache
def _common_by_start() -> dict[tuple[str, int], tuple[str, ...]]:
    """Common words the dictionary lists in lower case, by first letter and length: what a typo is close to. A typo
    seldom changes a word's first letter."""
    from wordfreq import get_frequency_dict

    found: dict[tuple[str, int], list[str]] = {}
    for word, share in get_frequency_dict("en", wordlist="small").items():
        if share >= COMMON_SHARE and word.isalpha() and _listed(word):
            found.setdefault((word[0], len(word)), []).append(word)
    return {key: tuple(words) for key, words in found.items()}


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
