"""What a page says about itself: not found, parked, a challenge, geo-blocked; where a redirect went."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit

TELEGRAM_HOSTS = frozenset({"t.me", "telegram.me", "www.t.me"})  # public posts: t.me/CHANNEL/N

_NOT_FOUND = [
    # English
    r"page not found",
    r"404[\s:–-]*not found",
    r"not found[\s:–-]*404",
    r"error 404",
    r"404 error",
    r"page (?:you (?:are looking for|requested|were looking for) )?(?:does not|doesn'?t|no longer) exists?",
    r"(?:could|can)(?:not|n'?t) be found",
    r"no longer available",
    r"has been (?:removed|deleted)",
    r"this page (?:isn'?t|is not) available",
    r"nothing (?:was )?found",
    r"article not found",
    r"the requested url was not found",
    r"sorry, (?:we couldn'?t find|that page)",
    # Russian
    r"страница не найдена",
    r"страницы не существует",
    r"страница не существует",
    r"ошибка 404",
    r"запрашиваемая страница не",
    r"статья не найдена",
    r"материал не найден",
    r"новость не найдена",
    r"страница удалена",
    r"материал удал[её]н",
    r"такой страницы нет",
    r"нет такой страницы",
    r"ничего не найдено",
    r"запись не найдена",
    r"публикация не найдена",
    # Ukrainian
    r"сторінк[уа] не знайдено",
    r"сторінка не знайдена",
    r"сторінки не існує",
    r"сторінка не існує",
    r"помилка 404",
    r"матеріал не знайдено",
    r"новину не знайдено",
    r"сторінку видалено",
    # Belarusian
    r"старонк[аі] не знойдзен[аы]",
    r"старонку не знойдзена",
    r"старонка не існуе",
    r"памылка 404",
    r"старонкі не існуе",
    r"матэрыял не знойдзены",
]
_PARKED = [
    r"this domain (?:name )?(?:is|may be) for sale",
    r"buy this domain",
    r"domain (?:is )?for sale",
    r"this domain has expired",
    r"domain (?:name )?has expired",
    r"parked (?:free|domain|by)",
    r"is parked",
    r"courtesy of godaddy",
    r"sedo ?parking",
    r"hugedomains",
    r"dan\.com",
    r"this domain name is registered",
    r"домен продается",
    r"домен продаётся",
    r"этот домен продается",
    r"срок регистрации домена истек",
    r"домен припаркован",
]
_CHALLENGE = [
    r"just a moment\.\.\.",
    r"checking (?:if the site connection is secure|your browser)",
    r"cf-browser-verification",
    r"attention required! \| cloudflare",
    r"enable javascript and cookies to continue",
    r"ddos-guard",
    r"ddos protection by",
    r"are you a robot",
    r"verify you are (?:a )?human",
    r"captcha",
    r"access denied",
    r"request (?:was )?blocked",
    r"you have been blocked",
    r"доступ запрещ[её]н",
    r"проверка браузера",
    r"подтвердите, что вы не робот",
]
_GEO = [
    r"not available in your (?:country|region)",
    r"unavailable in your (?:country|region)",
    r"access from your (?:country|region) (?:is|has been) (?:restricted|blocked)",
    r"недоступ(?:ен|на|но) в вашей стране",
    r"недоступ(?:ен|на|но) в вашем регионе",
    r"недоступн(?:ий|а|е) у вашій країні",
    r"blocked in your country",
]
# Written in lower case and searched in lowered text: re.IGNORECASE makes such long alternations
# many times slower (docs/benchmarks.md).
_NOT_FOUND_RE = re.compile("|".join(_NOT_FOUND))
_PARKED_RE = re.compile("|".join(_PARKED))
_CHALLENGE_RE = re.compile("|".join(_CHALLENGE))
_GEO_RE = re.compile("|".join(_GEO))
_TAG_RE = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_SPACES_RE = re.compile(r"\s+")

OWN_WORDS = 200  # a main text this long is the page's own words; shorter, the page's visible text is read
# A page this short that says "not found" is an error page; a long article may quote the words.
SHORT_PAGE = 1500
_SEARCH_PATHS = re.compile(r"(?:^|/)(?:search|find|poisk|поиск|results?)(?:/|\.|$)", re.IGNORECASE)
_LOGIN_PATHS = re.compile(
    r"(?:^|/)(?:log-?in|sign-?in|signon|auth|authorize|account/login|users?/login|sso|oauth|cas/login)(?:/|\.|$)",
    re.IGNORECASE,
)
_ERROR_PATHS = re.compile(r"(?:^|/)(?:404|not-?found|error|errors|page-not-found)(?:/|\.|$)", re.IGNORECASE)
_HOME_PAGES = re.compile(r"^/(?:index|default|home|main)?(?:\.\w{2,5})?$|^/[a-z]{2}(?:-[a-z]{2})?/?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PageSigns:
    """What the page's own words say."""

    title: str
    short: bool  # little text: an error page rather than an article
    not_found: bool
    parked: bool
    challenge: bool
    geo_blocked: bool
    telegram_missing: bool = False


def page_title(html: str) -> str:
    """The page's <title>, unescaped."""
    title_match = _TITLE_RE.search(html[:200_000])
    return _SPACES_RE.sub(" ", html_lib.unescape(title_match.group(1))).strip() if title_match else ""


def visible_text(html: str, limit: int = 20000) -> tuple[str, str]:
    """The page's title and its visible text, roughly (tags and scripts stripped), cut to a limit."""
    title = page_title(html)
    text = _SPACES_RE.sub(" ", html_lib.unescape(_TAG_RE.sub(" ", html[:500_000]))).strip()
    return title, text[:limit]


