"""Show results to people (rich tables) and to scripts (JSON)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from archiver.outcomes import VERDICT_COLOURS, VERDICT_ORDER, Checked
from archiver.reading.footnotes import Footnote, footnotes
from archiver.reading.reports import Report
from archiver.reading.safetext import printable
from archiver.storage.readrows import Citation, StatusRow


def footnote_dict(note: Footnote) -> dict[str, Any]:
    """One footnote as the contract's JSON object."""
    data: dict[str, Any] = {
        "n": note.n,
        "text": note.text,
        "urls": list(note.urls),
        "problems": [str(p) for p in note.problems],
    }
    if note.unparsed:
        data["unparsed"] = list(note.unparsed)
    return data


def report_dict(report: Report) -> dict[str, Any]:
    """One report and its footnotes as the contract's JSON object."""
    return {
        "report": report.stem,
        "path": report.path,
        "title": report.title,
        "published": report.published,
        "published_from": report.published_from or ("report" if report.published else None),
        "authors": list(report.authors),
        "format": report.format,
        "footnotes": [footnote_dict(f) for f in footnotes(report)],
    }


def print_json(data: Any) -> None:
    """JSON on stdout, UTF-8 kept readable."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def print_json_stream(items: Iterable[Any]) -> None:
    """A JSON array written item by item: memory stays flat however long it is."""
    out = sys.stdout
    out.write("[")
    first = True
    for item in items:
        out.write("\n  " if first else ",\n  ")
        out.write(json.dumps(item, ensure_ascii=False, indent=2).replace("\n", "\n  "))
        first = False
    out.write("]\n" if first else "\n]\n")


def print_footnotes(reports: list[Report], console: Console) -> None:
    """A table per report: number, links, problems."""
    for report in reports:
        notes = footnotes(report)
        links = sum(len(f.urls) for f in notes)
        distinct = len({u for f in notes for u in f.urls})
        flagged = sum(1 for f in notes if f.problems)
        title = printable(report.title or "(no title)")
        console.print(f"[bold]{escape(printable(report.stem))}[/bold]  {escape(title)}", highlight=False)
        meta = [report.published or "no date", ", ".join(report.authors) or "no author", report.path]
        console.print(Text(printable("  " + " · ".join(meta)), style="dim"))
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("n", justify="right")
        table.add_column("links", overflow="fold")
        table.add_column("problems", style="yellow")
        for note in notes:
            problems = ", ".join(str(p) for p in note.problems)
            if note.unparsed:
                problems += ": " + " ".join(note.unparsed)
            table.add_row(str(note.n), Text(printable("\n".join(note.urls)) or "-"), Text(printable(problems)))
        console.print(table)
        console.print(
            f"  {len(notes)} footnotes, {links} links ({distinct} distinct), {flagged} with problems\n", highlight=False
        )


_VERDICT_STYLE = {str(v): terminal for v, (terminal, _) in VERDICT_COLOURS.items()}


class RunProgress:
    """A progress bar on a terminal; one plain log line per link otherwise (cron)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> RunProgress:
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]archiving"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=self.console,
                transient=True,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def checked(self, item: Checked) -> None:
        """One link done."""
        url, reason = printable(item.url), printable(item.reason)
        if self._progress is not None:
            if self._task is None:
                self._task = self._progress.add_task("", total=item.total)
            self._progress.update(self._task, completed=item.done, description=f"{item.verdict}: {url}"[:80])
            if item.verdict != "ok":
                self._progress.console.print(
                    f"[{_VERDICT_STYLE.get(item.verdict, '')}]{item.verdict:8}[/] "
                    f"{escape(url)}  [dim]{escape(reason)}[/]",
                    highlight=False,
                )
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # A plain line per link (cron's log): written as is, no rich rendering on the hot path.
        self.console.file.write(f"{stamp} [{item.done}/{item.total}] {item.verdict} {url} ({reason})\n")


