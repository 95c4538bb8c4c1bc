"""The ranked passages as an answer's hits: scored by probability, near-duplicates of a better one left out, and
each answering source given a place on the first page."""

from index.search.answer import Hit
from index.search.evidence import Ranked
from index.search.live_index import LiveIndex
from index.search.scorer import probability

NEAR_DUPLICATE = 0.8
FIRST_PAGE = 5


def hit(index: LiveIndex, candidate: Ranked) -> Hit:
    """The candidate as a hit, with the passages of other sources that say the same thing."""
    return index.with_also(_scored(index, candidate))


def _scored(index: LiveIndex, candidate: Ranked) -> Hit:
    chunk = index.chunks[candidate.position]
    return Hit(chunk, round(float(probability(candidate.logit)), 4), index.sources[chunk.source_id])


def distinct(index: LiveIndex, ranked: list[Ranked]) -> list[Hit]:
    """The candidates as hits, scored by probability, a near-duplicate of a better one left out."""
    hits: list[Hit] = []
    seen: list[set[str]] = []
    for candidate in ranked:
        words = index.passage(candidate.position).words
        if any((shared := len(words & w)) >= NEAR_DUPLICATE * (len(words) + len(w) - shared) for w in seen):
            continue
        seen.append(words)
        hits.append(_scored(index, candidate))
    return hits


def balance(hits: list[Hit], answering: list[str], compare: bool) -> list[Hit]:
    """The hits with each answering source (best first) among the first FIRST_PAGE, in their order otherwise.

    An answering source's best hit moves up only as late as it can and still make the first page. When the
    question compares the sources, every source among the hits answers, and each one's best hit comes first.
    """
    if compare:
        firsts: list[Hit] = []
        for hit in hits:
            if all(first.source.id != hit.source.id for first in firsts):
                firsts.append(hit)
        return firsts + [h for h in hits if h not in firsts]
    ordered: list[Hit] = []
    remaining = list(hits)
    while remaining and len(ordered) < FIRST_PAGE:
        shown = {h.source.id for h in ordered}
        unshown = [s for s in answering if s not in shown and any(h.source.id == s for h in remaining)]
        late = len(unshown) >= FIRST_PAGE - len(ordered)
        take = next(h for h in remaining if h.source.id in unshown) if late and unshown else remaining[0]
        ordered.append(take)
        remaining.remove(take)
    return ordered + remaining

