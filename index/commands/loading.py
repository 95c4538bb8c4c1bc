"""What the command line says on stderr while something takes time: the embedding model loading above all."""

import sys
import time

from index.model.embedding import SentenceTransformerEmbedder


def say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def announced_load(name: str) -> SentenceTransformerEmbedder:
    """Loads the model with sentence-transformers, saying so while it loads and when it is done."""
    tty = sys.stderr.isatty()  # on a terminal the line saying it loads gives way to the one saying it is loaded
    print("Loading the embedding model…", end="" if tty else "\n", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        model = SentenceTransformerEmbedder.load(name)
    finally:
        if tty:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
    say_on_stderr(f"Loaded the embedding model in {time.monotonic() - started:.1f} s.")
    return model
