"""Append request/response records to WARC 1.1 files (warcio); say where each landed."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from archiver import __version__
from archiver.errors import ArchiveError
from archiver.outcomes import Exchange, Fetch, Resource, warc_digest

WARC_DIR = "warc"
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
# Stored de-chunked, so the stored message must not claim chunking.
_DROPPED_HEADERS = {"transfer-encoding"}
# The fastest level: most of a WARC write is compression, and level 1 costs much less for files a
# little larger (wget and Heritrix use 6, warcio 9). ISA-L's deflate (isal, where it has wheels)
# writes the same gzip members faster still; docs/benchmarks.md has the figures.
try:
    from isal import isal_zlib as deflate
except ImportError:  # a platform isal has no wheel for
    import zlib as deflate  # type: ignore[no-redef]
GZIP_LEVEL = 1


@dataclass(frozen=True, slots=True)
class Location:
    """Where a record lies: file name (under warc/), offset and length of its gzip member."""

    file: str
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class Stored:
    """Where a fetch's records went: the final response, and the span of all its records in that file."""

    response: Location
    start: int  # offset of its first record (a redirect hop's, or the response's)
    end: int  # the file's size after it: what the catalog commits
    rotated: tuple[str, int] | None  # a new file opened for it, and that file's size before it


@dataclass(frozen=True, slots=True)
class Revisit:
    """An earlier capture whose payload an identical new one refers to instead of storing it again."""

    url: str
    fetched_at: datetime
    payload_digest: str


def warc_date(moment: datetime) -> str:
    """ISO 8601 with microseconds, as WARC 1.1 allows."""
    return str(datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True))


def _headers(pairs: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in pairs if k.lower() not in _DROPPED_HEADERS]


def _sha1(*parts: bytes) -> str:
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part)
    return warc_digest(digest)


_EMPTY_DIGEST = _sha1()


def _warc_headers(kind: str, url: str, date: str, *more: tuple[str, str]) -> StatusAndHeaders:
    """A record's WARC headers, complete: warcio then neither scans nor digests the record again."""
    headers = [("WARC-Type", kind), ("WARC-Record-ID", f"<urn:uuid:{uuid.uuid4()}>"), ("WARC-Date", date)]
    return StatusAndHeaders("", [*headers, ("WARC-Target-URI", url), *more], protocol="WARC/1.1")


def _response_record(
    writer: WARCWriter,
    exchange: Exchange,
    http_headers: StatusAndHeaders,
    payload: bytes,
    digest: str | None,
    extra: dict[str, str],
) -> Any:
    """A response record whose body is in memory: its digests made here, in one pass of C each.

    warcio would read the body back through Python to digest it, twice; the record is the same."""
    http_headers.compute_headers_buffer(writer.header_filter)
    head = http_headers.headers_buff
    more = [(k, v) for k, v in extra.items() if k != "WARC-Date"]
    more += [("WARC-Payload-Digest", digest or _sha1(payload)), ("WARC-Block-Digest", _sha1(head, payload))]
    return writer.create_warc_record(
        exchange.url,
        "response",
        payload=BytesIO(payload),
        length=len(payload),
        http_headers=http_headers,
        warc_headers=_warc_headers("response", exchange.url, extra["WARC-Date"], *more),
    )


def _revisit_record(
    writer: WARCWriter, exchange: Exchange, http_headers: StatusAndHeaders, revisit: Revisit, extra: dict[str, str]
) -> Any:
    """A revisit record (its HTTP headers only) pointing at the capture whose payload it repeats.

    After a 304 the server said "not modified", not "here is the same payload": WARC 1.1 names that profile."""
    http_headers.compute_headers_buffer(writer.header_filter)
    profile = SERVER_NOT_MODIFIED if exchange.status == 304 else IDENTICAL_PAYLOAD
    more = [(k, v) for k, v in extra.items() if k != "WARC-Date"]
    more += [
        ("WARC-Profile", profile),
        ("WARC-Refers-To-Target-URI", revisit.url),
        ("WARC-Refers-To-Date", warc_date(revisit.fetched_at)),
        ("WARC-Payload-Digest", revisit.payload_digest),
        ("WARC-Block-Digest", _sha1(http_headers.headers_buff)),
    ]
    return writer.create_warc_record(
        exchange.url,
        "revisit",
        http_headers=http_headers,
        warc_headers=_warc_headers("revisit", exchange.url, extra["WARC-Date"], *more),
    )


