"""Text that came from the network or a report file, made safe to store and to print on a terminal.

A page's title or a server's header can carry terminal escape sequences (ESC ] 0 ; ... sets a window
title, ESC [ 2 J clears the screen, CSI 0x9b does both in one byte on some terminals). What we keep
and show is text: the C0 and C1 control characters go (tab and newline stay), and in a URL they are
percent-encoded so the link still names the same resource. Pure: no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# C0 but tab and newline, DEL, C1.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_URL_CONTROL_RE = re.compile("[\x00-\x20\x7f-\x9f]")


def printable(text: str) -> str:
    """The text without control characters (tab and newline kept)."""
    return _CONTROL_RE.sub("", text) if _CONTROL_RE.search(text) else text


def printable_or_none(text: str | None) -> str | None:
    """printable() for an optional field."""
    return None if text is None else printable(text)


def quote_controls(url: str) -> str:
    """The URL with control characters and spaces percent-encoded (UTF-8), everything else as it was."""
    return _URL_CONTROL_RE.sub(lambda m: quote(m.group(), safe=""), url) if _URL_CONTROL_RE.search(url) else url


def without_userinfo(url: str) -> str:
    """A proxy or database URL fit for a message or a log: user and password replaced by "***".

    Works on what does not parse as a URL too (the message that says so must not leak it)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.rpartition('@')[2]}"
