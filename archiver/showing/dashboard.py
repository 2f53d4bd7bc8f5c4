"""A static HTML view of the archive's health: an index of reports and a page per report, offline, escaped."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from archiver import __version__
from archiver.outcomes import VERDICT_COLOURS, VERDICT_ORDER
from archiver.showing.names import safe_name
from archiver.showing.sanitize import CSP_META
from archiver.storage.catalog import CatalogReader, iso
from archiver.storage.readrows import NoteWithLinks, ReportCounts, RunRow
from archiver.storage.textstore import get_text, text_path

VERDICTS = [str(v) for v in VERDICT_ORDER]
COLOURS = {str(v): html for v, (_, html) in VERDICT_COLOURS.items()}
TEXT_CHARS = 20_000
INLINE_LINKS = 40  # a report page quotes its texts up to this many links; past it, it links them
STYLESHEET = "style.css"

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;
color:#222}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.v{display:inline-block;padding:0 .4rem;border-radius:.3rem;color:#fff;font-size:.85em}
.muted{color:#666}.url,p>a{overflow-wrap:anywhere}blockquote{margin:.5rem 0;padding:.5rem 1rem;background:#f6f6f6;
border-left:3px solid #ccc;white-space:pre-wrap;max-height:24rem;overflow:auto}
details{margin:.3rem 0}nav a{margin-right:1rem}img.thumb{border:1px solid #ccc;max-height:12rem;object-fit:cover;
object-position:top}
""" + "".join(f".v-{v}{{background:{c}}}" for v, c in COLOURS.items())


def _badge(verdict: str) -> str:
    return f'<span class="v v-{escape(verdict)}">{escape(verdict)}</span>'


def _page(title: str, body: str, depth: int = 0) -> str:
    """A page: one shared stylesheet, and no Referer sent to the cited sites (the page-wide policy stands in
    for on each of a million links)."""
    up = "../" * depth
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{CSP_META}"
        '<meta name="referrer" content="no-referrer">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="{up}{STYLESHEET}"></head><body>'
        f'<nav><a href="{up}index.html">All reports</a></nav>{body}'
        f'<p class="muted">Made by archiver {escape(__version__)} on {escape(iso(datetime.now(UTC)) or "")}.</p>'
        "</body></html>\n"
    )


