"""The Discord-free core, lowest first: ingest (files to passages), model (the embedding model and its ONNX
export), store (Chroma), search (a question answered), builds (seeds to a switched generation); settings and
logging_setup (logging for the command lines) beside them, which every package may import, and diagnose and __main__
(`python -m index`) on top. A package imports its own floor and those below, never one above (tests/test_layout.py)."""

import logging

# python-dotenv warns about a bad .env line every time the file is read, and it is read several times: by our
# settings and by chromadb's, which read the .env of the working folder as soon as chromadb is imported. Here,
# before any module of the core imports chromadb; index.settings.read_settings reports each bad line once instead.
logging.getLogger("dotenv.main").setLevel(logging.ERROR)
