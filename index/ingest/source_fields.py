"""What a moderator gives for a source, checked before anything is written: its file name and its metadata fields
(title, outlet, author, published, url), each refused with a SourceError that says what to change."""

import re
import unicodedata
from datetime import date
from urllib.parse import urlsplit

# In UTF-8 bytes: the file system's limit is 255 bytes, and a source id is a Discord choice value (100 at most).
MAX_NAME_BYTES = 100
MAX_FIELD_CHARS = 256
MAX_URL_CHARS = 2000
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.-]+")
# What a web address may hold (RFC 3986), which is also what Discord accepts as an embed's url.
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class SourceError(ValueError):
    """An upload or removal that cannot be done; the message tells the moderator what to change."""


def safe_name(filename: str, kinds: tuple[str, ...] = ("txt",)) -> str:
    """The source id for an uploaded file name: a plain name ending in one of `kinds`, as a .txt name; or a
    SourceError."""
    name = unicodedata.normalize("NFKC", filename).strip()  # NFKC folds look-alikes such as "／" into "/"
    if "/" in name or "\\" in name or "\x00" in name:
        raise SourceError(f"{filename!r} is a path; give a plain file name such as article.txt.")
    stem, dot, extension = name.rpartition(".")
    if not dot or extension.lower() not in kinds:
        if kinds == ("txt",):
            raise SourceError(f"{filename!r} is not a .txt file; only UTF-8 text files can be added.")
        named = ", ".join(f".{kind}" for kind in kinds[:-1])
        raise SourceError(f"{filename!r} is not a {named} or .{kinds[-1]} file; only those can be added.")
    stem = _UNSAFE_NAME_CHARS.sub("_", stem).strip("._-")
    if not stem:
        raise SourceError(f"{filename!r} has no usable name before .{extension}.")
    name = f"{stem}.txt"
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise SourceError(f"The file name is {size} bytes long in UTF-8; keep it within {MAX_NAME_BYTES} "
                          "(a letter outside the Latin alphabet takes 2 to 4 bytes).")
    return name


def metadata_fields(**fields: str | None) -> dict[str, str]:
    """The metadata given for a source, whitespace collapsed and blanks dropped; a SourceError if any is invalid."""
    out = {}
    for key, raw in fields.items():
        if raw is None:
            continue
        value = " ".join(raw.split())
        if not value:
            continue
        if any(unicodedata.category(c).startswith("C") for c in value):
            raise SourceError(f"The {key} contains control characters.")
        limit = MAX_URL_CHARS if key == "url" else MAX_FIELD_CHARS
        if len(value) > limit:
            raise SourceError(f"The {key} is {len(value)} characters long; keep it under {limit}.")
        if key == "published":
            _check_date(value)
        if key == "url":
            _check_url(value)
        out[key] = value
    return out


def _check_date(value: str) -> None:
    try:
        valid = bool(_DATE.fullmatch(value)) and bool(date.fromisoformat(value))
    except ValueError:  # 2021-02-30 and the like
        valid = False
    if not valid:
        raise SourceError(f"The published date {value!r} is not a date written YYYY-MM-DD.")


def url_problem(value: str) -> str | None:
    """What is wrong with `value` as a source's url, or None when Discord will take it as a link and embed url.

    Strict on purpose: a url that Discord refuses would make every answer quoting the source fail.
    """
    if any(c.isspace() for c in value):
        return "contains spaces"
    if not value.isascii():
        return "has characters outside ASCII; copy it from the browser's address bar, which percent-encodes them"
    if not _URL_CHARS.fullmatch(value):
        return f"contains {next(c for c in value if not _URL_CHARS.fullmatch(c))!r}, which a web address cannot hold"
    if _BAD_PERCENT.search(value):
        return "has a % that is not followed by two hex digits"
    try:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            return "is not an http(s) address"
        if parts.username is not None or parts.password is not None:
            return "carries a user name or password"
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return "is not a valid address"
    labels = (parts.hostname or "").split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return "does not name a host such as example.com"
    return None


def _check_url(value: str) -> None:
    problem = url_problem(value)
    if problem:
        raise SourceError(f"The url {value!r} {problem}; give the article's https:// address.")
