"""Moderators add and remove sources from Discord: /dossier add and remove, through the real CommandTree.

Uploads arrive as real interaction payloads with the file in `resolved.attachments`; the download from
Discord's CDN is faked at the same HTTP layer as every other request. Each test works on a copy of the seeds.
"""

import asyncio
import itertools
import logging
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio
from discord.ext import commands

from bot.client import Dossier, create_bot
from bot.quoting import markdown
from index.builds.pipeline import build
from index.ingest.corpus import MAX_FILE_BYTES, read_metadata
from index.model.embedding import Embedder
from index.search.searcher import Searcher
from index.store.chroma import Store
from tests.bot.harness import (
    APP_ID,
    ASKER,
    EPHEMERAL,
    GUILD_ID,
    MODERATOR,
    FakeHTTP,
    Gateway,
    Request,
    assert_safe,
    fake_index_gateway,
    hold_builds,
    settings_for,
)
from tests.conftest import make_settings

ARTICLE = (b"Herat crossing reopens\n\nIranian and Taliban officials reopened the Islam Qala border crossing on "
           b"Monday after a three-week closure over fuel tariffs, traders in Herat said.\n\nThe crossing carries "
           b"most of the fuel and food trucks between Iran and western Afghanistan; hundreds of lorries had been "
           b"waiting on both sides of the border.\n")
EXISTING = "003_eb7467070494d04b.txt"
REMOVED = "004_9fd61aad6fe509e9.txt"
AUTOCOMPLETE = 4
AUTOCOMPLETE_RESULT = 8


class _Stream:
    """The body of a CDN response as aiohttp streams it; `sent` counts the bytes handed out so far."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.sent = 0

    async def iter_chunked(self, n: int) -> AsyncIterator[bytes]:
        while self.sent < len(self._data):
            chunk = self._data[self.sent:self.sent + n]
            self.sent += len(chunk)
            yield chunk


class _Download:
    """A CDN response: the file's bytes, or a 404 for a URL the CDN does not know."""

    def __init__(self, data: bytes | None) -> None:
        self.status = 200 if data is not None else 404
        self.reason = "OK" if data is not None else "Not Found"
        self._data = data or b""
        self.content = _Stream(self._data)

    async def text(self, encoding: str | None = None) -> str:
        return ""

    async def __aenter__(self) -> "_Download":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@dataclass
class CdnHTTP(FakeHTTP):
    """FakeHTTP plus Discord's CDN: attachment downloads get the uploaded bytes, and are recorded."""

    files: dict[str, bytes] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    responses: list[_Download] = field(default_factory=list)

    def get(self, url: str, **kwargs: Any) -> _Download:
        self.downloads.append(url)
        self.responses.append(_Download(self.files.get(url)))
        return self.responses[-1]


class Uploads:
    """Runs `/dossier add` with a file attached, and `/dossier remove` autocompletion, on a gateway with a CDN."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.cdn = CdnHTTP()
        gateway.http = self.cdn
        gateway.bot.http._HTTPClient__session = self.cdn  # type: ignore[attr-defined]
        self._ids = itertools.count(970000000000000001)

    async def add(self, filename: str, data: bytes, who: dict[str, Any] = MODERATOR, size: int | None = None,
                  on_cdn: bool = True, guild_id: int = GUILD_ID, **options: Any) -> list[Request]:
        """Uploads `data` as `filename` (declaring `size`, by default its real size) with the given options."""
        attachment_id = str(next(self._ids))
        url = f"https://cdn.discordapp.com/ephemeral-attachments/{APP_ID}/{attachment_id}/{filename}"
        if on_cdn:
            self.cdn.files[url] = data
        attachment = {"id": attachment_id, "filename": filename, "size": len(data) if size is None else size,
                      "url": url, "proxy_url": url, "content_type": "text/plain; charset=utf-8"}
        opts = [{"name": "file", "type": 11, "value": attachment_id}]
        opts += [{"name": k, "type": 5 if isinstance(v, bool) else 3, "value": v} for k, v in options.items()]
        command = {"id": str(APP_ID + 100), "name": "dossier", "type": 1,
                 "options": [{"name": "add", "type": 1, "options": opts}],
                 "resolved": {"attachments": {attachment_id: attachment}}}
        return await self._feed(2, command, who, guild_id)

    async def complete_remove(self, typed: str, who: dict[str, Any] = MODERATOR,
                              guild_id: int = GUILD_ID) -> list[dict[str, Any]]:
        """The choices Discord would show while `typed` is in /dossier remove's source option."""
        option = {"name": "source", "type": 3, "value": typed, "focused": True}
        data = {"id": str(APP_ID + 100), "name": "dossier", "type": 1,
                "options": [{"name": "remove", "type": 1, "options": [option]}]}
        requests = await self._feed(AUTOCOMPLETE, data, who, guild_id)
        assert [r.body["type"] for r in requests] == [AUTOCOMPLETE_RESULT]
        return list(requests[0].body["data"]["choices"])

    async def _feed(self, kind: int, data: dict[str, Any], who: dict[str, Any], guild_id: int) -> list[Request]:
        payload = self.gateway._interaction(kind, data, who, guild_id=guild_id)
        return await self.gateway.feed(self.gateway.bot._connection.parse_interaction_create, payload)


