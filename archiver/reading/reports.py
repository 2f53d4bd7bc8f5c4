"""Read a report file (plain text, Markdown, HTML) into its body, notes and metadata."""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import re
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import charset_normalizer

from archiver.errors import ReportError

REPORT_SUFFIXES = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
}
MAX_REPORT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a note: visible text, or a link target (an HTML href, a Markdown URL)."""

    text: str
    is_href: bool = False


@dataclass(frozen=True, slots=True)
class Note:
    """One note as written: its number, its text, and its pieces in order."""

    n: int
    text: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Report:
    """A report file read: the body (for citations) and its notes."""

    stem: str
    path: str
    format: str
    title: str | None
    published: str | None
    authors: tuple[str, ...]
    body: str
    citations: tuple[int, ...]
    notes: tuple[Note, ...] = field(default=())
    source: str = ""  # the file's resolved path (a page's canonical URL): with the digest, its identity
    digest: str = ""  # SHA-256 of the file's bytes
    published_from: str | None = None  # where `published` came from: "report" (itself) or "feed"


# Only the runs tidy changes: a tab or no-break space, or two or more characters (most single spaces stay).
_SPACES_TO_FOLD_RE = re.compile(r"[\t\u00a0][ \t\u00a0]*| [ \t\u00a0]+")


def decode(data: bytes) -> str:
    """Bytes of any common encoding as text: BOM first, then UTF-8, then detection."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    utf16 = _utf16_without_bom(data)
    if utf16:
        return data.decode(utf16, errors="replace")
    if b"\x00" in data[:4096]:
        raise ReportError("binary file, not a report")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    detected = detect_encoding(data)
    if detected is None:
        raise ReportError("cannot detect the text encoding")
    return data.decode(detected, errors="replace")


def detect_encoding(data: bytes) -> str | None:
    """The encoding legacy text most likely uses (charset-normalizer): the one sniffer for reports and pages."""
    best = charset_normalizer.from_bytes(data[:200_000]).best()
    return best.encoding if best is not None else None


def tidy(text: str) -> str:
    """Runs of spaces (tabs, no-break spaces) made one, lines trimmed, empty lines dropped."""
    if "\t" in text or "\u00a0" in text or "  " in text:  # three scans in C beat one regex pass on clean text
        text = _SPACES_TO_FOLD_RE.sub(" ", text)
    lines = (line.strip() for line in text.split("\n"))
    return "\n".join([line for line in lines if line])


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when the bytes look like UTF-16 without a BOM."""
    sample = data[:4000]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    even, odd = Counter(sample[0::2]), Counter(sample[1::2])

    def share_of_top_two(counts: Counter[int]) -> float:
        return sum(n for _, n in counts.most_common(2)) / max(1, sum(counts.values()))

    # One script's text has few distinct high bytes (0x00 for Latin, 0x04 for Cyrillic).
    if share_of_top_two(odd) > 0.85 and share_of_top_two(even) < 0.7:
        return "utf-16-le"
    if share_of_top_two(even) > 0.85 and share_of_top_two(odd) < 0.7:
        return "utf-16-be"
    return None


def normalize_newlines(text: str) -> str:
    """CRLF and CR line endings as LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def sniff_format(path: Path, text: str) -> str:
    """The report's format from its suffix, else from its first characters."""
    by_suffix = REPORT_SUFFIXES.get(path.suffix.lower())
    head = text.lstrip()[:1000].lower()
    if by_suffix == "html" or head.startswith(("<!doctype html", "<html")) or re.search(r"<(body|p|ol|div)[\s>]", head):
        return "html"
    if by_suffix:
        return by_suffix
    if re.search(r"^\[\^\d+\]:", text, re.MULTILINE) or re.search(r"^#{1,6} ", text, re.MULTILINE):
        return "markdown"
    return "text"


