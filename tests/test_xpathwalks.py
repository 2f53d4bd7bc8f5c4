"""trafilatura's boilerplate expressions walked by tag: the same elements in the same order, the same texts."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from lxml import etree

from archiver.judging import xpathwalks
from archiver.judging.extract import extract, parse_page
from bench.server import article, heavy_article

PAGES = Path(__file__).parent / "pages"
# The expressions a news page's extraction spends most on: the two raw-tree prunes, the comment prune
# and the first boilerplate sweep. If trafilatura rewrites them past what rewrite() reads, this fails.
HOT = [
    ("RAW_TREE_PRUNE_XPATH", 0),
    ("RAW_TREE_PRUNE_XPATH", 1),
    ("REMOVE_COMMENTS_AND_LISTS_XPATH", 0),
    ("REMOVE_COMMENTS_XPATH", 0),
    ("OVERALL_DISCARD_XPATH", 0),
]

# Every kind of element the expressions name, matching and not, nested in each other, with id and
# class in both orders and the look-alikes their patterns tell apart (commentary, ad- at a word start).
STRESS = """<html><body>
<div id="comments" class="x"><div class="comment-list"><ul id="comment-1"><li>a</li></ul>
<ol class="post-comments"><li>b</li></ol><section id="commentary">c</section></div></div>
<section class="infinite-scroll"><h1>kept: the h1</h1><div id="mvp-post-add-box">d</div></section>
<aside class="infinitescroll">e</aside><div class="elementor-share-buttons"><div>f</div></div>
<details id="disqus_thread">g</details><div class="Comments">h</div><div id="Commentary">i</div>
<p class="social share-bar">j</p><span id="nav-main">k</span><span class="x ad-slot">l</span>
<span class="header ad-x"><span class="nav">m</span></span><div role="Navigation">n</div>
<div class="teaser" id="Teaser-1">o</div><p class="caption">p</p><div style="display:none">q</div>
<list class="sidebar"><item class="meta">r</item></list><div data-lp-replacement-content="1">s</div>
<section class="x" id="respond">t</section><a class="author comments">u</a>
<div id="cookie-bar" class="cookie">v</div><div class="cookie" id="x">w</div>
<article class="article__body"><div class="post-content"><p>The story.</p></div></article>
<main><div class="fulltext">x</div></main>
</body></html>"""


def _original_xpaths() -> ModuleType:
    """trafilatura's xpaths module loaded afresh: the expressions as trafilatura wrote them."""
    spec = importlib.util.find_spec("trafilatura.xpaths")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _documents() -> list[tuple[str, Any]]:
    pages = [(path.name, path.read_bytes().decode("utf-8", "replace")) for path in sorted(PAGES.rglob("*.html"))]
    pages += [("stress", STRESS), ("heavy", heavy_article("/news/1.html").decode()), ("light", article("/a").decode())]
    return [(name, parse_page(html)) for name, html in pages]


def _pairs() -> Iterator[tuple[str, Any, Any]]:
    original = _original_xpaths()
    for name, expressions in vars(original).items():
        if isinstance(expressions, list) and expressions and all(isinstance(e, etree.XPath) for e in expressions):
            for index, expression in enumerate(expressions):
                new = xpathwalks.rewrite(expression.path)
                if new is not None:
                    yield f"{name}[{index}]", expression, etree.XPath(new, namespaces={"re": xpathwalks.REGEXP_NS})


def test_hot_expressions_are_rewritten() -> None:
    original = _original_xpaths()
    for name, index in HOT:
        path = getattr(original, name)[index].path
        assert xpathwalks.rewrite(path) is not None, f"{name}[{index}] is no longer walked by tag:\n{path}"
    xpathwalks.install()
    installed = xpathwalks.xpath_lists()
    for name, index in HOT:
        assert installed[name][index].path.lstrip().startswith("descendant::"), name


def test_rewritten_expressions_select_the_same_elements_in_the_same_order() -> None:
    pairs = list(_pairs())
    assert len(pairs) >= len(HOT)
    selected = 0
    for document, tree in _documents():
        for name, original, rewritten in pairs:
            expected = original(tree)
            assert rewritten(tree) == expected, f"{name} on {document}"
            selected += len(expected)
    assert selected > 50  # the documents hold what the expressions look for


@pytest.mark.parametrize(
    "path",
    [
        ".//*[self::div or self::p][1]",
        ".//*[self::div][position() < 3]",
        ".//*[self::div][last()]",
        ".//*[self::div][count(.//p) > 2]",
        ".//*[self::div][@id=$name]",
        ".//*[self::div][contains(@class, 'x')]/p",
        ".//*[self::div][contains(@class, 'x')] | .//p",
        "(.//*[self::div][contains(@class, 'x')])[1]",
        ".//*[contains(@class, 'x')]",
        ".//*[self::div][string-length(@class)]",
        ".//*[self::div][math:max(@a)]",
    ],
)
def test_expressions_that_may_depend_on_position_are_left_alone(path: str) -> None:
    assert xpathwalks.rewrite(path) is None


def test_rewrite_makes_a_union_of_name_steps() -> None:
    path = ".//*[self::div or self::section][re:test(@id, 'a[0-9]')][not(.//h1) or contains(@class, 'b')]"
    assert xpathwalks.rewrite(path) == (
        "descendant::div[re:test(@id, 'a[0-9]')][not(.//h1) or contains(@class, 'b')]"
        " | descendant::section[re:test(@id, 'a[0-9]')][not(.//h1) or contains(@class, 'b')]"
    )


@contextmanager
def _trafilatura_as_written() -> Iterator[None]:
    """trafilatura's own expressions in its lists for the duration (the installed ones put back after)."""
    installed = xpathwalks.xpath_lists()
    saved = {name: list(expressions) for name, expressions in installed.items()}
    original = _original_xpaths()
    for name, expressions in installed.items():
        expressions[:] = getattr(original, name)
    try:
        yield
    finally:
        for name, expressions in installed.items():
            expressions[:] = saved[name]


def test_extracted_texts_are_the_same_as_with_trafilaturas_own_expressions() -> None:
    pages = [(path.read_bytes(), path.name) for path in sorted(PAGES.rglob("*.html"))]
    pages += [(heavy_article(f"/news/{i}.html"), f"heavy {i}") for i in range(20)]
    pages += [(heavy_article("/long/1.html"), "long"), (STRESS.encode(), "stress")]
    xpathwalks.install()
    walked = [extract(data, "text/html", "https://example.org/a").text for data, _ in pages]
    with _trafilatura_as_written():
        written = [extract(data, "text/html", "https://example.org/a").text for data, _ in pages]
    for (_, name), ours, theirs in zip(pages, walked, written, strict=True):
        assert ours == theirs, name
    assert sum(1 for text in walked if text) >= 20
