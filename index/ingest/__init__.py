"""Ingest: the seeds folder read into documents and cut into passages.

corpus reads the .txt files (capped, UTF-8, no links out of the folder); cleaning finds the article in a saved page;
chunking cuts it into paragraph passages; sources reads sources.toml's attribution; confusables folds look-alike
letters. It imports nothing of index but settings: everything else stands on it.
"""
