"""The fit: the code that writes index/search/scorer.json, the scorer the bot ships (`python -m fit`).

examples reads the evaluation questions and finds their candidates through the searcher; models fits the passage,
question and source models on them; __main__ writes scorer.json or, with `--check`, compares a refit with it. It
computes what the scorer weighs with index/search/evidence.py, the code the searcher serves with. It may import
index, and nothing of the bot; index never imports it.
"""
