"""A stored fetch as the catalog's capture row, with what extraction made of it (ours, or a web archive's copy)."""

from __future__ import annotations

from datetime import datetime

from archiver.judging.analysis import Analysis
from archiver.outcomes import CaptureRow, Fetch
from archiver.reading.safetext import printable_or_none
from archiver.storage.warcstore import Revisit, Stored


def capture_row(
    fetch: Fetch,
    stored: Stored,
    analysis: Analysis | None,
    *,
    url: str | None = None,
    revisit: Revisit | None = None,
    revisit_of: int | None = None,
    memento_url: str | None = None,
    memento_datetime: datetime | None = None,
) -> CaptureRow:
    """The catalog row for a stored fetch, with what extraction made of it."""
    assert fetch.response is not None, "only answered fetches are stored"
    extracted = analysis.extracted if analysis else None
    return CaptureRow(
        fetched_at=fetch.response.fetched_at,
        url=url or fetch.url,
        final_url=fetch.final_url,
        http_status=fetch.response.status,
        content_type=fetch.content_type,
        warc_file=stored.response.file,
        warc_offset=stored.response.offset,
        warc_length=stored.response.length,
        warc_start=stored.start,
        warc_end=stored.end,
        revisit_of=revisit_of,
        payload_digest=revisit.payload_digest if revisit is not None else fetch.payload_digest,
        content_digest=fetch.content_digest,
        body_size=fetch.body_size,
        text_digest=analysis.text_digest if analysis else None,
        text_length=len(extracted.text) if extracted and extracted.text else None,
        kind=extracted.kind if extracted else None,
        title=printable_or_none(extracted.title) if extracted else None,
        authors=printable_or_none(extracted.authors) if extracted else None,
        published=printable_or_none(extracted.date) if extracted else None,
        language=extracted.language if extracted else None,
        extractor=extracted.extractor if extracted else None,
        memento_url=memento_url,
        memento_datetime=memento_datetime,
        captured_with=str(fetch.captured_with),
        screenshot=fetch.screenshot,
    )
