"""Turn a report's notes into footnotes: numbers, re-fanged links and problems."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from archiver.reading.refang import clean_url, find_links, refang, unique
from archiver.reading.reports import Note, Report

_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


class Problem(StrEnum):
    """What can be wrong with a footnote."""

    MISSING = "missing"  # cited in the body, no note
    EMPTY = "empty"  # a note with no link
    UNPARSED = "unparsed"  # link-like text that is not a usable URL


@dataclass(frozen=True, slots=True)
class Footnote:
    """One footnote number of a report and the links its note gives."""

    n: int
    text: str | None
    urls: tuple[str, ...]
    problems: tuple[Problem, ...]
    unparsed: tuple[str, ...] = ()


def _is_prefix_display(link: str, href: str) -> bool:
    """A shortened display of the href before it ("https://site/long-pa...")."""
    return href.startswith(link.rstrip("/")) and link != href


def note_links(note: Note) -> tuple[list[str], list[str]]:
    """The note's usable URLs in order (deduplicated) and its unreadable link-like pieces."""
    urls: list[str] = []
    unparsed: list[str] = []
    previous_href: str | None = None
    for segment in note.segments:
        if segment.is_href:
            fixed = refang(segment.text)
            url = clean_url(fixed, explicit=True)  # an href is taken as written
            if url:
                urls.append(url)
            elif _SCHEME_RE.match(fixed):
                unparsed.append(segment.text)  # mailto:, javascript:, a broken http link
            previous_href = url
            continue
        for found in find_links(segment.text):
            if found.url is None:
                unparsed.append(found.raw)
            elif previous_href and _is_prefix_display(found.url, previous_href):
                continue
            else:
                urls.append(found.url)
        previous_href = None
    return unique(urls), unique(unparsed)


def footnotes(report: Report) -> list[Footnote]:
    """Every footnote number noted or cited, in order, with its links and problems."""
    by_n = {note.n: note for note in report.notes}
    cited = set(report.citations)
    result: list[Footnote] = []
    for n in sorted(set(by_n) | cited):
        note = by_n.get(n)
        if note is None:
            result.append(Footnote(n, None, (), (Problem.MISSING,)))
            continue
        urls, unparsed = note_links(note)
        problems: list[Problem] = []
        if not urls:
            problems.append(Problem.EMPTY)
        if unparsed:
            problems.append(Problem.UNPARSED)
        result.append(Footnote(n, note.text, tuple(urls), tuple(problems), tuple(unparsed)))
    return result
