"""Logging set-up for the command lines: their entry points call it (the `__main__` modules, the commands they run, a
build's or an article's child process), never a library module."""

import logging


def configure(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # bm25s sets its own logger to DEBUG, which would print through our handler.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    # Chroma's HttpClient makes its requests through httpx, which logs each at INFO: against a `chroma run` server,
    # a bot would log a line every time it checks the live pointer.
    logging.getLogger("httpx").setLevel(logging.WARNING)
