"""The gate after every capture, on pages shaped like what X, Facebook, Instagram, YouTube, VK, LinkedIn
and single-page apps send a client without JavaScript; and on ordinary articles that must pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.judging.extract import extract
from archiver.judging.gate import WallKind, gate, wall_by_url

WALLS = Path(__file__).parent / "pages" / "walls"
URL = "https://example.org/news/2024/story-1"


def judge_page(name: str, url: str = URL, final_url: str = URL) -> tuple[WallKind | None, str]:
    data = (WALLS / name).read_bytes()
    text = extract(data, "text/html; charset=utf-8", final_url).text
    wall = gate(data.decode("utf-8"), text, url, final_url)
    return (wall.kind, wall.reason) if wall else (None, "")


@pytest.mark.parametrize(
    ("name", "kind", "words"),
    [
        ("x_post.html", WallKind.SCRIPT, "javascript is not available"),
        ("spa_root.html", WallKind.SCRIPT, "enable javascript"),
        ("spa_loading.html", WallKind.SCRIPT, "Загрузка"),
        ("spa_few_words.html", WallKind.SCRIPT, "the rest is script"),
        ("facebook_post.html", WallKind.LOGIN, "you must log in to continue"),
        ("instagram_post.html", WallKind.LOGIN, "login • instagram"),
        ("vk_wall.html", WallKind.LOGIN, "sign in to vk"),
        ("linkedin_authwall.html", WallKind.LOGIN, "join linkedin"),
        ("youtube_consent.html", WallKind.CONSENT, "before you continue to youtube"),
        ("youtube_bot.html", WallKind.BOT, "not a bot"),
    ],
)
def test_shells_and_walls_are_recognised(name: str, kind: WallKind, words: str) -> None:
    got, reason = judge_page(name)
    assert got == kind, (name, reason)
    assert words in reason


@pytest.mark.parametrize(
    "name",
    [
        "control_quotes_login.html",  # an article quoting "You must log in to continue"
        "control_quotes_js.html",  # an article quoting "JavaScript is not available"
        "control_noscript_comments.html",  # a <noscript> for its comments
        "control_short_notice.html",  # two genuine sentences
    ],
)
def test_ordinary_pages_pass(name: str) -> None:
    assert judge_page(name) == (None, "")


def test_a_short_article_with_a_comments_noscript_passes() -> None:
    html = (
        "<html><head><title>Notice</title><script src='/a.js'></script></head><body><article><h1>Roads</h1>"
        "<p>The regional road between Minsk and Barysaw is closed for repairs until Friday; drivers are asked to"
        " use the old highway through Smalyavichy instead.</p></article><noscript>Please enable JavaScript to view"
        " the comments powered by Disqus.</noscript></body></html>"
    )
    text = extract(html.encode(), "text/html", URL).text
    assert gate(html, text, URL, URL) is None


@pytest.mark.parametrize(
    ("final", "kind"),
    [
        ("https://consent.youtube.com/m?continue=https%3A%2F%2Fwww.youtube.com%2Fwatch", WallKind.CONSENT),
        ("https://consent.google.com/ml?continue=https://news.google.com/", WallKind.CONSENT),
        ("https://x.com/i/flow/login?redirect_after_login=%2Fa%2Fstatus%2F1", WallKind.LOGIN),
        ("https://www.instagram.com/accounts/login/?next=/p/Cabc/", WallKind.LOGIN),
        ("https://www.facebook.com/login/?next=https%3A%2F%2Fwww.facebook.com%2Fpost", WallKind.LOGIN),
        ("https://www.linkedin.com/authwall?trk=gf&sessionRedirect=x", WallKind.LOGIN),
        ("https://www.facebook.com/challenge.html", WallKind.LOGIN),
        ("https://example.org/login", WallKind.LOGIN),
    ],
)
def test_redirects_to_walls_are_walls_by_their_url(final: str, kind: WallKind) -> None:
    wall = wall_by_url("https://www.example.org/some/post/1", final)
    assert wall is not None and wall.kind == kind


def test_a_moved_article_is_not_a_wall() -> None:
    assert wall_by_url(URL, "https://example.org/news/2024/story-1-renamed") is None
    assert wall_by_url(URL, URL) is None


def test_the_same_shell_as_last_time_is_still_a_shell(tmp_path: Path) -> None:
    """An archive made before the gate may hold a shell's words as a link's text: the same bytes again
    (a revisit, whose text is not extracted anew) are still gated."""
    from archiver.judging.analysis import analyse
    from archiver.storage.textstore import put_text

    shell = (WALLS / "spa_root.html").read_bytes()
    kept = put_text(tmp_path, "You need to enable JavaScript to run this app.")
    analysis = analyse(str(tmp_path), shell, "text/html; charset=utf-8", URL, kept, kept, True, URL)
    assert analysis.wall is not None and analysis.wall.kind == WallKind.SCRIPT
    assert analysis.text_digest is None
