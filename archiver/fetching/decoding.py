"""Undo Content-Encoding incrementally: gzip, deflate (zlib-wrapped or raw) and br, with a cap on what
decoding may produce (no bomb gets through) and on how many codings a response may stack."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import brotlicffi as brotli  # not Google's brotli: warcio cannot read br records beside it (warcio#73)


class TooLarge(Exception):
    """A body (or its decoding) past its limit."""


# As curl: more codings than this on one response is an attack or a broken server, never a page.
MAX_CODINGS = 5


class Stacked(ValueError):
    """More Content-Encoding layers than MAX_CODINGS."""


class Decoder:
    """Undo Content-Encoding incrementally, refusing to produce more than a cap (no bomb gets through)."""

    def __init__(self, encodings: Sequence[str], limit: int) -> None:
        self._steps: list[Any] = []
        names = [e.strip().lower() for e in encodings if e.strip()]
        if len(names) > MAX_CODINGS:
            # Each coding is a decompressor with its own window: thousands of them fill the memory.
            raise Stacked(f"content encoding broken: {len(names)} content codings stacked (at most {MAX_CODINGS})")
        for name in reversed(names):
            if name in ("gzip", "x-gzip"):
                self._steps.append(("zlib", zlib.decompressobj(16 + zlib.MAX_WBITS)))
            elif name == "deflate":
                self._steps.append(("deflate", None))
            elif name == "br":
                self._steps.append(("br", brotli.Decompressor()))
            elif name in ("identity", ""):
                continue
            else:
                raise ValueError(f"unsupported Content-Encoding {name!r}")
        self._limit = limit
        self.produced = 0
        self.identity = not self._steps

    def _run(self, index: int, data: bytes) -> bytes:
        kind, state = self._steps[index]
        room = self._limit - self.produced + 1
        if kind == "deflate" and state is None:
            # "deflate" is zlib-wrapped by the standard and raw by many servers.
            state = zlib.decompressobj(zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS)
            self._steps[index] = (kind, state)
        if kind in ("zlib", "deflate"):
            out = state.decompress(data, room)
            if state.unconsumed_tail:
                raise TooLarge("decoded content over the limit")
            return bytes(out)
        out = state.process(data, output_buffer_limit=room)
        if not state.can_accept_more_data():
            raise TooLarge("decoded content over the limit")
        return bytes(out)

    def decode(self, data: bytes) -> bytes:
        """The decoded bytes of the next chunk; TooLarge past the cap."""
        for index in range(len(self._steps)):
            data = self._run(index, data)
        self.produced += len(data)
        if self.produced > self._limit:
            raise TooLarge("decoded content over the limit")
        return data
