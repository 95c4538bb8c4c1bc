"""Discord-free retrieval core: corpus → clean → chunk → embed → store → search."""

import logging

# python-dotenv warns about a bad .env line every time the file is read, and it is read several times: by our
# settings and by chromadb's, which read the .env of the working folder as soon as chromadb is imported. Here,
# before any module of the core imports chromadb; index.settings.read_settings reports each bad line once instead.
logging.getLogger("dotenv.main").setLevel(logging.ERROR)
