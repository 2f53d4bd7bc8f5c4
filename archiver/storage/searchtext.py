"""The words of archived texts as the search index keeps them, the query language analysts type, and
snippets of the original text with the matches marked. Pure: no I/O.

Python's sqlite3 cannot register an FTS5 tokenizer, so words are made here, the same way for a text
and for a query: lower case in every script, `ё` as `е`, Latin diacritics dropped (café = cafe), and
each word stemmed by Snowball (Russian for Cyrillic words, which also conflates many Ukrainian and
Belarusian forms; English for Latin ones): `новостей` finds `новости`, `pipelines` finds `pipeline`.
The index holds the stems, in the text's order; snippets are cut from the original text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
_OPERATORS = {"OR", "NOT", "AND"}
MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"


class QueryError(ValueError):
    """A query that cannot be searched for, with a one-line reason."""


@lru_cache(maxsize=2)
def _stemmer(language: str) -> Any:
    import Stemmer  # PyStemmer: Snowball in C

    return Stemmer.Stemmer(language, 50_000)


def fold(word: str) -> str:
    """A word as typed or written, folded: lower case, ё as е, Latin diacritics dropped."""
    word = word.lower().replace("ё", "е")
    if _LATIN_RE.search(word) and not word.isascii():
        word = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    return word


def stem(folded: str) -> str:
    """A folded word's stem: Russian Snowball for Cyrillic, English for Latin, the word itself otherwise."""
    if _CYRILLIC_RE.search(folded):
        return str(_stemmer("russian").stemWord(folded))
    if folded.isascii() and folded.isalpha():
        return str(_stemmer("english").stemWord(folded))
    return folded


def words(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, stem) of each word of a text, in order."""
    for match in _WORD_RE.finditer(text):
        yield match.start(), match.end(), stem(fold(match.group()))


# Each word's stem, as this process made it: a night's texts share most of their words, and looking one
# up is cheaper than folding, sorting and stemming it again. Emptied when it grows past the cap (its
# memory: docs/benchmarks.md, "Why the defaults").
_STEMS: dict[str, str] = {}
MAX_KNOWN_STEMS = 100_000


def indexed(text: str) -> str:
    """What the index keeps of a text: its stems, separated by spaces, in order. The same as words()
    gives: a word's stem depends on the word alone, so each new word is stemmed once per process."""
    tokens = _WORD_RE.findall(text.lower().replace("ё", "е"))
    if not tokens:
        return ""
    known = _STEMS
    new = [token for token in dict.fromkeys(tokens) if token not in known]
    if new:
        if len(known) + len(new) > MAX_KNOWN_STEMS:
            known.clear()
            new = list(dict.fromkeys(tokens))
        known.update(zip(new, _stemmed(new), strict=True))
    return " ".join([known[token] for token in tokens])


def _stemmed(tokens: list[str]) -> list[str]:
    """Lower-case words' stems, in a batch: Snowball stems a list at once."""
    tokens = list(tokens)  # the stems replace the words in this copy
    if all(token.isascii() for token in tokens):  # most texts: every word Latin or a number, none folded
        cyrillic: list[int] = []
        latin = [i for i, token in enumerate(tokens) if token.isalpha()]
    else:
        tokens = [fold(token) if not token.isascii() and _LATIN_RE.search(token) else token for token in tokens]
        cyrillic = [i for i, token in enumerate(tokens) if not token.isascii() and _CYRILLIC_RE.search(token)]
        latin = [i for i, token in enumerate(tokens) if token.isascii() and token.isalpha()]
    for language, positions in (("russian", cyrillic), ("english", latin)):
        if positions:
            for position, stemmed in zip(
                positions, _stemmer(language).stemWords([tokens[i] for i in positions]), strict=True
            ):
                tokens[position] = stemmed
    return tokens


@dataclass(frozen=True, slots=True)
class Query:
    """A query made into FTS5's MATCH syntax over stems, and what a snippet should mark."""

    match: str
    terms: frozenset[str]  # stems to mark
    prefixes: frozenset[str]  # folded prefixes to mark (a prefix is matched as typed, not stemmed)


