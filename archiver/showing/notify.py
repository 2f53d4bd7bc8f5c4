"""Tell people what broke: one digest per service after a night that found news, sent with apprise.

Each service (an apprise URL: mailto://, slack://, matrix://, tgram://, json://...) is owed the links
that became dead, changed or blocked since it was first configured and that it was not told of; the
catalog records what each was told, so a rerun never sends twice and a failed send is owed next night.
Service URLs hold tokens and passwords: they are shown only as apprise masks them, and stored only
as a digest. apprise's HTTP requests go through the run's proxy and trust the run's CAs.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.config import Settings
from archiver.reading.safetext import printable
from archiver.showing.digest import Digest, build_digest
from archiver.storage.catalog import Catalog


@dataclass(frozen=True, slots=True)
class Sent:
    """What one service was sent: its masked URL, how many links, and why not when it failed."""

    service: str
    links: int
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "links": self.links, "sent": self.error is None, "error": self.error}


def service_id(url: str) -> str:
    """How the catalog knows a service: a digest of its URL, never the URL (it holds its secrets)."""
    return hashlib.sha256(url.strip().encode("utf-8")).hexdigest()


def notify_night(catalog: Catalog, settings: Settings, archive: Path, since: datetime, now: datetime) -> list[Sent]:
    """Send each configured service the digest it is owed (nothing when it is owed nothing).

    since: when the night began; a service configured tonight is owed what tonight found."""
    urls = list(dict.fromkeys(url.strip() for url in settings.notify if url.strip()))
    if not urls:
        return []
    name = settings.name or archive.resolve().name
    results = []
    with network_settings(settings):
        for url in urls:
            service = service_id(url)
            catalog.register_service(service, since)
            news = catalog.news_for(service)
            if not news:
                continue
            result = send_digest(url, functools.partial(build_digest, name, news))
            if result.error is None:
                catalog.record_notices(service, news, now)
            results.append(result)
    return results


def send_test(settings: Settings, archive: Path) -> list[Sent]:
    """A short test message to every configured service."""
    name = settings.name or archive.resolve().name
    body = f"A test message from archiver for the archive {name}: notifications reach you here.\n"
    test = Digest(f"archiver · {name}: test message", body, {"archive": name, "test": True}, 0, 0)
    with network_settings(settings):
        return [send_digest(url, lambda limit: test) for url in dict.fromkeys(settings.notify)]


def send_digest(url: str, make: Callable[[int], Digest]) -> Sent:
    """Send one service a digest made for its message limit (`make(limit)`), as JSON too where it
    takes attachments. Never raises: a service that cannot be told is a Sent with its reason."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        return Sent(_unknown(url), 0, "not a notification URL that apprise knows (see its wiki for the syntax)")
    server: Any = sender[0]  # apprise's plugins are untyped
    capture: Any = apprise.LogCapture
    masked = str(server.url(privacy=True))
    digest = make(int(getattr(server, "body_maxlen", 0) or 0))
    with tempfile.TemporaryDirectory(prefix="archiver-notify-") as folder:
        attach = None
        if getattr(server, "attachment_support", False):
            path = Path(folder) / "archiver-digest.json"
            path.write_text(json.dumps(digest.data, ensure_ascii=False, indent=1), encoding="utf-8")
            attach = str(path)
        with capture(level=logging.WARNING) as said:
            try:
                ok = bool(sender.notify(title=digest.subject, body=digest.body, attach=attach))
            except Exception as exc:  # a plugin's own bug: this service's failure, not the night's
                ok, reason = False, f"{type(exc).__name__}: {exc}"
            else:
                reason = ""
        if ok:
            return Sent(masked, digest.total)
        reason = reason or _last_line(said.getvalue()) or "the service did not accept the message"
        return Sent(masked, 0, _without_secrets(reason, url, masked))


@contextlib.contextmanager
def network_settings(settings: Settings) -> Iterator[None]:
    """apprise's requests (the requests library) through the run's proxy, trusting the run's CAs."""
    changes: dict[str, str] = {}
    if settings.proxy:
        changes.update(HTTP_PROXY=settings.proxy, HTTPS_PROXY=settings.proxy)
    ca = os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")
    if ca and not os.environ.get("REQUESTS_CA_BUNDLE"):
        changes["REQUESTS_CA_BUNDLE"] = ca
    before = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _last_line(text: str) -> str:
    """The last message apprise logged, without its time and level."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return re.sub(r"^.*? - (?:WARNING|ERROR|CRITICAL) - ", "", lines[-1]) if lines else ""


def _unknown(url: str) -> str:
    """A URL apprise cannot read, shown by its scheme alone (whatever follows may be a secret)."""
    scheme = url.partition("://")[0] if "://" in url else "?"
    return f"{printable(scheme)}://***"


def _without_secrets(text: str, url: str, masked: str) -> str:
    """A reason with every part of the URL that its masked form hides (a token, a password) removed."""
    hidden = {part for part in re.split(r"[:/@?&=#]+", url) if len(part) >= 4 and part not in masked}
    for part in sorted(hidden, key=len, reverse=True):
        text = text.replace(part, "***")
    return printable(" ".join(text.split()))[:300]
