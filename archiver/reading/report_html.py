"""Parse HTML reports: ordered lists of notes, "<p>[N] ...</p>", footnote sections, hrefs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup
from bs4.element import Comment, NavigableString, Tag

from archiver.reading.reports import (
    Note,
    Report,
    Segment,
    find_authors,
    find_citations,
    find_date,
    find_publication_date,
    header_lines,
    split_authors,
    tidy,
)

_BLOCKS = {
    "p",
    "div",
    "li",
    "ol",
    "ul",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "section",
    "article",
    "blockquote",
    "dd",
    "dt",
    "hr",
    "pre",
    "header",
    "footer",
    "aside",
}
_SKIP = {"script", "style", "template", "noscript", "head"}
_MARKER_RE = re.compile(
    r"^[\s\u00a0]*\[?\^?(\d{1,4})\][\s\u00a0]*|^[\s\u00a0]*(\d{1,4})(?:[.):][\s\u00a0]*|[\s\u00a0]+)"
)
_BRACKET_START_RE = re.compile(r"^[\s\u00a0]*\[(\d{1,4})\]")
_NUMBERED_START_RE = re.compile(r"^[\s\u00a0]*(\d{1,4})(?:[.):]|[\s\u00a0])")
_NOTE_ID_RE = re.compile(r"^(?:fn|footnote|endnote|note|_?ftn|_?edn)[-_:]?(\d{1,4})$", re.IGNORECASE)
_NOTES_HEADING_RE = re.compile(
    r"^\s*(notes|endnotes|footnotes|references|sources|citations|примечания|сноски|источники)\s*:?\s*$",
    re.IGNORECASE,
)
_BACKREF_RE = re.compile(r"[\u21a9\ufe0e\ufe0f]")


def _walk(node: Tag, base: str = "") -> Iterator[Segment]:
    """The text and link targets under a node, in document order. Iterative: a report of a thousand
    nested elements must not exhaust Python's recursion limit."""
    stack: list[Any] = [iter(node.children)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        if isinstance(child, _BlockEnd):
            yield Segment("\n")
        elif isinstance(child, Comment):
            continue
        elif isinstance(child, NavigableString):
            yield Segment(str(child))
        elif isinstance(child, Tag):
            if child.name in _SKIP:
                continue
            if child.name == "br":
                yield Segment("\n")
                continue
            href = child.get("href") if child.name == "a" else None
            if isinstance(href, str) and href.strip() and not href.strip().startswith("#"):
                target = href.strip()
                if base and not _SCHEMED_RE.match(target):
                    target = urljoin(base, target)  # a report page's relative link, against the page's URL
                yield Segment(target, is_href=True)
            if child.name in _BLOCKS:
                stack.append(iter((_BLOCK_END,)))  # the block's line break, once its children are done
            stack.append(iter(child.children))


_SCHEMED_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_CANONICAL_RE = re.compile(r"<link\b[^>]*\brel=[\"']?canonical\b[^>]*>", re.IGNORECASE)
_HREF_RE = re.compile(r"\bhref=[\"']?([^\"'\s>]+)", re.IGNORECASE)


def canonical_link(text: str, base: str) -> str | None:
    """The page's own rel=canonical URL (absolute), if it names one."""
    tag = _CANONICAL_RE.search(text[:200_000])
    href = _HREF_RE.search(tag.group(0)) if tag else None
    return urljoin(base, href.group(1).strip()) if href else None


class _BlockEnd:
    """Marks where a block element's children end on _walk's stack."""


_BLOCK_END = _BlockEnd()


def _merge(segments: Iterator[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for segment in segments:
        if merged and not segment.is_href and not merged[-1].is_href:
            merged[-1] = Segment(merged[-1].text + segment.text)
        else:
            merged.append(segment)
    return merged


def _tidy(text: str) -> str:
    return tidy(_BACKREF_RE.sub("", text))


def _note(n: int, element: Tag, strip_marker: bool, base: str = "") -> Note:
    segments = _merge(_walk(element, base))
    if strip_marker:
        for index, segment in enumerate(segments):
            if segment.is_href:
                continue
            if segment.text.strip():
                segments[index] = Segment(_MARKER_RE.sub("", segment.text, count=1))
                break
    text = _tidy("".join(s.text for s in segments if not s.is_href))
    kept = tuple(s if s.is_href else Segment(_BACKREF_RE.sub("", s.text)) for s in segments if s.text.strip())
    return Note(n, text, kept)


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_LABELS = frozenset({"p", "strong", "b"})


@dataclass(frozen=True, slots=True)
class _Before:
    """The nearest heading, the nearest "label" element (p, strong, b), and the nearer of the two (marker)
    before an element."""

    heading: Tag | None
    label: Tag | None
    marker: Tag | None


def _preceding(soup: BeautifulSoup) -> dict[int, _Before]:
    """For every element (by id), what precedes it in document order: one pass over the tree, where
    calling find_previous per element walks back over the whole page each time (quadratic)."""
    found: dict[int, _Before] = {}
    heading: Tag | None = None
    label: Tag | None = None
    marker: Tag | None = None
    for element in soup.descendants:
        if not isinstance(element, Tag):
            continue
        found[id(element)] = _Before(heading, label, marker)
        if element.name in _HEADINGS:
            heading = marker = element
        elif element.name in _LABELS:
            label = marker = element
    return found


def _is_notes_heading(element: Tag | None) -> bool:
    return element is not None and bool(_NOTES_HEADING_RE.match(element.get_text(" ", strip=True)))


def _after_notes_heading(before: _Before) -> bool:
    """Whether the nearest heading before an element is a Notes/Endnotes/Sources heading (or a label)."""
    return _is_notes_heading(before.heading) or _is_notes_heading(before.label)


def _notes_lists(soup: BeautifulSoup, before: dict[int, _Before]) -> Iterator[Tag]:
    """Ordered lists that hold notes: in a footnotes section, after a Notes heading, or, failing
    those, a last list whose items are mostly links (a report's notes come after its body)."""
    found = False
    lists = [ol for ol in soup.find_all("ol") if not ol.find_parent("ol")]
    for ol in lists:
        container = ol.find_parent(class_=re.compile(r"foot|end|note", re.IGNORECASE))
        if container is not None or _is_notes_heading(before[id(ol)].marker) or ol.find(id=_NOTE_ID_RE):
            found = True
            yield ol
    if not found and lists:
        last = lists[-1]
        items = last.find_all("li", recursive=False)
        linked = [
            li
            for li in items
            if li.find("a", href=re.compile(r"^\s*h..ps?:", re.IGNORECASE))
            or re.search(r"h..ps?(?::|\[:\])//", li.get_text(), re.IGNORECASE)
        ]
        prose_after = [p for p in last.find_all_next("p") if len(p.get_text(strip=True)) > 80]
        if items and len(linked) * 2 >= len(items) and not prose_after:
            yield last


_NOTE_BLOCKS = frozenset({"p", "div", "li", "dd", "span"})
_INNER_BLOCKS = frozenset({"p", "div", "li"})
_LEADING = 40  # characters of a block's text enough to see whether it starts with a note's marker


def _holding_blocks(tags: list[Tag]) -> set[int]:
    """The ids of the elements that hold a p, div or li: one pass from the last element back (a
    descendant comes after its ancestor in document order), instead of a search of each subtree."""
    holding: set[int] = set()
    for element in reversed(tags):
        parent = element.parent
        if parent is not None and (element.name in _INNER_BLOCKS or id(element) in holding):
            holding.add(id(parent))
    return holding


def _leading_text(element: Tag) -> str:
    """The start of an element's text: enough for its marker, without joining all of a long note."""
    pieces: list[str] = []
    size = 0
    for string in element.strings:
        pieces.append(string)
        size += len(string.strip())
        if size >= _LEADING:
            break
    return "".join(pieces)


_NOT_HEADER = ("footer", "aside", "nav", "ol", "ul", "table", "script", "style", "template")


def _top_lines(soup: BeautifulSoup, limit: int = 15) -> list[str]:
    """The page's first lines of text, one per element, leaving out footers, lists, asides and navigation."""
    lines: list[str] = []
    root = soup.body or soup
    for string in root.find_all(string=True):
        if string.find_parent(_NOT_HEADER):
            continue
        text = " ".join(str(string).split())
        if not text:
            continue
        if lines and string.find_parent(["sup", "a", "span", "em", "strong", "b", "i"]):
            lines[-1] += text  # inline: part of the line before it
        else:
            lines.append(text)
        if len(lines) >= limit:
            break
    return lines


def parse(text: str, *, stem: str, path: str, base: str = "") -> Report:
    """Parse an HTML report (base: the URL of a report page, for its relative links)."""
    soup = BeautifulSoup(text, "lxml")
    notes: dict[int, Note] = {}
    note_elements: list[Tag] = []

    before = _preceding(soup)
    for ol in _notes_lists(soup, before):
        start = ol.get("start")
        number = int(start) if isinstance(start, str) and start.strip().isdigit() else 1
        for li in ol.find_all("li", recursive=False):
            value = li.get("value")
            if isinstance(value, str) and value.strip().isdigit():
                number = int(value)
            notes.setdefault(number, _note(number, li, strip_marker=False, base=base))
            note_elements.append(li)
            number += 1

    tags = [element for element in soup.descendants if isinstance(element, Tag)]
    holds_block = _holding_blocks(tags)
    in_note = {id(e) for e in note_elements}  # the notes and, as the walk meets them, what they hold
    for element in tags:
        parent = element.parent
        if id(element) in in_note or (parent is not None and id(parent) in in_note):
            in_note.add(id(element))
            continue
        if element.name not in _NOTE_BLOCKS or id(element) in holds_block:
            continue  # the innermost block that starts with the marker is the note
        text = _leading_text(element)
        match = _BRACKET_START_RE.match(text)
        if match is None and element.name in ("p", "div") and _after_notes_heading(before[id(element)]):
            match = _NUMBERED_START_RE.match(text)  # "1. ...", "<sup>1</sup> ..." under a Notes heading
        id_match = _NOTE_ID_RE.match(str(element.get("id") or ""))
        if match or (id_match and element.name != "span"):
            n = int(match.group(1)) if match else int(id_match.group(1)) if id_match else 0
            if n and n not in notes:
                notes[n] = _note(n, element, strip_marker=True, base=base)
                note_elements.append(element)
                in_note.add(id(element))

    for element in note_elements:
        element.extract()
    citations_html = " ".join(
        f"[{m.group(1)}]"
        for a in soup.find_all("a", href=True)
        if (m := re.match(r"^#(?:fn|footnote|endnote|_?ftn|_?edn)[-_:]?(\d{1,4})$", str(a["href"]), re.IGNORECASE))
    )
    # "<sup>3</sup>" in the body cites note 3, noted or not (a cited footnote without a note is "missing");
    # past the notes' last number by far it is an exponent, not a citation.
    ceiling = max(notes, default=0) + 20 if notes else 0
    citations_html += " " + " ".join(
        f"[{number}]"
        for sup in soup.find_all("sup")
        if (m := re.fullmatch(r"\s*\[?(\d{1,4})\]?\s*", sup.get_text())) and 0 < (number := int(m.group(1))) <= ceiling
    )
    body = _tidy("".join(s.text for s in _walk(soup) if not s.is_href))

    title_tag = soup.find("h1")
    og = soup.find("meta", attrs={"property": "og:title"})
    title = (
        (title_tag.get_text(" ", strip=True) if title_tag else None)
        or (str(og.get("content")) if og and og.get("content") else None)
        or (soup.title.get_text(" ", strip=True) if soup.title else None)
    )
    published = None
    meta_dates: list[dict[str, Any]] = [
        {"property": "article:published_time"},
        {"name": "citation_publication_date"},
        {"name": "date"},
        {"name": "dc.date"},
        {"itemprop": "datePublished"},
    ]
    for attrs in meta_dates:
        meta = soup.find("meta", attrs=attrs)
        if meta and meta.get("content"):
            published = find_date(str(meta["content"]))
            if published:
                break
    # A <time> of the report's own header, not one in a footer, an aside or a note.
    time_tag = next((t for t in soup.find_all("time") if not t.find_parent(["footer", "aside", "ol", "li"])), None)
    if not published and time_tag:
        published = find_date(str(time_tag.get("datetime") or time_tag.get_text()))
    head_lines = body.split("\n")[:15]
    if not published:
        top = _top_lines(soup)
        header = header_lines(top)
        first_paragraph = next((line for line in top if line.strip() and line.strip() not in header), "")
        published = find_publication_date(top, first_paragraph)
    meta_author = soup.find("meta", attrs={"name": "author"})
    authors = (
        split_authors(str(meta_author["content"]))
        if meta_author and meta_author.get("content")
        else find_authors(head_lines)
    )

    return Report(
        stem=stem,
        path=path,
        format="html",
        title=title,
        published=published,
        authors=authors,
        body=body,
        citations=find_citations(body + " " + citations_html, set(notes)),
        notes=tuple(notes[n] for n in sorted(notes)),
    )
