"""Search: a question read, candidates ranked, and the answer decided.

question and terms read a question's words, english tells a name from a word by what a dictionary lists in lower
case; lexicon finds a term in the corpus in any of its forms; reading is a question read against the corpus (which
of its terms the corpus mentions, which named things it lacks); features and scorer (with scorer.json, written by
bench/fit.py) rank passages and decide whether to answer; searcher holds the live index and answers; snapshot is
what a generation's files hold and how a searcher reads them, making how they are made; claims picks the claim out
of a pasted message. It may import settings, index.ingest, index.model and index.store, nothing above.
"""