def read_report(path: Path) -> Report:
    """Read one report file; ReportError when it is not a readable report."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise ReportError(f"{path}: larger than {MAX_REPORT_BYTES // 2**20} MiB, not a report")
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise ReportError(f"{path}: is a directory") from exc
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = normalize_newlines(decode(data))
    except ReportError as exc:
        raise ReportError(f"{path}: {exc}") from exc
    report = parse_report(text, stem=path.stem, path=str(path), fmt=sniff_format(path, text))
    return dataclasses.replace(report, source=str(path.resolve()), digest=hashlib.sha256(data).hexdigest())


def parse_report(text: str, *, stem: str, path: str = "", fmt: str = "text") -> Report:
    """Parse a report's text in the given format ("text", "markdown" or "html")."""
    # The format parsers import this module; the HTML one brings beautifulsoup4, only for HTML reports.
    if fmt == "html":
        from archiver.reading import report_html

        return report_html.parse(text, stem=stem, path=path)
    from archiver.reading import report_text

    return report_text.parse(text, stem=stem, path=path, markdown=fmt == "markdown")


def find_reports(path: Path) -> Iterator[Path]:
    """The report files a path names: itself, or every report file below a directory."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix.lower() in REPORT_SUFFIXES and not child.name.startswith("."):
                yield child
    else:
        yield path


# ----- metadata shared by the format parsers ------------------------------------------------

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan", "января", "январь", "студзеня", "січня"),
            ("february", "feb", "февраля", "февраль", "лютага", "лютого"),
            ("march", "mar", "марта", "март", "сакавіка", "березня"),
            ("april", "apr", "апреля", "апрель", "красавіка", "квітня"),
            ("may", "мая", "май", "мая", "траўня", "травня"),
            ("june", "jun", "июня", "июнь", "чэрвеня", "червня"),
            ("july", "jul", "июля", "июль", "ліпеня", "липня"),
            ("august", "aug", "августа", "август", "жніўня", "серпня"),
            ("september", "sep", "sept", "сентября", "сентябрь", "верасня", "вересня"),
            ("october", "oct", "октября", "октябрь", "кастрычніка", "жовтня"),
            ("november", "nov", "ноября", "ноябрь", "лістапада", "листопада"),
            ("december", "dec", "декабря", "декабрь", "снежня", "грудня"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_RES = [
    # ISO 8601, and Google Scholar's citation_publication_date (YYYY/MM/DD).
    re.compile(r"(?<!\d)(?P<year>(?:19|20)\d\d)(?P<sep>[-/])(?P<mnum>\d\d)(?P=sep)(?P<day>\d\d)(?!\d)"),
    re.compile(_MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE),
    re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE),
    re.compile(r"\b(?P<day>\d{1,2})\.(?P<mnum>\d{1,2})\.(?P<year>(?:19|20)\d\d)\b"),
]


def find_date(text: str) -> str | None:
    """The first date written in the text, as YYYY-MM-DD."""
    best: tuple[int, str] | None = None
    for pattern in _DATE_RES:
        for match in pattern.finditer(text):
            parts = match.groupdict()
            month = int(parts["mnum"]) if parts.get("mnum") else _MONTHS[parts["month"].lower()]
            try:
                value = date(int(parts["year"]), month, int(parts["day"])).isoformat()
            except ValueError:
                continue
            if best is None or match.start() < best[0]:
                best = (match.start(), value)
            break
    return best[1] if best else None


# Where a report states its own date: the short lines of its header, before the body's prose; or a
# dateline ("MINSK, Sept. 3, 2020 —"). Never a date in the prose, in a note ("accessed ..."), in a footer.
_HEADER_LINES = 12
_DATE_LINE_MAX = 100
_PROSE_RE = re.compile(r"\[\^?\d{1,4}\]|<sup>")  # a citation: the body has begun
_NOTE_START_RE = re.compile(r"^\s*(?:\[\^?\d{1,4}\]|\d{1,4}[.)]\s+h)")
_NOT_PUBLISHED_RE = re.compile(r"\b(?:accessed|retrieved|visited|archived|consulted)\b", re.IGNORECASE)
_DATELINE_RE = re.compile(r"^[^\W\d_][\w .'’-]{1,40},\s*(?=\S)")


def header_lines(lines: list[str]) -> list[str]:
    """The non-empty lines before the body's prose begins (title, date, byline), at most a dozen."""
    head: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if _NOTE_START_RE.match(line) or _PROSE_RE.search(line) or len(line) > 250:
            break
        head.append(line)
        if len(head) >= _HEADER_LINES:
            break
    return head


