"""Builds: seeds to a new generation, checked, corroborated, then switched live.

pipeline runs the stages in order; report holds what a build tells (its progress, its report); changes reads the
sources against the live generation; writing embeds, writes, corroborates and validates the new generation; reasons
says why a build is not switched to, and which sources lack attribution; files assembles the new generation's
passages and vectors outside Chroma (from the live generation's files and what was embedded), judges its partners,
and keeps the background questions' vectors; child runs a build in its own process (the bot's /dossier reindex);
moderator_checks reads and runs the moderators' checks.toml; corroboration judges which passages of different
sources carry the same claim. It may import every package below it (ingest, model, store, search); only diagnose,
`python -m index` and the bot import it.
"""
