"""The gate after every capture: is this the page the footnote cited, or something standing in front of it?

A plain fetch of a social post or an app-like page often gets a script shell ("JavaScript is not
available", an empty app root, "Loading…"), a login wall, a consent interstitial or a bot wall. Such a
capture is never `ok` and its words never become the cited text. Pure functions over the page's HTML,
its extracted main text and its URLs; an ordinary article that quotes the same words is not a wall:
every rule needs the page's own text to be thin as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from archiver.judging.signs import page_title, visible_text


class WallKind(StrEnum):
    """What stood in front of the page."""

    SCRIPT = "script"  # a shell that scripts fill in: a browser can read it
    LOGIN = "login"
    CONSENT = "consent"
    BOT = "bot"


@dataclass(frozen=True, slots=True)
class Wall:
    """What the gate met, in words for the link's reason."""

    kind: WallKind
    what: str  # "login wall", "script-only page", "consent page", "bot wall"
    detail: str = ""  # the words or the URL that gave it away

    @property
    def reason(self) -> str:
        return f"{self.what} ({self.detail})" if self.detail else self.what


# A main text shorter than this is not an article: a wall's few lines, or a shell's.
THIN = 600
# A page showing fewer visible characters than this, while scripts build it, is a shell.
FEW_WORDS = 80

