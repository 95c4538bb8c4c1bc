"""The store: generations of passages and their vectors in Chroma, the live pointer, the build lock, and the
corroborating partners kept with each generation.

chroma holds the Store (embedded or a `chroma run` server); lock is the one-build-at-a-time lock; partners is the
form partners are kept and read in. It may import settings, index.ingest and index.model, nothing above.
"""
