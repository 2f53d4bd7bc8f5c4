"""The seam between a link's check and whatever captures its page.

A capturer is asked for a capture of a URL and answers with a Fetch whose `captured_with` says what
it is: the plain HTTP fetcher today (`http`), a browser or a site's public endpoint next. The link
check reads the answer and never asks which capturer gave it.
"""

from __future__ import annotations

from typing import Protocol

from archiver.outcomes import Fetch


class Capturer(Protocol):
    """Captures one URL; never raises for a network failure (the Fetch carries it)."""

    async def capture(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, timeout: float | None = None
    ) -> Fetch: ...
