"""The report as written, each footnote link annotated with the copy archived for it.

As InternetArchiveBot adds archive-url/archive-date to Wikipedia's citations, and the Robust
Links convention (data-originalurl, data-versiondate, data-versionurl) marks links in HTML:
a reader one click from the source a dead footnote cited. Pure: text in, text out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # bs4 loads with the first HTML report annotated, not with every command
    from bs4 import BeautifulSoup
    from bs4.element import Tag

from archiver.reading.refang import clean_url, find_links, refang
from archiver.showing.sanitize import add_policy, sanitize

# A note's first line in text and Markdown reports: "[14] ...", "[^14]: ...", "14. ..." under a Notes heading.
_NOTE_START_RE = re.compile(r"^\s*(?:\[\^?(\d{1,4})\]:?|(\d{1,4})[.)])(?=\s|$)")
_ATTENTION = ("dead", "changed")


@dataclass(frozen=True, slots=True)
class LinkCopy:
    """What the archive holds for one footnote link."""

    url: str  # the clean URL the note cites
    verdict: str
    captured_at: str | None  # our capture the footnote cited (the first archived), ISO 8601
    copy_url: str | None  # where a reader can open a copy: our replay URL, else the web archive's memento
    copy_date: str | None  # that copy's date

    @property
    def mark(self) -> str:
        """ "(archived copy: URL, DATE)", "(archived DATE)" or "(not archived)"."""
        date = _day(self.copy_date or self.captured_at)
        if self.copy_url:
            return f"(archived copy: {self.copy_url}, {date})"
        return f"(archived {date})" if date else "(not archived)"


@dataclass(frozen=True, slots=True)
class Annotations:
    """Everything the annotated report needs to know, by footnote number."""

    links: dict[int, list[LinkCopy]]
    missing: list[int]  # cited in the body, no note
    published: str | None  # the citing report's publication date (Robust Links' data-versiondate)
    keep_defanged: bool = False


def _day(moment: str | None) -> str:
    return (moment or "")[:10]


def _by_url(annotations: Annotations) -> dict[str, LinkCopy]:
    return {copy.url: copy for copies in annotations.links.values() for copy in copies}


def annotate_text(text: str, annotations: Annotations, *, markdown: bool) -> str:
    """A plain-text or Markdown report with each note followed by what the archive holds for its links."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        match = _NOTE_START_RE.match(lines[index])
        number = int(match.group(1) or match.group(2)) if match else None
        if number is None or number not in annotations.links:
            out.append(lines[index])
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() and not _NOTE_START_RE.match(lines[end]):
            end += 1
        block = "\n".join(lines[index:end])
        out.append(_mark_links(block, annotations.links[number], annotations.keep_defanged, markdown))
        index = end
    out.append(_missing_text(annotations, markdown))
    return "\n".join(out).rstrip() + "\n"


def _mark_links(block: str, copies: list[LinkCopy], keep_defanged: bool, markdown: bool) -> str:
    """Each link of a note followed by its mark (and written clean unless asked to keep it de-fanged)."""
    by_url = {copy.url: copy for copy in copies}
    out, position = [], 0
    marked: set[str] = set()
    for found in find_links(block):
        if found.url is None or found.url not in by_url or found.url in marked:
            continue
        start = block.find(found.raw, position)
        if start < 0:
            continue
        end = start + len(found.raw)
        written = found.raw if keep_defanged else found.url
        out += [block[position:start], written, " ", _text_mark(by_url[found.url], markdown)]
        marked.add(found.url)
        position = end
    out.append(block[position:])
    unmarked = [copy for copy in copies if copy.url not in marked]  # a link the text does not show as written
    tail = (" " + " ".join(_text_mark(copy, markdown) for copy in unmarked)) if unmarked else ""
    return "".join(out).rstrip() + tail


def _text_mark(copy: LinkCopy, markdown: bool) -> str:
    if markdown and copy.copy_url:
        return f"(archived copy: <{copy.copy_url}>, {_day(copy.copy_date or copy.captured_at)})"
    return copy.mark


def _missing_text(annotations: Annotations, markdown: bool) -> str:
    if not annotations.missing:
        return ""
    heading = "## Footnotes cited without a note" if markdown else "Footnotes cited without a note"
    items = [
        f"- [{n}] cited in the body; the report gives no note, so there is no source to archive"
        for n in annotations.missing
    ]
    return "\n" + heading + "\n\n" + "\n".join(items) + "\n"


