"""Ingest: the seeds folder read into documents and cut into passages.

corpus reads the .txt files (capped, UTF-8, no links out of the folder) and sources.toml; cleaning finds the article
in a saved page; chunking cuts it into paragraph passages; editing adds and removes sources, source_fields checks
what a moderator gives for one (its file name and metadata), and source_table writes sources.toml and the folder's
files whole under its lock; twins finds a source that is the same article; confusables folds look-alike letters.
articles adds an article by its link or as an HTML page or a PDF, read in a child process by fetch (safe fetching
of a link) and extract (the article's text and metadata), each an article_text (an article as it will be
written). It imports nothing of index but settings and
logging_setup: everything else stands on it.
"""
