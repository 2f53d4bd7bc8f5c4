"""Verdicts, page signs, redirects and text comparison: pure logic, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archiver.judging import signs
from archiver.judging.compare import compare, similarity
from archiver.judging.signs import (
    PageSigns,
    RedirectKind,
    classify_redirect,
    probe_path,
    read_signs,
    telegram_post_missing,
    visible_text,
)
from archiver.judging.verdict import History, Outcome, judge
from archiver.outcomes import Verdict

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def verdict_of(outcome: Outcome, history: History | None = None) -> tuple[str, str]:
    history = history or History()
    got = judge(outcome, history, change_threshold=0.6, dead_after_failures=3, dead_after=timedelta(hours=48))
    return got.verdict, got.reason


@pytest.mark.parametrize(
    ("outcome", "verdict", "reason"),
    [
        (Outcome(NOW, status=404, reason_phrase="Not Found"), "dead", "404 Not Found since 2026-11-26"),
        (Outcome(NOW, status=410, reason_phrase="Gone"), "dead", "410 Gone since 2026-11-26"),
        (
            Outcome(NOW, failure="dns", detail="no such domain: gone.example (NXDOMAIN)"),
            "dead",
            "no such domain: gone.example (NXDOMAIN) since 2026-11-26",
        ),
        (Outcome(NOW, failure="dns_temporary"), "failing", "name lookup failed, 1 failed run(s) since 2026-11-26"),
        (Outcome(NOW, failure="timeout"), "failing", "timed out, 1 failed run(s) since 2026-11-26"),
        (Outcome(NOW, failure="reset"), "failing", "connection reset, 1 failed run(s) since 2026-11-26"),
        (
            Outcome(NOW, status=503, reason_phrase="Service Unavailable"),
            "failing",
            "503 Service Unavailable, 1 failed run(s) since 2026-11-26",
        ),
        (Outcome(NOW, status=403, reason_phrase="Forbidden"), "blocked", "403 Forbidden: the server refuses us"),
        (
            Outcome(NOW, status=429, reason_phrase="Too Many Requests"),
            "blocked",
            "429 Too Many Requests: the server refuses us",
        ),
        (Outcome(NOW, status=451, reason_phrase="Unavailable"), "blocked", "451 Unavailable: the server refuses us"),
        (Outcome(NOW, status=200), "ok", "200, first capture"),
        (Outcome(NOW, status=200, similarity=1.0, first_archived=NOW - DAY), "ok", "200, text unchanged"),
        (
            Outcome(NOW, status=200, similarity=0.38, first_archived=NOW - 2 * DAY),
            "changed",
            "text 38% similar to the capture of 2026-11-24",
        ),
        (
            Outcome(NOW, status=304, not_modified=True, similarity=1.0, first_archived=NOW - DAY),
            "ok",
            "304, not modified",
        ),
        (
            Outcome(NOW, status=304, not_modified=True, similarity=0.2, first_archived=NOW - DAY),
            "changed",
            "text 20% similar to the capture of 2026-11-25",
        ),
        (
            Outcome(NOW, status=200, moved_to="https://new.example/a", similarity=1.0, first_archived=NOW - DAY),
            "ok",
            "200, text unchanged, moved to https://new.example/a",
        ),
        (
            Outcome(NOW, status=200, redirect=RedirectKind.HOME, moved_to="https://x.example/"),
            "dead",
            "redirects to the home page (https://x.example/) since 2026-11-26",
        ),
        (
            Outcome(NOW, status=200, soft_404="soft 404: the page is what the site serves"),
            "dead",
            "soft 404: the page is what the site serves since 2026-11-26",
        ),
        (Outcome(NOW, status=503, challenge_header=True), "blocked", "503: a bot challenge"),
    ],
)
def test_judge(outcome: Outcome, verdict: str, reason: str) -> None:
    assert verdict_of(outcome) == (verdict, reason)


def test_dead_keeps_its_since_date() -> None:
    history = History(previous=Verdict.DEAD, previous_since=NOW - 3 * DAY)
    assert (
        verdict_of(Outcome(NOW, status=404, reason_phrase="Not Found"), history)[1] == "404 Not Found since 2026-11-23"
    )


def test_lasting_failures_become_dead_only_after_runs_and_time() -> None:
    two_failures_two_days = History(failures_in_row=2, failing_since=NOW - 2 * DAY, previous=Verdict.FAILING)
    assert verdict_of(Outcome(NOW, failure="timeout"), two_failures_two_days) == (
        "dead",
        "failing in 3 runs since 2026-11-24: timed out",
    )
    two_failures_one_hour = History(failures_in_row=2, failing_since=NOW - timedelta(hours=1))
    assert verdict_of(Outcome(NOW, failure="timeout"), two_failures_one_hour)[0] == "failing"
    one_failure_long_ago = History(failures_in_row=1, failing_since=NOW - 10 * DAY)
    assert verdict_of(Outcome(NOW, failure="timeout"), one_failure_long_ago)[0] == "failing"


def test_a_success_resets_the_failure_streak() -> None:
    got = judge(
        Outcome(NOW, status=200),
        History(failures_in_row=2, failing_since=NOW - 2 * DAY),
        change_threshold=0.6,
        dead_after_failures=3,
        dead_after=timedelta(hours=48),
    )
    assert (got.verdict, got.failures_in_row, got.failing_since) == ("ok", 0, None)


# ---- page signs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Page not found", "Sorry."),
        ("Ошибка", "Страница не найдена. Вернитесь на главную."),
        ("Помилка", "Сторінку не знайдено"),
        ("Памылка", "Старонка не знойдзена"),
        ("Example", "404 - Not Found. The page you requested does not exist."),
    ],
)
def test_not_found_wording_in_four_languages(title: str, text: str) -> None:
    assert read_signs(title, text, "").not_found


def test_the_wording_is_found_in_any_case() -> None:
    """The phrases are written in lower case and the page's words lowered once (no IGNORECASE, 14 times slower)."""
    assert read_signs("ОШИБКА", "СТРАНИЦА НЕ НАЙДЕНА", "").not_found
    assert read_signs("Error", "Ё-mail: Материал Удалён", "").not_found
    assert read_signs("ACCESS DENIED", "", "").challenge
    assert read_signs("x", "THIS DOMAIN IS FOR SALE", "").parked
    for phrases in (signs._NOT_FOUND, signs._PARKED, signs._CHALLENGE, signs._GEO):
        assert all(phrase == phrase.lower() for phrase in phrases)


