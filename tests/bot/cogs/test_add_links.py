"""Moderators add an article by its link, or as an HTML page or a PDF, through the real CommandTree: `/dossier add
url:` fetches from a news site on 127.0.0.1 (tests/news_site.py, allowed by FETCH_ALLOW_HOSTS), uploads come from
Discord's faked CDN, and the reply says what was read."""

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.quoting import markdown
from index.builds.pipeline import build
from index.ingest.corpus import read_metadata
from index.model.embedding import Embedder
from index.search.answer import Outcome
from index.search.searcher import Searcher
from index.store.chroma import Store
from tests.bot.cogs.test_sources import Uploads, edits, indexed, snapshot
from tests.bot.harness import (
    ASKER,
    EPHEMERAL,
    GUILD_ID,
    MODERATOR,
    SECOND_GUILD_ID,
    SECOND_OWNER,
    Gateway,
    Request,
    assert_safe,
    fake_index_gateway,
    settings_for,
)
from tests.conftest import ROOT, make_settings
from tests.news_site import ARTICLE_PATH, PAGES, NewsSite, serving, two_column_pdf

ADDED = "khaf-herat-freight.txt"
TITLE = "Freight trains to run on the Khaf–Herat line, officials say"
CANONICAL = "https://frontier-ledger.example/world/2017/08/05/khaf-herat-freight"
READ = (f"Read from the article: title “{TITLE}”, outlet The Frontier Ledger, author Parisa Navabi, published "
        f"2017-08-05, address {CANONICAL}.")


@pytest.fixture(scope="module")
def site() -> Iterator[NewsSite]:
    with serving() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="function")  # the bot must live on the test's own event loop
async def uploads(tmp_path: Path, seeds_copy: Path) -> AsyncIterator[Uploads]:
    """The bot over a fake-embedder index of a copy of the seeds, allowed to fetch from 127.0.0.1, in two servers."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, fetch_allow_hosts=["127.0.0.1"])
    gateway.join(SECOND_GUILD_ID)
    yield Uploads(gateway)
    await gateway.close()


async def add_link(gateway: Gateway, url: str, who: dict[str, Any] = MODERATOR, guild_id: int | None = GUILD_ID,
                   **options: Any) -> list[Request]:
    return await gateway.command("dossier add", who=who, guild_id=guild_id, url=url, **options)


async def test_a_moderator_adds_a_link(uploads: Uploads, site: NewsSite, seeds_copy: Path) -> None:
    """The deferred reply says it is fetching, then what was added and read, then the reindex; the article is
    written with its metadata and indexed."""
    requests = await add_link(uploads.gateway, site.url(ARTICLE_PATH))
    assert requests[0].kind == "defer" and requests[0].message["flags"] & EPHEMERAL
    shown = edits(requests)
    assert shown[0] == markdown(f"Fetching {site.url(ARTICLE_PATH)} and reading the article (at most 30 s)…")
    size = len((seeds_copy / ADDED).read_bytes())
    lead = markdown(f"Seeds folder: added “{TITLE}” ({ADDED}, {size:,} bytes).\n{READ}")
    assert shown[1] == f"{lead}\nReindexing… starting."
    assert shown[-1].startswith(f"{lead}\nReindex done: 6 documents") and "1 added" in shown[-1]
    assert read_metadata(seeds_copy)[ADDED]["url"] == CANONICAL and ADDED in indexed(uploads.gateway)
    assert_safe(requests)


async def test_typed_metadata_wins_over_what_the_page_says(uploads: Uploads, site: NewsSite,
                                                           seeds_copy: Path) -> None:
    """A title and author typed with the link replace the page's, and the reply marks them as given."""
    requests = await add_link(uploads.gateway, site.url(ARTICLE_PATH), title="Rail freight deal", author="Staff")
    assert ("title “Rail freight deal” (as given), outlet The Frontier Ledger, author Staff (as given), published "
            "2017-08-05,") in edits(requests)[-1].replace("\\", "")
    entry = read_metadata(seeds_copy)[ADDED]
    assert (entry["title"], entry["author"], entry["outlet"]) == ("Rail freight deal", "Staff", "The Frontier Ledger")


