"""Extraction: golden files (tests/pages/NAME.html beside NAME.txt) and the other content types."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import trafilatura
from lxml import etree
from trafilatura.utils import load_html

from archiver.judging import extract as extract_module
from archiver.judging.extract import LONG_TEXT, decode_html, extract, page_metadata, parse_page, sniff_kind
from archiver.reading.reports import tidy

from .server import ARTICLE, OTHER_ARTICLE, minimal_pdf

PAGES = Path(__file__).parent / "pages"
CASES = {
    "article.html": ("text/html; charset=utf-8", "https://iz.ru/1056392/2020-09-03/mishustin"),
    "telegram.html": ("text/html; charset=utf-8", "https://t.me/nexta_tv/3889"),
    "cp1251.html": ("text/html", "https://news.tut.by/society/698067.html"),  # no charset anywhere
    "empty-for-trafilatura.html": ("text/html", "https://example.org/notice"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_pages(name: str, update_goldens: bool) -> None:
    content_type, url = CASES[name]
    got = extract((PAGES / name).read_bytes(), content_type, url)
    record = {"kind": got.kind, "title": got.title, "extractor": got.extractor, "text": got.text}
    golden = PAGES / name.replace(".html", ".json")
    if update_goldens:
        golden.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        pytest.skip(f"{golden.name} rewritten: review the diff, then run again without --update-goldens")
    assert record == json.loads(golden.read_text(encoding="utf-8"))


def test_article_is_the_article_not_the_chrome() -> None:
    got = extract((PAGES / "article.html").read_bytes(), "text/html; charset=utf-8", "https://iz.ru/1")
    assert got.text is not None
    assert "достигли прогресса в вопросе формирования Союзного государства" in got.text
    for chrome in ("Подпишитесь", "Курс рубля", "Все права защищены", "window.ads"):
        assert chrome not in got.text
    assert got.date == "2020-09-03"
    assert got.authors == "Анна Иванова"
    assert got.language == "ru"


def test_telegram_post_is_the_post_not_the_site() -> None:
    got = extract((PAGES / "telegram.html").read_bytes(), "text/html", "https://t.me/nexta_tv/3889")
    assert got.kind == "telegram"
    assert got.text is not None and got.text.startswith("Пусть договариваются с Кремлём")
    assert "View in Telegram" not in got.text and "subscribers" not in got.text


def test_cp1251_without_a_charset_is_detected() -> None:
    data = (PAGES / "cp1251.html").read_bytes()
    assert "Лукашенко встретился" in decode_html(data, "text/html")
    got = extract(data, "text/html", "https://news.tut.by/1")
    assert got.text is not None and "Союзного государства" in got.text


def test_charset_from_header_meta_and_bom() -> None:
    text = "<html><body><p>Минск</p></body></html>"
    assert "Минск" in decode_html(text.encode("koi8-r"), "text/html; charset=koi8-r")
    meta = f'<html><head><meta charset="windows-1251"></head>{text}'.encode("cp1251")
    assert "Минск" in decode_html(meta, "text/html")
    assert "Минск" in decode_html(b"\xef\xbb\xbf" + text.encode("utf-8"), "text/html; charset=latin-1")


def test_pdf_json_text_and_binary() -> None:
    pdf = extract(minimal_pdf("Union State agreement signed in Minsk"), "application/pdf")
    assert (pdf.kind, pdf.text) == ("pdf", "Union State agreement signed in Minsk")
    broken = extract(b"%PDF-1.4 broken", "application/pdf")
    assert broken.kind == "pdf" and broken.text is None and broken.error
    data = extract(b'{"title": "Union State", "items": [{"body": "Progress was made"}]}', "application/json")
    assert data.text == "Union State\nProgress was made"
    assert extract(b"Plain notes\r\n  line two ", "text/plain").text == "Plain notes\nline two"
    assert extract(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png").text is None


def test_sniffing_without_content_type() -> None:
    assert sniff_kind("", b"%PDF-1.7") == "pdf"
    assert sniff_kind("", b"<!DOCTYPE html><html>") == "html"
    assert sniff_kind("application/octet-stream", b"\x00\x01") == "binary"


def test_beautifulsoup_takes_over_when_trafilatura_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("lxml choked")

    monkeypatch.setattr(trafilatura, "bare_extraction", broken)
    got = extract((PAGES / "article.html").read_bytes(), "text/html; charset=utf-8", "https://iz.ru/1")
    assert got.extractor == "beautifulsoup"
    assert got.error == "trafilatura: lxml choked"
    assert got.text is not None and "достигли прогресса" in got.text
    assert "Главная" not in got.text and "window.ads" not in got.text  # navigation and scripts left out
    assert got.language == "ru"


def _table_page(repeat: int) -> bytes:
    """A page laid out in table cells: trafilatura's own extractor and its full cascade read it a little apart."""
    story = (ARTICLE + OTHER_ARTICLE) * repeat
    return (
        "<html><body><table><tr><td><a href='/'>Home</a></td></tr>"
        f"<tr><td class='text'>{story}</td></tr></table></body></html>"
    ).encode()


