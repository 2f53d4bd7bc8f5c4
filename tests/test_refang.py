"""Re-fanging and link splitting: every form in use, as a table, and as properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.reading.refang import clean_url, defang, find_links, refang, strip_trailing


def urls_of(text: str) -> list[str | None]:
    return [found.url for found in find_links(text)]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("http://government(.)ru/news/40333/;", ["http://government.ru/news/40333/"]),
        ("https://news.tut((.))by/society/698067.html", ["https://news.tut.by/society/698067.html"]),
        ("https://example[.]com/a", ["https://example.com/a"]),
        ("https://example{.}com/a", ["https://example.com/a"]),
        ("https://example[dot]com/a", ["https://example.com/a"]),
        ("https://example(dot)com/a", ["https://example.com/a"]),
        ("https://example[DOT]com/a", ["https://example.com/a"]),
        ("hxxp://example[.]com/a", ["http://example.com/a"]),
        ("hxxps://example[.]com/a", ["https://example.com/a"]),
        ("hXXps://example[.]com/a", ["https://example.com/a"]),
        ("h**p://example.com/a", ["http://example.com/a"]),
        ("h**ps://example.com/a", ["https://example.com/a"]),
        ("https[:]//example.com/a", ["https://example.com/a"]),
        ("http[://]example.com/a", ["http://example.com/a"]),
        ("hxxps[:]//example[.]com[:]8443/a", ["https://example.com:8443/a"]),
        ("http://192[.]168[.]1[.]10/admin", ["http://192.168.1.10/admin"]),
        ("hxxp://10(.)0(.)0(.)1:8080/", ["http://10.0.0.1:8080/"]),
        ("https://t(.)me/nexta_tv/3889", ["https://t.me/nexta_tv/3889"]),
    ],
)
def test_every_defanged_form(written: str, expected: list[str]) -> None:
    assert urls_of(written) == expected


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # separators between links
        (
            "http://a(.)ru/1;; https://b(.)ru/2; https://c(.)ru/3;;",
            ["http://a.ru/1", "https://b.ru/2", "https://c.ru/3"],
        ),
        ("https://a(.)ru/1 ; https://b(.)ru/2", ["https://a.ru/1", "https://b.ru/2"]),
        ("https://a(.)ru/1, https://b(.)ru/2", ["https://a.ru/1", "https://b.ru/2"]),
        ("https://a(.)ru/1;https://b(.)ru/2;;https://c(.)ru/3", ["https://a.ru/1", "https://b.ru/2", "https://c.ru/3"]),
        ("; https://meduza(.)io/news/1;;", ["https://meduza.io/news/1"]),
        # trailing punctuation, kept brackets, queries and fragments
        ("See https://en.wikipedia(.)org/wiki/Mercury_(planet).", ["https://en.wikipedia.org/wiki/Mercury_(planet)"]),
        ("(https://example(.)com/a)", ["https://example.com/a"]),
        ("<https://example(.)com/a>", ["https://example.com/a"]),
        ("“https://example(.)com/a”", ["https://example.com/a"]),
        ("https://tvrain(.)ru/news/x-515378/?from=rss;;", ["https://tvrain.ru/news/x-515378/?from=rss"]),
        ("https://example(.)com/search?q=a&page=2#results.", ["https://example.com/search?q=a&page=2#results"]),
        # prose around links
        (
            "Available at https://example(.)com/report.pdf, accessed 3 September 2020.",
            ["https://example.com/report.pdf"],
        ),
        (
            "Kremlin, “Meeting”, http://kremlin((.))ru/events/president/news/63951 (accessed 2020).",
            ["http://kremlin.ru/events/president/news/63951"],
        ),
        # a URL wrapped over two lines
        (
            "https://example(.)com/news/2020/09/long-\narticle-name.html",
            ["https://example.com/news/2020/09/long-article-name.html"],
        ),
        ("https://example(.)com/news/\n2020/09/article.html", ["https://example.com/news/2020/09/article.html"]),
        ("https://example(.)com/news/\nAccessed September 4, 2020", ["https://example.com/news/"]),
        # internationalised names and Cyrillic paths, kept as written
        ("https://кремль(.)рф/новости/1", ["https://кремль.рф/новости/1"]),
        ("https://ru.wikipedia(.)org/wiki/Минск", ["https://ru.wikipedia.org/wiki/Минск"]),
        # duplicates are removed by the footnote, not here; a scheme inside a Wayback URL is one link
        (
            "https://web.archive(.)org/web/2020/https://example.com/a",
            ["https://web.archive.org/web/2020/https://example.com/a"],
        ),
        # scheme-less but clearly a link
        ("iz(.)ru/1056392/2020-09-03/x", ["http://iz.ru/1056392/2020-09-03/x"]),
        ("www.belta.by/president/view/1", ["http://www.belta.by/president/view/1"]),
    ],
)
def test_cleaning(written: str, expected: list[str]) -> None:
    assert urls_of(written) == expected


@pytest.mark.parametrize(
    "written",
    [
        "mailto:press@example.com",
        "file:///C:/reports/a.pdf",
        "javascript:void(0)",
        "data:text/html,<b>x</b>",
        "ftp://files.example.com/a.zip",
        "https://example.com:99999/",
        "http://exa",
    ],
)
def test_not_a_web_link_is_unparsed(written: str) -> None:
    found = find_links(written)
    assert len(found) == 1
    assert found[0].url is None


@pytest.mark.parametrize(
    "prose",
    [
        "The dot (dot) in prose [.] stays as it is.",
        "Interview with an official, September 2020.",
        "U.S. officials said so.",
        "Ibid.",
        "example.com is not de-fanged so it is prose",
    ],
)
def test_prose_is_not_a_link(prose: str) -> None:
    assert find_links(prose) == []


def test_refang_touches_only_link_syntax() -> None:
    assert refang("hxxps://a[.]b(.)c{.}d[dot]e(dot)f[:]1/p(x)") == "https://a.b.c.d.e.f:1/p(x)"


def test_strip_trailing_keeps_balanced_brackets() -> None:
    assert strip_trailing("https://x.org/a_(b)).,;") == "https://x.org/a_(b)"


def test_clean_url_lowercases_host_only() -> None:
    assert clean_url("HTTPS://Example.COM/Path/A") == "https://example.com/Path/A"


# ---- properties ------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_host = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_label, min_size=1, max_size=3),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)
_path = st.lists(st.from_regex(r"[A-Za-z0-9_~-]{1,12}", fullmatch=True), max_size=4).map(lambda s: "/" + "/".join(s))
_query = st.one_of(
    st.just(""), st.from_regex(r"\?[a-z]{1,5}=[A-Za-z0-9]{1,5}(&[a-z]{1,5}=[A-Za-z0-9]{1,5})?", fullmatch=True)
)
_url = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}{path}{query}",
    st.sampled_from(["http", "https"]),
    _host,
    _path,
    _query,
)
_style = st.sampled_from(["(.)", "((.))", "[.]", "{.}", "[dot]", "(dot)"])


@given(_url, _style)
def test_refang_undoes_defang(url: str, style: str) -> None:
    assert refang(defang(url, style)) == url


@given(_url, _style)
def test_find_links_finds_the_defanged_url(url: str, style: str) -> None:
    assert urls_of(f"Source: {defang(url, style)};; accessed today.") == [url]


@given(st.text())
def test_refang_is_idempotent(text: str) -> None:
    once = refang(text)
    assert refang(once) == once


@given(st.lists(_url, min_size=1, max_size=5), _style, st.sampled_from([";", ";;", " ", "; ", " ; ", ", "]))
def test_several_links_in_one_note(urls: list[str], style: str, separator: str) -> None:
    text = separator.join(defang(u, style) for u in urls)
    found = urls_of(text)
    assert found == urls
    assert all(" " not in u and "[" not in u and "]" not in u for u in found if u)


@given(st.text())
def test_arbitrary_text_never_crashes(text: str) -> None:
    for found in find_links(text):
        if found.url is not None:
            assert found.url.startswith(("http://", "https://"))
            assert not any(c.isspace() for c in found.url)


def test_a_site_name_beside_a_link_is_not_a_second_link() -> None:
    assert urls_of("Kremlin(.)ru, September 3, 2020, http://kremlin(.)ru/events/president/news/63951;") == [
        "http://kremlin.ru/events/president/news/63951"
    ]
    assert urls_of("Source: kremlin(.)ru") == ["http://kremlin.ru"]  # alone, it is the link


@given(_url)
def test_canonical_is_idempotent_and_keeps_the_resource(url: str) -> None:
    from archiver.reading.refang import canonical

    once = canonical(url)
    assert canonical(once) == once
    assert once.split("://", 1)[1].split("/", 1)[0] == url.split("://", 1)[1].split("/", 1)[0].lower()


def test_canonical_spellings() -> None:
    from archiver.reading.refang import canonical

    assert canonical("HTTP://Example.COM:80/a%7eb?x=%2f#frag") == "http://example.com/a~b?x=%2F"
    assert (
        canonical("https://кремль.рф/новости")
        == "https://xn--e1ajeds9e.xn--p1ai/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"
    )
    assert canonical("https://example.com") == "https://example.com/"
    assert canonical("http://government.ru/news/40333") != canonical("http://government.ru/news/40333/")
