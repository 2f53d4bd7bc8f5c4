"""Bytes and a content type to main text and metadata (trafilatura, beautifulsoup4, pypdf)."""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import itertools
import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archiver.judging.signs import TELEGRAM_HOSTS
from archiver.reading.reports import detect_encoding, tidy

if TYPE_CHECKING:  # bs4 is imported where a page is read: the run's own process never needs it
    from bs4 import BeautifulSoup

MAX_TEXT_CHARS = 2_000_000

# trafilatura and pypdf log their doubts about odd pages at WARNING: that is noise in a cron log.
for _name in ("trafilatura", "htmldate", "courlan", "pypdf", "charset_normalizer"):
    logging.getLogger(_name).setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class Extracted:
    """A page's main text and what is known about it."""

    kind: str  # "html", "pdf", "text", "json", "telegram", "binary"
    text: str | None
    title: str | None = None
    authors: str | None = None
    date: str | None = None
    language: str | None = None
    extractor: str = ""
    error: str | None = None


_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([-\w:.]+)""", re.IGNORECASE)


def sniff_kind(content_type: str, head: bytes, url: str = "") -> str:
    """What a body is, from its Content-Type, else its first bytes."""
    media = content_type.split(";", 1)[0].strip().lower()
    start = head.lstrip()[:512].lower()
    if media == "application/pdf" or head.startswith(b"%PDF-"):
        return "pdf"
    if media in ("text/html", "application/xhtml+xml") or start.startswith((b"<!doctype html", b"<html")):
        return "html"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    if media.startswith("text/"):
        return "html" if b"<html" in start or b"<body" in start else "text"
    if not media and (b"<html" in start or b"<!doctype" in start):
        return "html"
    return "binary"


def decode_html(data: bytes, content_type: str) -> str:
    """HTML bytes as text: BOM, then the header's charset, then <meta charset>, then detection."""
    for bom, name in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom) :].decode(name, errors="replace")
    candidates: list[str] = []
    match = re.search(r"charset\s*=\s*[\"']?([-\w:.]+)", content_type, re.IGNORECASE)
    if match:
        candidates.append(match.group(1))
    meta = _META_CHARSET_RE.search(data[:4096])
    if meta:
        candidates.append(meta.group(1).decode("ascii", "replace"))
    for name in candidates:
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(detect_encoding(data) or "cp1252", errors="replace")


def _tidy(text: str) -> str:
    return tidy(text.replace("\r\n", "\n").replace("\r", "\n"))[:MAX_TEXT_CHARS]