_SCRIPT_WORDS = re.compile(
    r"javascript is not available|javascript is disabled|(?:please )?enable javascript|javascript (?:is )?required"
    r"|requires javascript|need(?:s)? (?:to )?(?:enable )?javascript|turn on javascript|doesn'?t work properly without"
    r" javascript|включите javascript|javascript отключ[её]н|необходимо включить javascript|увімкніть javascript"
)
_LOGIN_WORDS = re.compile(
    r"you must log in to continue|log in to continue|log into facebook|sign in to vk|sign in to continue"
    r"|sign in to view|join linkedin|log in to see|login • instagram|войдите(?:,)? чтобы|вход \| вконтакте"
    r"|войдите на сайт|увійдіть, щоб"
)
_CONSENT_WORDS = re.compile(r"before you continue to (?:youtube|google)|before you continue|прежде чем перейти к")
_BOT_WORDS = re.compile(r"sign in to confirm you(?:'|’)?re not a bot|confirm you(?:'|’)?re not a bot")
_LOADING_ONLY = re.compile(
    r"^(?:[\s.…·•|/\\-]*(?:loading|please wait|загрузка|завантаження|идёт загрузка|идет загрузка)[\s.…·•!]*)+$"
)
_APP_ROOT = re.compile(
    r"""<(?:div|main|section)\b[^>]*\bid\s*=\s*["']?(?:root|app|__next|__nuxt|app-root|application|react-root|main-app)"""
    r"""["']?[^>]*>\s*(?:<(?:div|span)[^>]*>\s*</(?:div|span)>\s*)*</(?:div|main|section)>|<app-root[^>]*>\s*</app-root>""",
    re.IGNORECASE,
)
_LOGIN_FORM = re.compile(
    r"""\bid\s*=\s*["']login_form["']|<input\b[^>]*\btype\s*=\s*["']?password|\bname\s*=\s*["']login_form""",
    re.IGNORECASE,
)
_SCRIPT_TAG = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_NOSCRIPT = re.compile(r"<noscript\b[^>]*>(.*?)</noscript\s*>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_TITLE_BLOCK = re.compile(r"<title\b[^>]*>.*?</title\s*>", re.IGNORECASE | re.DOTALL)

_CONSENT_HOSTS = ("consent.youtube.com", "consent.google.com")
_LOGIN_PATHS = re.compile(
    r"^/(?:login|log-in|signin|sign-in|i/flow/login|accounts/login|account/login|authwall|checkpoint"
    r"|challenge\.html|uas/login|login\.php)(?:[/.?]|$)",
    re.IGNORECASE,
)
_BOT_PATHS = re.compile(r"^/(?:sorry/index|captcha|showcaptcha)(?:[/.?]|$)", re.IGNORECASE)


def wall_by_url(url: str, final_url: str) -> Wall | None:
    """A redirect that left the link for a login, consent or bot-check page, by its URL alone."""
    if not final_url or final_url == url:
        return None
    parts = urlsplit(final_url)
    host = (parts.hostname or "").lower()
    if host in _CONSENT_HOSTS:
        return Wall(WallKind.CONSENT, "consent page", f"redirects to {host}")
    if _LOGIN_PATHS.search(parts.path or "/"):
        return Wall(WallKind.LOGIN, "login wall", f"redirects to {parts.path}")
    if _BOT_PATHS.search(parts.path or "/"):
        return Wall(WallKind.BOT, "bot wall", f"redirects to {parts.path}")
    return None


def walled_text(text: str | None) -> bool:
    """Whether a kept text is a shell's or a wall's words (archived before the gate): not what was cited."""
    if not text or len(text.strip()) >= THIN:
        return False
    lowered = text.lower()
    patterns = (_SCRIPT_WORDS, _LOGIN_WORDS, _CONSENT_WORDS, _BOT_WORDS)
    return any(pattern.search(lowered) for pattern in patterns) or bool(_LOADING_ONLY.match(lowered.strip()))


def _words(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found.group(0) if found else None


def gate(html: str, main_text: str | None, url: str, final_url: str) -> Wall | None:
    """The wall or shell a captured HTML page is, or None for a page that shows its own content."""
    by_url = wall_by_url(url, final_url)
    if by_url is not None:
        return by_url
    main = (main_text or "").strip()
    if len(main) >= THIN:
        return None  # the page's own words: an article, whatever it quotes
    head = html[:500_000]
    title = page_title(head)
    visible = visible_text(_TITLE_BLOCK.sub(" ", head))[1]
    noscript = " ".join(_TAGS.sub(" ", block) for block in _NOSCRIPT.findall(head))
    words = f"{title}\n{visible[:3000]}\n{noscript[:2000]}".lower()
    for pattern, kind, what in (
        (_BOT_WORDS, WallKind.BOT, "bot wall"),
        (_CONSENT_WORDS, WallKind.CONSENT, "consent page"),
    ):
        found = _words(pattern, words)
        if found:
            return Wall(kind, what, f"“{found}”")
    login = _words(_LOGIN_WORDS, words)
    if login and (_LOGIN_FORM.search(head) or len(main) < THIN // 2 or len(visible) < THIN):
        return Wall(WallKind.LOGIN, "login wall", f"“{login}”")
    if _LOGIN_FORM.search(head) and len(visible) < THIN // 2 and re.search(r"log ?in|sign ?in|вход|войти", words):
        return Wall(WallKind.LOGIN, "login wall", "a login form and nothing else")
    return _script_shell(head, visible, words)


def _script_shell(head: str, visible: str, words: str) -> Wall | None:
    """A page that scripts build: what a plain fetch sees is its shell."""
    scripts = _SCRIPT_TAG.findall(head)
    has_scripts = bool(scripts) or "<script" in head.lower()
    shell_words = _words(_SCRIPT_WORDS, words)
    stripped = visible.strip()
    root = _APP_ROOT.search(head) if has_scripts or shell_words else None
    # "Please enable JavaScript to view the comments" under an article is not a shell: the words count
    # only on a page that shows next to nothing of its own, or beside an empty app root.
    about_comments = shell_words is not None and re.search(r"javascript to (?:view|see|load) (?:the )?comments", words)
    if shell_words and not about_comments and (len(stripped) < THIN // 2 or root is not None):
        return Wall(WallKind.SCRIPT, "script-only page", f"“{shell_words}”")
    if not has_scripts:
        return None
    if stripped and _LOADING_ONLY.match(stripped.lower()):
        return Wall(WallKind.SCRIPT, "script-only page", f"“{stripped[:40]}” and nothing else")
    if root is not None and len(stripped) < THIN // 2:
        return Wall(WallKind.SCRIPT, "script-only page", "an empty app root that scripts fill")
    script_size = sum(len(s) for s in scripts) + 200 * head.lower().count("<script src")
    if len(stripped) < FEW_WORDS and script_size > 5 * max(len(stripped), 1):
        return Wall(WallKind.SCRIPT, "script-only page", f"{len(stripped)} visible characters, the rest is script")
    return None