def annotate_html(text: str, annotations: Annotations) -> str:
    """An HTML report: Robust Links attributes on each footnote link, a visible mark after dead or changed ones."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "lxml")
    copies = _by_url(annotations)
    if not annotations.keep_defanged:
        _link_plain_urls(soup, copies)
    for anchor in soup.find_all("a", href=True):
        href = str(anchor["href"]).strip()
        url = clean_url(refang(href), explicit=True)
        if url is None or url not in copies:
            continue
        copy = copies[url]
        if not annotations.keep_defanged:
            anchor["href"] = url
            shown = anchor.get_text().strip()
            if shown != url and clean_url(refang(shown)) == url:
                anchor.string = url  # the visible de-fanged link, written clean
        anchor["data-originalurl"] = url
        anchor["data-versiondate"] = annotations.published or _day(copy.captured_at or copy.copy_date)
        if copy.copy_url:
            anchor["data-versionurl"] = copy.copy_url
        if copy.verdict in _ATTENTION:
            anchor.insert_after(_html_mark(soup, copy))
    body = soup.body or soup
    if annotations.missing:
        section = soup.new_tag("section", attrs={"class": "archiver-missing"})
        heading = soup.new_tag("h2")
        heading.string = "Footnotes cited without a note"
        section.append(heading)
        listing = soup.new_tag("ul")
        for n in annotations.missing:
            item = soup.new_tag("li")
            item.string = f"[{n}] cited in the body; the report gives no note, so there is no source to archive"
            listing.append(item)
        section.append(listing)
        body.append(section)
    return str(add_policy(sanitize(soup)))


def _html_mark(soup: BeautifulSoup, copy: LinkCopy) -> Tag:
    from bs4.element import NavigableString

    mark = soup.new_tag("span", attrs={"class": "archiver-archived"})
    date = _day(copy.copy_date or copy.captured_at)
    mark.append(NavigableString(" ["))
    if copy.copy_url:
        link = soup.new_tag("a", href=copy.copy_url, attrs={"rel": "nofollow"})
        link.string = f"archived {date}".strip()
        mark.append(link)
    else:
        mark.append(NavigableString(f"archived {date}".strip() if date else "not archived"))
    mark.append(NavigableString(f"; {copy.verdict}]"))
    return mark


def _link_plain_urls(soup: BeautifulSoup, copies: dict[str, LinkCopy]) -> None:
    """De-fanged links written as text become real links (then annotated like the others)."""
    from bs4.element import NavigableString

    for node in list(soup.find_all(string=True)):
        if not isinstance(node, NavigableString) or node.find_parent(["a", "script", "style", "head"]):
            continue
        text = str(node)
        found = [f for f in find_links(text) if f.url in copies and f.raw in text]
        if not found:
            continue
        pieces: list[NavigableString | Tag] = []
        rest = text
        for item in found:
            before, _, rest = rest.partition(item.raw)
            pieces.append(NavigableString(before))
            anchor = soup.new_tag("a", href=item.url or "")
            anchor.string = item.url or item.raw
            pieces.append(anchor)
        pieces.append(NavigableString(rest))
        for piece in pieces:
            node.insert_before(piece)
        node.extract()


def text_to_html(text: str, title: str | None) -> str:
    """A plain-text or Markdown report as simple HTML: paragraphs, notes with ids, links as links.

    Built from segments: the text between links escaped, each link an element whose href is escaped
    as an attribute, never a substitution inside HTML already escaped (where one link's text found
    inside another's URL would land in its href and open it to new attributes)."""
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title or 'Report')}</title></head><body>"
    ]
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        match = _NOTE_START_RE.match(paragraph)
        ident = f' id="fn-{match.group(1) or match.group(2)}"' if match else ""
        parts.append(f"<p{ident}>{_paragraph_html(paragraph)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _paragraph_html(paragraph: str) -> str:
    """One paragraph's HTML: escaped text, and each found link an <a> around its text as written."""
    pieces: list[str] = []
    position = 0
    for found in find_links(paragraph):
        start = paragraph.find(found.raw, position) if found.url else -1
        if start < 0:
            continue
        pieces.append(_escaped_lines(paragraph[position:start]))
        href = html.escape(found.url or "", quote=True)
        pieces.append(f'<a href="{href}">{_escaped_lines(found.raw)}</a>')
        position = start + len(found.raw)
    pieces.append(_escaped_lines(paragraph[position:]))
    return "".join(pieces)


def _escaped_lines(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


def html_to_text(text: str) -> str:
    """An HTML report's text, a paragraph a block, links written out (for a Markdown or text export)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "lxml")
    for anchor in soup.find_all("a", href=True):
        href = str(anchor["href"])
        if href.startswith(("http", "hxxp")) and href not in anchor.get_text():
            anchor.append(f" {href}")
    for block in soup.find_all(["p", "li", "h1", "h2", "h3", "div"]):
        block.insert_after("\n\n")
    lists = soup.find_all("ol")
    if lists:  # the notes are the last numbered list: written "[N] ..." as text reports write them
        for position, item in enumerate(lists[-1].find_all("li", recursive=False), start=1):
            if not _NOTE_START_RE.match(item.get_text()):
                item.insert(0, f"[{position}] ")
    return re.sub(r"\n{3,}", "\n\n", (soup.body or soup).get_text()).strip() + "\n"
