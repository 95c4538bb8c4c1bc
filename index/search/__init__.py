"""Search: a question read, candidates ranked, and the answer decided.

question and terms read a question's words, english tells a name from a word by what a dictionary lists in lower
case; lexicon finds a term in the corpus in any of its forms; reading is a question read against the corpus (which
of its terms the corpus mentions, which named things it lacks). live_index is a generation in memory with its dense
and BM25 scores and the abstention bar; features and evidence compute what the scorer weighs (evidence is the one
path both serving and the fit use), scorer applies the fitted models (scorer.json, written by `python -m fit`);
decision says whether a question is answered, hits turns the ranking into an answer's hits, answer holds what a
search gives, and searcher ties them together and answers. snapshot is what a generation's files hold and how a
searcher reads them, making how they are made; claims picks the claim out of a pasted message. It may import
settings, index.ingest, index.model and index.store, nothing above.
"""
