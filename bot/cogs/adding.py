"""What `/dossier add` does with a link, an HTML page or a PDF: checked before anything is fetched or downloaded,
read in a child process (index.ingest.articles) off the event loop, then written as a .txt upload is; and the
download of an attached file, cut off past the size Discord declared."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import discord

from bot.settings import Settings
from index.ingest.articles import Reading, described, read_in_child, upload_name, write_article
from index.ingest.corpus import CorpusError, check_size
from index.ingest.editing import SourceChange
from index.ingest.source_fields import SourceError, metadata_fields

log = logging.getLogger(__name__)

Show = Callable[[str], Awaitable[None]]
DOWNLOAD_CHUNK_BYTES = 64 * 1024


def check_addition(file: discord.Attachment | None, link: str | None, **metadata: str | None) -> dict[str, str]:
    """Refuses an addition by what was typed and the file's name and declared size, before any download or fetch;
    returns the metadata typed, as sources.toml will hold it (with a link, `url` is the link, not metadata)."""
    if file is None and not link:
        raise SourceError("Give the article: a link in url, or a file (.txt, .html or .pdf) in file.")
    if file is not None:
        upload_name(file.filename)
        try:
            check_size(file.size)
        except CorpusError as error:
            raise SourceError(f"{file.filename}: {error}.") from error
    return metadata_fields(**metadata, url=link if file is not None else None)


def is_article(file: discord.Attachment | None) -> bool:
    """Whether the addition is read as an article (a link, an HTML page, a PDF) rather than taken as text."""
    return file is None or upload_name(file.filename)[0] != "txt"


async def download(client: discord.Client, file: discord.Attachment) -> bytes:
    """The attachment's bytes, cut off once they pass the size Discord declared; failures are SourceErrors.

    Attachment.read() takes a download whole, however large it grows, so this streams it through discord.py's
    own HTTP session (the one Attachment.read() uses) instead.
    """
    session = client.http._HTTPClient__session  # type: ignore[attr-defined]
    data = bytearray()
    try:
        async with session.get(file.url) as response:
            if response.status != 200:
                log.warning("could not download %s: HTTP %s", file.filename, response.status)
                raise SourceError(f"Discord would not hand over {file.filename} (HTTP {response.status}); "
                                  "upload it again.")
            async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK_BYTES):
                data += chunk
                if len(data) > file.size:
                    log.warning("download of %s passed its declared %d bytes; stopped", file.filename, file.size)
                    raise SourceError(f"{file.filename} grew past the {file.size:,} bytes Discord declared for "
                                      "it while downloading, so the download was stopped.")
    except aiohttp.ClientError as error:
        log.warning("could not download %s: %s", file.filename, error)
        raise SourceError(f"The download of {file.filename} broke off; upload it again.") from error
    return bytes(data)


async def add_article(settings: Settings, reading: Reading, given: dict[str, str], *, actor: str, replace: bool,
                      show: Show) -> tuple[SourceChange, str]:
    """Reads the article, saying so, and writes it into the seeds folder; returns the change and what was read."""
    if reading.link is not None:
        await show(f"Fetching {reading.link} and reading the article (at most {settings.fetch_timeout_seconds:g} s)…")
    else:
        await show(f"Reading the article in {reading.filename}…")
    article = await asyncio.to_thread(read_in_child, reading, settings.fetch_allow_hosts,
                                      settings.fetch_timeout_seconds)
    change = await asyncio.to_thread(write_article, settings.seeds_dir, reading, article, given, actor=actor,
                                     replace=replace)
    return change, f"Read from the article: {described(article, given)}."