def _request_line(exchange: Exchange) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(exchange.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"{exchange.method} {target}"


def _write_info(writer: WARCWriter | None, name: str, fields: tuple[tuple[str, str], ...], moment: datetime) -> None:
    """A warcinfo record before a capture whose maker is not this software alone (the browser, its version)."""
    assert writer is not None
    record = writer.create_warcinfo_record(name, dict(fields))
    record.rec_headers.replace_header("WARC-Date", warc_date(moment))
    writer.write_record(record)


def _write_resource(writer: WARCWriter | None, resource: Resource) -> None:
    """A resource record (a screenshot): its content is the record's block."""
    assert writer is not None
    digest = _sha1(resource.data)
    more = [("Content-Type", resource.content_type), ("WARC-Block-Digest", digest), ("WARC-Payload-Digest", digest)]
    record = writer.create_warc_record(
        resource.url,
        "resource",
        payload=BytesIO(resource.data),
        length=len(resource.data),
        warc_content_type=resource.content_type,
        warc_headers=_warc_headers("resource", resource.url, warc_date(resource.fetched_at), *more),
    )
    writer.write_record(record)


class _GzipMembers:
    """Each record its own gzip member (as WARC readers expect), compressed into the file's buffer.

    warcio's own wrapper flushes the file after every record (a write(2) each); the store flushes
    once per fetch instead. It counts what it writes: a file's tell() is a system call each time
    (and a hand-over of the GIL to the event loop).
    """

    def __init__(self, out: IO[bytes], position: int) -> None:
        self.out = out
        self.position = position  # the file's end, past everything written through here
        self._compressor: Any = None

    def write(self, data: bytes) -> None:
        if self._compressor is None:
            self._compressor = deflate.compressobj(GZIP_LEVEL, deflate.DEFLATED, deflate.MAX_WBITS + 16)
        self._out(self._compressor.compress(data))

    def flush(self) -> None:
        """End the current record's member."""
        if self._compressor is not None:
            self._out(self._compressor.flush())
            self._compressor = None

    def _out(self, data: bytes) -> None:
        self.out.write(data)
        self.position += len(data)


class WarcStore:
    """Appends records to the current WARC file; rotates past a size; repairs after a crash."""

    def __init__(
        self,
        root: Path,
        max_size: int,
        prefix: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_age: float | None = None,
    ) -> None:
        self.clock = clock  # the run's clock: the warcinfo record is dated by it too
        self.directory = root / WARC_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_size = max_size
        self.max_age = max_age  # seconds a file takes records (the shared setup's: they reach the bucket soon)
        self._opened = 0.0  # time.monotonic() the current file was opened
        self._closed: list[str] = []  # files rotation closed, not yet handed to closed_files()
        self.prefix = prefix
        self._sequence = 0
        self._file: IO[bytes] | None = None
        self._name: str | None = None
        self._members: _GzipMembers | None = None  # the current file's records go through it
        self._writer: WARCWriter | None = None  # warcio's writer over it (one a file: it asks the host name)
        self._broken: str | None = None  # why no record may be appended any more

    @staticmethod
    def repair(root: Path, committed: dict[str, int]) -> list[str]:
        """repair_files(): every WARC file cut back to what the catalog committed."""
        return repair_files(root, committed)

    def _new_file(self) -> tuple[str, int]:
        if self._name is not None and self._file is not None:
            self._closed.append(self._name)
        self.close()
        self._opened = time.monotonic()
        self._sequence += 1
        name = f"{self.prefix}-{self._sequence:05d}.warc.gz"
        self._file = (self.directory / name).open("ab")
        self._name = name
        writer = WARCWriter(self._file, gzip=True, warc_version="1.1")
        info = {
            "software": f"archiver/{__version__} (warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        }
        record = writer.create_warcinfo_record(name, info)
        record.rec_headers.replace_header("WARC-Date", warc_date(self.clock()))
        writer.write_record(record)
        self._sync()
        self._open_members(self._file.tell())
        return name, self._end

    def _open_members(self, end: int) -> None:
        """A fresh gzip writer (no half-compressed state) appending at end."""
        assert self._file is not None
        self._members = _GzipMembers(self._file, end)
        self._writer = WARCWriter(self._members, gzip=False, warc_version="1.1")

    @property
    def _end(self) -> int:
        """The current file's size: where its next record starts."""
        return self._members.position if self._members is not None else 0

    def _sync(self) -> None:
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())

    def start(self) -> tuple[str, int]:
        """Open a new file for this run: its name and committed size (after its warcinfo)."""
        return self._new_file()

    @property
    def name(self) -> str | None:
        """The file being appended to."""
        return self._name

    def sync(self) -> None:
        """fsync the current file: every record written so far is on disk."""
        if self._file is not None:
            self._sync()

    def write_fetch(self, fetch: Fetch, revisit: Revisit | None = None, *, sync: bool = True) -> Stored:
        """Store every exchange of a fetch (redirect hops first), then fsync (unless the caller will); all or none."""
        if self._broken:
            raise ArchiveError(self._broken)
        rotated = None
        if self._file is None or self._end > self.max_size or self._too_old():
            rotated = self._new_file()
        assert self._file is not None and self._name is not None
        start = self._end
        try:
            return self._write_fetch(fetch, revisit, start, rotated, sync)
        except BaseException:
            # A half-written record would be followed by the next one: every reader would stop there.
            self.cut(start)
            raise

    def _too_old(self) -> bool:
        return self.max_age is not None and time.monotonic() - self._opened > self.max_age

    @property
    def healthy(self) -> bool:
        """No failed write left records it could not cut: every record in the files is committed or cut."""
        return self._broken is None

    def closed_files(self) -> list[str]:
        """The files rotation closed since the last call (once the batch that rotated commits: whole)."""
        closed, self._closed = self._closed, []
        return closed

    def _write_fetch(
        self, fetch: Fetch, revisit: Revisit | None, start: int, rotated: tuple[str, int] | None, sync: bool
    ) -> Stored:
        assert self._file is not None and self._name is not None
        if fetch.warcinfo:
            _write_info(self._writer, self._name, fetch.warcinfo, fetch.started_at)
        for exchange in fetch.hops:
            self._write_exchange(exchange, BytesIO(exchange.body), len(exchange.body), None, None)
        assert fetch.response is not None, "only fetches with a response are stored"
        body = fetch.open_body() if revisit is None else None
        if body is not None:
            with body:
                final = self._write_exchange(fetch.response, body, fetch.body_size, fetch.payload_digest, None)
        else:
            final = self._write_exchange(fetch.response, BytesIO(), 0, fetch.payload_digest, revisit)
        for exchange in fetch.related:  # what a browser or an endpoint asked for beside the page
            self._write_exchange(exchange, BytesIO(exchange.body), len(exchange.body), None, None)
        for resource in fetch.resources:
            _write_resource(self._writer, resource)
        if sync:
            self._sync()
        else:
            self._file.flush()  # in the OS's hands; the batch's one fsync follows
        return Stored(final, start, self._end, rotated)

    def _write_exchange(
        self,
        exchange: Exchange,
        body: Any,
        length: int,
        digest: str | None,
        revisit: Revisit | None,
    ) -> Location:
        members, writer = self._members, self._writer
        assert members is not None and writer is not None and self._name is not None
        date = warc_date(exchange.fetched_at)
        warc_headers = {"WARC-Date": date}
        if exchange.peer:
            warc_headers["WARC-IP-Address"] = exchange.peer
        http_headers = StatusAndHeaders(
            f"{exchange.status} {exchange.reason}".strip(), _headers(exchange.headers), protocol=exchange.http_version
        )
        if revisit is None and isinstance(body, BytesIO):
            record = _response_record(writer, exchange, http_headers, body.getvalue(), digest, warc_headers)
        elif revisit is not None:
            record = _revisit_record(writer, exchange, http_headers, revisit, warc_headers)
        else:
            if digest:
                warc_headers["WARC-Payload-Digest"] = digest
            record = writer.create_warc_record(
                exchange.url,
                "response",
                payload=body,
                length=length,
                http_headers=http_headers,
                warc_headers_dict=warc_headers,
            )
        offset = members.position
        writer.write_record(record)
        location = Location(self._name, offset, members.position - offset)
        request_headers = StatusAndHeaders(
            _request_line(exchange),
            list(exchange.request_headers),
            protocol=exchange.http_version,
            is_http_request=True,
        )
        request_headers.compute_headers_buffer(writer.header_filter)
        head = request_headers.headers_buff
        request = writer.create_warc_record(
            exchange.url,
            "request",
            http_headers=request_headers,
            warc_headers=_warc_headers(
                "request",
                exchange.url,
                date,
                ("WARC-Concurrent-To", record.rec_headers.get_header("WARC-Record-ID")),
                ("WARC-Payload-Digest", _EMPTY_DIGEST),
                ("WARC-Block-Digest", _sha1(head)),
            ),
        )
        writer.write_record(request)
        return location

    def cut(self, offset: int) -> None:
        """Truncate the current file back to offset (the end of its last complete record), dropping buffers.

        If even that fails, the store refuses every later record: nothing may follow a partial one.
        """
        if self._file is None or self._name is None:
            return
        path = self.directory / self._name
        with contextlib.suppress(OSError):
            self._file.close()  # flushes what it can: the cut below removes it again
        self._file = None
        try:
            os.truncate(path, offset)
            fd = os.open(path, os.O_WRONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._file = path.open("ab")
            self._open_members(offset)
        except OSError as exc:
            self._broken = f"cannot repair {path} after a failed write ({exc.strerror or exc}); the next run will"
            raise ArchiveError(self._broken) from exc

    def rollback(self, stored: Stored) -> None:
        """Undo a fetch's records whose catalog row could not be committed."""
        if stored.response.file == self._name:
            self.cut(stored.start)

    def close(self) -> None:
        """Close the current file (fsynced; after a failed write, as far as it can)."""
        if self._file is not None:
            try:
                self._sync()
            finally:
                self._file.close()
                self._file = None


def repair_files(root: Path, committed: dict[str, int]) -> list[str]:
    """Cut every WARC file back to what the catalog committed; set aside files it never knew.

    Records past that point were written by a run killed before its catalog commit:
    they are not archived, and the next run fetches those links again. Nothing is
    deleted: cut tails and unknown files go to warc/orphaned/ (a catalog restored from
    a backup, say, must not cost the WARC files written since).
    """
    directory = root / WARC_DIR
    repaired: list[str] = []
    if not directory.exists():
        return repaired
    orphans = directory / "orphaned"
    for path in sorted(directory.glob("*.warc.gz")):
        end = committed.get(path.name)
        if end is None:
            orphans.mkdir(exist_ok=True)
            os.replace(path, orphans / path.name)
            repaired.append(path.name)
        elif path.stat().st_size > end:
            orphans.mkdir(exist_ok=True)
            with path.open("r+b") as file:
                file.seek(end)
                with (orphans / f"{path.name}.tail-{end}").open("wb") as tail:
                    shutil.copyfileobj(file, tail)
                    tail.flush()
                    os.fsync(tail.fileno())
                file.truncate(end)
                file.flush()
                os.fsync(file.fileno())
            repaired.append(path.name)
    return repaired