def speaks_for_the_page(main_text: str | None) -> bool:
    """Whether an extracted main text is long enough to be the page's own words (else its visible text is)."""
    return main_text is not None and len(main_text) >= OWN_WORDS


def read_signs(title: str, text: str, main_text: str | None, *, telegram_missing: bool = False) -> PageSigns:
    """Classify a page by its title, visible text (needed only when the main text does not speak for the
    page) and extracted main text."""
    main = main_text or ""
    short = len(main) < SHORT_PAGE
    # The page's own words: its main text, or its visible text when extraction found (almost) none; not
    # the sidebars of a normal page, whose search widget may well say "nothing found".
    words = f"{title}\n{main[:5000] if speaks_for_the_page(main_text) else text[:5000]}".lower()
    not_found = bool(_NOT_FOUND_RE.search(title.lower())) or (short and bool(_NOT_FOUND_RE.search(words)))
    # Only a short page can be a parking, challenge or geo-block page: a long one is not searched.
    parked = short and bool(_PARKED_RE.search(words))
    challenge = short and bool(_CHALLENGE_RE.search(words))
    geo = short and bool(_GEO_RE.search(words))
    return PageSigns(title, short, not_found, parked, challenge, geo, telegram_missing)


def is_telegram_post(url: str) -> bool:
    """Whether a URL is a public Telegram post: t.me/CHANNEL/N (or t.me/s/CHANNEL/N)."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0] == "s":
        segments = segments[1:]
    host = (parts.hostname or "").lower()
    return host in TELEGRAM_HOSTS and len(segments) == 2 and segments[1].isdigit()


def telegram_post_missing(url: str, html: str) -> bool:
    """A t.me/CHANNEL/N page that shows the channel, or an error, instead of the post."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    host = (urlsplit(url).hostname or "").lower()
    if host not in TELEGRAM_HOSTS or len(parts) < 2 or not parts[-1].isdigit():
        return False
    lowered = html.lower()
    if "tgme_widget_message_error" in lowered or re.search(r"post not found|message not found", lowered):
        return True
    if re.search(r"""data-(?:telegram-)?post=["'][^"']*/""" + re.escape(parts[-1]) + """["']""", html):
        return False  # the post's own widget is on the page
    description = re.search(r"""<meta[^>]+property=["']og:description["'][^>]+content=["']([^"']*)""", html, re.I)
    content = html_lib.unescape(description.group(1)).strip() if description else ""
    # Telegram's words for a channel page with nothing to show; an image-only post may have no text at all.
    return content.lower().startswith(("you can view and join", "you can contact", "if you have telegram"))


class RedirectKind(StrEnum):
    """Where a redirect took a link that was to an article."""

    HOME = "home"
    SECTION = "section"
    SEARCH = "search"
    LOGIN = "login"
    ERROR = "error"


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def classify_redirect(url: str, final_url: str) -> RedirectKind | None:
    """Whether a redirect left the article for the home page, a section index, search, login or an error page."""
    if not final_url or final_url == url:
        return None
    source, target = urlsplit(url), urlsplit(final_url)
    source_segments = _segments(source.path)
    target_segments = _segments(target.path)
    if not source_segments and not source.query:
        return None  # the link was to a home page itself
    target_query = parse_qs(target.query)
    keys = {k.lower() for k in target_query}
    if _LOGIN_PATHS.search(target.path) or {"returnurl", "return_to", "redirect_uri", "next"} & keys:
        return RedirectKind.LOGIN
    if _ERROR_PATHS.search(target.path):
        return RedirectKind.ERROR
    if _SEARCH_PATHS.search(target.path) or ({"q", "query", "s", "search"} & set(target_query) and not source.query):
        return RedirectKind.SEARCH
    if _HOME_PAGES.match(target.path or "/") and not target.query:
        if [s.lower() for s in source_segments] == [s.lower() for s in target_segments]:
            return None  # "/en/" to "/en": the same page
        return RedirectKind.HOME
    if (
        len(target_segments) < len(source_segments)
        and source_segments[: len(target_segments)] == target_segments
        and (target.hostname or "").removeprefix("www.") == (source.hostname or "").removeprefix("www.")
    ):
        return RedirectKind.SECTION
    return None


# A page whose text holds less than this of the article's is not the article (an index, a list of headlines).
SECTION_SIMILARITY = 0.15


def section_page(url: str, final_url: str, similarity: float) -> bool:
    """Whether an article's redirect went to its section: a shallower page of the same site (fewer path
    segments) that does not hold the article's text. A moved article (same text, any URL) is not."""
    source, target = urlsplit(url), urlsplit(final_url)
    same_site = (target.hostname or "").removeprefix("www.") == (source.hostname or "").removeprefix("www.")
    shallower = len(_segments(target.path)) < len(_segments(source.path))
    return same_site and shallower and similarity < SECTION_SIMILARITY


def probe_path(url: str, token: str) -> str:
    """A path that cannot exist on the link's site, shaped like the link's own (same depth and suffix)."""
    parts = urlsplit(url)
    segments = _segments(parts.path)
    host = (parts.hostname or "").lower()
    if host in TELEGRAM_HOSTS and segments:
        return f"{parts.scheme}://{parts.netloc}/{segments[0] if segments[0] != 's' else segments[1]}/9{token[:8]}"
    suffix = ""
    if segments and "." in segments[-1]:
        suffix = "." + segments[-1].rsplit(".", 1)[1]
    parent = "/".join(segments[:-1])
    path = f"/{parent}/" if parent else "/"
    return f"{parts.scheme}://{parts.netloc}{path}archiver-probe-{token}{suffix}"