def _trafilatura_text(data: bytes, fast: bool) -> str:
    document = trafilatura.bare_extraction(
        load_html(data.decode()), fast=fast, with_metadata=False, include_comments=False, include_tables=True
    )
    assert document is not None and document.text
    return tidy(document.text)


def _paragraph_page(repeat: int, comments: int = 0, outside: int = 0) -> bytes:
    """A story in paragraphs; readers' comments and links to other stories beside it, in paragraphs too."""
    story = "".join(f"<p>{ARTICLE}</p><p>{OTHER_ARTICLE}</p>" for _ in range(repeat))
    said = "".join(f"<div class='comment'><p>Reader {i}: {OTHER_ARTICLE}</p></div>" for i in range(comments))
    beside = "".join(f"<p><a href='/story/{i}'>Also read: {ARTICLE}</a></p>" for i in range(outside))
    return (
        "<html><body><header><p>Bench News, the paper of record</p></header>"
        "<div class='menu'><a href='/'>Home</a></div>"
        f"<div class='content'>{story}</div><section id='comments'>{said}</section>"
        f"<footer><p>{OTHER_ARTICLE}</p></footer><div class='more'>{beside}</div></body></html>"
    ).encode()


PASSES = {
    # kind: (page, trafilatura's passes (fast?), whether its text is long)
    "short article": (_paragraph_page(1), [False], False),
    "long article": (_paragraph_page(4), [True], True),
    "long article laid out in table cells, no paragraphs": (_table_page(4), [False], True),
    "short article, long comments": (_paragraph_page(1, comments=12), [False], False),
    "short article, long links beside it": (_paragraph_page(1, outside=6), [True, False], False),
}


