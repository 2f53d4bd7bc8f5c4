"""The process's settings for a night: a quick GIL hand-over, and room for the sockets it keeps open."""

from __future__ import annotations

import contextlib
import resource
import sys
from collections.abc import Iterator

# The event loop shares the GIL with the storage thread: an answer that arrives while the storage
# thread runs Python waits for the hand-over (the interpreter's default interval); a shorter interval
# keeps fetches moving at no cost in CPU (docs/benchmarks.md has the figures).
GIL_SWITCH_INTERVAL = 0.001


@contextlib.contextmanager
def quick_gil_handover() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, GIL_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


# Open files beside the fetcher's sockets: WARC and catalog files, spooled bodies, the workers' pipes.
OTHER_DESCRIPTORS = 256


@contextlib.contextmanager
def room_for_open_files(needed: int) -> Iterator[None]:
    """The process's soft limit on open files raised toward `needed` for the night (never past the hard
    limit), then put back. Most systems start processes at 1,024: a night over a few hundred sites kept
    alive would run out, and "Too many open files" would read as the sites' failure."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    raised = soft != resource.RLIM_INFINITY and soft < wanted
    if raised:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        if raised:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
