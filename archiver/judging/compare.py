"""First archived text vs new text: a similarity that ignores noise, and a short diff."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_SHINGLE = 4
_DIFF_LINES = 40
_SHORT_TEXT = 40  # words: below this, texts are compared word by word
_PROSE_LINE = 6  # words: shorter lines are headings, datelines, counters and link lists, not the article


@dataclass(frozen=True, slots=True)
class Comparison:
    """How much of the first text the new one still holds, and what changed."""

    similarity: float  # 0..1: the share of the first text's passages found in the new text
    diff: str  # a short unified diff of the main text, for people


def _words(text: str) -> list[str]:
    # Digits become one token: dates, counters, view and comment counts drift every day.
    return ["0" if word.isdigit() else word for word in _WORD_RE.findall(text.lower())]


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    if len(words) < _SHINGLE:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


def _prose(text: str) -> list[str]:
    """The words of a text's sentences, leaving out short lines (datelines, counters, ad slogans, link lists)
    as long as the long ones hold most of the text."""
    lines = [_words(line) for line in text.splitlines()]
    everything = [word for line in lines for word in line]
    prose = [word for line in lines if len(line) >= _PROSE_LINE for word in line]
    return prose if len(prose) * 2 >= len(everything) else everything


def similarity(first: str, new: str) -> float:
    """The share of the first text's word 4-grams still present in the new text.

    Containment, not Jaccard: a sentence appended or a related-links block added
    leaves the cited text whole, so it must not lower the score.
    """
    old_words = _prose(first)
    if len(old_words) < _SHORT_TEXT:
        # A short text (a Telegram post, a caption): one fixed typo would break most of its few 4-grams,
        # so count its words instead.
        if not old_words:
            return 1.0 if not _words(new) else 0.0
        remaining = Counter(_words(new))
        kept = 0
        for word in old_words:
            if remaining[word] > 0:
                remaining[word] -= 1
                kept += 1
        return kept / len(old_words)
    old_set = _shingles(old_words)
    new_set = _shingles(_words(new))
    return len(old_set & new_set) / len(old_set)


def short_diff(first: str, new: str, label_a: str = "first capture", label_b: str = "now") -> str:
    """A unified diff of the two texts' lines, cut to a readable length."""
    lines = list(difflib.unified_diff(first.splitlines(), new.splitlines(), label_a, label_b, n=1, lineterm=""))
    if len(lines) > _DIFF_LINES:
        lines = [*lines[:_DIFF_LINES], f"... ({len(lines) - _DIFF_LINES} more diff lines)"]
    return "\n".join(lines)


def compare(first: str, new: str) -> Comparison:
    """Similarity and diff of a new text against the first archived one."""
    score = 1.0 if first == new else similarity(first, new)
    return Comparison(round(score, 4), "" if first == new else short_diff(first, new))
