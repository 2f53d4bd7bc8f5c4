"""Where a link starts and ends: the boundaries mature linkifiers and re-fangers agree on (our own cases)."""

from __future__ import annotations

import pytest

from archiver.reading.footnotes import footnotes
from archiver.reading.refang import find_links
from archiver.reading.reports import parse_report


def links(text: str) -> list[str | None]:
    return [found.url for found in find_links(text)]


def note_urls(note: str, fmt: str = "text") -> tuple[list[str], list[str]]:
    """The urls and unparsed pieces of footnote 1 of a one-note report in the given format."""
    if fmt == "markdown":
        text = f"# R\n\nClaim.[^1]\n\n[^1]: {note}\n"
    elif fmt == "html":
        text = f"<html><body><h1>R</h1><p>Claim.<sup>1</sup></p><h2>Notes</h2><ol><li>{note}</li></ol></body></html>"
    else:
        text = f"R\n\nClaim.[1]\n\n[1] {note}\n"
    (first,) = footnotes(parse_report(text, stem="r", fmt=fmt))
    return list(first.urls), list(first.unparsed)


# ----- a scheme glued to the word before it starts a link ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Source:https://example.com/a", ["https://example.com/a"]),
        ("Источник:https://ria.ru/20200903/1576695555.html", ["https://ria.ru/20200903/1576695555.html"]),
        ("text:http://example.org/x?y=1", ["http://example.org/x?y=1"]),
        ("_https://example.com/x_", ["https://example.com/x"]),
        ("**https://example.com/bold**", ["https://example.com/bold"]),
        ("see:hxxps://evil[.]example/path", ["https://evil.example/path"]),
        # Still one link: a scheme inside a URL is part of it.
        (
            "https://web.archive.org/web/2020/https://example.com/a",
            ["https://web.archive.org/web/2020/https://example.com/a"],
        ),
        ("https://t.co/r?url=https://example.com/a", ["https://t.co/r?url=https://example.com/a"]),
        ("foohttps://example.com/a", []),  # a longer word is not a label
    ],
)
def test_a_scheme_glued_to_the_word_before(text: str, expected: list[str]) -> None:
    assert [url for url in links(text) if url] == expected


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_glued_source_label_in_every_format(fmt: str) -> None:
    assert note_urls("Источник:https://tass.ru/politika/9363011", fmt)[0] == ["https://tass.ru/politika/9363011"]


# ----- an explicit target is taken as written ---------------------------------------------------------------


def test_an_href_keeps_its_final_dot_comma_and_parenthesis() -> None:
    html = '<a href="https://en.wikipedia.org/wiki/Apple_Inc.">Apple</a>; <a href="https://example.com/a,">a</a>'
    assert note_urls(html, "html")[0] == ["https://en.wikipedia.org/wiki/Apple_Inc.", "https://example.com/a,"]
    band = '<a href="https://en.wikipedia.org/wiki/Oasis_(band)">Oasis</a>'
    assert note_urls(band, "html")[0] == ["https://en.wikipedia.org/wiki/Oasis_(band)"]


def test_a_markdown_target_keeps_its_final_dot_and_parentheses() -> None:
    note = "[Apple](https://en.wikipedia.org/wiki/Apple_Inc.) and [Oasis](https://en.wikipedia.org/wiki/Oasis_(band))."
    expected = ["https://en.wikipedia.org/wiki/Apple_Inc.", "https://en.wikipedia.org/wiki/Oasis_(band)"]
    assert note_urls(note, "markdown")[0] == expected
    assert note_urls(note, "text")[0] == expected  # Markdown syntax in a plain-text note too


def test_prose_still_drops_trailing_punctuation() -> None:
    assert links("See https://en.wikipedia.org/wiki/Apple_Inc. for more.") == [
        "https://en.wikipedia.org/wiki/Apple_Inc"
    ]
    assert links("(https://example.com/a), then") == ["https://example.com/a"]


# ----- what ends a link in prose ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<https://example.com/a>", "https://example.com/a"),
        ("https://example.com/a<br>next", "https://example.com/a"),
        ("`https://example.com/code`", "https://example.com/code"),
        ("＜https://example.com/wide＞", "https://example.com/wide"),
        ("https://example.com/a｜https://example.com/b", "https://example.com/a"),
        ('"https://example.com/quoted", he said', "https://example.com/quoted"),
        ("“https://example.com/curly”", "https://example.com/curly"),
        ("«https://example.com/ru»", "https://example.com/ru"),
        ("https://example.com/a”text", "https://example.com/a"),
        # Balanced pairs inside a path stay.
        ('https://example.com/wiki/The_"quoted"', 'https://example.com/wiki/The_"quoted"'),
        ("https://example.com/wiki/Oasis_(band)", "https://example.com/wiki/Oasis_(band)"),
        ("https://example.com/wiki/Film_“Name”", "https://example.com/wiki/Film_“Name”"),
        ("https://en.wikipedia.org/wiki/Ender's_Game", "https://en.wikipedia.org/wiki/Ender's_Game"),
    ],
)
def test_what_ends_a_link_in_prose(text: str, expected: str) -> None:
    first = find_links(text)[0]
    assert first.raw == expected and first.url is not None


# ----- Markdown link syntax inside a plain-text note ---------------------------------------------------


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        (
            "[Kremlin](http://kremlin(.)ru/events/president/news/63951)",
            ["http://kremlin.ru/events/president/news/63951"],
        ),
        ("[https://x.example/a](https://x.example/a)", ["https://x.example/a"]),
        ("[https://x.example/a](https://x.example/a)[mailto](mailto:a@b.example)", ["https://x.example/a"]),
        ("[title](<https://example.com/with space>)", ["https://example.com/with%20space"]),
    ],
)
def test_markdown_link_syntax_in_a_plain_note_gives_the_one_link(note: str, expected: list[str]) -> None:
    urls, _ = note_urls(note)
    assert urls == expected
    assert not any("%5D" in url or url.endswith("(") for url in urls)


# ----- backslash escapes, spaced dots, hosts that are no hostnames, schemes never downgraded ------------


def test_markdown_backslash_escapes_are_removed() -> None:
    assert links(r"https://t.me/ostorozhno\_novosti/123") == ["https://t.me/ostorozhno_novosti/123"]
    assert note_urls(r"[post](https://t.me/ostorozhno\_novosti/123)", "markdown")[0] == [
        "https://t.me/ostorozhno_novosti/123"
    ]


def test_spaced_dots_are_one_defanging_more() -> None:
    assert links("https://www . example . gov . cn/path/page.html") == ["https://www.example.gov.cn/path/page.html"]
    assert links("hxxp://evil . example/x") == ["http://evil.example/x"]
    assert links("See https://example.com . The next sentence.") == ["https://example.com"]


@pytest.mark.parametrize("text", ["http://-example.com/a", "http://example.com_/a", "http://http__example[.]com/a"])
def test_what_is_not_a_hostname_is_unparsed(text: str) -> None:
    urls, unparsed = note_urls(text)
    assert urls == [] and unparsed


def test_a_scheme_is_never_downgraded() -> None:
    assert links("hXXps:// 192.0.2.1/x") == ["https://192.0.2.1/x"]
    assert links("hxxps[://]example[.]com/a") == ["https://example.com/a"]
