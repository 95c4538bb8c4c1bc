"""Builds: seeds to a new generation, checked, corroborated, then switched live.

pipeline runs the stages; files assembles the new generation's passages and vectors outside Chroma (from the live
generation's files and what was embedded), judges its partners, and keeps the background questions' vectors; child
runs a build in its own process (the bot's /dossier reindex); moderator_checks reads and runs the moderators'
checks.toml; corroboration judges which passages of different sources carry the same claim. It may import every
package below it (ingest, model, store, search); only diagnose, `python -m index` and the bot import it.
"""
