"""The CPU work on one body, run in a worker process: extract, store the text, read the page's signs, compare."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archiver.judging.compare import Comparison, compare
from archiver.judging.extract import Extracted, decode_html, extract, sniff_kind
from archiver.judging.gate import THIN, Wall, gate, wall_by_url, walled_text
from archiver.judging.signs import (
    PageSigns,
    page_title,
    read_signs,
    speaks_for_the_page,
    telegram_post_missing,
    visible_text,
)
from archiver.judging.workers import TOO_LARGE
from archiver.storage.searchtext import indexed
from archiver.storage.textstore import get_text, put_text

# Main texts up to this long travel back to the run (to compare with a soft-404 probe); articles do not.
SHORT_TEXT_BACK = 20_000
MAX_SIGNS_BYTES = 2 * 1024 * 1024
# Past this, an HTML page is not an article but a hazard: lxml's tree would take gigabytes.
MAX_PAGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Analysis:
    """What a worker made of a body."""

    extracted: Extracted | None  # None when the text was already known (an identical payload)
    text_digest: str | None
    comparison: Comparison | None
    signs: PageSigns | None
    short_text: str | None  # the main text when short, for the soft-404 probe
    stems: str | None = None  # a new text's words as the search index keeps them (made here, beside extraction)
    wall: Wall | None = None  # a shell or wall instead of the page: its text is neither kept nor compared
    replaces_first: bool = False  # the first text kept was a wall's words: this text becomes the cited one


def _signs(data: bytes, content_type: str, url: str, main_text: str | None) -> PageSigns | None:
    if sniff_kind(content_type, data[:1024], url) not in ("html", "text"):
        return None
    page = decode_html(data[:MAX_SIGNS_BYTES], content_type)
    # A main text that speaks for the page is read instead of its visible text: only the title is needed.
    title, text = (page_title(page), "") if speaks_for_the_page(main_text) else visible_text(page)
    return read_signs(title, text, main_text, telegram_missing=telegram_post_missing(url, page))


def analyse(
    root: str,
    decoded: str | bytes,
    content_type: str,
    url: str,
    first_digest: str | None,
    known_digest: str | None = None,
    extract_text: bool = True,
    link_url: str | None = None,
) -> Analysis:
    """Extract (unless the text is known), store the text once, read the signs, compare with the first text."""
    archive = Path(root)
    data = _read_body(decoded, content_type, url)
    extracted: Extracted | None = None
    if len(data) > MAX_PAGE_BYTES and sniff_kind(content_type, data[:1024], url) != "pdf":
        # No article is that long: its tree would take gigabytes. The capture is kept, the text is not made.
        size = len(decoded) if isinstance(decoded, bytes) else Path(decoded).stat().st_size
        extracted = Extracted("html", None, extractor="none", error=f"{TOO_LARGE} ({size / 2**20:.0f} MB of HTML)")
        return Analysis(extracted, None, None, None, None)
    if known_digest is not None:
        digest: str | None = known_digest
        text = get_text(archive, known_digest)
        # The same bytes as last time, but last time may have kept a shell's words (archived before the gate).
        kind = sniff_kind(content_type, data[:1024], url)
        known = Extracted(kind, text)
        wall = _gate(data, content_type, known, link_url or url, url) if kind == "html" else None
        if wall is not None:
            return Analysis(None, None, None, None, None, None, wall)
    elif extract_text:
        extracted = extract(data, content_type, url)
        text = extracted.text
        wall = _gate(data, content_type, extracted, link_url or url, url)
        if wall is not None:  # the wall's words are not the page's: nothing kept, nothing compared
            return Analysis(extracted, None, None, None, None, None, wall)
        digest = put_text(archive, text) if text else None
    else:
        digest, text = None, None
    comparison, replaces = _compare_first(archive, first_digest, digest, text)
    signs = _signs(data, content_type, url, text if extract_text or known_digest else None)
    short = text if text is not None and len(text) <= SHORT_TEXT_BACK else None
    # The search index's words of a text it cannot know yet, made here in parallel with the night rather
    # than by the run's own process after it (the first text and a known one are indexed already).
    stems = indexed(text) if text and digest not in (first_digest, known_digest) else None
    return Analysis(extracted, digest, comparison, signs, short, stems, None, replaces)


def _compare_first(
    archive: Path, first_digest: str | None, digest: str | None, text: str | None
) -> tuple[Comparison | None, bool]:
    """The comparison with the first text kept, and whether that text was a wall's words (archived before
    the gate), which this text then replaces as what the footnote cited."""
    if not first_digest or text is None:
        return None, False
    first = get_text(archive, first_digest) if first_digest != digest else text
    if first is None:
        return None, False
    if first_digest != digest and walled_text(first) and not walled_text(text):
        return None, True
    return compare(first, text), False


def _gate(data: bytes, content_type: str, extracted: Extracted, link_url: str, url: str) -> Wall | None:
    """The gate, for an HTML page (a PDF, a Telegram post's preview or a JSON answer is what it is)."""
    if extracted.kind != "html":
        return None
    by_url = wall_by_url(link_url, url)
    if by_url is not None or len((extracted.text or "").strip()) >= THIN:
        return by_url  # an article's own words: the page is not decoded again
    return gate(decode_html(data[:MAX_SIGNS_BYTES], content_type), extracted.text, link_url, url)


def analyse_given(root: str, extracted: Extracted, first_digest: str | None) -> Analysis:
    """The analysis of a text read from a site's endpoint (not extracted from a page): stored, compared."""
    archive = Path(root)
    text = extracted.text
    digest = put_text(archive, text) if text else None
    comparison, replaces = _compare_first(archive, first_digest, digest, text)
    short = text if text is not None and len(text) <= SHORT_TEXT_BACK else None
    stems = indexed(text) if text and digest != first_digest else None
    return Analysis(extracted, digest, comparison, None, short, stems, None, replaces)


def _read_body(body: str | bytes, content_type: str, url: str) -> bytes:
    """The body to extract from (its bytes, or its file): whole for a PDF, else up to one byte past MAX_PAGE_BYTES."""
    if isinstance(body, bytes):
        return body if sniff_kind(content_type, body[:1024], url) == "pdf" else body[: MAX_PAGE_BYTES + 1]
    with Path(body).open("rb") as file:
        head = file.read(1024)
        limit = None if sniff_kind(content_type, head, url) == "pdf" else MAX_PAGE_BYTES + 1 - len(head)
        return head + (file.read() if limit is None else file.read(limit))


def probe_text(decoded: str | bytes, content_type: str, url: str) -> str:
    """The main text of a soft-404 probe's answer."""
    data = _read_body(decoded, content_type, url)
    if len(data) > MAX_PAGE_BYTES and sniff_kind(content_type, data[:1024], url) != "pdf":
        return ""
    extracted = extract(data, content_type, url)
    return (extracted.text or "")[:SHORT_TEXT_BACK]


def compare_stored(root: str, first_digest: str | None, digest: str | None) -> Comparison | None:
    """Compare two stored texts (a 304's text is the last capture's)."""
    if not first_digest or not digest:
        return None
    if first_digest == digest:
        return Comparison(1.0, "")
    first, new = get_text(Path(root), first_digest), get_text(Path(root), digest)
    return compare(first, new) if first is not None and new is not None else None
