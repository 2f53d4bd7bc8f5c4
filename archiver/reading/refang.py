"""Re-fang de-fanged links and split a note's text into clean URLs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna

from archiver.reading.safetext import quote_controls

# Every de-fanging of the dot in use: "(.)", "((.))", "[.]", "{.}", "[dot]",
# "(dot)", "{dot}", "<dot>", with any nesting or inner spaces.
# Runs of brackets and spaces are bounded: an unbounded `[(]+` backtracks over a run of brackets at every
# position where a search starts, quadratic time on a note of ten thousand "(".
_OPEN = r"[\(\[\{<]{1,4}"
_CLOSE = r"[\)\]\}>]{1,4}"
_PAD = r"[ \t\u00a0]{0,3}"
_DOT = r"(?:" + _OPEN + _PAD + r"(?:\.|dot)" + _PAD + _CLOSE + r")"
_DOT_RE = re.compile(_DOT, re.IGNORECASE)
_COLON_RE = re.compile(r"[\(\[\{]{1,4}" + _PAD + ":" + _PAD + r"[\)\]\}]{1,4}")
_SEP_RE = re.compile(r"[\(\[\{]{1,4}" + _PAD + "://" + _PAD + r"[\)\]\}]{1,4}")
_SLASH_RE = re.compile(r"[\(\[\{]{1,4}" + _PAD + "/" + _PAD + r"[\)\]\}]{1,4}")
_AT_RE = re.compile(r"[\(\[\{]{1,4}" + _PAD + "(?:@|at)" + _PAD + r"[\)\]\}]{1,4}", re.IGNORECASE)
# "hxxp", "hXXps", "h**p", "h__p", "hxtp", "meow": only as a scheme.
_SCHEME = r"(?:h(?:tt|xx|\*\*|__|xt|tx)ps?|meows?)"
_SCHEME_SEP = r"(?:" + _SEP_RE.pattern + r"|(?::|" + _COLON_RE.pattern + r")(?://|\\\\|\[/\]\[/\]|\[//\]|/\s*/))"
START_RE = re.compile(_SCHEME + _SCHEME_SEP, re.IGNORECASE)
_SCHEME_FIX_RE = re.compile(r"^" + _SCHEME + _SCHEME_SEP, re.IGNORECASE)

# Schemes that are never a web page: reported as unparsed, never fetched.
_OTHER_SCHEME_RE = re.compile(
    r"(?<![\w.+-])(?:"
    r"(?:file|ftp|ftps|sftp|smb|ws|wss|gopher|telnet|ldap|irc|ssh|nntp|rtsp|git)"
    r"(?::|\[:\]|\(:\))//\S*"
    r"|file:/\S*|mailto:\S+@\S+|(?:javascript|vbscript):\S*"
    r"|data:[a-z]+/[\w.+-]+[;,]\S*|tel:\+?[\d()\-. ]{3,}|magnet:\?\S*|about:\w\S*"
    r"|(?:chrome|view-source|blob):\S+"
    r")",
    re.IGNORECASE,
)
# Characters that may precede a scheme that starts a new link inside one
# token ("a;;https://b"); after these the scheme is part of the same URL
# (a Wayback Machine URL, a redirect parameter).
_GLUE = set("/=?&#%.:@+-_~")
_TRAILING = ".,;:!?'\"»”’“«*>|…↩\ufe0e\ufe0f"
_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_JOINER_RE = re.compile("[\u200c\u200d]")
_SPACE_RE = re.compile(r"[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BARE_RE = re.compile(
    r"^(?:www\d?\.)?[\w-]+(?:\.[\w-]+)*\.(?:[^\W\d_]{2,63}|xn--[\w-]+|\d{1,3})\.?(?::\d{1,5})?(?:[/?#]|$)"
)
_IPV4_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_CONTINUATION_RE = re.compile(r"^[\w\-._~%/?#=&+@!$*,;:()'\[\]]+$")
_INCOMPLETE_END = tuple("-_=&?%.")
_PROSE_STOP_RE = re.compile("[<>`＜＞｜]")
_LABEL_RE = re.compile(r"[^\W\d_]+:")  # a word and a colon glued to the scheme
_ADDRESS_RE = re.compile(r"[\w.+-]+@")  # an address-like word and its @ glued to the scheme
# A dot de-fanged with angle brackets ("google<dot>com", "nist<.>gov"): not where prose ends a link.
_ANGLE_DOT_RE = re.compile(r"<[ \t]{0,3}(?:\.|dot)[ \t]{0,3}>", re.IGNORECASE)
# A de-fanged dot that ends a link ("example[.]com/[.]"): written on purpose, never trailing punctuation.
_FINAL_DOT_RE = re.compile(_DOT + "$", re.IGNORECASE)
_EMPHASIS_RE = re.compile(r"[_*~]+")
_EMPHASIS_END_RE = re.compile(r"[_*~]+$")
_MD_LINK_RE = re.compile(r"\[([^\[\]]*)\]\(\s*(<[^<>\n]+>|(?:[^()\s<>]|\([^()\s<>]*\))+)(?:\s+\"[^\"]*\")?\s*\)")
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!~|])")
_SPACE_AFTER_SCHEME_RE = re.compile(r"(" + START_RE.pattern + r")[ \t\u00a0]+(?=[\w\[(])", re.IGNORECASE)
_SPACED_HOST_RE = re.compile(r"[\w-]+(?:\s*\.\s*[a-z0-9-]+)+")


@dataclass(frozen=True, slots=True)
class Found:
    """One link-like piece of a note: a usable URL, or the raw text that was not."""

    raw: str
    url: str | None


def drop_invisible(text: str) -> str:
    """Text without the invisible characters that hide a link's parts (zero-width space, word joiner, BOM,
    soft hyphen, and a zero-width (non-)joiner between ASCII characters), keeping a joiner that is part of
    a word in its script (Malayalam's chillu "ള്\u200d", Persian's "می\u200cخواهم")."""
    if not _INVISIBLE_RE.search(text):
        return text
    return "".join(
        char
        for index, char in enumerate(text)
        if not _INVISIBLE_RE.match(char) or (_JOINER_RE.match(char) and _joins_a_word(text, index))
    )


def _joins_a_word(text: str, index: int) -> bool:
    previous = text[index - 1] if index else ""
    return bool(previous) and not previous.isascii() and unicodedata.category(previous)[0] in "LM"


def refang(text: str) -> str:
    """Undo every de-fanging in one link's text; leave anything else alone."""
    out = drop_invisible(text)
    out = _SEP_RE.sub("://", out)
    out = _DOT_RE.sub(".", out)
    out = _COLON_RE.sub(":", out)
    out = _SLASH_RE.sub("/", out)
    out = _AT_RE.sub("@", out)
    match = _SCHEME_FIX_RE.match(out)
    if match:
        secure = match.group(0).rstrip(":/\\[]() ").lower().endswith("s")
        out = ("https://" if secure else "http://") + out[match.end() :]
    return out