def _telegram_post(soup: BeautifulSoup, url: str) -> tuple[str | None, str | None]:
    """A public Telegram post's own text (t.me/CHANNEL/N), not the site's chrome."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if parts and parts[0] == "s":
        parts = parts[1:]
    post = "/".join(parts[:2]) if len(parts) >= 2 else None
    for node in soup.select(".tgme_widget_message"):
        if post is None or node.get("data-post") == post:
            body = node.select_one(".tgme_widget_message_text")
            if body is not None:
                return _tidy(body.get_text("\n")), "telegram-widget"
    for key in ("og:description", "twitter:description"):
        meta = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
        content = meta.get("content") if meta else None
        if isinstance(content, str) and content.strip():
            return _tidy(content), "telegram-meta"
    return None, None


_SITE_SUFFIX_RE = re.compile(r"\s+[|—–-]\s+[^|—–-]{2,60}$")


def _first(tree: Any, *paths: str) -> str | None:
    for path in paths:
        for value in tree.xpath(path):
            text = " ".join(str(value).split())
            if text:
                return text
    return None


@functools.cache
def _everywhere(tag: str) -> Any:
    """Every element of a tag in the whole document, in its order (an HTML parse may leave more than one
    element at the top, which the root element's own iter() would miss): a name test, no predicate."""
    from lxml import etree

    return etree.XPath(f"//{tag}")


def _metas(tree: Any) -> dict[tuple[str, str], list[str]]:
    """The page's <meta> contents by (attribute, value), in document order: one walk instead of an XPath
    search of the whole page for each property asked."""
    found: dict[tuple[str, str], list[str]] = {}
    for meta in _everywhere("meta")(tree):
        content = meta.get("content")
        if content is not None:
            for attribute in ("property", "name", "itemprop"):
                value = meta.get(attribute)
                if value is not None:
                    found.setdefault((attribute, value), []).append(content)
    return found


def _first_meta(metas: dict[tuple[str, str], list[str]], *keys: tuple[str, str], skip: str = "") -> str | None:
    """The first non-blank content among the keys' metas (as _first reads '//meta[@name="x"]/@content')."""
    for key in keys:
        for content in metas.get(key, ()):
            text = " ".join(content.split())
            if text and not (skip and content.startswith(skip)):
                return text
    return None


def page_metadata(tree: Any) -> dict[str, str | None]:
    """Title, author, publication date and language a page states about itself (meta tags, h1, <time>)."""
    metas = _metas(tree)
    title = _first_meta(metas, ("property", "og:title"), ("name", "twitter:title")) or _first(tree, "(//h1)[1]//text()")
    if title is None:
        raw = _first(tree, "//title/text()")
        title = _SITE_SUFFIX_RE.sub("", raw) if raw else None  # "Headline — Site" -> "Headline"
    author = (
        _first_meta(metas, ("name", "author"))
        or _first_meta(metas, ("property", "article:author"), skip="http")
        or _first(tree, '//*[@rel="author"]//text()')
    )
    stamp = _first_meta(
        metas,
        ("property", "article:published_time"),
        ("name", "citation_publication_date"),
        ("itemprop", "datePublished"),
    ) or _first(tree, "//time/@datetime")
    date = stamp[:10] if stamp and re.match(r"\d{4}-\d\d-\d\d", stamp) else None
    language = _first(tree, "/html/@lang", '//meta[@http-equiv="content-language"]/@content')
    return {"title": title, "author": author, "date": date, "language": language[:2] if language else None}


@functools.cache
def _page_parser() -> Any:
    """trafilatura's HTML parser settings, with lxml's element classes chosen in C.

    lxml.html's own lookup is a Python method called for every element a walk touches (a form's
    inputs get their own classes): over 150 calls a page, 7 % of an extraction. trafilatura needs
    only HtmlElement's methods (text_content), which every element still has."""
    from lxml import etree
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(
        collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
    )
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=lxml_html.HtmlElement,
            comment=lxml_html.HtmlComment,
            pi=lxml_html.HtmlProcessingInstruction,
            entity=lxml_html.HtmlEntity,
        )
    )
    return parser


def parse_page(html: str) -> Any:
    """A page's tree as trafilatura's load_html makes it (repaired, a str that declares its encoding
    parsed as bytes, a page without <html> and with a lone element refused), on the faster parser."""
    from lxml import etree
    from lxml.html import fromstring
    from trafilatura.utils import is_dubious_html, repair_faulty_html

    beginning = html[:50].lower()
    html = repair_faulty_html(html, beginning)
    tree = None
    with contextlib.suppress(ValueError, etree.LxmlError):  # "Unicode strings with encoding declaration..."
        tree = fromstring(html, parser=_page_parser())
    if tree is None or len(tree) < 1:
        try:
            tree = fromstring(html.encode("utf-8", "surrogatepass"), parser=_page_parser())
        except (ValueError, etree.LxmlError):
            return None
    if is_dubious_html(beginning) and len(tree) < 2:
        return None
    return tree


# An article this long from trafilatura's own extractor is taken as it is: trafilatura itself skips its
# fallbacks past ten times its minimum extracted size when it favours recall. Shorter texts get the whole
# cascade (readability and jusText compared), which costs about half again as much.
LONG_TEXT = 2_500


@functools.cache
def _options(fast: bool) -> Any:
    """trafilatura's settings for our extraction, made once per worker (reading them costs a configparser walk)."""
    from trafilatura.settings import Extractor

    return Extractor(output_format="python", fast=fast, comments=False, tables=True, with_metadata=False)


_OUTSIDE_THE_STORY = frozenset({"header", "nav", "aside", "footer"})


def _in_the_story(paragraph: Any) -> bool:
    """Whether a <p> may hold an article's text: not in a page's header, navigation, aside or footer, nor
    in its readers' comments (trafilatura drops those, so they must not promise a long text)."""
    for element in itertools.chain((paragraph,), paragraph.iterancestors()):
        if element is not paragraph and element.tag in _OUTSIDE_THE_STORY:
            return False
        if "comment" in (element.get("class") or "") or "comment" in (element.get("id") or ""):
            return False
    return True


def _paragraphs_hold_a_long_text(tree: Any) -> bool:
    """Whether the page's story paragraphs hold LONG_TEXT characters: where an article's text is, when long.

    Only then is trafilatura's own extractor tried alone first; a short article goes straight to the
    full cascade, in one pass (both passes on a short page cost 1.7 times trafilatura's default).
    The paragraphs are read in document order until they are enough: an article's first few."""
    total = 0
    for paragraph in _everywhere("p")(tree):
        if _in_the_story(paragraph):
            total += len(paragraph.text_content())
            if total >= LONG_TEXT:
                return True
    return False


