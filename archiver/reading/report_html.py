"""Parse HTML reports: ordered lists of notes, "<p>[N] ...</p>", footnote sections, hrefs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

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


def _walk(node: Tag) -> Iterator[Segment]:
    for child in node.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            yield Segment(str(child))
        elif isinstance(child, Tag):
            if child.name in _SKIP:
                continue
            if child.name == "br":
                yield Segment("\n")
                continue
            href = child.get("href") if child.name == "a" else None
            if isinstance(href, str) and href.strip() and not href.strip().startswith("#"):
                yield Segment(href.strip(), is_href=True)
            yield from _walk(child)
            if child.name in _BLOCKS:
                yield Segment("\n")


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


def _note(n: int, element: Tag, strip_marker: bool) -> Note:
    segments = _merge(_walk(element))
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


def _after_notes_heading(element: Tag) -> bool:
    """Whether the nearest heading before an element is a Notes/Endnotes/Sources heading."""
    heading = element.find_previous(["h1", "h2", "h3", "h4", "h5", "h6"])
    if heading is not None and _NOTES_HEADING_RE.match(heading.get_text(" ", strip=True)):
        return True
    label = element.find_previous(["p", "strong", "b"])
    while label is not None and label.find_parent("p") is element:
        label = label.find_previous(["p", "strong", "b"])
    return label is not None and bool(_NOTES_HEADING_RE.match(label.get_text(" ", strip=True)))


def _notes_lists(soup: BeautifulSoup) -> Iterator[Tag]:
    """Ordered lists that hold notes: in a footnotes section, after a Notes heading, or, failing
    those, a last list whose items are mostly links (a report's notes come after its body)."""
    found = False
    lists = [ol for ol in soup.find_all("ol") if not ol.find_parent("ol")]
    for ol in lists:
        container = ol.find_parent(class_=re.compile(r"foot|end|note", re.IGNORECASE))
        previous = ol.find_previous(["h1", "h2", "h3", "h4", "h5", "h6", "p", "strong", "b"])
        heading = previous.get_text(" ", strip=True) if previous else ""
        if container is not None or _NOTES_HEADING_RE.match(heading) or ol.find(id=_NOTE_ID_RE):
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


def parse(text: str, *, stem: str, path: str) -> Report:
    """Parse an HTML report."""
    soup = BeautifulSoup(text, "lxml")
    notes: dict[int, Note] = {}
    note_elements: list[Tag] = []

    for ol in _notes_lists(soup):
        start = ol.get("start")
        number = int(start) if isinstance(start, str) and start.strip().isdigit() else 1
        for li in ol.find_all("li", recursive=False):
            value = li.get("value")
            if isinstance(value, str) and value.strip().isdigit():
                number = int(value)
            notes.setdefault(number, _note(number, li, strip_marker=False))
            note_elements.append(li)
            number += 1

    for element in soup.find_all(["p", "div", "li", "dd", "span"]):
        if any(element is e or e in element.parents for e in note_elements):
            continue
        if element.find(["p", "div", "li"]):
            continue  # the innermost block that starts with the marker is the note
        text = element.get_text()
        match = _BRACKET_START_RE.match(text)
        if match is None and element.name in ("p", "div") and _after_notes_heading(element):
            match = _NUMBERED_START_RE.match(text)  # "1. ...", "<sup>1</sup> ..." under a Notes heading
        id_match = _NOTE_ID_RE.match(str(element.get("id") or ""))
        if match or (id_match and element.name != "span"):
            n = int(match.group(1)) if match else int(id_match.group(1)) if id_match else 0
            if n and n not in notes:
                notes[n] = _note(n, element, strip_marker=True)
                note_elements.append(element)

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
