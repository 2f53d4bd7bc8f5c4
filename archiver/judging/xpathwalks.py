"""trafilatura's boilerplate XPath expressions, walked by tag name instead of by every element.

trafilatura selects boilerplate with expressions such as
`.//*[self::div or self::section or self::aside][re:test(@class, '...')]`. libxml2 answers
`.//*[predicates]` by collecting every node of the page and then testing each `self::` in turn,
each test a node set of its own: on news pages the raw-tree prunes were a large share of a night's
CPU (docs/benchmarks.md, the heavy pages' round; upstream: adbar/trafilatura#750). The same
selection written as a union of name steps, `descendant::div[...] | descendant::section[...] | ...`,
is walked by libxml2's name test, at a fraction of the cost.

The two forms select the same elements in the same (document) order whenever the predicates do
not depend on position: `rewrite()` makes the union only then (no number, no position(), last(),
count()... outside string literals) and leaves every other expression as trafilatura wrote it.
`install()` puts the rewritten expressions into trafilatura's own lists, in place, once per
process; the extraction workers call it. tests/test_xpathwalks.py checks that each rewritten
expression selects what the original does, and fails the day trafilatura's hot expressions stop
being rewritten (trafilatura's version is capped in pyproject.toml).
"""

from __future__ import annotations

import functools
import re
from typing import Any

REGEXP_NS = "http://exslt.org/regular-expressions"
# `.//*[self::a or self::b ...]` and the predicates after it.
_TAG_TEST = re.compile(r"\s*\.//\*\[\s*(self::[\w-]+(?:\s+or\s+self::[\w-]+)*)\s*\](.*)", re.DOTALL)
_STRINGS = re.compile(r"'[^']*'|\"[^\"]*\"")
# What could make a predicate positional (a number) or unknown to this module, outside string literals.
_POSITIONAL = re.compile(
    r"(?<![\w.-])\d|\$|\+|\bdiv\b|\bmod\b|\s-\s"
    r"|\b(?:position|last|count|sum|number|string-length|floor|ceiling|round)\s*\("
    r"|\b(?!re:test\b)[\w-]+:[\w-]+\s*\("
)


def rewrite(path: str) -> str | None:
    """`.//*[self::a or self::b][P]...` as `descendant::a[P]... | descendant::b[P]...`, or None when the
    expression has another shape or a predicate that might depend on position."""
    shape = _TAG_TEST.fullmatch(path)
    if shape is None:
        return None
    tags = re.findall(r"self::([\w-]+)", shape.group(1))
    predicates = shape.group(2).strip()
    if predicates and not (predicates.startswith("[") and predicates.endswith("]")):
        return None  # a further step (/child, |union): not a list of predicates on the element
    bare = _STRINGS.sub("''", predicates)  # quotes left outside a pair: an unclosed literal
    if _POSITIONAL.search(bare) or bare.count("'") % 2 or '"' in bare or not _balanced(bare):
        return None
    return " | ".join(f"descendant::{tag}{predicates}" for tag in dict.fromkeys(tags))


def _balanced(predicates: str) -> bool:
    """Whether the text is a run of whole bracketed predicates ([...][...]), nothing between them."""
    depth = 0
    for char in predicates:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth < 0:
                return False
        elif depth == 0 and not char.isspace():
            return False
    return depth == 0


@functools.cache
def install() -> int:
    """Rewrite trafilatura's XPath lists in place (once per process); how many expressions were rewritten."""
    from lxml.etree import XPath

    rewritten = 0
    for expressions in xpath_lists().values():
        for index, expression in enumerate(expressions):
            new = rewrite(expression.path)
            if new is not None:
                expressions[index] = XPath(new, namespaces={"re": REGEXP_NS})
                rewritten += 1
    return rewritten


def xpath_lists() -> dict[str, list[Any]]:
    """trafilatura's lists of XPath expressions, by name."""
    from lxml.etree import XPath
    from trafilatura import xpaths

    return {
        name: value
        for name, value in vars(xpaths).items()
        if isinstance(value, list) and value and all(isinstance(item, XPath) for item in value)
    }
