"""Discord-free retrieval core: corpus → clean → chunk → embed → store → search."""
