"""Articles added by their link, or as a saved web page or a PDF: read in a child process, written as text.

`read_in_child` starts `python -m index.ingest.articles`, which fetches the link (`fetch`) or takes the uploaded
bytes, extracts the article (`extract`) and prints it back as JSON. The child holds the extraction libraries, the
page and the PDF's decompressed streams, so the process that asks (the bot, or `python -m index add`) never
imports them, a question's path least of all; it has CHILD_MEMORY_BYTES of memory at most and is stopped after its
time, so a PDF that unpacks to gigabytes or a page that never ends costs a refusal, not the bot.

The article is then written like an uploaded .txt (`editing.add_source`): its title, then its paragraphs, one a
line with a blank line between, and its metadata in sources.toml, where what the moderator typed wins.
"""

import dataclasses
import json
import logging
import re
import resource
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from index import logging_setup
from index.ingest.article_text import FIELDS, Article, clean_field
from index.ingest.editing import SourceChange, add_source
from index.ingest.source_fields import SourceError, safe_name

log = logging.getLogger(__name__)

UPLOAD_KINDS = ("txt", "html", "htm", "pdf")
CHILD_MEMORY_BYTES = 2 * 1024**3
EXTRACT_SECONDS = 60.0  # the time the child has for extracting, past the fetch's own timeout
_SLUG_WORDS = 10
_PAGE_SUFFIX = re.compile(r"\.(?:s?html?|php\d?|aspx?|jsp|cfm|pdf|txt)$", re.IGNORECASE)


@dataclass(frozen=True)
class Reading:
    """What to read: a link, or an uploaded file (its name and bytes)."""

    link: str | None = None
    filename: str | None = None
    data: bytes = b""


def upload_name(filename: str) -> tuple[str, str]:
    """The kind of an uploaded file (txt, html or pdf) and its source id; a SourceError for any other file."""
    source_id = safe_name(filename, UPLOAD_KINDS)
    kind = filename.rpartition(".")[2].lower()
    return ("html" if kind == "htm" else kind), source_id


def link_name(url: str, title: str | None) -> str:
    """A source id for an article added by its link: the last part of its path, else its title, else its host."""
    parts = urlsplit(url)
    segment = _PAGE_SUFFIX.sub("", unquote(parts.path.rstrip("/").rpartition("/")[2]))
    if not re.search(r"[^\W\d_]", segment):  # "12345" or "index" says less than the title does
        segment = "-".join(re.findall(r"\w+", (title or "").lower())[:_SLUG_WORDS]) or (parts.hostname or "article")
    segment = re.sub(r"[^\w.-]+", "-", unicodedata.normalize("NFKC", segment)).strip("._-")[:80] or "article"
    return safe_name(f"{segment}.txt")


def described(article: Article, given: dict[str, str]) -> str:
    """What was read, field by field, for the moderator to check: "title “…”, outlet …, author not stated, …"."""
    parts = []
    for key in FIELDS:
        value = given.get(key) or getattr(article, key)
        shown = f"“{value}”" if key == "title" and value else value or "not stated"
        label = "address" if key == "url" else key
        parts.append(f"{label} {shown}" + (" (as given)" if key in given else ""))
    return ", ".join(parts)


def write_article(seeds_dir: Path, reading: Reading, article: Article, given: dict[str, str], *, actor: str,
                  replace: bool) -> SourceChange:
    """Writes the article into the seeds folder as a .txt source, named after its file, or for a link after its
    address; what the moderator typed (`given`) wins over what the article says."""
    if reading.link is not None:
        source_id = link_name(article.url or reading.link, article.title)
    else:
        source_id = upload_name(reading.filename or "")[1]
    return add_source(seeds_dir, article.text.encode(), source_id, actor=actor, replace=replace,
                      free_name=reading.link is not None, **{**article.metadata(), **given})


def read_in_child(reading: Reading, allow_hosts: list[str], timeout: float) -> Article:
    """Reads the article in a child process (see the module's docstring); a SourceError says why it cannot be."""
    request = json.dumps({"link": reading.link, "filename": reading.filename, "allow_hosts": allow_hosts,
                          "timeout": timeout})
    try:
        done = subprocess.run([sys.executable, "-m", "index.ingest.articles"], input=request.encode() + b"\n"
                              + reading.data, stdout=subprocess.PIPE, timeout=timeout + EXTRACT_SECONDS, check=False)
    except subprocess.TimeoutExpired as error:
        raise SourceError(f"Reading the article took more than {timeout + EXTRACT_SECONDS:g} s, so it was stopped."
                          ) from error
    lines = done.stdout.decode("utf-8", errors="replace").splitlines()
    answer = json.loads(lines[-1]) if done.returncode == 0 and lines else {}
    if "refused" in answer:
        raise SourceError(answer["refused"])
    if "article" not in answer:
        log.error("the process reading %s ended with status %d", reading.link or reading.filename, done.returncode)
        raise SourceError("Reading the article failed (the process reading it ended without an answer); the log "
                          "says more.")
    return Article(**answer["article"])


def read_article(reading: Reading, allow_hosts: frozenset[str], timeout: float) -> Article:
    """Reads the article in this process: fetched, then extracted as the page or file's kind says."""
    from index.ingest import extract, fetch  # only a link or an HTML or PDF page needs them, never a question

    if reading.link is not None:
        page = fetch.fetch(reading.link, allow_hosts, timeout)
        kind, data, url = page.kind, page.data, page.url
        if kind == "text":
            return _text_article(data, page.charset, url)
    else:
        kind, _ = upload_name(reading.filename or "")
        data, url = reading.data, None
    article = extract.pdf_article(data) if kind == "pdf" else extract.html_article(data, url)
    return article if article.url or url is None else dataclasses.replace(article, url=clean_field("url", url))


def _text_article(data: bytes, charset: str | None, url: str) -> Article:
    try:
        text = data.decode(charset or "utf-8")
    except (UnicodeDecodeError, LookupError) as error:
        raise SourceError(f"The text at the link is not in the character set it declares ({charset or 'UTF-8'})."
                          ) from error
    return Article(text.replace("\r\n", "\n"), url=clean_field("url", url))


def main() -> None:
    """The child: one request on stdin's first line, the uploaded bytes after it; one JSON answer on stdout."""
    logging_setup.configure(verbose=False)
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    request = json.loads(sys.stdin.buffer.readline())
    reading = Reading(request["link"], request["filename"], sys.stdin.buffer.read())
    answer: dict[str, object]
    try:
        article = read_article(reading, frozenset(request["allow_hosts"]), request["timeout"])
        answer = {"article": dataclasses.asdict(article)}
    except SourceError as error:
        answer = {"refused": str(error)}
    except MemoryError:
        answer = {"refused": f"Reading it needs more than {CHILD_MEMORY_BYTES / 1024**3:.0f} GB of memory (a PDF "
                             "that unpacks to far more than its size?), so it was stopped."}
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