@pytest.mark.parametrize("kind", sorted(PASSES))
def test_trafilatura_s_own_extractor_alone_only_where_the_paragraphs_hold_a_long_text(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short article gets trafilatura's full cascade (readability and jusText compared, its default) in one
    pass; a long one in paragraphs its own extractor alone, at a third less CPU (trafilatura's recall bypass);
    a second pass only when the paragraphs promised more than the extractor found."""
    data, expected, long = PASSES[kind]
    passes: list[bool] = []
    extraction = trafilatura.bare_extraction

    def counted(tree: object, options: Any) -> Any:
        passes.append(options.fast)
        return extraction(tree, options=options)

    monkeypatch.setattr(trafilatura, "bare_extraction", counted)
    got = extract(data, "text/html; charset=utf-8", "https://example.org/story")
    monkeypatch.undo()
    assert passes == expected
    assert got.text == _trafilatura_text(data, fast=expected[-1])
    assert got.text is not None and (len(got.text) >= LONG_TEXT) is long


def test_the_table_page_tells_the_two_extractions_apart() -> None:
    """The page above on which trafilatura's own extractor and its full cascade differ: the full one is used."""
    data = _table_page(4)
    assert _trafilatura_text(data, fast=True) != _trafilatura_text(data, fast=False)
    assert extract(data, "text/html; charset=utf-8", "https://example.org/story").text == _trafilatura_text(
        data, fast=False
    )


ODD_PAGES = [
    "",
    "   ",
    "plain words, no markup",
    "<p>a lone paragraph</p>",
    "<?xml version='1.0' encoding='utf-8'?><html><body><p>declares its encoding</p></body></html>",
    "<html/>\n<body><p>self-closed html</p></body>",
    "<!DOCTYPE html><html><body><form><input name=q><select><option>1</select><p>in a form</p></form></body></html>",
    "\x00\x01<html><body>bad\x0b characters</body></html>",
]


@pytest.mark.parametrize(
    "page", [*ODD_PAGES, *(p.read_text(encoding="utf-8", errors="replace") for p in sorted(PAGES.glob("*.html")))]
)
def test_pages_parse_as_trafilatura_parses_them(page: str) -> None:
    """Our parser (element classes chosen in C) gives trafilatura's tree, and refuses what it refuses."""
    ours, theirs = parse_page(page), load_html(page)
    assert (ours is None) == (theirs is None)
    if ours is not None:
        assert etree.tostring(ours) == etree.tostring(theirs)
        assert ours.text_content() == theirs.text_content()  # lxml.html's methods are all there


def test_tidy_folds_spaces_trims_lines_and_drops_empty_ones() -> None:
    assert tidy("  a\u00a0\u00a0b\t\tc  d \n\n \t\n e  ") == "a b c d\ne"
    assert tidy("clean text\nas trafilatura gives it") == "clean text\nas trafilatura gives it"


def test_a_page_of_twenty_thousand_rows_still_gives_its_article() -> None:
    """A script-built table or an endless feed (20,000 one-line rows) is read by trafilatura's own extractor
    alone: jusText's rescue, quadratic in the blocks, took half a minute on it (bench/render_pages.py)."""
    story = "".join(
        f"<p>The regional parliament voted on Thursday to double the library budget, item {i}.</p>" for i in range(15)
    )
    rows = "".join(f"<div>row {i}</div>" for i in range(20_000))
    page = (
        f"<html><head><title>Courier</title></head><body><article><h1>Story</h1>{story}</article>{rows}</body></html>"
    )
    got = extract(page.encode(), "text/html; charset=utf-8", "http://example.org/app/1")
    assert got.extractor == "trafilatura"
    assert got.text is not None and "double the library budget, item 14." in got.text


def _metadata_by_xpath(tree: Any) -> dict[str, str | None]:
    """page_metadata as it read pages before its one walk over the <meta> elements: the reference."""

    def first(*paths: str) -> str | None:
        for path in paths:
            for value in tree.xpath(path):
                if text := " ".join(str(value).split()):
                    return text
        return None

    title = first(
        '//meta[@property="og:title"]/@content', '//meta[@name="twitter:title"]/@content', "(//h1)[1]//text()"
    )
    if title is None:
        raw = first("//title/text()")
        title = re.sub(r"\s+[|—–-]\s+[^|—–-]{2,60}$", "", raw) if raw else None
    author = first(
        '//meta[@name="author"]/@content',
        '//meta[@property="article:author"][not(starts-with(@content, "http"))]/@content',
        '//*[@rel="author"]//text()',
    )
    stamp = first(
        '//meta[@property="article:published_time"]/@content',
        '//meta[@name="citation_publication_date"]/@content',
        '//meta[@itemprop="datePublished"]/@content',
        "//time/@datetime",
    )
    date = stamp[:10] if stamp and re.match(r"\d{4}-\d\d-\d\d", stamp) else None
    language = first("/html/@lang", '//meta[@http-equiv="content-language"]/@content')
    return {"title": title, "author": author, "date": date, "language": language[:2] if language else None}


# A page that closes its <html> before its <body>: libxml2 makes a second top-level <html> for the body,
# which //p and //meta search and the first element's own iter() would not.
TWO_ROOTS = (
    "<!doctype html><html lang='de'><head><title>T</title><meta name='author' content='A'></head></html><body>"
    "<header><p>Menu</p></header><div class='comments'><p>c</p></div><meta property='og:title' content='Late'>"
    "<p id='x-comment'>c</p><aside><div><p>aside</p></div></aside><p>Text</p></body>"
)
METADATA_CASES = [
    TWO_ROOTS,
    # a fragment: lxml hands back its body as a <div>, and //meta searches the whole document
    "<p>one <meta name='author' content='A. Body'></p><meta property='og:title' content='T'><p>two</p>",
    "<html><head><meta property='og:title' content='  '><meta name='twitter:title' content=' Second\n title '>"
    "<meta property='article:author' content='https://x.example/a'><meta property='article:author' content='B'>"
    "<meta itemprop='datePublished' content='2021-02-03T04:05'></head><body><h1>H</h1></body></html>",
    "<html lang='ru-RU'><body><meta name='author' property='og:title' content='Both'>"
    "<meta name='citation_publication_date' content='2019/01/01'><time datetime='2020-01-02'>x</time></body></html>",
    "<html><head><title>Headline — Some Site</title><meta http-equiv='content-language' content='be'></head>"
    "<body><a rel='author'> Writer </a><meta content='no key'><meta name='x'></body></html>",
]


@pytest.mark.parametrize(
    "html", [*METADATA_CASES, *(p.read_text(encoding="utf-8", errors="replace") for p in sorted(PAGES.rglob("*.html")))]
)
def test_page_metadata_reads_what_the_xpath_searches_found(html: str) -> None:
    tree = parse_page(html)
    assert tree is not None
    assert page_metadata(tree) == _metadata_by_xpath(tree)


@pytest.mark.parametrize(
    "html", [TWO_ROOTS, *(p.read_text(encoding="utf-8", errors="replace") for p in sorted(PAGES.rglob("*.html")))]
)
def test_story_paragraphs_are_the_ones_the_xpath_selected(html: str) -> None:
    tree = parse_page(html)
    assert tree is not None
    reference = etree.XPath(
        "//p[not(ancestor::header or ancestor::nav or ancestor::aside or ancestor::footer"
        " or ancestor-or-self::*[contains(@class, 'comment') or contains(@id, 'comment')])]"
    )
    assert [p for p in extract_module._everywhere("p")(tree) if extract_module._in_the_story(p)] == reference(tree)
