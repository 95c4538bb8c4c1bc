"""The question log: what is kept of each question, where (SQLite or PostgreSQL), and the reports made from it.

questionlog decides what of each entry (entry) is kept and queues it for writer, the thread that writes it;
retention deletes what is no longer kept, and vectors keeps the questions' embeddings; database is the interface
both engines speak (sqlite and postgres), connect opens the one the settings name, and schema is their one schema;
keys hashes members and messages; privacy says what is kept and tells members; gaps and stats compute the reports
over what a scope covers, and reports puts them in words; cli is `python -m bot log …`, restore its `log import`;
at_terminal logs the questions of `bot ask --log`. It imports bot.settings and index, never the Discord side.
"""
