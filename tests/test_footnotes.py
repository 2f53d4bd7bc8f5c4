"""Footnotes of real and made-up reports in every format: links, problems, metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.reading.footnotes import Problem, footnotes
from archiver.reading.reports import parse_report, read_report
from archiver.showing.render import report_dict

from .conftest import SAMPLE

HERE = Path(__file__).parent
GOLDEN = HERE / "golden" / "000_c1b9237a46e35f67.json"


def by_n(path: Path) -> dict[int, tuple[list[str], list[str]]]:
    return {f.n: (list(f.urls), [str(p) for p in f.problems]) for f in footnotes(read_report(path))}


def test_sample_report_matches_golden(update_goldens: bool) -> None:
    got = report_dict(read_report(SAMPLE))
    got["path"] = "examples/000_c1b9237a46e35f67.txt"
    if update_goldens:
        GOLDEN.write_text(json.dumps(got, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        pytest.skip(f"{GOLDEN.name} rewritten: review the diff, then run again without --update-goldens")
    assert got == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_sample_report_counts() -> None:
    notes = footnotes(read_report(SAMPLE))
    assert [f.n for f in notes] == list(range(1, 33))
    missing = [f.n for f in notes if Problem.MISSING in f.problems]
    assert missing == [4, 9, 12, 13, 15, 20, 23, 24, 26, 27, 31, 32]
    assert len({u for f in notes for u in f.urls}) == 22
    assert all(f.text is None for f in notes if f.n in missing)


def test_sample_report_metadata() -> None:
    report = read_report(SAMPLE)
    assert report.title is not None and report.title.startswith("Belarus Warning Update: Belarusian Opposition")
    assert report.published == "2020-09-03"
    assert report.authors == ("George Barros",)


def test_note_beginning_with_separator_keeps_its_text() -> None:
    five = next(f for f in footnotes(read_report(SAMPLE)) if f.n == 5)
    assert five.text is not None and five.text.startswith("; https://meduza(.)io/")
    assert (
        five.urls[-1]
        == "https://tvrain.ru/news/lavrov_v_belarusi_nahodjatsja_200_natrenirovannyh_ukrainskih_ekstremistov-515378/?from=rss"
    )


def test_footer_lines_are_not_notes() -> None:
    thirty = next(f for f in footnotes(read_report(SAMPLE)) if f.n == 30)
    assert thirty.text == "https://t(.)me/nexta_tv/3889"


def test_markdown_footnotes() -> None:
    report = read_report(HERE / "reports" / "footnotes.md")
    assert report.format == "markdown"
    assert report.title == "Minsk Protests: Weekly Review"
    assert report.published == "2020-09-10"
    assert report.authors == ("Jane Analyst", "John Smith")
    assert by_n(HERE / "reports" / "footnotes.md") == {
        1: (["https://mvd.gov.by/ru/news/123", "https://belta.by/society/view/456/"], []),
        2: (["https://t.me/nexta_live/10395", "https://t.me/nexta_live/10405"], []),
        3: ([], ["empty"]),
        4: (["https://example.org/report_(final).pdf"], ["unparsed"]),
        5: ([], ["missing"]),
    }


def test_markdown_numbered_endnotes_stop_at_the_next_heading() -> None:
    report = read_report(HERE / "reports" / "endnotes.md")
    assert report.published == "2020-09-04"
    assert report.authors == ("Analyst One",)
    assert by_n(HERE / "reports" / "endnotes.md") == {
        1: (["http://government.ru/news/40333/"], []),
        2: (["https://iz.ru/1056392/2020-09-03/a", "https://nsn.fm/policy/b"], []),
        3: (["https://www.rbc.ru/politics/08/10/2019/5d9c3d6b9a79479318913901"], []),
    }


def test_html_ordered_list_with_hrefs_and_visible_links() -> None:
    report = read_report(HERE / "reports" / "ordered.html")
    assert report.title == "Belarus Warning Update"
    assert report.published == "2020-09-05"
    assert report.authors == ("George Barros",)
    assert by_n(HERE / "reports" / "ordered.html") == {
        1: (["http://government.ru/news/40333/"], []),
        # the shortened display "lavrov-zayavil..." is the href, not a second link
        2: (
            [
                "https://meduza.io/news/2020/09/02/lavrov-zayavil-o-200-ukrainskih-ekstremistah",
                "https://lenta.ru/news/2020/09/02/vseoni/",
            ],
            [],
        ),
        3: (["https://t.me/nexta_tv/3889"], []),  # a de-fanged href
    }


def test_html_paragraph_notes() -> None:
    report = read_report(HERE / "reports" / "paragraphs.html")
    assert report.published == "2020-09-06"
    assert by_n(HERE / "reports" / "paragraphs.html") == {
        1: (["https://t.me/nexta_tv/3889"], []),
        2: (["https://mvd.gov.by/ru/news/7"], ["unparsed"]),
        3: ([], ["missing"]),
    }


def test_html_pandoc_footnotes_section() -> None:
    assert by_n(HERE / "reports" / "pandoc.html") == {
        1: (["https://tass.ru/politika/9363011"], []),
        2: ([], ["empty"]),
    }


def test_word_style_html_notes() -> None:
    html = (
        '<html><body><p>Claim.<a href="#_ftn1" name="_ftnref1">[1]</a></p>'
        '<div id="ftn1"><p><a href="#_ftnref1" name="_ftn1">[1]</a> Source: '
        '<a href="https://www.interfax.ru/world/722395">Interfax</a></p></div></body></html>'
    )
    notes = footnotes(parse_report(html, stem="word", fmt="html"))
    assert [(f.n, list(f.urls), list(f.problems)) for f in notes] == [(1, ["https://www.interfax.ru/world/722395"], [])]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1251"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_encodings_and_line_endings(tmp_path: Path, encoding: str, newline: str) -> None:
    text = (
        "Протесты в Минске\n\n3 сентября 2020\n\nМинистерство заявило об этом.[1] И ещё.[2]\n\n"
        "[1] https://mvd(.)gov(.)by/ru/news/протест;\n\n[2]\u00a0https://кремль(.)рф/новости/1\n"
    )
    path = tmp_path / "ru.txt"
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    report = read_report(path)
    assert report.title == "Протесты в Минске"
    assert report.published == "2020-09-03"
    assert by_n(path) == {1: (["https://mvd.gov.by/ru/news/протест"], []), 2: (["https://кремль.рф/новости/1"], [])}


def test_wrapped_url_in_a_plain_text_note(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.txt"
    path.write_text(
        "Title\n\nClaim.[1]\n\n[1] https://hromadske(.)ua/ru/posts/lukashenko-privel-armiyu-\nv-boevuyu-gotovnost\n"
    )
    assert by_n(path) == {1: (["https://hromadske.ua/ru/posts/lukashenko-privel-armiyu-v-boevuyu-gotovnost"], [])}


def test_duplicates_within_a_note_are_removed_in_order(tmp_path: Path) -> None:
    path = tmp_path / "dup.txt"
    path.write_text("T\n\nA.[1]\n\n[1] https://b(.)ru/1; https://a(.)ru/2;; https://b(.)ru/1\n")
    assert by_n(path) == {1: (["https://b.ru/1", "https://a.ru/2"], [])}


def test_citation_ranges_and_years(tmp_path: Path) -> None:
    path = tmp_path / "ranges.txt"
    path.write_text("T\n\nA.[1, 3] B.[4–6] In [2020] nothing.\n\n[1] https://a(.)ru/1\n")
    assert sorted(by_n(path)) == [1, 3, 4, 5, 6]


_HTML_BITS = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<ol>",
        "<li>",
        "</li>",
        "</ol>",
        "<a href='",
        "'>",
        "</a>",
        "[1]",
        "[^2]:",
        " hxxp://x[.]ru/a ",
        "\n",
        "1. ",
        "## Notes\n",
        "<br>",
        "(.)",
        ";;",
        "\u00a0",
        "mailto:",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.text(max_size=20), _HTML_BITS), max_size=40), st.sampled_from(["text", "markdown", "html"])
)
def test_arbitrary_text_never_crashes_the_parser(parts: list[str], fmt: str) -> None:
    report = parse_report("".join(parts), stem="x", fmt=fmt)
    for note in footnotes(report):
        assert all(u.startswith(("http://", "https://")) for u in note.urls)


def test_links_continued_after_a_blank_line_stay_with_their_note(tmp_path: Path) -> None:
    path = tmp_path / "orphan.txt"
    path.write_text("T\n\nA.[1] B.[2]\n\n[1] https://a(.)ru/1;;\n\nhttps://b(.)ru/2\n\n[2] https://c(.)ru/3\n\nEnd.\n")
    assert by_n(path) == {1: (["https://a.ru/1", "https://b.ru/2"], []), 2: (["https://c.ru/3"], [])}


def test_html_numbered_paragraphs_under_a_notes_heading() -> None:
    html = (
        "<html><body><h1>Report</h1><p>Claim.<sup>1</sup> Another.<sup>2</sup></p><p>12 protesters were held.</p>"
        "<h3>Endnotes</h3><p><sup>1</sup> https://tass(.)ru/politika/9363011</p>"
        "<p>2. <a href='https://www.interfax.ru/world/722395'>Interfax</a>, September 3, 2020.</p></body></html>"
    )
    notes = footnotes(parse_report(html, stem="numbered", fmt="html"))
    assert [(f.n, list(f.urls)) for f in notes] == [
        (1, ["https://tass.ru/politika/9363011"]),
        (2, ["https://www.interfax.ru/world/722395"]),
    ]


def test_notes_that_lost_their_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "runon.txt"
    path.write_text("T\n\nA.[1] B.[2] C.[3]\n\n[1] https://a(.)ru/1; [2] https://b(.)ru/2 [3]\u00a0https://c(.)ru/3\n")
    assert by_n(path) == {1: (["https://a.ru/1"], []), 2: (["https://b.ru/2"], []), 3: (["https://c.ru/3"], [])}


def test_a_bracketed_number_inside_a_note_is_not_a_new_note(tmp_path: Path) -> None:
    path = tmp_path / "inner.txt"
    path.write_text("T\n\nA.[5]\n\n[5] Interview [2020] and [3] below, https://a(.)ru/1\n")
    assert by_n(path) == {5: (["https://a.ru/1"], [])}


def test_html_last_list_of_links_without_a_heading() -> None:
    html = (
        "<html><body><h1>Report</h1><p>Claim.[1] Other.[2]</p><ol><li>Point one of the body</li></ol>"
        "<ol><li><a href='https://tass.ru/politika/9363011'>TASS</a></li>"
        "<li>https://www.interfax(.)ru/world/722395</li></ol></body></html>"
    )
    notes = footnotes(parse_report(html, stem="lastlist", fmt="html"))
    assert [(f.n, list(f.urls)) for f in notes] == [
        (1, ["https://tass.ru/politika/9363011"]),
        (2, ["https://www.interfax.ru/world/722395"]),
    ]
