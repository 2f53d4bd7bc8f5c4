"""Faults injected into one link's handling, importable by the extraction workers (which monkeypatch cannot reach)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

from archiver.judging import analysis

MARK = "boom"  # only URLs holding this break


def _broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected fault\nsecond line of the message")


def _analyse_breaking(attribute: str) -> Callable[..., analysis.Analysis]:
    def analyse(root: str, decoded: str, content_type: str, url: str, *rest: Any) -> analysis.Analysis:
        if MARK not in url:
            return analysis.analyse(root, decoded, content_type, url, *rest)
        with mock.patch.object(analysis, attribute, _broken):
            return analysis.analyse(root, decoded, content_type, url, *rest)

    analyse.__qualname__ = analyse.__name__ = f"analyse_breaking_{attribute.strip('_')}"
    return analyse


# Module-level names, so that the worker processes find them by reference.
analyse_breaking_extract = _analyse_breaking("extract")
analyse_breaking_signs = _analyse_breaking("_signs")
analyse_breaking_compare = _analyse_breaking("compare")