# A page with more elements than this gets trafilatura's own extractor only, without the fallbacks: the
# jusText rescue compares each short block with its neighbours' runs, quadratic in the blocks (34 s for a
# page of 20,000 one-line rows, as a script-built table or an endless feed renders). News pages have
# one to three thousand elements.
MAX_CASCADE_ELEMENTS = 10_000


def _too_many_blocks(tree: Any) -> bool:
    return next(itertools.islice(tree.iter(), MAX_CASCADE_ELEMENTS, None), None) is not None


def _main_text(tree: Any, url: str) -> Any:
    """trafilatura's document for a parsed page: its own extractor alone when the page holds a long text
    and it finds one, else the full cascade (trafilatura's default).

    trafilatura works on a copy of the tree, so a second pass starts from the same page."""
    import trafilatura

    from archiver.judging.xpathwalks import install

    install()  # trafilatura's boilerplate expressions walked by tag: the same elements, cheaper

    def extraction(fast: bool) -> Any:
        options = copy.copy(_options(fast))
        options.url = options.source = url or None
        return trafilatura.bare_extraction(tree, options=options)

    if _too_many_blocks(tree):
        return extraction(fast=True)  # jusText's rescue is quadratic in a page's blocks: minutes on 20,000
    if _paragraphs_hold_a_long_text(tree):
        document = extraction(fast=True)
        if document is not None and len(getattr(document, "text", None) or "") >= LONG_TEXT:
            return document
    return extraction(fast=False)


def _html(data: bytes, content_type: str, url: str) -> Extracted:
    html = decode_html(data, content_type)
    host = (urlsplit(url).hostname or "").lower()
    if host in TELEGRAM_HOSTS:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, "lxml")
        text, how = _telegram_post(soup, url)
        title = soup.title.get_text(strip=True) if soup.title else None
        return Extracted("telegram", text, title=title, extractor=how or "telegram")
    document: Any = None
    error: str | None = None
    meta: dict[str, str | None] = {}
    try:
        # Parsed once: the page's own metadata is read off the tree (a few XPath lookups) before
        # trafilatura extracts from the same tree; its metadata pass (htmldate, author heuristics)
        # would cost more than the extraction itself.
        tree = parse_page(html)
        if tree is not None:
            meta = page_metadata(tree)
            document = _main_text(tree, url)
    except MemoryError:
        raise  # the page is too large for this worker: the pool says so and replaces it
    except Exception as exc:
        error = f"trafilatura: {exc}"
    text = getattr(document, "text", None)
    if text:
        return Extracted(
            "html",
            _tidy(text),
            title=meta.get("title"),
            authors=meta.get("author"),
            date=meta.get("date"),
            language=meta.get("language"),
            extractor="trafilatura",
            error=error,
        )
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    for tag in soup(["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form"]):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    text = _tidy(root.get_text("\n"))
    title = soup.title.get_text(strip=True) if soup.title else None
    lang = soup.html.get("lang") if soup.html else None
    return Extracted(
        "html",
        text or None,
        title=title,
        language=lang if isinstance(lang, str) else None,
        extractor="beautifulsoup",
        error=error,
    )


def _pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        return Extracted("pdf", None, extractor="pypdf", error=f"pypdf: {exc}")
    title = str(meta.title) if meta and meta.title else None
    author = str(meta.author) if meta and meta.author else None
    created = meta.creation_date.date().isoformat() if meta and meta.creation_date else None
    return Extracted(
        "pdf", _tidy("\n".join(pages)) or None, title=title, authors=author, date=created, extractor="pypdf"
    )


def _json_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _json_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _json_strings(item)]
    return []


def extract(data: bytes, content_type: str, url: str = "") -> Extracted:
    """The main text and metadata of a response body."""
    kind = sniff_kind(content_type, data[:1024], url)
    if kind == "html":
        return _html(data, content_type, url)
    if kind == "pdf":
        return _pdf(data)
    if kind == "json":
        try:
            strings = _json_strings(json.loads(decode_html(data, content_type)))
        except ValueError as exc:
            return Extracted("json", None, extractor="json", error=str(exc))
        return Extracted("json", _tidy("\n".join(strings)) or None, extractor="json")
    if kind == "text":
        return Extracted("text", _tidy(decode_html(data, content_type)) or None, extractor="text")
    return Extracted("binary", None, extractor="none")
