"""The article in a web page or a PDF: its main text, and what it says of itself (title, author, outlet, date,
address).

Web pages go through trafilatura, which keeps the article's paragraphs and leaves navigation, cookie banners, ads,
share links, "related articles" lists and comment sections out by its general rules, and reads the metadata from
<meta> tags, JSON-LD and the page (htmldate finds the date the article was first published, from the page's markup
only: no date is guessed from its prose). PDFs go through pdfminer.six, whose layout analysis reads a page's
columns one after the other and gives each block of lines as one paragraph.

Only what the article states is taken: a PDF's creation date is when the file was made, so it is not a
publication date, and a site's host name is not its outlet's name. This module is imported only when a link, an
HTML page or a PDF is added: never by a question's path.
"""

import logging
import re
from collections import Counter
from io import BytesIO

import trafilatura
from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTTextContainer
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFParser, PDFSyntaxError
from pdfminer.pdftypes import resolve1
from pdfminer.psparser import PSException
from pdfminer.utils import decode_text
from trafilatura.settings import Document

from index.ingest.article_text import Article
from index.ingest.cleaning import paragraphs
from index.ingest.source_fields import SourceError

log = logging.getLogger(__name__)

MIN_ARTICLE_WORDS = 50
# Google's markup for paywalled news (schema.org isAccessibleForFree), in JSON-LD or as microdata.
_PAYWALLED = re.compile(r"""["']?isAccessibleForFree["']?\s*:\s*["']?false|itemprop=["']isAccessibleForFree["']\s+"""
                        r"""content=["']false""", re.IGNORECASE)
_FILE_NAME_TITLE = re.compile(r"\.(?:docx?|odt|rtf|pdf|indd|txt)$", re.IGNORECASE)
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st"})


class NoArticle(SourceError):
    """The page or file holds no article Dossier can quote; the message says what it found instead."""


def html_article(data: bytes, url: str | None = None) -> Article:
    """The article of a web page (`url`: where it was fetched from, if it was)."""
    if _PAYWALLED.search(data[:2_000_000].decode("utf-8", errors="replace")):
        raise NoArticle("The page marks its article as for subscribers only (a paywall), so it holds only the start "
                        "of it: save the whole article as a PDF or text file and add that instead.")
    found = trafilatura.bare_extraction(data, url=url, with_metadata=True, include_comments=False,
                                        include_tables=False, include_images=False, favor_precision=True,
                                        date_extraction_params={"extensive_search": False, "original_date": True})
    if not isinstance(found, Document) or not found.text or not found.text.strip():
        raise NoArticle("The page holds no article text that Dossier can find (a front page, a list of links, a "
                        "sign-in or error page?).")
    lines = [" ".join(line.split()) for line in found.text.splitlines()]
    return _checked(Article.of([line for line in lines if line], title=found.title, outlet=found.sitename,
                               author=found.author, published=found.date, url=found.url or url))


def pdf_article(data: bytes) -> Article:
    """The article of a PDF: its blocks of text in reading order, and the title and author its properties give."""
    try:
        info = _pdf_info(data)
        pages = [[_joined(box.get_text()) for box in page if isinstance(box, LTTextContainer)]
                 for page in extract_pages(BytesIO(data), laparams=LAParams())]
    except (PDFPasswordIncorrect, PDFEncryptionError) as error:
        raise NoArticle("The PDF is encrypted; save an unprotected copy (or its text) and add that.") from error
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError) as error:
        log.info("unreadable PDF: %r", error)
        raise NoArticle("The file is not a PDF that can be read (it may be damaged); save it again and add that."
                        ) from error
    title = info.get("Title")
    return _checked(Article.of(_without_running_lines(pages),
                               title=None if title and _FILE_NAME_TITLE.search(title) else title,
                               author=info.get("Author")))


def _pdf_info(data: bytes) -> dict[str, str]:
    """The PDF's document properties (Title, Author, …) as text; the last set given wins, as in an updated file."""
    document = PDFDocument(PDFParser(BytesIO(data)))
    out: dict[str, str] = {}
    for entry in document.info:
        for key, value in entry.items():
            value = resolve1(value)
            text = decode_text(value) if isinstance(value, bytes) else value if isinstance(value, str) else ""
            if text.strip():
                out[key] = " ".join(text.split())
    return out


def _joined(text: str) -> str:
    """A block's lines as one paragraph; a line ending in a hyphen runs on into the next without a space."""
    out = ""
    for line in text.translate(_LIGATURES).splitlines():
        line = " ".join(line.split())
        if line:
            out = f"{out}{line}" if out.endswith("-") or not out else f"{out} {line}"
    return out


def _without_running_lines(pages: list[list[str]]) -> list[str]:
    """The paragraphs of all pages, less running heads and feet: text on more than one page, page numbers aside."""
    def key(text: str) -> str:
        return re.sub(r"\d+", "#", text.lower())

    seen = Counter(k for page in pages for k in {key(text) for text in page if text})
    return [text for page in pages for text in page if text and (len(pages) == 1 or seen[key(text)] == 1)]


def _checked(article: Article) -> Article:
    """The article, if its quotable text is long enough to be an article rather than a teaser or a notice."""
    words = sum(len(p.text.split()) for p in paragraphs(article.text, article.title))
    if words == 0:
        raise NoArticle("No article text was found, only headings, captions or short lines.")
    if words < MIN_ARTICLE_WORDS:
        raise NoArticle(f"Only {words} words of article text were found, too few for an article (a teaser, or a "
                        "page behind a sign-in?): save the whole article as a PDF or text file and add that.")
    return article