def test_a_main_text_that_speaks_for_the_page_is_read_instead_of_its_visible_text() -> None:
    main = "The ministry published its annual report on grain exports today. " * 4  # over OWN_WORDS
    assert len(main) >= signs.OWN_WORDS
    assert not read_signs("Report", "Search: nothing found", main).not_found  # a sidebar widget's words
    assert read_signs("Report", "Page not found", main[:100]).not_found  # too short to speak: the page's words


def test_a_long_article_quoting_not_found_is_not_a_soft_404() -> None:
    article = "The minister said the documents could not be found in the archive. " * 40
    assert not read_signs("Minister on archives", article, article).not_found


def test_parked_challenge_geo() -> None:
    assert read_signs("example.com", "This domain is for sale! Buy this domain.", "").parked
    assert read_signs("Just a moment...", "Checking your browser before accessing", "").challenge
    assert read_signs("Недоступно", "Контент недоступен в вашей стране", "").geo_blocked


def test_visible_text_strips_scripts() -> None:
    title, text = visible_text("<title>T &amp; A</title><script>var notfound='page not found'</script><p>Body</p>")
    assert (title, text) == ("T & A", "T & A Body")


def test_telegram_post_missing() -> None:
    present = "<meta property='og:description' content='Protest march at 14:00'>"
    gone = "<meta property='og:description' content='You can view and join @nexta_live right away.'>"
    assert not telegram_post_missing("https://t.me/nexta_live/10395", present)
    assert telegram_post_missing("https://t.me/nexta_live/10395", gone)
    assert telegram_post_missing(
        "https://t.me/nexta_live/10395", "<div class='tgme_widget_message_error'>Post not found"
    )
    assert not telegram_post_missing("https://t.me/nexta_live", gone)  # a channel link is not a post link
    assert not telegram_post_missing("https://example.com/nexta_live/1", gone)


