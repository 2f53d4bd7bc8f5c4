"""HTML we write for readers runs no script: hostile reports are cleaned on the way out, and every
page we write carries a Content-Security-Policy that forbids scripts if something slips through.

An HTML report is the analyst's file, but it can be anyone's: a report page saved from the web, a
draft pasted from a chat. Its scripts, event attributes and `javascript:` links have no business in
an export that is made to be opened. What stays is the document: text, structure, links to web
pages, images and styles. Pure: a soup in, the same soup cleaned.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # bs4 loads with the first HTML export, not with every command
    from bs4 import BeautifulSoup

# No script from anywhere, no plugin, no frame, no form posting, no <base> rewriting the links; images,
# styles, fonts and media may come from the web (the report's own look), never a script.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; object-src 'none'; frame-src 'none'; worker-src 'none'; "
    "base-uri 'none'; form-action 'none'; connect-src 'none'; "
    "img-src 'self' file: http: https:; media-src 'self' http: https:; font-src 'self' http: https:; "
    "style-src 'self' 'unsafe-inline' http: https:"
)
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'

# Elements that run code, load other documents, or change how the page's links resolve; SVG's
# animation elements can set an href to a `javascript:` URL.
_DROPPED = frozenset(
    {
        "script",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "base",
        "portal",
        "animate",
        "set",
        "animatemotion",
        "animatetransform",
        "handler",
        "listener",
    }
)
# Attributes that hold a URL a browser follows or loads.
_URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "xlink:href",
        "action",
        "formaction",
        "data",
        "poster",
        "background",
        "lowsrc",
        "dynsrc",
        "ping",
        "cite",
        "longdesc",
        "usemap",
        "manifest",
        "codebase",
        "srcset",
        "imagesrcset",
    }
)
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# What browsers drop from a URL before reading its scheme ("java\tscript:", " javascript:").
_IGNORED_IN_SCHEME_RE = re.compile(r"[\x00-\x20\x7f]+")
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_LINK_RELS_KEPT = frozenset({"stylesheet", "icon", "author", "license", "canonical"})


def web_url(value: str) -> bool:
    """Whether a URL attribute names a web page (http, https, mailto) or a relative one (a path, a fragment)."""
    compact = _IGNORED_IN_SCHEME_RE.sub("", value)
    match = _SCHEME_RE.match(compact)
    return match is None or match.group(1).lower() in _SAFE_SCHEMES


def _srcset_is_web(value: str) -> bool:
    return all(web_url(candidate.strip().split(" ")[0]) for candidate in value.split(",") if candidate.strip())


_STYLE_SCRIPT_RE = re.compile(r"expression\s*\(|javascript:|behavior\s*:", re.IGNORECASE)


def _unsafe_attribute(key: str, text: str) -> bool:
    """An event handler, an inline document, a URL that is not a web page's, a style that runs code."""
    if key.startswith("on") or key in ("srcdoc", "formtarget"):
        return True
    if key in ("srcset", "imagesrcset"):
        return not _srcset_is_web(text)
    if key in _URL_ATTRIBUTES or key.endswith(":href"):
        return not web_url(text)
    return key == "style" and _STYLE_SCRIPT_RE.search(text) is not None


def sanitize(soup: BeautifulSoup) -> BeautifulSoup:
    """Remove every script, event attribute and non-web URL from a parsed document, in place."""
    from bs4.element import Tag

    for element in list(soup.find_all(True)):
        if not isinstance(element, Tag) or element.decomposed:
            continue
        name = (element.name or "").lower()
        if name in _DROPPED:
            element.decompose()
            continue
        if name == "meta" and element.get("http-equiv"):
            element.decompose()  # a refresh to anywhere, a cookie, a competing policy
            continue
        if name == "link":
            rels = {str(r).lower() for r in (element.get("rel") or [])}
            if not rels or not rels <= _LINK_RELS_KEPT:
                element.decompose()  # imports, preloads, prefetches: nothing a reader needs
                continue
        for attribute in list(element.attrs):
            value = element.attrs[attribute]
            if _unsafe_attribute(attribute.lower(), " ".join(value) if isinstance(value, list) else str(value)):
                del element.attrs[attribute]
    return soup


def add_policy(soup: BeautifulSoup) -> BeautifulSoup:
    """The Content-Security-Policy meta element first in the head, after a charset (it governs what follows)."""
    from bs4 import BeautifulSoup as Soup

    head = soup.head
    if head is None:
        head = soup.new_tag("head")
        html = soup.html
        if html is None:
            soup.insert(0, head)
        else:
            html.insert(0, head)
    policy = Soup(CSP_META + '<meta name="referrer" content="no-referrer">', "html.parser")
    charset = head.find("meta", attrs={"charset": True}, recursive=False)
    at = head.index(charset) + 1 if charset is not None else 0  # the charset stays first, as browsers want it
    for element in reversed(list(policy.children)):
        head.insert(at, element)
    return soup
