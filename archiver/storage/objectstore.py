"""The shared setup's captures on S3-compatible storage (boto3): WARC files, texts and screenshots.

`store = "s3://bucket/prefix"` puts them under prefix/warc/NAME, prefix/text/ab/DIGEST.txt and
prefix/screenshots/ab/DIGEST.png: the layout of an archive directory, so an object's key is its
relative path. boto3 takes the standard AWS settings (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, AWS_CA_BUNDLE); the run's proxy and CA file apply too.

Readers find an archive's store with store_for(root) once the command attached it (attach()): a
text or a WARC record missing from the local directory is read from the bucket, by byte range.
boto3 is the `shared` extra's: imported only when a store is configured.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.errors import ArchiveError, ConfigError

SHARED_EXTRA = "pip install 'archiver[shared]'"
MULTIPART_THRESHOLD = 8 * 1024 * 1024  # larger files go up in parts of this size
_STORES: dict[Path, ObjectStore] = {}


class ObjectStore:
    """One bucket and prefix; a boto3 client made on first use (it is thread-safe)."""

    def __init__(self, url: str, *, proxy: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigError(f"store must be an s3://bucket/prefix URL, not {url!r}")
        self.url = url.rstrip("/")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.proxy = proxy
        _boto3()  # a missing extra is said before the night, not at its first upload
        self._client: Any = None
        self._lock = threading.Lock()

    def key(self, relative: str) -> str:
        """The object key of an archive-relative path (warc/NAME, text/ab/DIGEST.txt)."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def url_of(self, relative: str) -> str:
        return f"s3://{self.bucket}/{self.key(relative)}"

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _make_client(self.proxy)
            return self._client

    def upload_file(self, path: Path, relative: str) -> None:
        """Upload a file (in parts past MULTIPART_THRESHOLD) and confirm the object has its size."""
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)
        size = path.stat().st_size
        self.client.upload_file(str(path), self.bucket, self.key(relative), Config=config)
        head = self.client.head_object(Bucket=self.bucket, Key=self.key(relative))
        if int(head["ContentLength"]) != size:
            raise ArchiveError(f"{self.url_of(relative)}: uploaded {head['ContentLength']} bytes of {size}")

    def put(self, relative: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(relative), Body=data)

    def get(self, relative: str) -> bytes | None:
        """An object's bytes, or None when there is no such object (nor bucket); ArchiveError when the store
        cannot be read."""
        answer = self._get(relative)
        return None if answer is None else bytes(answer["Body"].read())

    def get_range(self, relative: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end-1 of an object, streamed; ArchiveError when it is not there."""
        answer = self._get(relative, f"bytes={start}-{end - 1}")
        if answer is None:
            raise ArchiveError(f"{self.url_of(relative)}: no such object (not uploaded yet?)")
        yield from answer["Body"].iter_chunks(1 << 20)

    def _get(self, relative: str, byte_range: str | None = None) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"Range": byte_range} if byte_range else {}
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(relative), **extra)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchBucket", "404"):
                return None
            raise ArchiveError(f"cannot read {self.url_of(relative)}: {exc}") from None
        except BotoCoreError as exc:
            raise ArchiveError(f"cannot read {self.url_of(relative)}: {exc}") from None


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise ConfigError(f"S3 storage needs the shared extra: {SHARED_EXTRA}") from None
    return boto3


def _make_client(proxy: str | None) -> Any:
    boto3 = _boto3()
    from botocore.config import Config

    proxy = proxy or os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    config = Config(
        proxies={"http": proxy, "https": proxy} if proxy else None,
        retries={"max_attempts": 5, "mode": "standard"},
    )
    # AWS_CA_BUNDLE is boto3's own; the CA file the run's other fetches trust applies where it is unset.
    verify = None if os.environ.get("AWS_CA_BUNDLE") else os.environ.get("SSL_CERT_FILE") or None
    return boto3.session.Session().client("s3", config=config, verify=verify)


def attach(root: Path, url: str, *, proxy: str | None = None) -> ObjectStore | None:
    """Make an archive's store known to its readers (url "" : none); returns it."""
    if not url:
        _STORES.pop(root.resolve(), None)
        return None
    store = ObjectStore(url, proxy=proxy)
    _STORES[root.resolve()] = store
    return store


def store_for(root: Path) -> ObjectStore | None:
    """The object store attached to an archive directory, if any."""
    if not _STORES:
        return None
    return _STORES.get(root.resolve())


def read_range(root: Path, relative: str, start: int, end: int) -> Iterator[bytes]:
    """Bytes start..end-1 of an archive file: from the local directory, else from the bucket."""
    path = root / relative
    try:
        file = path.open("rb")
    except FileNotFoundError:
        store = store_for(root)
        if store is None:
            raise
        yield from store.get_range(relative, start, end)
        return
    with file:
        file.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = file.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
