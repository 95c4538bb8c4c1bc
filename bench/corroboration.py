"""What finding who else says it costs a build at scale: `corroborate` over 20,000 and 100,000 passages.

Run: .venv/bin/python bench/corroboration.py [--passages 20000 100000]   (a few minutes on 2 cores)

The passages are made as bench/scale.py makes its synthetic records: 2,000 paragraphs of its generated prose,
embedded by the real model, then repeated with noise added to their vectors (so cosines spread as real ones do)
across documents of 100 passages. Each repeat keeps its paragraph's text, so every repeat over the bar agrees with
it: the worst case of a claim syndicated by many outlets, where every passage has partners in many sources. Printed:
the seconds of a full judgement (every pair) and of an incremental one (one document changed), the partners kept,
the size of the pages the store keeps, and the peak memory of the process.
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BASE = 2000
PER_DOCUMENT = 100


def main() -> None:
    from scale import Writer

    from index.builds.corroboration import corroborate, corroboration_key
    from index.ingest.chunking import Chunk
    from index.model.embedding import SentenceTransformerEmbedder

    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, nargs="+", default=[20_000, 100_000])
    args = parser.parse_args()
    writer = Writer(seed=20240521)
    texts = [writer.paragraph() for _ in range(BASE)]
    embedder = SentenceTransformerEmbedder.load()
    base = embedder.encode(texts)
    key = corroboration_key(embedder.name)
    rng = np.random.default_rng(7)
    for total in args.passages:
        picks = rng.integers(0, BASE, total)
        noisy = base[picks] + rng.normal(0, 0.04, (total, base.shape[1])).astype(np.float32)
        vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
        chunks = [Chunk(f"doc{i // PER_DOCUMENT:05d}.txt#p{i}", f"doc{i // PER_DOCUMENT:05d}.txt", texts[p], 0,
                        len(texts[p]), i % PER_DOCUMENT + 1) for i, p in enumerate(picks)]
        start = time.perf_counter()
        full = corroborate(chunks, vectors, key)
        full_seconds = time.perf_counter() - start
        sources = {}
        for chunk in chunks:
            sources.setdefault(chunk.source_id, set()).add(chunk.id)
        before = {source: frozenset(ids) for source, ids in sources.items()}
        changed = chunks[0].source_id
        before[changed] = frozenset()  # as if the first document had just been rewritten
        start = time.perf_counter()
        again = corroborate(chunks, vectors, key, full, before)
        incremental_seconds = time.perf_counter() - start
        entries = sum(len(found) for found in full.partners.values())
        pages = full.pages()
        print(json.dumps({"passages": total, "bar": round(full.bar, 3), "full_s": round(full_seconds, 1),
                          "incremental_s": round(incremental_seconds, 2), "judged_incrementally": again.judged,
                          "passages_with_partners": len(full.partners), "partner_entries": entries,
                          "pages": len(pages), "pages_mb": round(sum(map(len, pages)) / 1e6, 1),
                          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}),
              flush=True)


if __name__ == "__main__":
    main()