def defang(url: str, style: str = "(.)") -> str:
    """De-fang a URL the way report authors do (used by tests and examples)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.replace(".", style)
    host, slash, path = rest.partition("/")
    scheme = {"http": "hxxp", "https": "hxxps"}.get(scheme, scheme) if style == "[.]" else scheme
    return f"{scheme}://{host.replace('.', style)}{slash}{path}"


def strip_trailing(url: str) -> str:
    """Drop punctuation after a URL, keeping balanced brackets and quotes (Wikipedia's "_(band)", '_"quoted"')."""
    while url:
        last = url[-1]
        if last in _PAIRED_QUOTES and _balanced(url, last):
            break
        if last in _TRAILING:
            url = url[:-1]
        elif last in ")]}":
            opening = {")": "(", "]": "[", "}": "{"}[last]
            if url.count(opening) >= url.count(last):
                break
            url = url[:-1]
        else:
            break
    return url


# A quote that closes one opened inside the URL is part of it: '..._"quoted"', '…_“name”'.
_PAIRED_QUOTES = {'"': '"', "'": "'", "”": "“", "’": "‘", "»": "«"}


def _balanced(url: str, closing: str) -> bool:
    opening = _PAIRED_QUOTES[closing]
    if opening == closing:
        return url.count(closing) % 2 == 0 and url.count(closing) > 0 and url[:-1].rstrip(closing) != ""
    return url.count(opening) >= url.count(closing)


def _cut_at_prose(url: str) -> str:
    """A link found in prose ends at <, >, a backtick, full-width ＜ ＞ ｜, or a closing quote it never opened
    (an angle-bracket de-fanged dot, "<.>" or "<dot>", is part of the link)."""
    stop = _PROSE_STOP_RE.search(_ANGLE_DOT_RE.sub(lambda m: "." * len(m.group()), url))
    if stop:
        url = url[: stop.start()]
    opened = {"“": 0, "«": 0}
    straight_open = False
    for index, char in enumerate(url):
        if char in opened:
            opened[char] += 1
        elif char in ("”", "»"):
            opening = "“" if char == "”" else "«"
            if not opened[opening]:
                return url[:index]
            opened[opening] -= 1
        elif char == '"':
            following = url[index + 1 : index + 2]
            if straight_open:
                straight_open = False
            elif following and (following.isalnum() or following in "_-"):
                straight_open = True  # opens a quote inside the path
            elif index + 1 < len(url):
                return url[:index]
    return url


def _valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        return ":" in host and re.fullmatch(r"\[[0-9a-fA-F:.]+\]", host) is not None
    if _IPV4_RE.match(host):
        return all(int(part) <= 255 for part in host.split("."))
    labels = host.rstrip(".").split(".")
    if len(labels) < 2 and host != "localhost":
        return False
    if any(not label or len(label) > 63 for label in labels):
        return False
    # "-example.com", "example.com_", "http__example.com": no hostname looks like that.
    if any(label[0] in "-_" or label[-1] in "-_" or "__" in label for label in labels):
        return False
    if labels[-1].isdigit():
        return False
    try:
        idna.encode(host.rstrip("."), uts46=True)
    except idna.IDNAError:
        # idna refuses underscores, which real hosts use; accept plain ASCII; and a symbol browsers still
        # map by IDNA 2003 ("✪df.ws").
        return re.fullmatch(r"[A-Za-z0-9_.-]+", host) is not None or _idna2003(host) is not None
    return True


def _idna2003(host: str) -> str | None:
    """The host's ASCII form by IDNA 2003 (Python's idna codec, as browsers still map some symbols), or None."""
    try:
        return host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return None


def clean_url(candidate: str, *, explicit: bool = False) -> str | None:
    """A re-fanged candidate as a fetchable http(s) URL, or None when it is not one.

    explicit: the target of an <a href> or a Markdown link, taken as written (a final "." or ")"
    is part of it); prose rules (trailing punctuation) apply to links found in text only.
    """
    url = _MD_ESCAPE_RE.sub(r"\1", candidate.strip() if explicit else strip_trailing(candidate))
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    authority_end = len(rest)
    for stop in "/?#":
        index = rest.find(stop)
        if index != -1:
            authority_end = min(authority_end, index)
    authority, tail = rest[:authority_end], rest[authority_end:]
    userinfo, _, hostport = authority.rpartition("@")
    if userinfo and re.search(r"\s", userinfo):
        return None
    host, port = hostport, ""
    if not hostport.startswith("["):
        host, colon, port = hostport.partition(":")
        if colon and (not port.isdigit() or not 0 < int(port) < 65536):
            return None
    elif "]:" in hostport:
        host, _, port = hostport.rpartition(":")
        if not port.isdigit():
            return None
    host = host.lower()
    if not host or not _valid_host(host):
        return None
    # The link as written (re-fanged): brackets stay as the author wrote them; to_uri() percent-encodes
    # them (and anything else a URI may not hold) on the wire and in WARC headers.
    tail = quote_controls(tail)
    authority = (userinfo + "@" if userinfo else "") + host + (":" + port if port else "")
    return f"{scheme.lower()}://{authority}{tail}"


def _starts_link(token: str, index: int) -> bool:
    """Whether the scheme at token[index] starts a link, rather than continuing the text before it."""
    if index == 0:
        return True
    before, previous = token[:index], token[index - 1]
    if previous not in _GLUE and not previous.isalnum():
        return True
    if START_RE.search(before):
        return False  # inside a URL: a Wayback Machine address, a redirect parameter
    # "Source:https://...", "Источник:https://...", "see:hxxps://...", Markdown emphasis "_https://..._",
    # an address-like word glued to it ("test.example@http://vk.com").
    return bool(_LABEL_RE.fullmatch(before) or _EMPHASIS_RE.fullmatch(before) or _ADDRESS_RE.fullmatch(before))


def _pieces(token: str) -> Iterator[tuple[str, bool]]:
    """Split one whitespace-free token at every scheme that starts a new link."""
    starts = [m.start() for m in START_RE.finditer(token) if _starts_link(token, m.start())]
    if not starts:
        yield token, False
        return
    if starts[0] > 0:
        yield token[: starts[0]], False
    for begin, end in zip(starts, [*starts[1:], len(token)], strict=True):
        yield token[begin:end], True


def _with_final_dot(raw: str, url: str | None) -> str | None:
    """The URL of a link whose last character is a de-fanged dot, with that dot (prose rules drop a dot)."""
    if url is not None and _FINAL_DOT_RE.search(raw) and not url.endswith("."):
        return url + "."
    return url


def _bare_link(piece: str) -> str | None:
    """A scheme-less "iz(.)ru/123" or "www.example.com" as an http URL, else None."""
    core = piece.lstrip("([{<\"'«“‘;,:")
    fixed = refang(core)
    if fixed == core and not core.lower().startswith("www."):
        return None  # a plain "example.com" in prose is not taken as a link
    if "@" in fixed.split("/", 1)[0] or not _BARE_RE.match(fixed):
        return None
    return clean_url("http://" + fixed)


def join_wrapped(text: str) -> str:
    """Re-join URLs that a line break split in two."""
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        stripped = _SPACE_RE.sub(" ", line).strip()
        if out and stripped:
            previous = out[-1].rstrip()
            last = previous.rsplit(" ", 1)[-1] if previous else ""
            first = stripped.split(" ", 1)[0]
            if (
                START_RE.search(last)
                and not last.endswith((";", ","))
                and not START_RE.match(first)
                and not re.match(r"^\[\^?\d+\]", first)
                and _CONTINUATION_RE.match(first)
                and (last.endswith(_INCOMPLETE_END) or re.search(r"[/?=&%_#]|\d-|\w\.\w", first))
            ):
                out[-1] = previous + stripped
                continue
        out.append(line)
    return "\n".join(out)


def _respace(text: str) -> str:
    """Undo spaces inside a link: after its scheme ("hXXps:// 192.0.2.1"), around its dots ("www . example . cn")."""
    text = _SPACE_AFTER_SCHEME_RE.sub(lambda m: m.group(1), text)
    out, position = [], 0
    for match in START_RE.finditer(text):
        if match.start() < position:
            continue
        host = _SPACED_HOST_RE.match(text, match.end())
        if host and re.search(r"\s", host.group(0)):
            out += [text[position : host.start()], re.sub(r"\s+", "", host.group(0))]
            position = host.end()
    return "".join(out) + text[position:]


def find_links(text: str) -> list[Found]:
    """Every link-like piece of a note's text, in the order written."""
    found: list[Found] = []
    position = 0
    for match in _MD_LINK_RE.finditer(text):
        # Markdown link syntax in a plain-text note: its target is the link, taken as written.
        found += _find_in_prose(text[position : match.start()])
        target = match.group(2).strip("<>")
        fixed = refang(target)
        url = clean_url(fixed, explicit=True)
        if url is not None or START_RE.match(target) or _OTHER_SCHEME_RE.match(target):
            found.append(Found(target, url))
        else:
            found += _find_in_prose(match.group(1))
        position = match.end()
    found += _find_in_prose(text[position:])
    return _without_site_names(found)


def _without_site_names(found: list[Found]) -> list[Found]:
    # "Kremlin(.)ru," without a path beside a full link is a source's name, unless nothing else is.
    site_names = [f for f in found if f.url is not None and f.raw and _is_site_name(f)]
    if site_names and len(site_names) < len(found):
        return [f for f in found if not any(f is name for name in site_names)]
    return found


def _is_site_name(item: Found) -> bool:
    return item.url is not None and not START_RE.match(item.raw) and urlsplit(item.url).path in ("", "/")


def _find_in_prose(text: str) -> list[Found]:
    found: list[Found] = []
    text = _respace(drop_invisible(join_wrapped(text)))
    for token in _SPACE_RE.split(text):
        if not token:
            continue
        other = _OTHER_SCHEME_RE.search(token)
        if other and not START_RE.search(token[: other.start()]):
            found.append(Found(strip_trailing(other.group(0)), None))
            continue
        prefix = ""
        for piece, has_scheme in _pieces(token):
            if has_scheme:
                cleaned = strip_trailing(_cut_at_prose(piece))
                emphasis = _EMPHASIS_END_RE.search(prefix)
                if emphasis and cleaned.endswith(emphasis.group(0)):
                    cleaned = strip_trailing(cleaned[: -len(emphasis.group(0))])  # "_https://x/y_"
                if cleaned:
                    found.append(Found(cleaned, _with_final_dot(cleaned, clean_url(refang(cleaned)))))
            else:
                prefix = piece
                bare = _bare_link(strip_trailing(piece))
                if bare:
                    found.append(Found(strip_trailing(piece), bare))
    return found


def unique(urls: Iterable[str]) -> list[str]:
    """Drop repeats, keeping the first occurrence's place."""
    return list(dict.fromkeys(urls))


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PCT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _normalize_escapes(part: str, safe: str) -> str:
    """Percent-encode what must be, upper-case escapes, decode escaped unreserved characters."""
    from urllib.parse import quote

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    part = _STRAY_PCT_RE.sub("%25", part)  # a "%" that starts no escape is a literal percent sign
    return _PCT_RE.sub(fix, quote(part, safe=safe + "%"))


def host_of(url: str) -> str:
    """A URL's host (with its port when not the scheme's default), lower-cased: the unit of politeness.

    Two services on one address (127.0.0.1:8001 and :8002) are two sites: one asking us to wait does
    not make the other wait.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        return host
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{host}:{port}" if port is not None and port != default else host


def canonical(url: str) -> str:
    """One spelling per resource, for the catalog's "one link per URL": case, IDNA, port, escapes, no fragment."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    try:
        host = idna.encode(host, uts46=True).decode("ascii") if not host.isascii() else host.lower()
    except idna.IDNAError:
        host = _idna2003(host) or host.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    if parts.username:
        netloc = parts.username + (f":{parts.password}" if parts.password else "") + "@" + netloc
    path = _normalize_escapes(parts.path or "/", safe="/;:@!$&'()*+,=")
    query = _normalize_escapes(parts.query, safe="/?;:@!$&'()*+,=")
    return urlunsplit((scheme, netloc, path, query, ""))


MAX_URL_LENGTH = 32 * 1024  # past this no server answers (most stop at 8 KB): fail the link, do not send it


def to_uri(url: str) -> tuple[str | None, str]:
    """The URL as an RFC 3986 URI (punycode host, percent-encoded path and query, no fragment), or why not."""
    try:
        uri = canonical(url)
    except ValueError as exc:
        return None, f"cannot parse URL: {exc}"
    host = urlsplit(uri).hostname or ""
    if not host.isascii():
        return None, f"not a valid host name: {host!r}"
    if len(uri) > MAX_URL_LENGTH:
        return None, f"URL too long to fetch ({len(uri):,} characters; servers take at most about {MAX_URL_LENGTH:,})"
    return uri, ""
