"""`python -m index add`: one article, from a link or a file, written into SEEDS_DIR with its sources.toml entry;
its arguments checked as sources.toml will hold them."""

import argparse
import functools
import re
from pathlib import Path

from index.commands.loading import say_on_stderr
from index.ingest.articles import Reading, described, read_in_child, upload_name, write_article
from index.ingest.corpus import read_capped
from index.ingest.editing import SourceExists, add_source
from index.ingest.source_fields import SourceError, metadata_fields
from index.settings import IndexSettings

_LINK = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
ADDED_BY = "command line"


def add(args: argparse.Namespace, settings: IndexSettings) -> int:
    """Writes the article into the seeds folder; 1 with the reason, and nothing written, when it is refused."""
    given = {key: value for key in ("title", "outlet", "author", "published") if (value := getattr(args, key))}
    article = None
    if _LINK.match(args.target):
        reading, kind = Reading(link=args.target), "link"
    else:
        path = Path(args.target)
        kind = upload_name(path.name)[0]  # a file of another kind is refused before it is read
        reading = Reading(filename=path.name, data=read_capped(path))
    try:
        if kind == "txt":
            change = add_source(settings.seeds_dir, reading.data, path.name, actor=ADDED_BY, replace=args.replace,
                                **given)
        else:
            say_on_stderr(f"Fetching {args.target} (at most {settings.fetch_timeout_seconds:g} s)…" if reading.link
                          else f"Reading the article in {reading.filename}…")
            article = read_in_child(reading, settings.fetch_allow_hosts, settings.fetch_timeout_seconds)
            change = write_article(settings.seeds_dir, reading, article, given, actor=ADDED_BY, replace=args.replace)
    except SourceExists as error:
        raise SourceError(f"{error} Pass --replace to replace it.") from error
    print(change.message.replace("at the next reindex", "once `python -m index build` has run"))
    if article is not None:
        print(f"Read from the article: {described(article, given)}.")
    return 0


def add_arguments(add_cmd: argparse.ArgumentParser) -> None:
    add_cmd.add_argument("target", metavar="URL|FILE", help="an http(s) link to the article, or a file")
    for name, what in (("title", "the title"), ("outlet", "the publication"), ("author", "who wrote it"),
                       ("published", "the date it was published, YYYY-MM-DD")):
        add_cmd.add_argument(f"--{name}", type=functools.partial(metadata_argument, name),
                             help=f"{what} (default: what the article says)")
    add_cmd.add_argument("--replace", action="store_true",
                         help="replace the source of the same name, or the one that is the same article")
    add_cmd.add_argument("-v", "--verbose", action="store_true", help="log details and tracebacks")


def metadata_argument(name: str, text: str) -> str:
    """A metadata field given on the command line, as sources.toml will hold it; refused at once when invalid."""
    try:
        return metadata_fields(**{name: text}).get(name, "")
    except SourceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