def _is_sentence(line: str) -> bool:
    """Prose, not a header line: it ends like a sentence and has words besides a date."""
    ends = re.search(r"[.!?][»\"”’)]*(?:\[?\^?\d{1,4}\]?)?\s*$", line)  # a citation may follow the stop
    return ends is not None and len(re.findall(r"[^\W\d_]{3,}", line)) >= 3


def find_publication_date(lines: list[str], first_paragraph: str = "") -> str | None:
    """The date a report states for itself: on a short header line, else in a dateline; else None."""
    for line in header_lines(lines):
        if len(line) <= _DATE_LINE_MAX and not _NOT_PUBLISHED_RE.search(line) and not _is_sentence(line):
            found = find_date(line)
            if found:
                return found
    dateline = _DATELINE_RE.match(first_paragraph.strip())
    if dateline:
        rest = first_paragraph.strip()[dateline.end() :]
        for pattern in _DATE_RES:
            match = pattern.match(rest)
            if match:
                return find_date(match.group(0))
    return None


_BY_RE = re.compile(r"^\s*(?:by|authors?:|written by)\s+(?P<names>.+)$", re.IGNORECASE)


def split_authors(names: str) -> tuple[str, ...]:
    """'A, B and C' as ('A', 'B', 'C')."""
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+|\s*&\s*|;\s*", names.strip().rstrip("."))
    return tuple(p.strip() for p in parts if p.strip() and len(p.strip()) < 80)


def find_authors(lines: list[str]) -> tuple[str, ...]:
    """Authors from a 'By A and B' line among the given lines."""
    for line in lines:
        match = _BY_RE.match(line)
        if match:
            return split_authors(match.group("names"))
    return ()


_CITE_RE = re.compile(r"\[\^?(\d{1,4}(?:\s*[,–-]\s*\d{1,4})*)\](?!\s*\()|<sup>\s*\[?(\d{1,4})\]?\s*</sup>")


def find_citations(body: str, known: set[int]) -> tuple[int, ...]:
    """Footnote numbers cited in the body: [N], [^N], [N, M], [N-M], <sup>N</sup>."""
    numbers: set[int] = set()
    for match in _CITE_RE.finditer(body):
        spec = match.group(1) or match.group(2)
        for part in re.split(r"\s*,\s*", spec):
            bounds = [int(x) for x in re.split(r"\s*[–-]\s*", part) if x]
            if len(bounds) == 2 and bounds[0] < bounds[1] <= bounds[0] + 50:
                candidates = range(bounds[0], bounds[1] + 1)
            else:
                candidates = range(bounds[0], bounds[0] + 1) if bounds else range(0)
            for n in candidates:
                # A bracketed year is a date, not a footnote, unless a note has that number.
                if n > 0 and (n < 1000 or n in known):
                    numbers.add(n)
    return tuple(sorted(numbers))


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A path that named no readable report, and why (trace: the traceback when our own code failed on it)."""

    path: str
    reason: str
    trace: str = ""


def report_files(paths: list[Path]) -> Iterator[Path | Unreadable]:
    """Every report file the paths name; an Unreadable for a path that names none."""
    for path in paths:
        if not path.exists():
            yield Unreadable(str(path), f"{path}: no such file or directory")
            continue
        found = False
        for file in find_reports(path):
            found = True
            yield file
        if not found:
            yield Unreadable(str(path), f"{path}: no report files (.txt, .md, .html) in this directory")


def read_or_say_why(path: Path) -> Report | Unreadable:
    """One report, or why not: a report that breaks our own code (a RecursionError, a bug) is that
    report's failure with its traceback, never the caller's exception."""
    try:
        return read_report(path)
    except ReportError as exc:
        return Unreadable(str(path), str(exc))
    except Exception as exc:
        trace = "".join(traceback.format_exception(exc))
        return Unreadable(str(path), f"{path}: internal error reading the report: {_one_line(exc)}", trace)


def _one_line(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (f"{type(exc).__name__}: {message}" if message else type(exc).__name__)[:200]


def load_reports(paths: list[Path]) -> Iterator[Report | Unreadable]:
    """Every report the paths name, read; an Unreadable in place of each one that is not."""
    for item in report_files(paths):
        yield item if isinstance(item, Unreadable) else read_or_say_why(item)