@pytest.mark.parametrize(
    ("url", "final", "kind"),
    [
        ("https://a.example/news/2020/09/story.html", "https://a.example/", RedirectKind.HOME),
        ("https://a.example/news/2020/09/story.html", "https://www.a.example/index.php", RedirectKind.HOME),
        ("https://a.example/ru/posts/story", "https://a.example/ru/", RedirectKind.HOME),
        ("https://a.example/news/2020/09/story.html", "https://a.example/news/", RedirectKind.SECTION),
        ("https://a.example/news/story", "https://a.example/search?q=story", RedirectKind.SEARCH),
        ("https://a.example/news/story", "https://a.example/login?next=/news/story", RedirectKind.LOGIN),
        ("https://a.example/news/story", "https://a.example/404.html", RedirectKind.ERROR),
        ("http://a.example/news/story", "https://a.example/news/story", None),  # to https: a move
        ("https://a.example/news/story", "https://a.example/news/story/", None),
        ("https://a.example/news/story", "https://b.example/2020/new-home-of-story", None),
        ("https://a.example/", "https://a.example/en/", None),  # the link was to the home page
    ],
)
def test_classify_redirect(url: str, final: str, kind: RedirectKind | None) -> None:
    assert classify_redirect(url, final) == kind


def test_probe_path_keeps_the_link_shape() -> None:
    assert (
        probe_path("https://a.example/news/2020/story.html", "abc")
        == "https://a.example/news/2020/archiver-probe-abc.html"
    )
    assert probe_path("https://a.example/story", "abc") == "https://a.example/archiver-probe-abc"
    assert probe_path("https://t.me/nexta_tv/3889", "abc") == "https://t.me/nexta_tv/9abc"


# ---- text comparison -------------------------------------------------------------------------

ARTICLE = (
    "Mishustin said on September 3 that the governments of Russia and Belarus had made progress on the Union "
    "State. The prime ministers discussed a common cabinet, a single tax code and unified energy markets. "
) * 3


def test_boilerplate_drift_is_not_change() -> None:
    noisy = ARTICLE.replace("September 3", "September 3 (updated 14:05, 1,234 views)")
    assert similarity(ARTICLE, noisy) > 0.8
    assert similarity(ARTICLE, ARTICLE + " Related: weather in Minsk; sports results; horoscope.") == 1.0


def test_small_edits_are_not_change() -> None:
    edited = ARTICLE.replace("goverments", "governments").replace("Mishustin", "Mikhail Mishustin", 1)
    assert similarity(ARTICLE, edited + " An update was added later.") > 0.9


def test_replaced_article_is_change() -> None:
    other = "The ministry of agriculture announced record grain harvests in the southern regions this autumn. " * 3
    result = compare(ARTICLE, other)
    assert result.similarity < 0.1
    assert result.diff.startswith("--- first capture")


def test_identical_text() -> None:
    assert compare(ARTICLE, ARTICLE).similarity == 1.0
    assert compare(ARTICLE, ARTICLE).diff == ""


def test_a_page_still_as_first_archived_is_not_dead_whatever_it_says() -> None:
    quoting = PageSigns("Archive search", True, not_found=True, parked=False, challenge=False, geo_blocked=False)
    assert verdict_of(Outcome(NOW, status=200, similarity=0.95, first_archived=NOW - DAY, signs=quoting))[0] == "ok"
    assert (
        verdict_of(
            Outcome(
                NOW,
                status=200,
                similarity=0.95,
                first_archived=NOW - DAY,
                signs=quoting,
                redirect=RedirectKind.HOME,
                moved_to="https://a.example/",
            )
        )[0]
        == "ok"
    )
    assert verdict_of(Outcome(NOW, status=200, similarity=0.1, first_archived=NOW - DAY, signs=quoting))[0] == "dead"


def test_sidebar_words_do_not_make_a_soft_404() -> None:
    article = "The prime ministers met in Minsk and discussed the union state in detail. " * 10
    visible = "Search the site: nothing found. " + article
    assert not read_signs("Prime ministers meet", visible, article).not_found


def test_short_lines_drift_is_not_change() -> None:
    lines = [f"Paragraph {i} of the article says something long enough to be prose here." for i in range(8)]
    first = "\n".join(["Updated 10:05", "1,234 views", *lines, "Buy a car today", "Share on Facebook"])
    new = "\n".join(["Updated 18:40 by the desk", "9,876 views", *lines, "Cheap flights to Minsk", "Tweet this"])
    assert similarity(first, new) == 1.0


def test_a_short_post_with_a_typo_fixed_is_not_changed_but_a_replaced_one_is() -> None:
    post = "Let them negotiate with the Kremlin as much as they want, the people decide. March on Sunday at 14:00."
    assert similarity(post, post.replace("negotiate", "negotiate,").replace("Kremlin", "Kremlin itself")) > 0.9
    assert similarity(post, "Police detained dozens of students near the linguistic university today.") < 0.3
