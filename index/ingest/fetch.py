"""Fetching a link a moderator gave, from the machine the bot runs on, without letting the link reach that machine's
own network.

Only http and https. A host is resolved first and every address it has is checked: one on a loopback, link-local,
private, reserved or multicast range is refused unless the host is named in FETCH_ALLOW_HOSTS, and the connection
then goes to the address that was checked (a second lookup could answer otherwise). The same holds for each
redirect, at most MAX_REDIRECTS of them, and for robots.txt, which is honoured for the agent "Dossier". The whole
fetch has one deadline; the body is read only up to the upload cap, and only HTML, PDF or plain text is taken.
Every refusal is a FetchRefused whose message is one line a moderator can act on.
"""

import ipaddress
import logging
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import urllib3
from protego import Protego
from urllib3.exceptions import HTTPError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as TimedOut

from index.ingest.corpus import MAX_FILE_BYTES
from index.ingest.source_fields import SourceError

log = logging.getLogger(__name__)

ROBOTS_AGENT = "Dossier"
USER_AGENT = f"{ROBOTS_AGENT}/0.1 (fetches one article a moderator of a Discord server added by its link)"
MAX_REDIRECTS = 5
CONNECT_SECONDS = 10.0
ROBOTS_MAX_BYTES = 512 * 1024
CHUNK_BYTES = 64 * 1024
KINDS = {"text/html": "html", "application/xhtml+xml": "html", "application/pdf": "pdf", "text/plain": "text"}
_REDIRECTS = (301, 302, 303, 307, 308)
_ACCEPT = "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8"


class FetchRefused(SourceError):
    """A link Dossier will not or cannot fetch; the message says why in one line."""