@pytest.mark.parametrize(("filename", "data", "source_id", "read"), [
    ("freight.html", (PAGES / "article.html").read_bytes(), "freight.txt", READ),
    ("rail.pdf", two_column_pdf(), "rail.txt", "Read from the article: title “Rail freight report, first quarter”, "
                                               "outlet not stated, author Darius Kamali, published not stated, "
                                               "address not stated."),
])
async def test_html_and_pdf_uploads_are_read_as_articles(uploads: Uploads, seeds_copy: Path, filename: str,
                                                         data: bytes, source_id: str, read: str) -> None:
    """An uploaded web page or PDF is extracted, written as text under its own name and indexed."""
    requests = await uploads.add(filename, data)
    shown = edits(requests)
    assert shown[0] == markdown(f"Reading the article in {filename}…")
    assert markdown(read) in shown[-1] and "Reindex done: 6 documents" in shown[-1]
    assert (seeds_copy / source_id).read_text(encoding="utf-8").count("\n\n") >= 3
    assert source_id in indexed(uploads.gateway)


@pytest.mark.parametrize(("who", "guild_id", "says"), [
    (ASKER, GUILD_ID, "Only moderators (Manage Server, or a moderator role) can use this, and only in a server."),
    (SECOND_OWNER, SECOND_GUILD_ID, "/dossier is not available in this server."),
    (MODERATOR, None, "/dossier is not available in this server."),
])
async def test_no_one_else_can_add_a_link(uploads: Uploads, site: NewsSite, seeds_copy: Path,
                                          who: dict[str, Any], guild_id: int | None, says: str) -> None:
    """A member without rights, the owner of another server and a DM are refused privately: nothing is fetched or
    written."""
    before, served = snapshot(seeds_copy), len(site.traffic.paths)
    requests = await add_link(uploads.gateway, site.url(ARTICLE_PATH), who=who, guild_id=guild_id)
    assert [r.kind for r in requests] == ["reply"] and requests[0].message["flags"] & EPHEMERAL
    assert requests[0].message["content"].replace("\\", "") == says
    assert snapshot(seeds_copy) == before and len(site.traffic.paths) == served


@pytest.mark.parametrize(("path", "says"), [
    ("named:" + ARTICLE_PATH, "The host localhost is at 127.0.0.1, a loopback address: Dossier fetches only from "
                              "the public internet (FETCH_ALLOW_HOSTS can name a host to allow)."),
    ("/to?url=http://10.9.8.7/news", "After a redirect, the address 10.9.8.7 is a private address"),
    ("/to?url=http://169.254.169.254/latest/meta-data/", "After a redirect, the address 169.254.169.254 is a "
                                                         "link-local address"),
    ("/logo.png", "The link gives image/png, not a web page, a PDF or plain text."),
    ("/world/customs-talks", "The page marks its article as for subscribers only (a paywall)"),
])
async def test_refused_links_change_nothing(uploads: Uploads, site: NewsSite, seeds_copy: Path, path: str,
                                            says: str) -> None:
    """A link to a private address, directly or by a redirect, or to no article, is refused in place of the fetch's
    progress, saying why; nothing is written or reindexed."""
    before, generation = snapshot(seeds_copy), uploads.gateway.bot.searcher.index.pointer.generation
    url = site.named(path.removeprefix("named:")) if path.startswith("named:") else site.url(path)
    requests = await add_link(uploads.gateway, url)
    last = edits(requests)[-1].replace("\\", "")
    assert last.startswith(says) and last.endswith("\nNothing was changed.")
    assert snapshot(seeds_copy) == before and uploads.gateway.bot.searcher.index.pointer.generation == generation
    assert_safe(requests)


async def test_the_same_link_twice_names_the_source(uploads: Uploads, site: NewsSite, seeds_copy: Path) -> None:
    """Adding an article already in the corpus, by another address that redirects to it, names its source; with
    replace it replaces that source."""
    await add_link(uploads.gateway, site.url(ARTICLE_PATH))
    before = snapshot(seeds_copy)
    again = edits(await add_link(uploads.gateway, site.url("/hop/3")))[-1].replace("\\", "")
    assert again == (f"This article is already in the corpus as {ADDED} (the same address).\n"
                     "To replace it, run /dossier add again with replace: True.")
    assert snapshot(seeds_copy) == before
    replaced = edits(await add_link(uploads.gateway, site.url("/hop/3"), replace=True, outlet="Frontier Ledger"))
    assert replaced[-1].replace("\\", "").startswith(f"Seeds folder: replaced “{TITLE}” ({ADDED},")
    assert read_metadata(seeds_copy)[ADDED]["outlet"] == "Frontier Ledger"


