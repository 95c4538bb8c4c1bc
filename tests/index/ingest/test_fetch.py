"""Fetching a link from the bot's machine: real HTTP against a news site on 127.0.0.1 (tests/news_site.py), with
every refusal saying why in one line, and never a connection to an address it refuses."""

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from index.ingest.fetch import USER_AGENT, FetchRefused, fetch, non_public
from tests.news_site import ARTICLE_PATH, BIG_BYTES, PAGES, NewsSite, serving

LOCAL = frozenset({"127.0.0.1"})


@pytest.fixture(scope="module")
def site() -> Iterator[NewsSite]:
    with serving() as running:
        yield running


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fails any attempt to open a connection; the list records the addresses tried."""
    tried: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        tried.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return tried


def resolving(monkeypatch: pytest.MonkeyPatch, name: str, *addresses: str) -> None:
    """Makes the resolver answer `addresses` for `name`, as a DNS record pointing there would."""
    real = socket.getaddrinfo

    def lookup(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != name:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port, 0, 0) if ":" in a else (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


def refusal(url: str, allow: frozenset[str] = LOCAL, timeout: float = 10.0) -> str:
    with pytest.raises(FetchRefused) as refused:
        fetch(url, allow, timeout)
    message = str(refused.value)
    assert "\n" not in message and message.endswith(".")
    return message


def test_an_allowed_page_is_fetched_as_served(site: NewsSite) -> None:
    """A page on an allowed host comes back whole, as HTML, after robots.txt, asked for as Dossier."""
    page = fetch(site.url(ARTICLE_PATH), LOCAL)
    assert (page.kind, page.url) == ("html", site.url(ARTICLE_PATH))
    assert page.data == (PAGES / "article.html").read_bytes()
    assert "/robots.txt" in site.traffic.paths and USER_AGENT in site.traffic.agents and "Dossier" in USER_AGENT


def test_a_redirect_chain_of_five_is_followed(site: NewsSite) -> None:
    """Five redirects in a row lead to the article, and the page says where it ended."""
    page = fetch(site.url("/hop/5"), LOCAL)
    assert page.url == site.url(ARTICLE_PATH) and page.kind == "html"


@pytest.mark.parametrize(("path", "says"), [
    ("/hop/6", "The link redirects more than 5 times; give the address it ends at."),
    ("/loop", "The link redirects more than 5 times"),
    ("/logo.png", "The link gives image/png, not a web page, a PDF or plain text."),
    ("/big", "The page is 41.9 MB, over the 5 MB limit."),
    ("/gone", "The page answered HTTP 404 Not Found."),
    ("/private/khaf-herat-freight", "/robots.txt does not let Dossier fetch /private/khaf-herat-freight"),
    ("/to?url=ftp://127.0.0.1/article", "After a redirect, the link 'ftp://127.0.0.1/article' is not an http:// or "
                                        "https:// address."),
])
def test_refused_pages(site: NewsSite, path: str, says: str) -> None:
    """Too many redirects, a wrong content type, a declared 40 MB body, an error, robots.txt: each refused."""
    assert says in refusal(site.url(path))


def test_an_undeclared_huge_body_is_cut_off(site: NewsSite) -> None:
    """A 40 MB body without a length is read up to the 5 MB cap, then dropped; the rest is never sent."""
    assert refusal(site.url("/stream")) == "The page is over the 5 MB limit; only that much is read."
    assert site.traffic.sent < BIG_BYTES / 2


@pytest.mark.parametrize("path", ["/slow", "/drip"])
def test_a_slow_server_runs_out_of_time(site: NewsSite, path: str) -> None:
    """A server that takes its time answering, or sends its body a byte at a time, is given up at the deadline."""
    assert refusal(site.url(path), timeout=1.0).startswith("127.0.0.1 took more than 1 s to answer")


@pytest.mark.parametrize(("url", "says"), [
    ("file:///etc/passwd", "The link 'file:///etc/passwd' is not an http:// or https:// address."),
    ("http://user:secret@127.0.0.1/", "carries a user name or password"),
    ("http://127.0.0.1:99999/", "is not a valid address"),
    ("https://exämple.com/", "has spaces or characters outside ASCII"),
])
def test_links_that_are_not_web_addresses(url: str, says: str, no_connections: list[Any]) -> None:
    """Only http(s) links with a host and no credentials are fetched; others are refused before any connection."""
    assert says in refusal(url)
    assert no_connections == []


def test_loopback_is_refused_unless_allowed(site: NewsSite, no_connections: list[Any]) -> None:
    """127.0.0.1 is refused when FETCH_ALLOW_HOSTS does not name it, before any connection is made."""
    assert refusal(site.url(ARTICLE_PATH), allow=frozenset()) == (
        "The address 127.0.0.1 is a loopback address: Dossier fetches only from the public internet "
        "(FETCH_ALLOW_HOSTS can name a host to allow).")
    assert no_connections == []


def test_a_redirect_to_loopback_is_refused(site: NewsSite) -> None:
    """A page on an allowed host that redirects to 127.0.0.1, not allowed, is refused at the redirect."""
    says = refusal(site.named(f"/to?url={site.url(ARTICLE_PATH)}"), allow=frozenset({"localhost"}))
    assert says.startswith("After a redirect, the address 127.0.0.1 is a loopback address")
    assert fetch(site.named(f"/to?url={site.url(ARTICLE_PATH)}"), frozenset({"localhost", "127.0.0.1"})).kind == "html"


@pytest.mark.parametrize(("target", "kind"), [("http://10.20.30.40/admin", "private"),
                                              ("http://169.254.169.254/latest/meta-data/", "link-local"),
                                              ("http://[::1]:8080/", "loopback"),
                                              ("http://[fd12::1]/", "private")])
def test_a_redirect_to_a_private_address_is_refused(site: NewsSite, monkeypatch: pytest.MonkeyPatch,
                                                    target: str, kind: str) -> None:
    """A redirect to a private, link-local or loopback address is refused without connecting to it."""
    tried: list[Any] = []
    connect = socket.socket.connect

    def watched(self: socket.socket, address: Any) -> None:
        tried.append(address[0])
        if address[0] != "127.0.0.1":
            raise AssertionError(f"a connection to {address} was attempted")
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", watched)
    says = refusal(site.url(f"/to?url={target}"))
    assert says.startswith("After a redirect, the address ") and f"a {kind} address" in says
    assert set(tried) == {"127.0.0.1"}


@pytest.mark.parametrize(("addresses", "kind"), [(["10.1.2.3"], "private"), (["127.0.0.1"], "loopback"),
                                                 (["192.168.1.20"], "private"), (["169.254.1.1"], "link-local"),
                                                 (["224.0.0.251"], "multicast"), (["::ffff:172.16.0.9"], "private"),
                                                 (["93.184.216.34", "10.0.0.8"], "private")])
def test_a_public_name_that_resolves_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                                     no_connections: list[Any],
                                                                     addresses: list[str], kind: str) -> None:
    """A host whose name resolves to a non-public address (any of its addresses) is refused before connecting."""
    resolving(monkeypatch, "news.example.com", *addresses)
    says = refusal("https://news.example.com/world/story", allow=frozenset())
    assert says.startswith("The host news.example.com is at ") and f"a {kind} address" in says
    assert no_connections == []


def test_an_allowed_name_is_fetched_from_the_address_checked(site: NewsSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host named in FETCH_ALLOW_HOSTS is fetched from the address it resolved to, asked for by its name."""
    resolving(monkeypatch, "wiki.intranet.example", "127.0.0.1")
    page = fetch(f"http://wiki.intranet.example:{site.port}{ARTICLE_PATH}", frozenset({"wiki.intranet.example"}))
    assert page.kind == "html" and page.url == f"http://wiki.intranet.example:{site.port}{ARTICLE_PATH}"


def test_a_host_that_does_not_exist_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host the resolver does not know is refused, naming it."""
    def unknown(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    assert refusal("https://no-such-site.example/a").startswith("The host no-such-site.example cannot be found")


@pytest.mark.parametrize(("address", "kind"), [("8.8.8.8", None), ("2606:4700::1111", None), ("127.0.0.1", "loopback"),
                                               ("10.0.0.1", "private"), ("172.31.255.255", "private"),
                                               ("100.64.0.1", "non-public"), ("0.0.0.0", "unspecified"),
                                               ("fe80::1", "link-local"), ("ff02::1", "multicast"),
                                               ("::ffff:127.0.0.1", "loopback"), ("239.1.2.3", "multicast")])
def test_address_kinds(address: str, kind: str | None) -> None:
    """Public addresses pass; loopback, private, shared, link-local, multicast and mapped ones are named."""
    assert non_public(ipaddress.ip_address(address)) == kind