def _chart(runs: list[RunRow]) -> str:
    """Stacked bars of the verdict counts after each of the last runs, as inline SVG."""
    counted = [(r, r.summary["verdicts"]) for r in runs if r.summary and r.summary.get("verdicts")]
    if not counted:
        return '<p class="muted">No finished run yet.</p>'
    width, height, gap = 40, 160, 12
    days = Counter(str(r.started_at)[:10] for r, _ in counted)
    tallest = max(sum(verdicts.values()) for _, verdicts in counted) or 1
    bars = []
    for index, (run, verdicts) in enumerate(counted):
        x = index * (width + gap) + 30
        y = height
        label = []
        for verdict in reversed(VERDICTS):
            count = verdicts.get(verdict, 0)
            if not count:
                continue
            size = count / tallest * (height - 10)
            y -= size
            label.append(f"{verdict} {count}")
            bars.append(
                f'<rect x="{x}" y="{y:.1f}" width="{width}" height="{size:.1f}" fill="{COLOURS[verdict]}">'
                f"<title>run {run.id}: {escape(verdict)} {count}</title></rect>"
            )
        day = str(run.started_at)[5:10]
        bars.append(
            f'<text x="{x + width / 2}" y="{height + 14}" font-size="10" text-anchor="middle">{escape(day)}</text>'
        )
        if days[str(run.started_at)[:10]] > 1:
            # Several runs in a day: their time tells the bars apart.
            time = escape(str(run.started_at)[11:16])
            bars.append(
                f'<text x="{x + width / 2}" y="{height + 26}" font-size="10" text-anchor="middle">{time}</text>'
            )
    total_width = len(counted) * (width + gap) + 40
    legend = " ".join(f"{_badge(v)}" for v in VERDICTS)
    return (
        f'<svg role="img" aria-label="verdicts over the last runs" width="{total_width}" '
        f'height="{height + 30}" viewBox="0 0 {total_width} {height + 30}">{"".join(bars)}</svg>'
        f"<p>{legend}</p>"
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _index(catalog: CatalogReader) -> str:
    reports = catalog.report_counts()
    reports.sort(key=lambda r: (-(r.counts.get("dead", 0) + r.counts.get("changed", 0)), r.report))
    turned, turned_total = catalog.turned(["dead", "changed"])
    counts = catalog.counts()  # distinct links: one cited by two reports counts once here
    totals = {v: counts.get(v, 0) for v in VERDICTS}
    parts = [
        f"<h1>Archive health</h1><p>{len(reports)} report{'' if len(reports) == 1 else 's'}, "
        f"{sum(totals.values())} links: "
        + ", ".join(f'{_badge(v)} <span id="total-{v}">{totals[v]}</span>' for v in VERDICTS)
        + "</p>"
    ]
    parts.append("<h2>Since the previous run</h2>")
    if turned:
        parts.append(
            '<table id="turned"><tr><th>link</th><th>now</th><th>was</th><th>reason</th><th>cited by</th></tr>'
        )
        for row in turned:
            cited = ", ".join(
                f'<a href="reports/{escape(safe_name(c.report))}.html#fn-{c.n}">{escape(c.report)} #{c.n}</a>'
                for c in row.cited_by
            )
            parts.append(
                f'<tr><td><a class="url" href="{escape(row.url)}">{escape(row.url)}</a></td>'
                f"<td>{_badge(row.verdict)}</td>"
                f"<td>{escape(row.before or 'new')}</td><td>{escape(row.reason)}</td><td>{cited}</td>"
                "</tr>"
            )
        parts.append("</table>")
        if turned_total > len(turned):
            parts.append(
                f'<p class="muted">and {turned_total - len(turned)} more: '
                "<code>archiver status --verdict dead,changed --since DATE</code> lists them all.</p>"
            )
    else:
        parts.append('<p class="muted">No link turned dead or changed in the latest run.</p>')
    parts.append("<h2>Verdicts over the last runs</h2>" + _chart(catalog.recent_runs()))
    parts.append(
        '<h2>Reports</h2><table id="reports"><tr><th>report</th><th>published</th>'
        + "".join(f'<th class="num">{v}</th>' for v in VERDICTS)
        + "</tr>"
    )
    for report in reports:
        name = safe_name(report.report)
        cells = "".join(f'<td class="num" data-verdict="{v}">{report.counts.get(v, 0)}</td>' for v in VERDICTS)
        parts.append(
            f'<tr><td><a href="reports/{escape(name)}.html">{escape(report.report)}</a><br>'
            f'<span class="muted">{escape(report.title or "")}</span></td>'
            f"<td>{escape(report.published or '')}</td>{cells}</tr>"
        )
    parts.append("</table>")
    return _page("Archive health", "".join(parts))


def _text_link(archive: Path, output: Path, digest: str, fetched_at: str | None) -> str:
    """A link to the archived text in the archive's own text store (not copied into the dashboard)."""
    target = os.path.relpath(text_path(archive, digest), output / "reports")
    when = f' <span class="muted">({escape((fetched_at or "")[:10])})</span>' if fetched_at else ""
    return f'<a href="{escape(Path(target).as_posix())}">archived text</a>{when}'


def _thumbnail(archive: Path, output: Path, screenshot: str) -> str:
    """A rendered page's screenshot as a thumbnail linking to the whole PNG."""
    target = escape(Path(os.path.relpath(archive / screenshot, output / "reports")).as_posix())
    return (
        f'<p><a href="{target}"><img class="thumb" src="{target}" width="240" loading="lazy"'
        ' alt="screenshot of the page as rendered in a browser"></a></p>'
    )


def _ranges(numbers: list[int]) -> str:
    """Footnote numbers as runs: [1, 2, 3, 5] -> "1–3, 5"."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def _all_ok(note: NoteWithLinks) -> bool:
    return all(link.verdict == "ok" for link in note.links)


def _report_page(catalog: CatalogReader, archive: Path, output: Path, report: ReportCounts) -> str:
    parts = [
        f"<h1>{escape(report.title or report.report)}</h1>",
        f'<p class="muted">{escape(report.report)}'
        + (f", published {escape(report.published)}" if report.published else "")
        + "</p>",
    ]
    notes = catalog.report_footnotes(report.report)
    # A long report's page links each text instead of quoting it, and lists the footnotes whose links are
    # all ok as numbers linked to their sources: pages stay small at a million links.
    inline = sum(len(note.links) for note in notes) <= INLINE_LINKS
    if not inline:
        fine = [n for n in notes if len(n.links) == 1 and not n.problems and _all_ok(n)]
        notes = [n for n in notes if not any(n is f for f in fine)]
        listed = _ranges([n.n for n in fine])
        parts.append(f'<h2>{len(fine)} footnotes whose links are ok</h2><p class="ok-list">{listed}</p>')
        parts.append("<h2>Footnotes that need a look</h2>" if notes else "")
    for note in notes:
        problems = list(note.problems)
        flags = " ".join(f'<span class="muted">[{escape(p)}]</span>' for p in problems)
        parts.append(f'<h2 id="fn-{note.n}">Footnote {note.n} {flags}</h2>')
        if note.text is not None:
            parts.append(f'<p class="muted">{escape(note.text)}</p>')
        for link in note.links:
            if not inline and link.verdict == "ok":
                # An ok link on a long page: one line, the link and its text.
                text_ref = (
                    " · " + _text_link(archive, output, link.text_digest, link.fetched_at) if link.text_digest else ""
                )
                parts.append(f'<p>{_badge("ok")} <a href="{escape(link.url)}">{escape(link.url)}</a>{text_ref}</p>')
                continue
            copy = f' · <a href="{escape(link.memento_url)}">web archive copy</a>' if link.memento_url else ""
            text_ref = (
                " · " + _text_link(archive, output, link.text_digest, link.fetched_at)
                if not inline and link.text_digest
                else ""
            )
            checked = (
                f' <span class="muted">(checked {escape(link.last_checked[:10])})</span>' if link.last_checked else ""
            )
            parts.append(
                f'<p>{_badge(link.verdict)} <a href="{escape(link.url)}">{escape(link.url)}</a>{copy}{text_ref}<br>'
                f"{escape(link.reason)}{checked}</p>"
            )
            if link.screenshot:
                parts.append(_thumbnail(archive, output, link.screenshot))
            text = get_text(archive, link.text_digest) if inline else None
            if text:
                cut = text[:TEXT_CHARS] + ("\n…" if len(text) > TEXT_CHARS else "")
                parts.append(
                    f"<details><summary>Archived text, captured {escape(link.fetched_at or '')}</summary>"
                    f"<blockquote>{escape(cut)}</blockquote></details>"
                )
            if link.diff:
                parts.append(
                    '<details class="diff"><summary>What changed in the main text since</summary>'
                    f"<blockquote>{escape(link.diff[:TEXT_CHARS])}</blockquote></details>"
                )
    return _page(report.title or report.report, "".join(parts), depth=1)


def build_dashboard(catalog: CatalogReader, archive: Path, output: Path) -> Path:
    """Write index.html and reports/NAME.html under output; returns the index's path."""
    for report in catalog.report_counts():
        page = _report_page(catalog, archive, output, report)
        _write(output / "reports" / f"{safe_name(report.report)}.html", page)
    _write(output / STYLESHEET, STYLE.lstrip())
    index = output / "index.html"
    _write(index, _index(catalog))
    return index
