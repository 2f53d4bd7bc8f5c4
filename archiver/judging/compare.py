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
    lost: float = 0.0  # 0..1: the share of the first text's sentences no longer in the new text


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


_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])\s+|\n+")
_SENTENCE_WORDS = 6  # shorter pieces are datelines, captions and counters, not the claims a footnote cites
_FEW_SENTENCES = 3  # a text of fewer sentences is judged by its words alone
_SENTENCE_KEPT = 0.5  # a sentence with at least half its 4-grams in the new text is still there (a typo fixed)


def sentences_lost(first: str, new: str) -> float:
    """The share of the first text's sentences that the new text no longer holds.

    The footnote cites a claim, and a claim is a sentence: an article with a third of its sentences
    replaced can still share most of its 4-grams with the capture, yet the cited sentence may be gone.
    A sentence counts as kept when most of its word 4-grams are still in the new text (digits as one
    token), so dates, counters and a corrected typo do not make it lost; teasers and datelines are
    shorter than a sentence and are left out."""
    sentences = [_words(piece) for piece in _SENTENCE_END_RE.split(first)]
    sentences = [words for words in sentences if len(words) >= _SENTENCE_WORDS]
    if len(sentences) < _FEW_SENTENCES:
        return 0.0
    present = _shingles(_words(new))
    lost = 0
    for words in sentences:
        grams = _shingles(words)
        if len(grams & present) < _SENTENCE_KEPT * len(grams):
            lost += 1
    return lost / len(sentences)


def short_diff(first: str, new: str, label_a: str = "first capture", label_b: str = "now") -> str:
    """A unified diff of the two texts' lines, cut to a readable length."""
    lines = list(difflib.unified_diff(first.splitlines(), new.splitlines(), label_a, label_b, n=1, lineterm=""))
    if len(lines) > _DIFF_LINES:
        lines = [*lines[:_DIFF_LINES], f"... ({len(lines) - _DIFF_LINES} more diff lines)"]
    return "\n".join(lines)


def compare(first: str, new: str) -> Comparison:
    """Similarity and diff of a new text against the first archived one."""
    if first == new:
        return Comparison(1.0, "")
    return Comparison(round(similarity(first, new), 4), short_diff(first, new), round(sentences_lost(first, new), 4))
