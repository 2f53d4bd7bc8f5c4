"""Parse plain-text and Markdown reports: "[N] ..." notes, "[^N]:" footnotes, numbered Notes lists."""

from __future__ import annotations

import re

from archiver.reading.refang import START_RE
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
)

_SPACE = r"[ \t\u00a0\u2002-\u200a\u202f]"
_BRACKET_NOTE_RE = re.compile(r"^" + _SPACE + r"*\[(\^?)(\d{1,4})\](:?)" + _SPACE + r"*(.*)$")
_LIST_NOTE_RE = re.compile(r"^" + _SPACE + r"*(\d{1,4})[.)]" + _SPACE + r"+(.*)$")
_NOTES_HEADING_RE = re.compile(
    r"^[#*_\s]*(notes|endnotes|footnotes|references|sources|citations|"
    r"примечания|сноски|источники|ссылки|крыніцы|заўвагі|джерела|примітки)[*_:\s]*$",
    re.IGNORECASE,
)
# A label alone on its line ("File Attachments:", "Offsite Authors:") ends the notes.
_FOOTER_RE = re.compile(r"^\s*[A-Z][\w ]{0,40}:\s*$")
_HEADING_RE = re.compile(r"^\s*#{1,6}\s")
_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\((<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+\"[^\"]*\")?\)")
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!~|])")
_LINK_LINE_RE = re.compile(r"^[\s;,]*" + START_RE.pattern, re.IGNORECASE)
_FRONT_MATTER_RE = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.DOTALL)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    fields: dict[str, str] = {}
    for line in match.group(1).split("\n"):
        key, colon, value = line.partition(":")
        if colon and key.strip() and not key.startswith((" ", "\t", "-")):
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def _segments(text: str, markdown: bool) -> tuple[Segment, ...]:
    """A note's text as pieces: Markdown links give their target as an href."""
    if not markdown:
        return (Segment(text),)
    pieces: list[Segment] = []
    position = 0
    for match in _MD_LINK_RE.finditer(text):
        pieces.append(Segment(_MD_ESCAPE_RE.sub(r"\1", text[position : match.start()])))
        pieces.append(Segment(match.group(2).strip("<>"), is_href=True))
        pieces.append(Segment(_MD_ESCAPE_RE.sub(r"\1", match.group(1))))
        position = match.end()
    pieces.append(Segment(_MD_ESCAPE_RE.sub(r"\1", text[position:])))
    return tuple(p for p in pieces if p.text)


def _orphan_link_line(lines: list[str], blank: int) -> bool:
    """Whether the next non-blank line after this blank one is only more links for the same note."""
    for line in lines[blank + 1 :]:
        if line.strip():
            return bool(_LINK_LINE_RE.match(line)) and not _BRACKET_NOTE_RE.match(line)
    return False


def _ends_note(line: str, markdown: bool) -> bool:
    return (
        not line.strip()
        or _BRACKET_NOTE_RE.match(line) is not None
        or _FOOTER_RE.match(line) is not None
        or (markdown and _HEADING_RE.match(line) is not None)
        or _NOTES_HEADING_RE.match(line) is not None
    )