@pytest_asyncio.fixture(loop_scope="function")  # the bot must live on the test's own event loop
async def uploads(tmp_path: Path, seeds_copy: Path) -> AsyncIterator[Uploads]:
    """The bot over a fake-embedder index of a copy of the seeds, with a CDN to upload to."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy)
    yield Uploads(gateway)
    await gateway.close()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in the folder, hidden ones (temporary files) included, with its bytes."""
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def edits(requests: list[Request]) -> list[str]:
    return [r.message["content"] for r in requests if r.kind == "edit"]


def private_answer(requests: list[Request]) -> str:
    """The one ephemeral message that answered the command: a reply, or the followup to a deferral."""
    answers = [r for r in requests if r.kind in ("reply", "followup")]
    assert len(answers) == 1, [r.kind for r in requests]
    message = answers[0].message
    assert message["flags"] & EPHEMERAL
    return str(message["content"])


def indexed(gateway: Gateway) -> set[str]:
    return {source.id for source, _ in gateway.bot.searcher.sources()}


@pytest.mark.parametrize("sub", ["add", "remove"])
async def test_member_is_refused(uploads: Uploads, seeds_copy: Path, sub: str,
                                 caplog: pytest.LogCaptureFixture) -> None:
    """A member without moderator rights can neither add nor remove: refused privately, nothing touched."""
    before = snapshot(seeds_copy)
    with caplog.at_level(logging.WARNING, logger="bot"):
        if sub == "add":
            requests = await uploads.add("herat.txt", ARTICLE, who=ASKER)
        else:
            requests = await uploads.gateway.command("dossier remove", who=ASKER, source=EXISTING)
    assert "Only moderators" in private_answer(requests) and len(requests) == 1
    assert snapshot(seeds_copy) == before and not uploads.cdn.downloads
    assert any("asker" in r.getMessage() and "not a moderator" in r.getMessage() for r in caplog.records)


