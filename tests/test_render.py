"""What people see: the progress bar on a terminal, plain lines for cron."""

from __future__ import annotations

import io

from rich.console import Console

from archiver.outcomes import Checked
from archiver.showing.render import RunProgress


def test_plain_lines_off_a_terminal() -> None:
    out = io.StringIO()
    with RunProgress(Console(file=out, force_terminal=False, width=200)) as progress:
        progress.checked(Checked("https://a.example/1", "dead", "404 Not Found since 2026-11-25", 404, 1, 2))
        progress.checked(Checked("https://a.example/2", "ok", "200", 200, 2, 2))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("[1/2] dead https://a.example/1 (404 Not Found since 2026-11-25)")
    assert "\x1b[" not in out.getvalue()


def test_progress_bar_on_a_terminal_lists_what_is_not_ok() -> None:
    out = io.StringIO()
    with RunProgress(Console(file=out, force_terminal=True, width=120)) as progress:
        progress.checked(Checked("https://a.example/1", "dead", "404 Not Found since 2026-11-25", 404, 1, 2))
        progress.checked(Checked("https://a.example/2", "ok", "200", 200, 2, 2))
    text = out.getvalue()
    assert "archiving" in text and "2/2" in text  # the bar
    assert "https://a.example/1" in text and "404 Not Found since 2026-11-25" in text
    assert "https://a.example/2  " not in text  # ok links are not listed one by one


def test_footnote_numbers_are_shown_as_runs() -> None:
    from archiver.showing.dashboard import _ranges

    assert _ranges([1, 2, 3, 5, 7, 8]) == "1–3, 5, 7–8"
    assert _ranges([4]) == "4" and _ranges([]) == ""