def parse_query(text: str) -> Query:
    """Words, "quoted phrases", OR, NOT, prefix* as analysts type them; QueryError when nothing is left
    to search for. Anything else FTS5 would read as syntax (parentheses, NEAR, colons, a lone -) is a word
    or nothing, so that any query either searches or says in one line why not."""
    parts: list[str] = []
    terms: set[str] = set()
    prefixes: set[str] = set()
    pending: str | None = None  # an operator waiting for the term after it
    for token in _tokens(text):
        if token in _OPERATORS:
            if token == "NOT" and not parts:
                raise QueryError("NOT excludes what follows it from what comes before: type `union NOT state`")
            pending = token if parts else None  # a leading OR or AND has nothing to join
            continue
        term = _term(token, terms, prefixes)
        if term is None:
            continue
        if pending and pending != "AND":
            parts.append(pending)
        parts.append(term)
        pending = None
    if not parts:
        raise QueryError(f'nothing to search for in {text!r}: type words, "a phrase", OR, NOT or a prefix*')
    return Query(" ".join(parts), frozenset(terms), frozenset(prefixes))


def _tokens(text: str) -> Iterator[str]:
    """Phrases (quoted, an unclosed quote running to the end) and words, operators kept in upper case."""
    for phrase, word in re.findall(r'"([^"]*)"?|(\S+)', text):
        if word in _OPERATORS or word:
            yield word
        elif phrase.strip():
            yield '"' + phrase + '"'


def _term(token: str, terms: set[str], prefixes: set[str]) -> str | None:
    if token.startswith('"'):
        stems = [stemmed for _, _, stemmed in words(token)]
        terms.update(stems)
        return '"' + " ".join(stems) + '"' if stems else None
    prefix = token.endswith("*")
    found = [fold(match) for match in _WORD_RE.findall(token)]
    if not found:
        return None  # "*", "-", "(": nothing a text could contain
    if prefix and len(found) == 1:
        prefixes.add(found[0])
        return f'"{found[0]}"*'
    stems = [stem(word) for word in found]
    terms.update(stems)
    return '"' + " ".join(stems) + '"'


def snippet(text: str, query: Query, width: int = 30) -> str:
    """About `width` words of the original text around its densest run of matches, each match between
    MARK_OPEN and MARK_CLOSE; the text's start when no word matches (a match through stemming alone)."""
    spans = list(words(text))
    hits = [i for i, (_, _, stemmed) in enumerate(spans) if _matches(stemmed, text, spans[i], query)]
    if not spans:
        return ""
    first = _best_window(hits, width) if hits else 0
    window = spans[first : first + width]
    out, position = [], window[0][0]
    chosen = set(hits)
    for index, (start, end, _) in enumerate(window, start=first):
        out.append(text[position:start])
        word = text[start:end]
        out.append(f"{MARK_OPEN}{word}{MARK_CLOSE}" if index in chosen else word)
        position = end
    last = first + len(window)
    out.append(text[position : spans[last][0]] if last < len(spans) else text[position:])  # its punctuation
    prefix = "… " if first > 0 else ""
    suffix = " …" if last < len(spans) else ""
    return prefix + " ".join("".join(out).split()) + suffix


def _matches(stemmed: str, text: str, span: tuple[int, int, str], query: Query) -> bool:
    if stemmed in query.terms:
        return True
    return bool(query.prefixes) and fold(text[span[0] : span[1]]).startswith(tuple(query.prefixes))


def _best_window(hits: list[int], width: int) -> int:
    """The first word of the window of `width` words that holds the most matches, a few words before them."""
    best, best_count, left = hits[0], 0, 0
    for right, hit in enumerate(hits):
        while hit - hits[left] >= width:
            left += 1
        if right - left + 1 > best_count:
            best, best_count = hits[left], right - left + 1
    return max(0, best - 5)