async def test_upload_is_saved_reindexed_and_logged(uploads: Uploads, seeds_copy: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A moderator's upload lands in the seeds with its metadata, reindexes with live progress, and is logged."""
    with caplog.at_level(logging.INFO):
        requests = await uploads.add("herat crossing.txt", ARTICLE, title="Herat crossing reopens",
                                     outlet="Tolo News", published="2024-03-04")
    assert requests[0].kind == "defer" and requests[0].message["flags"] & EPHEMERAL
    lead = markdown(f"Seeds folder: added “Herat crossing reopens” (herat_crossing.txt, {len(ARTICLE):,} bytes).")
    shown = edits(requests)
    assert shown[0] == f"{lead}\nReindexing… starting."
    assert shown[-1].startswith(f"{lead}\nReindex done: 6 documents") and "1 added" in shown[-1]
    assert (seeds_copy / "herat_crossing.txt").read_bytes() == ARTICLE
    assert read_metadata(seeds_copy)["herat_crossing.txt"] == {
        "title": "Herat crossing reopens", "outlet": "Tolo News", "published": "2024-03-04"}
    assert "herat_crossing.txt" in indexed(uploads.gateway)
    assert uploads.gateway.bot.searcher.index.pointer.built_by.startswith("moderator (")
    logged = [r.getMessage() for r in caplog.records]
    assert any("add of herat crossing.txt" in m and "asked for by moderator" in m for m in logged)
    assert any(m.startswith("source herat_crossing.txt added by moderator (") for m in logged)
    assert_safe(requests)


@pytest.mark.slow
async def test_uploaded_article_answers_ask(tmp_path: Path, seeds_copy: Path, embedder: Embedder) -> None:
    """With the real model, an uploaded article is quoted by /ask right after the upload's reindex."""
    index = make_settings(tmp_path, seeds_copy)
    build(index.seeds_dir, Store.open(index), embedder)
    gateway = await Gateway.connect(settings_for(index), Searcher.open(index, embedder))
    try:
        await Uploads(gateway).add("herat.txt", ARTICLE, title="Herat crossing reopens", outlet="Tolo News")
        requests = await gateway.command("ask", question="When did the Islam Qala border crossing reopen?")
    finally:
        await gateway.close()
    card = next(r for r in requests if r.kind == "followup").message["embeds"][0]
    assert card["title"] == "Herat crossing reopens" and "Tolo News" in card["footer"]["text"]
    assert "Islam Qala border crossing" in card["description"]


@pytest.mark.parametrize(("filename", "data", "size", "says"), [
    ("../../bot/evil.txt", ARTICLE, None, "is a path"),
    ("..\\seeds\\evil.txt", ARTICLE, None, "is a path"),
    ("notes.docx", ARTICLE, None, "is not a .txt, .html, .htm or .pdf file"),
    ("evil.txt.exe", ARTICLE, None, "is not a .txt, .html, .htm or .pdf file"),
    ("huge.txt", ARTICLE, MAX_FILE_BYTES + 1, "over the 5 MB limit"),
])
async def test_refused_before_download(uploads: Uploads, seeds_copy: Path, filename: str, data: bytes,
                                       size: int | None, says: str) -> None:
    """A path, a name not ending in .txt, .html or .pdf, or a declared size over the limit is refused without
    downloading."""
    before = snapshot(seeds_copy)
    requests = await uploads.add(filename, data, size=size)
    text = private_answer(requests)
    assert says in text and text.endswith("Nothing was changed.")
    assert not uploads.cdn.downloads and snapshot(seeds_copy) == before


@pytest.mark.parametrize(("filename", "data", "says"), [
    ("blob.txt", b"PK\x03\x04\x00\x00binary\x00data", "binary, not text"),
    ("latin.txt", "Caf\u00e9 in Herat\n\nIran and the Taliban.".encode("latin-1"), "not valid UTF-8"),
    ("empty.txt", b"  \n", "empty"),
])
async def test_bad_content_is_refused(uploads: Uploads, seeds_copy: Path, filename: str, data: bytes,
                                      says: str) -> None:
    """A download that is not UTF-8 text is refused with the reason, and nothing is written."""
    before = snapshot(seeds_copy)
    requests = await uploads.add(filename, data)
    assert requests[0].kind == "defer"
    text = private_answer(requests)
    assert says in text and text.endswith("Nothing was changed.")
    assert uploads.cdn.downloads and snapshot(seeds_copy) == before


async def test_existing_name_needs_replace(uploads: Uploads, seeds_copy: Path) -> None:
    """Uploading over an existing source is refused, saying to pass replace: True; the source is untouched."""
    before = snapshot(seeds_copy)
    text = private_answer(await uploads.add(EXISTING, ARTICLE))
    assert "already exists" in text and "replace: True" in text
    assert snapshot(seeds_copy) == before
    assert uploads.gateway.bot.searcher.index.pointer.generation == 1


async def test_replace_true_replaces_and_keeps_metadata(uploads: Uploads, seeds_copy: Path) -> None:
    """With replace: True the file is replaced, fields not given keep their values and the reply names them."""
    requests = await uploads.add(EXISTING, ARTICLE, replace=True, title="Herat crossing reopens")
    assert (seeds_copy / EXISTING).read_bytes() == ARTICLE
    entry = read_metadata(seeds_copy)[EXISTING]
    assert entry["title"] == "Herat crossing reopens" and entry["author"] == "Mohamed Yosry"
    last = edits(requests)[-1]
    assert last.startswith("Seeds folder: replaced") and "0 added, 1 changed" in last
    kept = "It keeps the earlier outlet, author and published, since this upload did not give them"
    assert all(kept in shown for shown in edits(requests))


async def test_replace_giving_every_field_says_nothing_was_kept(uploads: Uploads) -> None:
    """A replace that gives all the metadata again says nothing about keeping any."""
    fields = {"title": "T", "outlet": "O", "author": "A", "published": "2024-01-02", "url": "https://o.example/a"}
    requests = await uploads.add(EXISTING, ARTICLE, replace=True, **fields)
    assert edits(requests)[-1].startswith("Seeds folder: replaced") and "keeps the earlier" not in edits(requests)[-1]


@pytest.mark.parametrize("url", ["https://example.com/<x:/[Claim](https://phish.test)>", "https://intranet/a",
                                 "https://exämple.com/a", "https://example.com/a|b"])
async def test_url_discord_would_refuse_is_refused_before_download(uploads: Uploads, seeds_copy: Path,
                                                                   url: str) -> None:
    """A url Discord would not take as a link is refused at upload, saying why, before the file is downloaded."""
    before = snapshot(seeds_copy)
    text = private_answer(await uploads.add("herat.txt", ARTICLE, url=url))
    assert "give the article's https:// address" in text and text.endswith("Nothing was changed.")
    assert not uploads.cdn.downloads and snapshot(seeds_copy) == before


async def test_download_growing_past_its_declared_size_is_stopped(uploads: Uploads, seeds_copy: Path) -> None:
    """A download that sends more than Discord declared is cut off early and nothing is saved."""
    before = snapshot(seeds_copy)
    data = ARTICLE * 4000  # about 1.2 MB behind a declared 1,000 bytes
    text = private_answer(await uploads.add("herat.txt", data, size=1000))
    assert "grew past the 1,000 bytes Discord declared" in text and text.endswith("Nothing was changed.")
    assert uploads.cdn.responses[-1].content.sent < len(data) // 10
    assert snapshot(seeds_copy) == before


async def test_failed_download_changes_nothing(uploads: Uploads, seeds_copy: Path) -> None:
    """When Discord's CDN no longer has the file, the moderator is asked to upload it again."""
    before = snapshot(seeds_copy)
    text = private_answer(await uploads.add("herat.txt", ARTICLE, on_cdn=False))
    assert "Discord would not hand over herat.txt (HTTP 404); upload it again." in text
    assert snapshot(seeds_copy) == before


async def test_upload_during_a_reindex_waits_for_the_next(uploads: Uploads, seeds_copy: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload while a reindex runs is saved, and the moderator is told to reindex once that one is done."""
    gate = hold_builds(monkeypatch, uploads.gateway.bot.searcher.embedder, tmp_path / "gate")
    (seeds_copy / "005_new.txt").write_text("Title\n\nIran and the Taliban met again in Kabul this week, "
                                            "officials said.\n", encoding="utf-8")
    running = asyncio.create_task(uploads.gateway.command("dossier reindex", who=MODERATOR))
    await gate.held()
    requests = await uploads.add("herat.txt", ARTICLE)
    gate.release()
    await running
    token = next(r.url.split("/")[-2] for r in requests if r.kind == "defer")  # the upload's, not the reindex's
    last = edits([r for r in requests if f"/{token}/" in r.url])[-1]
    assert "It becomes searchable at the next reindex." in last
    assert last.endswith("A reindex is running already: run /dossier reindex when it is done.")
    assert (seeds_copy / "herat.txt").read_bytes() == ARTICLE


async def test_remove_takes_the_source_out_of_the_index(uploads: Uploads, seeds_copy: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Removing a source deletes its file and metadata, reindexes, and the source leaves the index; it is logged."""
    assert REMOVED in indexed(uploads.gateway)
    with caplog.at_level(logging.INFO):
        requests = await uploads.gateway.command("dossier remove", who=MODERATOR, source=REMOVED)
    last = edits(requests)[-1]
    assert last.startswith("Seeds folder: removed “The Iranian regime's ties with Taliban”")
    assert "0 added, 0 changed, 1 removed, 4 unchanged" in last
    assert not (seeds_copy / REMOVED).exists() and REMOVED not in read_metadata(seeds_copy)
    assert REMOVED not in indexed(uploads.gateway)
    logged = [r.getMessage() for r in caplog.records]
    assert any(f"removal of {REMOVED} asked for by moderator" in m for m in logged)
    assert any(m.startswith(f"source {REMOVED} removed by moderator (") for m in logged)
    assert_safe(requests)


@pytest.mark.parametrize(("source", "says"), [
    ("no_such_source.txt", "There is no source with the id 'no\\_such\\_source.txt'. /dossier sources lists the ids."),
    ("../sources.toml", "'../sources.toml' is a path; give a plain file name such as article.txt.\nNothing was"),
])
async def test_remove_unknown_source(uploads: Uploads, seeds_copy: Path, source: str, says: str) -> None:
    """Removing an id that is not a source's refuses privately, saying why, and changes nothing."""
    before = snapshot(seeds_copy)
    text = private_answer(await uploads.gateway.command("dossier remove", who=MODERATOR, source=source))
    assert text.startswith(says)
    assert snapshot(seeds_copy) == before


async def test_remove_autocompletes_source_ids(uploads: Uploads) -> None:
    """/dossier remove suggests the indexed sources matching the id or title typed, to moderators only."""
    choices = await uploads.complete_remove("regime")
    assert {c["value"] for c in choices} == {REMOVED, "003_eb7467070494d04b.txt"}
    assert all(len(c["name"]) <= 100 for c in choices)
    assert len(await uploads.complete_remove("")) == 5
    assert await uploads.complete_remove("regime", who=ASKER) == []


def test_sharded_setting_builds_an_autoshardedbot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SHARDED=true makes the client an AutoShardedBot; by default it is a plain, unsharded commands.Bot."""
    monkeypatch.setenv("SHARDED", "true")
    sharded = create_bot(settings_for(make_settings(tmp_path)), searcher=None)  # type: ignore[arg-type]
    monkeypatch.delenv("SHARDED")
    plain = create_bot(settings_for(make_settings(tmp_path)), searcher=None)  # type: ignore[arg-type]
    assert isinstance(sharded, commands.AutoShardedBot) and isinstance(sharded, Dossier)
    assert isinstance(sharded._connection, discord.state.AutoShardedConnectionState)
    assert isinstance(plain, commands.Bot) and not isinstance(plain, discord.AutoShardedClient)
    assert sharded.settings.sharded and not plain.settings.sharded


async def test_a_long_source_name_does_not_break_autocomplete(uploads: Uploads, seeds_copy: Path) -> None:
    """A source put in the seeds folder by hand under a 150-character name, with a 150-character title, leaves the
    choices of /dossier remove within Discord's 100 characters (a longer one makes Discord refuse them all): the
    others are offered, their names cut; the long id, which no choice can carry, is not."""
    long_id = "Report_" + "x" * 139 + ".txt"
    shutil.copy(seeds_copy / REMOVED, seeds_copy / long_id)
    with (seeds_copy / "sources.toml").open("a", encoding="utf-8") as table:
        table.write(f'\n["{long_id}"]\ntitle = "{"A very long title " * 8}"\n')
    await uploads.gateway.command("dossier reindex", who=MODERATOR)
    assert long_id in indexed(uploads.gateway)
    choices = await uploads.complete_remove("")
    assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices), choices
    assert len(choices) == 5 and long_id not in {c["value"] for c in choices}
