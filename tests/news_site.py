"""A news site on 127.0.0.1, for the tests of adding an article by its link: real HTTP from a real server, in the
shapes news sites serve (tests/index/ingest/pages holds the pages), and the ways a link goes wrong.

Paths: /world/khaf-herat-freight (an article with byline, dates in <meta> and JSON-LD, comments, a cookie banner,
related links), /world/customs-talks (a paywall stub), /world (a section front, no article), /reports/rail.pdf (a
two-column PDF), /notes.txt (plain text), /hop/N (a redirect chain of N hops to the article), /loop (redirects to
itself), /to?url=U (a redirect to U), /big (a 40 MB body, declared), /stream (40 MB, undeclared), /logo.png
(an image), /slow (answers after SLOW_SECONDS), /drip (a body a byte at a time), /private/… (robots.txt disallows
it), /gone (404).
"""

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

PAGES = Path(__file__).parent / "index" / "ingest" / "pages"
BIG_BYTES = 40 * 1024 * 1024
SLOW_SECONDS = 5.0
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
ARTICLE_PATH = "/world/khaf-herat-freight"

# A report in two columns. The PDF draws it line by line across both columns, as some layout programs do, so a
# reader that follows the drawing order interleaves them.
LEFT = ["Freight volumes on the Khaf to Herat railway rose steadily in the first quarter, according to figures "
        "published by the operator on Sunday.", "Most of the traffic ran eastward, carrying construction steel, "
        "cement and fuel for the western provinces."]
RIGHT = ["Returning wagons carried dried fruit and carpets, although officials said many still travelled back "
         "empty for lack of contracts.", "The operator expects a third weekly service once a second locomotive "
         "depot opens near the border crossing."]


def _lines(paragraphs: list[str], width: int = 42) -> list[str]:
    lines: list[str] = []
    for paragraph in paragraphs:
        line = ""
        for word in paragraph.split():
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines += [line, ""]
    return lines


def two_column_pdf() -> bytes:
    """A one-page report in two columns, with its title and author in the document properties."""
    out = BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    page.setTitle("Rail freight report, first quarter")
    page.setAuthor("Darius Kamali")
    page.setFont("Helvetica", 10)
    left, right = _lines(LEFT), _lines(RIGHT)
    for row in range(max(len(left), len(right))):
        y = 780 - 13 * row
        for x, column in ((50, left), (310, right)):
            if row < len(column) and column[row]:
                page.drawString(x, y, column[row])
    page.save()
    return out.getvalue()


@dataclass
class Traffic:
    """What the site served: the paths asked for, and how many bytes of a large body went out before the reader
    hung up."""

    paths: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    sent: int = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    site: Traffic

    def log_message(self, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        self.site.paths.append(self.path)
        self.site.agents.append(self.headers.get("User-Agent", ""))
        parts = urlsplit(self.path)
        route = {"/robots.txt": lambda: self._send(ROBOTS, "text/plain"),
                 ARTICLE_PATH: lambda: self._page("article.html"),
                 "/private/khaf-herat-freight": lambda: self._page("article.html"),
                 "/world/customs-talks": lambda: self._page("paywall.html"),
                 "/world": lambda: self._page("front.html"),
                 "/reports/rail.pdf": lambda: self._send(two_column_pdf(), "application/pdf"),
                 "/notes.txt": lambda: self._send((PAGES / "notes.txt").read_bytes(), "text/plain; charset=utf-8"),
                 "/loop": lambda: self._redirect("/loop"),
                 "/to": lambda: self._redirect(parse_qs(parts.query)["url"][0]),
                 "/big": lambda: self._big(declared=True),
                 "/stream": lambda: self._big(declared=False),
                 "/logo.png": lambda: self._send(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
                 "/slow": self._slow, "/drip": self._drip}.get(parts.path)
        if route is not None:
            route()
        elif parts.path.startswith("/hop/"):
            hops = int(parts.path.rsplit("/", 1)[1])
            self._redirect(f"/hop/{hops - 1}" if hops > 1 else ARTICLE_PATH)
        else:
            self._send(b"<html><body><h1>Not found</h1></body></html>", "text/html", status=404)

    def _page(self, name: str) -> None:
        self._send((PAGES / name).read_bytes(), "text/html; charset=utf-8")

    def _send(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _big(self, declared: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        if declared:
            self.send_header("Content-Length", str(BIG_BYTES))
        self.end_headers()
        chunk = b"<p>" + b"filler text " * 5000 + b"</p>\n"
        with suppress(BrokenPipeError, ConnectionResetError):
            while self.site.sent < BIG_BYTES:
                self.wfile.write(chunk)
                self.site.sent += len(chunk)
        self.close_connection = True

    def _slow(self) -> None:
        time.sleep(SLOW_SECONDS)
        with suppress(BrokenPipeError, ConnectionResetError):  # the reader gave up meanwhile
            self._page("article.html")

    def _drip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(int(SLOW_SECONDS / 0.05)):
                self.wfile.write(b"<")
                self.wfile.flush()
                time.sleep(0.05)
        self.close_connection = True


@dataclass
class NewsSite:
    """The site while it serves: `url(path)` on 127.0.0.1, `named(path)` on localhost; `traffic` what it served."""

    port: int
    traffic: Traffic

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def named(self, path: str) -> str:
        return f"http://localhost:{self.port}{path}"


@contextmanager
def serving() -> Iterator[NewsSite]:
    """Serves the site on a free port of 127.0.0.1 until the block ends."""
    traffic = Traffic()
    handler = type("Handler", (_Handler,), {"site": traffic})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield NewsSite(server.server_address[1], traffic)
    finally:
        server.shutdown()
        server.server_close()