def print_run_summary(summary: dict[str, Any], console: Console) -> None:
    """The end of a run, for people."""
    links = summary["links"]
    reports = summary["reports"]
    said = [f"{len(reports['added'])} report(s) added"]
    said += [f"{len(reports[k])} {k}" for k in ("updated", "moved", "replaced", "unchanged") if reports.get(k)]
    console.print(
        f"run {summary['run']} {summary['status']} in {summary['duration_seconds']} s: "
        f"{', '.join(said)}; {links['checked']} of "
        f"{links['to_check']} links checked ({links['new']} new)"
        + (f", {links['left_for_next_run']} left for the next run" if links["left_for_next_run"] else ""),
        markup=False,
    )
    counts = "  ".join(f"[{_VERDICT_STYLE[v]}]{v}[/] {n}" for v, n in summary["verdicts"].items())
    console.print(f"verdicts: {counts}")
    behind = summary.get("pages_behind_walls") or {}
    if behind.get("rendered") or behind.get("read_through_endpoints"):
        console.print(
            f"pages behind walls: {behind['rendered']} rendered in a browser, "
            f"{behind['read_through_endpoints']} read through their site's endpoint",
            markup=False,
        )
    if behind.get("script_pages_not_rendered"):
        why = str(behind.get("not_rendered_because") or "")
        advice = (
            "rendering is turned off (--no-browser, or render = false in archiver.toml)"
            if "turned off" in why
            else "to render them, pip install 'archiver[browser]' and install a Chromium (apt-get install chromium, "
            "or playwright install chromium), or name one with --browser PATH"
        )
        console.print(
            f"{behind['script_pages_not_rendered']} script-built page(s) left blocked, not rendered: {advice}",
            markup=False,
            style="yellow",
        )
    lookups = summary.get("web_archive") or {}
    if lookups:
        words = ", ".join(f"{status.replace('_', ' ')} {n}" for status, n in sorted(lookups.items()))
        failed = lookups.get("error", 0)
        console.print(
            f"web archive lookups: {words}" + (f" ({failed} failed: asked again next run)" if failed else ""),
            markup=False,
            style="yellow" if failed else None,
        )


def _cited(cited_by: Iterable[Citation], sep: str = "\n") -> str:
    """Citations grouped by report: "report #1, 2, 28"."""
    by_report: dict[str, list[str]] = {}
    for citation in cited_by:
        by_report.setdefault(citation.report, []).append(str(citation.n))
    return sep.join(f"{report} #{', '.join(numbers)}" for report, numbers in by_report.items())


def print_status_lines(rows: Iterable[StatusRow], out: IO[str]) -> int:
    """One tab-separated line per link, nothing cut or wrapped (for grep, cut, awk); returns the count."""
    count = 0
    for row in rows:
        fields = [row.verdict, row.url, row.reason, _cited(row.cited_by, "; "), row.last_checked or "-"]
        out.write("\t".join(" ".join(printable(str(f)).split()) for f in fields) + "\n")
        count += 1
    return count


def print_status_summary(counts: dict[str, int], console: Console) -> None:
    """How many links have each verdict, the worst first."""
    total = sum(counts.values())
    parts = [f"[{_VERDICT_STYLE[v]}]{v}[/] {counts[v]}" for v in VERDICT_ORDER if counts.get(v)]
    console.print(f"[bold]{total} links[/]: " + "  ".join(parts))


def print_status(rows: Iterable[StatusRow], console: Console) -> int:
    """Links grouped by verdict, the worst first; returns how many were shown."""
    groups: dict[str, list[StatusRow]] = {}
    for row in rows:
        groups.setdefault(row.verdict, []).append(row)
    for verdict in VERDICT_ORDER:
        group = groups.get(verdict)
        if not group:
            continue
        table = Table(
            title=f"{verdict} ({len(group)})",
            title_style=f"bold {_VERDICT_STYLE[verdict]}",
            title_justify="left",
            box=None,
            show_header=True,
            header_style="bold",
            expand=True,
        )
        table.add_column("url", overflow="fold", ratio=4)
        table.add_column("reason", ratio=3)
        table.add_column("cited by", ratio=2)
        table.add_column("checked", no_wrap=True)
        for row in group:
            table.add_row(
                Text(printable(row.url)),
                Text(printable(row.reason)),
                Text(printable(_cited(row.cited_by))),
                (row.last_checked or "-")[:10],
            )
        console.print(table)
        console.print()
    return sum(len(g) for g in groups.values())


_TEXT_LINES = 40


def _timeline(checks: list[dict[str, Any]]) -> str:
    """Runs of the same verdict: "2026-11-24–2026-11-26 ok 200 ×3 → 2026-11-27 dead 404"."""
    spans: list[dict[str, Any]] = []
    for check in checks:
        if check["retried"]:
            continue  # a retry within a run; the run's last attempt speaks for it
        what = check["http_status"] or check["failure"] or ""
        day = str(check["checked_at"])[:10]
        if spans and spans[-1]["verdict"] == check["verdict"]:
            spans[-1].update(last=day, count=spans[-1]["count"] + 1, what=what)
        else:
            spans.append({"verdict": check["verdict"], "first": day, "last": day, "count": 1, "what": what})
    parts = []
    for span in spans[-8:]:
        days = span["first"] if span["first"] == span["last"] else f"{span['first']}–{span['last']}"
        times = f" ×{span['count']}" if span["count"] > 1 else ""
        parts.append(f"{days} [{_VERDICT_STYLE.get(span['verdict'], '')}]{span['verdict']}[/] {span['what']}{times}")
    return " → ".join(parts)


