"""The WARC store's bookkeeping: every location it hands the catalog reads back as the record it names."""

from __future__ import annotations

import hashlib
import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.outcomes import Exchange, Fetch, warc_digest
from archiver.storage.disk import sync_filesystem
from archiver.storage.warcstore import Stored, WarcStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _fetch(n: int, hops: int) -> Fetch:
    url = f"http://example.org/news/{n}"
    body = f"<html><body><p>Story {n}</p>{'filler ' * (40 * n)}</body></html>".encode()
    redirects = tuple(
        Exchange(f"{url}/old/{h}", "GET", (("Host", "example.org"),), 301, "Moved", "HTTP/1.1",
                 (("Location", url),), NOW, body=b"moved")
        for h in range(hops)
    )  # fmt: skip
    response = Exchange(
        url, "GET", (("Host", "example.org"),), 200, "OK", "HTTP/1.1", (("Content-Type", "text/html"),), NOW
    )
    return Fetch(
        url,
        url,
        redirects,
        response,
        body_size=len(body),
        payload_digest=warc_digest(hashlib.sha1(body)),
        body_data=body,
        started_at=NOW,
    )


def _records(data: bytes) -> list[tuple[str, str]]:
    return [
        (record.rec_type, record.rec_headers.get_header("WARC-Target-URI"))
        for record in ArchiveIterator(io.BytesIO(data))
    ]


def test_locations_and_spans_read_back_across_a_rotation(tmp_path: Path) -> None:
    store = WarcStore(tmp_path, max_size=3000, prefix="test", clock=lambda: NOW)  # small: it rotates
    store.start()
    stored: list[tuple[Fetch, Stored]] = []
    for n in range(12):
        fetch = _fetch(n, hops=n % 3)
        stored.append((fetch, store.write_fetch(fetch, sync=n % 2 == 0)))
    store.close()

    files = {path.name: path.read_bytes() for path in (tmp_path / "warc").glob("*.warc.gz")}
    assert len(files) > 1 and any(s.rotated for _, s in stored)
    for fetch, where in stored:
        data = files[where.response.file]
        response = data[where.response.offset : where.response.offset + where.response.length]
        assert _records(response) == [("response", fetch.url)]
        expected = [("response", hop.url) for hop in fetch.hops] + [("request", hop.url) for hop in fetch.hops]
        span = _records(data[where.start : where.end])
        assert sorted(span) == sorted([*expected, ("response", fetch.url), ("request", fetch.url)])
    last = {where.response.file: where.end for _, where in stored}
    assert all(len(files[name]) == end for name, end in last.items())  # end is the file's size: what is committed


def test_a_cut_puts_the_next_record_where_the_file_now_ends(tmp_path: Path) -> None:
    store = WarcStore(tmp_path, max_size=10**9, prefix="test", clock=lambda: NOW)
    store.start()
    kept = store.write_fetch(_fetch(1, hops=1))
    dropped = store.write_fetch(_fetch(2, hops=0))
    store.rollback(dropped)
    after = store.write_fetch(_fetch(3, hops=0))
    store.close()
    assert after.start == kept.end == dropped.start
    data = next((tmp_path / "warc").glob("*.warc.gz")).read_bytes()
    assert len(data) == after.end
    assert _records(data[after.response.offset : after.response.offset + after.response.length]) == [
        ("response", "http://example.org/news/3")
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="syncfs(2) is Linux's")
def test_one_syncfs_makes_the_archive_durable_on_linux(tmp_path: Path) -> None:
    (tmp_path / "record").write_bytes(b"written")
    assert sync_filesystem(tmp_path) is True  # found in the process's own symbols, no ldconfig run


@pytest.mark.parametrize("deflate", ["isal", "zlib"])
def test_either_deflate_writes_members_any_gzip_reader_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deflate: str
) -> None:
    """ISA-L's deflate where isal is installed, zlib elsewhere: each record one gzip member, the payload intact."""
    import gzip
    import importlib

    import archiver.storage.warcstore as warcstore

    module = importlib.import_module("isal.isal_zlib" if deflate == "isal" else "zlib")
    monkeypatch.setattr(warcstore, "deflate", module)
    store = WarcStore(tmp_path, max_size=10**9, prefix="test", clock=lambda: NOW)
    store.start()
    fetch = _fetch(30, hops=1)
    where = store.write_fetch(fetch)
    store.close()
    data = (tmp_path / "warc" / where.response.file).read_bytes()
    member = data[where.response.offset : where.response.offset + where.response.length]
    assert member[:2] == b"\x1f\x8b"
    assert fetch.body_data is not None and gzip.decompress(member).endswith(fetch.body_data + b"\r\n\r\n")
    span = io.BytesIO(data[where.start : where.end])
    records = [(r.rec_type, r.content_stream().read()) for r in ArchiveIterator(span)]
    assert [kind for kind, _ in records] == ["response", "request", "response", "request"]
    assert records[2][1] == fetch.body_data
