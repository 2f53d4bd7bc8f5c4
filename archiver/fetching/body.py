"""A response's body: read in a loop capped by size, hashed for the WARC, decoded as it arrives, and
spooled in memory while small, to a temporary file past a threshold (shared by the fetches in flight)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import brotlicffi as brotli
import httpcore

from archiver.config import Settings
from archiver.errors import ArchiveError
from archiver.fetching.decoding import Decoder, Stacked, TooLarge
from archiver.fetching.failures import failure_of
from archiver.outcomes import Exchange, Failure, warc_digest

SPILL = 2 * 1024 * 1024  # bodies up to this stay in memory: a temporary file costs more than the page
# What the fetches in flight may hold in memory together: with more fetches in flight, each body goes
# to a temporary file sooner, so memory stays the same however high the concurrency.
BODIES_IN_MEMORY = 64 * 1024 * 1024
MIN_SPILL = 256 * 1024


def spill_threshold(concurrency: int) -> int:
    """How large a body may grow in memory before it goes to a temporary file, for this many fetches."""
    return max(MIN_SPILL, min(SPILL, BODIES_IN_MEMORY // max(1, concurrency)))


async def read_body(response: httpcore.Response, exchange: Exchange, settings: Settings, tmp_dir: Path) -> Body:
    """The body of a response: spooled, hashed and decoded as it arrives, within the size limits."""
    limit = settings.max_body
    declared = (exchange.header("content-length") or "").strip()
    if declared.isdigit() and int(declared) > limit:
        return Body(failure=Failure.TOO_LARGE, detail=f"Content-Length {declared} over the {limit}-byte limit")
    # Content-Encoding may come in several header lines: together they are one list (RFC 9110 5.3).
    encodings = ",".join(v for k, v in exchange.headers if k.lower() == "content-encoding").split(",")
    decoder: Decoder | None
    detail = ""
    stacked = False
    try:
        decoder = Decoder(encodings, settings.max_decoded)
    except Stacked as exc:
        decoder, detail, stacked = None, str(exc), True
    except ValueError as exc:
        decoder, detail = None, str(exc)
    spill = spill_threshold(settings.concurrency)
    raw = Spool(tmp_dir, "body-", spill)
    # Without a Content-Encoding the decoded body is the raw one: one file, not two.
    decoded = raw if decoder is not None and decoder.identity else Spool(tmp_dir, "decoded-", spill)
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()
    size = 0
    failure: Failure | None = None
    try:
        async for chunk in response.aiter_stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"body over the {limit}-byte limit")
            raw.write(chunk)
            sha1.update(chunk)
            if decoder is not None:
                data = decoder.decode(chunk)
                sha256.update(data)
                if decoded is not raw:
                    decoded.write(data)
    except TooLarge as exc:
        failure, detail = Failure.TOO_LARGE, str(exc)
    except (zlib.error, brotli.error) as exc:
        failure = Failure.BAD_ENCODING
        detail = f"content encoding broken: cannot decode the {','.join(e.strip() for e in encodings)} body ({exc})"
    except Exception as exc:
        failure, detail = failure_of(exc)
    except BaseException:  # cancelled (the total time-out): leave no temporary file behind
        raw.discard()
        decoded.discard()
        raise
    finally:
        raw.close()
        decoded.close()
    if stacked and failure is None:
        failure = Failure.BAD_ENCODING
    if failure is Failure.BAD_ENCODING:
        # Not a capture of the page, but evidence of what the server sent: the raw bytes are kept.
        if decoded is not raw:
            decoded.discard()
        return Body(
            raw_path=raw.path,
            raw_data=raw.data,
            size=size,
            payload_digest=warc_digest(sha1),
            failure=failure,
            detail=detail,
        )
    if failure is not None:
        raw.discard()
        decoded.discard()
        return Body(failure=failure, detail=detail, size=size)
    if decoder is None:
        decoded.discard()
    elif response.status < 300:
        decoded.touch()  # an empty page is still a page to read (and compare)
    return Body(
        raw_path=raw.path,
        decoded_path=decoded.path if decoder is not None else None,
        raw_data=raw.data,
        decoded_data=decoded.data if decoder is not None else None,
        size=size,
        decoded_size=decoder.produced if decoder is not None else 0,
        payload_digest=warc_digest(sha1),
        content_digest=sha256.hexdigest() if decoder is not None else None,
        detail=detail,
    )


class Spool:
    """A body kept in memory while small, spilled to a temporary file past `spill` bytes (no file for most pages)."""

    def __init__(self, directory: Path, prefix: str, spill: int) -> None:
        self.directory = directory
        self.prefix = prefix
        self.spill = spill
        self.path: Path | None = None
        self._buffer: bytearray | None = None
        self._file: IO[bytes] | None = None

    @property
    def data(self) -> bytes | None:
        """The body when it stayed in memory, else None (then it is at path)."""
        return bytes(self._buffer) if self._buffer is not None and self.path is None else None

    def touch(self) -> None:
        if self._buffer is None and self.path is None:
            self._buffer = bytearray()

    def _spill(self) -> None:
        try:
            fd, name = tempfile.mkstemp(prefix=self.prefix, dir=self.directory)
        except OSError as exc:
            raise ArchiveError(f"cannot write a body under {self.directory}: {exc.strerror or exc}") from exc
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        held, self._buffer = self._buffer or bytearray(), None
        self._write_file(bytes(held))

    def _write_file(self, data: bytes) -> None:
        assert self._file is not None
        try:
            self._file.write(data)
        except OSError as exc:  # a full disk is the archive's fault, not the site's
            raise ArchiveError(f"cannot write a body under {self.directory}: {exc.strerror or exc}") from exc

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self.path is None:
            self.touch()
            assert self._buffer is not None
            self._buffer += data
            if len(self._buffer) > self.spill:
                self._spill()
            return
        self._write_file(data)

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as exc:
                raise ArchiveError(f"cannot write a body under {self.directory}: {exc.strerror or exc}") from exc

    def discard(self) -> None:
        self.close()
        self._buffer = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


@dataclass(frozen=True, slots=True)
class Body:
    raw_path: Path | None = None
    decoded_path: Path | None = None
    raw_data: bytes | None = None
    decoded_data: bytes | None = None
    size: int = 0
    decoded_size: int = 0
    payload_digest: str | None = None
    content_digest: str | None = None
    failure: Failure | None = None
    detail: str = ""
