"""The archived sources as one WACZ file (WARCs, index, page list) that ReplayWeb.page opens with nothing installed."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.errors import ArchiverError, MissingExtra
from archiver.reading.refang import to_uri
from archiver.showing.export import check_report, export_warc
from archiver.storage.catalog import CatalogReader


def _pages(catalog: CatalogReader, report: str | None) -> list[dict[str, Any]]:
    """One page per cited link: the capture its footnote cited (the first archived), titled by report and footnote."""
    pages: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for row in catalog.export_rows(report):
        if not row.fetched_at:
            continue  # never captured by us: nothing of it in our WARCs to replay
        url = to_uri(row.url)[0] or row.url
        key = (url, row.fetched_at)
        title = f"{row.report} · footnote {row.n}: {row.title or row.url}"
        if key in seen:
            continue
        seen.add(key)
        pages.append(
            {
                "id": f"{row.report}-{row.n}-{row.position}",
                "url": url,
                "ts": row.fetched_at if row.fetched_at.endswith("Z") else row.fetched_at + "Z",
                "title": title,
                "report": row.report,
                "footnote": row.n,
                "verdict": row.verdict,
            }
        )
    return pages


def export_wacz(catalog: CatalogReader, archive: Path, output: Path, report: str | None = None) -> int:
    """Write a WACZ 1.1.1 package of the captures (of one report, or all) to output; the number of pages."""
    try:
        from wacz.main import main as wacz_main  # py-wacz: index (cdxj-indexer), datapackage, digests
    except ImportError:
        raise MissingExtra("WACZ export", "wacz") from None

    check_report(catalog, report)
    name = f"archiver-{report or 'all'}"
    with tempfile.TemporaryDirectory(prefix="archiver-wacz-") as tmp:
        warc = Path(tmp) / f"{name}.warc.gz"
        with warc.open("wb") as out:
            export_warc(catalog, archive, out, report)
        pages = _pages(catalog, report)
        listing = Path(tmp) / "pages.jsonl"
        header = {"format": "json-pages-1.0", "id": "pages", "title": f"Sources of {report or 'every report'}"}
        listing.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in [header, *pages]) + "\n")
        packed = Path(tmp) / "out.wacz"
        arguments = ["create", "-o", str(packed), str(warc), "-p", str(listing), "--copy-pages"]
        arguments += [
            "--title",
            header["title"],
            "--desc",
            f"archiver {__version__}: the web sources cited by {report or 'the reports'}",
        ]
        with contextlib.redirect_stdout(io.StringIO()) as said:
            code = wacz_main(arguments)
        if code not in (None, 0) or not packed.exists():
            raise ArchiverError(f"cannot make the WACZ file: {said.getvalue().strip().splitlines()[-1:] or code}")
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(packed, output)
    return len(pages)
