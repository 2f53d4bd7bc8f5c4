"""File names for reports: what a report's name becomes on disk (exports, dashboard pages)."""

from __future__ import annotations

import hashlib
import re


def safe_name(name: str) -> str:
    """A report id as a file name: no path separators, no leading dot, no control characters.

    A name that had to change gets a short hash of the original, so two reports never share a file.
    """
    cleaned = re.sub(r"[^\w.\-]+", "_", name, flags=re.UNICODE).strip("._")[:100] or "report"
    if cleaned != name:
        cleaned += "-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return cleaned
