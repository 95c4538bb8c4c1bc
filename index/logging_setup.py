"""Logging set-up for the command lines (only `__main__` modules call it)."""

import logging


def configure(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # bm25s sets its own logger to DEBUG, which would print through our handler.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    # Chroma's HttpClient makes its requests through httpx, which logs each at INFO: against a `chroma run` server,
    # a bot would log a line every time it checks the live pointer.
    logging.getLogger("httpx").setLevel(logging.WARNING)