async def test_add_needs_a_link_or_a_file(uploads: Uploads) -> None:
    """/dossier add with neither a link nor a file says what to give."""
    requests = await uploads.gateway.command("dossier add", who=MODERATOR, title="Something")
    assert [r.kind for r in requests] == ["reply"]
    assert requests[0].message["content"].replace("\\", "").startswith(
        "Give the article: a link in url, or a file (.txt, .html or .pdf) in file.")


@pytest.mark.slow
async def test_an_added_link_answers_ask(tmp_path: Path, seeds_copy: Path, embedder: Embedder,
                                         site: NewsSite) -> None:
    """With the real model, a question only the linked article answers is quoted from it, with the title, outlet,
    author and date read from the page."""
    index = make_settings(tmp_path, seeds_copy)
    build(index.seeds_dir, Store.open(index), embedder)
    gateway = await Gateway.connect(settings_for(index, fetch_allow_hosts=["127.0.0.1"]),
                                    Searcher.open(index, embedder))
    try:
        await add_link(gateway, site.url(ARTICLE_PATH))
        requests = await gateway.command("ask", question="How many freight trains a week will run between Khaf "
                                                         "and Herat, and what will they carry?")
    finally:
        await gateway.close()
    card = next(r for r in requests if r.kind == "followup").message["embeds"][0]
    assert card["title"] == TITLE and "two trains a week would carry cement, steel and fuel" in card["description"]
    footer = card["footer"]["text"]
    assert "The Frontier Ledger" in footer and "Parisa Navabi" in footer and "2017" in footer
    assert card["url"] == CANONICAL


EXTRACTION = ("trafilatura", "pdfminer", "lxml", "htmldate", "justext", "courlan", "dateparser", "protego", "urllib3")
BOT_PROCESS = """
import asyncio, json, sys
from pathlib import Path
from bot.client import create_bot
from bot.settings import Settings
from index.builds.pipeline import build
from index.ingest.articles import Reading, read_in_child, write_article
from index.search.answer import Outcome
from index.search.searcher import Searcher
from index.store.chroma import Store
from tests.conftest import FakeEmbedder, on_topic_scorer

settings = Settings(_env_file=None, seeds_dir=Path(sys.argv[1]), chroma_path=Path(sys.argv[2]))
build(settings.seeds_dir, Store.open(settings), FakeEmbedder())
searcher = Searcher.open(settings, FakeEmbedder(), scorer=on_topic_scorer())
bot = create_bot(settings, searcher)
asyncio.run(bot._async_setup_hook())
asyncio.run(bot.load_extension("bot.cogs.moderation"))
answer = searcher.search("How many Taliban fighters got Iranian visas?")
article = read_in_child(Reading(link=sys.argv[3]), ["127.0.0.1"], 10.0)
change = write_article(settings.seeds_dir, Reading(link=sys.argv[3]), article, {}, actor="test", replace=False)
print(json.dumps({"outcome": answer.outcome.value, "added": change.source.id,
                  "loaded": sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[4].split(",")))}))
"""


@pytest.mark.slow
def test_the_bot_never_imports_the_extraction_libraries(site: NewsSite, seeds_copy: Path, tmp_path: Path) -> None:
    """In a process set up as the bot is, answering a question and adding a link leave trafilatura, pdfminer, lxml
    and the fetching libraries out of it: the child process that reads the article holds them."""
    done = subprocess.run([sys.executable, "-c", BOT_PROCESS, str(seeds_copy), str(tmp_path / "chroma"),
                           site.url(ARTICLE_PATH), ",".join(EXTRACTION)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["outcome"] in {outcome.value for outcome in Outcome}  # the question went all the way through
    assert (report["added"], report["loaded"]) == (ADDED, [])