def _quoted(text: str, limit: int = _TEXT_LINES) -> str:
    lines = text.splitlines()
    shown = "\n".join(f"  │ {escape(line)}" for line in lines[:limit])
    if len(lines) > limit:
        shown += f"\n  │ … {len(lines) - limit} more lines (`--json` or `archiver export` for all)"
    return shown


def _printable_all(value: Any) -> Any:
    """Every string in a JSON-like value without control characters (an archive made before they were
    stripped on the way in still prints no escape sequence)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {key: _printable_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable_all(item) for item in value]
    return value


def print_check(answer: dict[str, Any], console: Console) -> None:
    """A footnote's links, verdicts, history and archived text, for a person fixing it."""
    answer = _printable_all(answer)
    title = f"  {answer['title']}" if answer.get("title") else ""
    console.print(f"[bold]{answer['report']} · footnote {answer['n']}[/]{escape(title)}")
    if answer["text"] is not None:
        console.print(f"note: {escape(answer['text'])}")
    if answer["message"]:
        console.print(f"[yellow]{escape(answer['message'])}[/]")
    for link in answer["urls"]:
        style = _VERDICT_STYLE.get(link["verdict"], "")
        console.print()
        console.print(f"[bold]{escape(link['url'])}[/]")
        console.print(f"  [{style}]{link['verdict']}[/]: {escape(link['reason'])}")
        since = str(link.get("verdict_since") or "")[:10]
        if since and link["verdict"] not in ("ok", "pending") and f"since {since}" not in link["reason"]:
            console.print(f"  [{style}]{link['verdict']} since {since}[/] (the first check that saw it)")
        if link["final_url"] and link["final_url"] != link["url"]:
            console.print(f"  now at: {escape(link['final_url'])}")
        if link["checks"]:
            console.print(f"  history: {_timeline(link['checks'])}")
        captures = link["captures"]
        console.print(
            f"  captures: {len(captures)}"
            + (f", first {link['first_archived']}" if link["first_archived"] else ", none successful yet")
        )
        how = _CAPTURED_WITH.get(link.get("captured_with") or "")
        if how:
            console.print(f"  captured {how}", markup=False)
        if link.get("screenshot"):
            console.print(f"  screenshot: {link['screenshot']}", markup=False)
        waiting = sorted({c["warc_pending_on"] for c in captures if c.get("warc_pending_on")})
        if waiting:
            console.print(
                f"  its WARC records are still on the worker {', '.join(waiting)} (not uploaded yet: they reach"
                " the bucket when that worker's file rotates or its night ends)",
                markup=False,
            )
        if link["archived_text"]:
            console.print(f"  archived text ({link['first_archived']}):")
            console.print(_quoted(link["archived_text"]))
        elif captures:
            console.print("  no text was extracted from its captures")
        memento = link.get("memento")
        if memento:
            console.print(
                f"  [bold]web archive's copy[/] of {str(memento['datetime'])[:10]} "
                f"(not ours; captured by {escape(str(memento['archive']))}): {escape(memento['url'])}"
            )
            if memento["text"] and not link["archived_text"]:
                console.print(_quoted(memento["text"]))
        if link["diff"] and link["verdict"] == "changed":
            console.print(f"  what changed by {link['latest_archived']} ({link['similarity']:.0%} similar):")
            console.print(_quoted(link["diff"], 60))


_CAPTURED_WITH = {
    "http": "by a plain HTTP fetch",
    "browser": "in a browser (the page is built by scripts)",
    "endpoint": "through the site's public endpoint (oEmbed)",
}


def print_search(hits: Sequence[Any], console: Console) -> None:
    """Search results for people: the link, its verdict and capture date, what cites it, the snippet with
    the matches highlighted (on a terminal; marked off one)."""
    if not hits:
        console.print("no archived text matches", style="dim")
        return
    for number, hit in enumerate(hits, start=1):
        style = _VERDICT_STYLE.get(hit.verdict, "")
        head = Text(f"{number}. ")
        head.append(printable(hit.url), style="bold")
        head.append("  ")
        head.append(hit.verdict, style=style)
        head.append(f"  captured {hit.captured[:10]}", style="dim")
        console.print(head)
        console.print(Text("   cited by " + printable(_cited(hit.cited_by, "; ")), style="dim"))
        console.print(Text("   ") + _marked(printable(hit.snippet), console.is_terminal))


def _marked(snippet: str, terminal: bool) -> Text:
    """A snippet whose <mark>...</mark> spans are highlighted on a terminal, or written [like this] off one."""
    text = Text()
    for index, piece in enumerate(re.split(r"</?mark>", snippet)):
        if index % 2:
            text.append(piece, style="bold black on yellow") if terminal else text.append(f"[{piece}]")
        else:
            text.append(piece)
    return text