@dataclass(frozen=True)
class Page:
    """What a link gave: the address it ended at, its kind (html, pdf or text), its declared charset and bytes."""

    url: str
    kind: str
    charset: str | None
    data: bytes


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def origin(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def fetch(url: str, allow_hosts: frozenset[str] = frozenset(), timeout: float = 30.0,
          max_bytes: int = MAX_FILE_BYTES) -> Page:
    """The page at `url`, or a FetchRefused saying why not. `allow_hosts` may be fetched from whatever their address."""
    return _Fetch(allow_hosts, timeout).page(url, max_bytes)


def non_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What kind of address this is when it is not one on the public internet (\"loopback\", \"private\", …)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind in ("loopback", "link-local", "multicast", "unspecified", "private", "reserved"):
        if getattr(address, f"is_{kind.replace('-', '_')}"):
            return kind
    return None if address.is_global else "non-public"


@dataclass
class _Fetch:
    allow_hosts: frozenset[str]
    timeout: float
    deadline: float = 0.0
    robots: dict[str, Protego | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout

    def page(self, url: str, max_bytes: int) -> Page:
        response, target = self._follow(url, honour_robots=True)
        try:
            if response.status != 200:
                raise FetchRefused(f"The page answered HTTP {response.status} {response.reason or ''}".rstrip() + ".")
            media, charset = _content_type(response.headers.get("Content-Type", ""))
            kind = KINDS.get(media)
            if kind is None:
                raise FetchRefused(f"The link gives {media or 'content of no stated type'}, not a web page, a PDF or "
                                   "plain text.")
            data = self._body(response, max_bytes, target)
        finally:
            response.release_conn()
        log.info("fetched %s: %s, %d bytes", target.url, kind, len(data))
        return Page(target.url, kind, charset, data)

    def _follow(self, url: str, honour_robots: bool) -> tuple[urllib3.BaseHTTPResponse, _Target]:
        """The response at the end of the redirects from `url`, each hop checked as the first one is."""
        for hop in range(MAX_REDIRECTS + 1):
            target = self._target(url, "after a redirect, " if hop else "")
            if honour_robots:
                self._check_robots(target)
            response = self._open(target)
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                return response, target
            response.release_conn()
            url = urljoin(target.url, location.strip())
        raise FetchRefused(f"The link redirects more than {MAX_REDIRECTS} times; give the address it ends at.")

    def _target(self, url: str, where: str) -> _Target:
        problem = _link_problem(url)
        if problem:
            raise FetchRefused(_sentence(f"{where}the link {url[:200]!r} {problem}"))
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        port = parts.port or (443 if scheme == "https" else 80)
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise FetchRefused(_sentence(f"{where}the host {host} cannot be found ({error})")) from error
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
        if host not in self.allow_hosts:
            for address in addresses:
                kind = non_public(address)
                if kind:
                    named = f"the address {host} is" if host == str(address) else f"the host {host} is at {address},"
                    raise FetchRefused(_sentence(
                        f"{where}{named} a {kind} address: Dossier fetches only from the public internet "
                        "(FETCH_ALLOW_HOSTS can name a host to allow)"))
        return _Target(url, scheme, host, port, str(addresses[0]))

    def _open(self, target: _Target) -> urllib3.BaseHTTPResponse:
        """One GET, to the address checked, naming the host as the link does (Host header, TLS name)."""
        left = self._left(target)
        timeout = urllib3.Timeout(connect=min(CONNECT_SECONDS, left), read=left)
        headers = {"Host": target.origin.split("://", 1)[1], "User-Agent": USER_AGENT, "Accept": _ACCEPT}
        if target.scheme == "https":
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                target.address, target.port, timeout=timeout, retries=False, server_hostname=target.host,
                assert_hostname=target.host)
        else:
            pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False)
        try:
            return pool.urlopen("GET", target.path, headers=headers, redirect=False, preload_content=False,
                                assert_same_host=False)
        except HTTPError as error:
            raise self._failure(error, target) from error

    def _body(self, response: urllib3.BaseHTTPResponse, max_bytes: int, target: _Target) -> bytes:
        """The body, read against the deadline and stopped once it passes `max_bytes`."""
        limit = f"over the {max_bytes / 1e6:.0f} MB limit" if max_bytes >= 1e6 else f"over {max_bytes:,} bytes"
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchRefused(f"The page is {int(declared) / 1e6:.1f} MB, {limit}.")
        data = bytearray()
        try:
            while chunk := response.read1(CHUNK_BYTES):
                data += chunk
                if len(data) > max_bytes:
                    raise FetchRefused(f"The page is {limit}; only that much is read.")
                self._left(target)
        except HTTPError as error:
            raise self._failure(error, target) from error
        return bytes(data)

    def _check_robots(self, target: _Target) -> None:
        if target.origin not in self.robots:
            self.robots[target.origin] = self._read_robots(target)
        rules = self.robots[target.origin]
        if rules is not None and not rules.can_fetch(target.url, ROBOTS_AGENT):
            raise FetchRefused(f"{target.origin}/robots.txt does not let {ROBOTS_AGENT} fetch {target.path[:200]}; "
                               "save the article as a PDF or text file and add that instead.")

    def _read_robots(self, target: _Target) -> Protego | None:
        """The site's robots.txt rules; None (all allowed) when it has none. A server error there counts as
        'nothing allowed', as the robots.txt standard (RFC 9309) says."""
        response, _ = self._follow(f"{target.origin}/robots.txt", honour_robots=False)
        try:
            if 400 <= response.status < 500:
                return None
            if response.status != 200:
                raise FetchRefused(f"{target.origin}/robots.txt answered HTTP {response.status}, so Dossier does not "
                                   "fetch from that site for now; try again later.")
            text = self._body(response, ROBOTS_MAX_BYTES, target).decode("utf-8", errors="replace")
        finally:
            response.release_conn()
        return Protego.parse(text)

    def _left(self, target: _Target) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise FetchRefused(f"{target.host} took more than {self.timeout:g} s to answer; try again later, or save "
                               "the article and upload the file.")
        return left

    def _failure(self, error: HTTPError, target: _Target) -> FetchRefused:
        log.info("fetching %s failed: %r", target.url, error)
        if isinstance(error, TimedOut):
            return FetchRefused(f"{target.host} took more than {self.timeout:g} s to answer; try again later, or "
                                "save the article and upload the file.")
        if isinstance(error, SSLError):
            return FetchRefused(f"The secure connection to {target.host} failed ({_reason(error)}).")
        if isinstance(error, NewConnectionError):
            return FetchRefused(f"Could not connect to {target.host} ({_reason(error)}).")
        return FetchRefused(f"The connection to {target.host} broke off ({_reason(error)}); try again later.")


def _link_problem(url: str) -> str | None:
    if any(c.isspace() for c in url) or not url.isascii():
        return "has spaces or characters outside ASCII; copy it from the browser's address bar"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return "is not a valid address"
    if parts.scheme.lower() not in ("http", "https"):
        return "is not an http:// or https:// address"
    if not parts.hostname:
        return "names no host"
    if parts.username is not None or parts.password is not None:
        return "carries a user name or password"
    return None


def _content_type(header: str) -> tuple[str, str | None]:
    """The media type in lower case, and the charset if one is given."""
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def _reason(error: BaseException) -> str:
    text = str(getattr(error, "reason", None) or error)
    return text.split(": ", 1)[-1][:200]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."
