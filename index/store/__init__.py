"""The store: generations of passages and their vectors in Chroma, the live pointer, the build lock, the
corroborating partners kept with each generation, and each generation's files on this host.

chroma holds the Store (embedded or a `chroma run` server), its generations and meta records; passages reads and
writes a generation's passages and packs a record; connection opens Chroma and checks the store; pointer is the
live pointer and its reading without chromadb; copies writes, checks and deletes the generations' files; lock is
the one-build-at-a-time lock; partners is the form partners are kept and read in. It may import settings,
index.ingest and index.model, nothing above.
"""