def _collect(lines: list[str], markdown: bool) -> tuple[dict[int, list[str]], set[int]]:
    """Note number -> its texts, and the indexes of the lines that belong to notes."""
    notes: dict[int, list[str]] = {}
    used: set[int] = set()
    in_list_section = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _NOTES_HEADING_RE.match(line):
            in_list_section = True
            used.add(i)
            i += 1
            continue
        bracket = _BRACKET_NOTE_RE.match(line)
        listed = _LIST_NOTE_RE.match(line) if in_list_section and not bracket else None
        if not bracket and not listed:
            if markdown and _HEADING_RE.match(line):
                in_list_section = False
            i += 1
            continue
        if bracket:
            caret, number, colon, first = bracket.groups()
            footnote_def = bool(caret and colon)
        else:
            number, first = listed.groups() if listed else ("0", "")
            footnote_def = False
        body = [first]
        used.add(i)
        j = i + 1
        while j < len(lines):
            following = lines[j]
            if (
                footnote_def
                and not following.strip()
                and j + 1 < len(lines)
                and lines[j + 1].startswith(("    ", "\t"))
            ):
                body.append("")  # a blank line inside an indented multi-paragraph footnote
                used.add(j)
                j += 1
                continue
            if not following.strip() and _orphan_link_line(lines, j):
                j += 1  # a note's links continued after a blank line
                continue
            if _ends_note(following, markdown) or (in_list_section and _LIST_NOTE_RE.match(following)):
                break
            body.append(following.strip())
            used.add(j)
            j += 1
        for n, text in _split_run_on(int(number), "\n".join(body).strip()):
            notes.setdefault(n, []).append(text)
        i = j
    return notes, used


_INLINE_NOTE_RE = re.compile(r"(?<=[\s;,.])\[(\d{1,4})\](?=[\s\u00a0;:]|h..ps?:|www\.)", re.IGNORECASE)


def _split_run_on(n: int, text: str) -> list[tuple[int, str]]:
    """Notes that lost their line breaks ("[1] url; [2] url"): split at the following numbers, in order."""
    parts: list[tuple[int, str]] = []
    current, start = n, 0
    for match in _INLINE_NOTE_RE.finditer(text):
        following = int(match.group(1))
        if current < following <= current + 20:
            parts.append((current, text[start : match.start()].strip()))
            current, start = following, match.end()
    parts.append((current, text[start:].strip(" \t\u00a0")))
    return parts


def parse(text: str, *, stem: str, path: str, markdown: bool) -> Report:
    """Parse a plain-text or Markdown report."""
    fields, content = _front_matter(text.lstrip("\ufeff"))
    lines = content.split("\n")
    notes_by_n, used = _collect(lines, markdown)
    body = "\n".join(line for i, line in enumerate(lines) if i not in used)

    head_lines = [line.strip() for line in lines if line.strip()][:15]
    title = fields.get("title")
    if not title and markdown:
        title = next((line.lstrip("#").strip() for line in lines if re.match(r"^#\s", line)), None)
    if not title and head_lines:
        title = head_lines[0].lstrip("#").strip().strip("*_").strip() or None
    header = header_lines(lines)
    first_paragraph = next((line for line in lines if line.strip() and line.strip() not in header), "")
    published = find_date(fields.get("date", "")) or find_publication_date(lines, first_paragraph)
    authors = split_authors(fields["author"]) if fields.get("author") else find_authors(head_lines[:10])
    footer_authors = _footer_authors(lines)
    authors = tuple(dict.fromkeys(authors + footer_authors))

    notes = tuple(
        Note(n, "\n".join(texts), _segments("\n".join(texts), markdown)) for n, texts in sorted(notes_by_n.items())
    )
    citations = find_citations(body, set(notes_by_n))
    return Report(
        stem=stem,
        path=path,
        format="markdown" if markdown else "text",
        title=title,
        published=published,
        authors=authors,
        body=body,
        citations=citations,
        notes=notes,
    )


_AUTHORS_LABEL_RE = re.compile(r"\s*(?:offsite\s+)?authors?\s*", re.IGNORECASE)


def _footer_authors(lines: list[str]) -> tuple[str, ...]:
    """Names listed under an "Authors:" label at the foot of the report, in one pass over the lines."""
    names: list[str] = []
    listing = False  # inside the lines that follow an "Authors:" label
    for line in lines:
        label, colon, rest = line.partition(":")
        if colon and _AUTHORS_LABEL_RE.fullmatch(label):
            listing = True
            if rest.strip():
                names.extend(split_authors(rest))
        elif listing and (not line.strip() or _FOOTER_RE.match(line)):
            listing = False
        elif listing:
            names.extend(split_authors(line))
    return tuple(names)
