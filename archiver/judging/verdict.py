"""A check's outcome and the link's history to a verdict and a short human reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from archiver.judging.signs import PageSigns, RedirectKind
from archiver.outcomes import Failure, Verdict, is_transient

BLOCKED_STATUSES = frozenset({401, 403, 407, 429, 451})
GONE_STATUSES = frozenset({404, 410})

_REDIRECT_WORDS = {
    RedirectKind.HOME: "the home page",
    RedirectKind.SECTION: "a section index",
    RedirectKind.SEARCH: "a search page",
    RedirectKind.LOGIN: "a login page",
    RedirectKind.ERROR: "an error page",
}

_FAILURE_WORDS = {
    "timeout": "timed out",
    "dns": "no such domain",
    "dns_temporary": "name lookup failed",
    "connect": "connection failed",
    "tls": "TLS error",
    "reset": "connection reset",
    "protocol": "broken HTTP",
    "too_large": "too large",
    "private": "refused: non-public address",
    "redirect_loop": "redirect loop",
    "too_many_redirects": "too many redirects",
    "bad_url": "not a fetchable URL",
    "bad_encoding": "content encoding broken",
    "deferred": "asked to come back later",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one check of a link found."""

    checked_at: datetime
    failure: Failure | None = None
    detail: str = ""
    status: int | None = None
    reason_phrase: str = ""
    similarity: float | None = None  # main text against the first archived text
    sentences_lost: float | None = None  # the share of the first archived text's sentences no longer there
    first_archived: datetime | None = None
    not_modified: bool = False
    moved_to: str | None = None  # the final URL after a redirect to the same article
    signs: PageSigns | None = None  # what the page says about itself
    redirect: RedirectKind | None = None  # a redirect away from the article
    soft_404: str | None = None  # why the page is the site's answer to a path that does not exist (a reason)
    challenge_header: bool = False  # the server marked its answer as a bot challenge (cf-mitigated)
    wall: str | None = None  # a login wall, script shell, consent or bot page instead of the page (what it was)


@dataclass(frozen=True, slots=True)
class History:
    """What earlier checks of the link said."""

    failures_in_row: int = 0  # consecutive failing checks before this one
    failing_since: datetime | None = None
    previous: Verdict = Verdict.PENDING
    previous_since: datetime | None = None
    previous_reason: str = ""


# Outcomes that say nothing about the page: our own refusal to ask, or the site's "come back later".
_NOT_OBSERVED = frozenset({"private", "deferred"})


@dataclass(frozen=True, slots=True)
class Judgement:
    """A verdict, its reason, and the history to remember for the next run."""

    verdict: Verdict
    reason: str
    failures_in_row: int
    failing_since: datetime | None
    since: datetime
    observed: bool = True  # False: the check saw nothing of the page; the link keeps its verdict and history


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def describe(outcome: Outcome) -> str:
    """The outcome in a few words: "404 Not Found", "timed out", "200"."""
    if outcome.failure is not None:
        words = _FAILURE_WORDS.get(outcome.failure, outcome.failure)
        return outcome.detail if outcome.detail and outcome.failure in ("dns", "private", "bad_url") else words
    return f"{outcome.status} {outcome.reason_phrase}".strip()


def rewritten(similarity: float | None, lost: float | None, change_threshold: float, rewrite_threshold: float) -> bool:
    """Whether a page that answers no longer holds the text its footnote cited: its passages mostly gone
    (similarity below change_threshold), or more than rewrite_threshold of its sentences gone."""
    if similarity is not None and similarity < change_threshold:
        return True
    return lost is not None and lost > rewrite_threshold


def judge(
    outcome: Outcome,
    history: History,
    *,
    change_threshold: float,
    dead_after_failures: int,
    dead_after: timedelta,
    rewrite_threshold: float = 1.0,
) -> Judgement:
    """The verdict for a link after one check."""
    now = outcome.checked_at
    status = outcome.status

    def settle(verdict: Verdict, reason: str, failing: bool = False) -> Judgement:
        since = history.previous_since if history.previous == verdict and history.previous_since else now
        in_row = history.failures_in_row + 1 if failing else 0
        failing_since = (history.failing_since or now) if failing else None
        return Judgement(verdict, reason, in_row, failing_since, since)

    def dead(why: str) -> Judgement:
        since = history.previous_since if history.previous == Verdict.DEAD and history.previous_since else now
        return settle(Verdict.DEAD, f"{why} since {_day(since)}")

    if outcome.failure in _NOT_OBSERVED and history.previous != Verdict.PENDING and history.previous_since:
        # A refused fetch (no --allow-private) proves nothing: the verdict and its date stay as they were.
        return Judgement(
            history.previous,
            f"{describe(outcome)}: not checked, {history.previous} kept",
            history.failures_in_row,
            history.failing_since,
            history.previous_since,
            observed=False,
        )
    if outcome.failure == "dns" or (status in GONE_STATUSES and outcome.failure is None):
        return dead(describe(outcome))
    if history.previous == Verdict.DEAD and (outcome.failure is not None or is_transient(None, status)):
        # Gone, then a time-out or a 5xx: nothing shows the page is back. Still dead, since the same day.
        in_row = history.failures_in_row + 1
        kept = history.previous_reason.split(";")[0] or "dead"
        return Judgement(
            Verdict.DEAD,
            f"{kept}; now {describe(outcome)}",
            in_row,
            history.failing_since or now,
            history.previous_since or now,
        )
    if outcome.failure is None and status is not None and status < 400 and outcome.wall:
        # Not the page: a wall stands in front of it. What was archived before stays what was cited.
        return settle(Verdict.BLOCKED, f"{status}: {outcome.wall}")
    if outcome.failure is None and outcome.redirect == RedirectKind.LOGIN:
        return settle(Verdict.BLOCKED, f"{status}: login wall (redirects to {outcome.moved_to})")
    # What a page says about itself only counts when its text is not still the text first archived:
    # an article that quotes "not found", shows a captcha widget or moved under a shorter URL is still there.
    still_cited = outcome.similarity is not None and outcome.similarity >= change_threshold
    signs = None if still_cited else outcome.signs
    if (
        outcome.failure is None
        and status is not None
        and (outcome.challenge_header or (signs is not None and (signs.challenge or signs.geo_blocked)))
    ):
        what = "geo-blocked" if signs is not None and signs.geo_blocked else "a bot challenge"
        title = f" (“{signs.title[:60]}”)" if signs is not None and signs.title else ""
        return settle(Verdict.BLOCKED, f"{status}: {what}{title}")
    if status in BLOCKED_STATUSES and outcome.failure is None:
        return settle(Verdict.BLOCKED, f"{describe(outcome)}: the server refuses us")
    if outcome.failure is not None or status is None or not 200 <= status < 400 or is_transient(None, status):
        in_row = history.failures_in_row + 1
        started = history.failing_since or now
        lasting = in_row >= dead_after_failures and now - started >= dead_after
        what = describe(outcome)
        if lasting:
            return settle(Verdict.DEAD, f"failing in {in_row} runs since {_day(started)}: {what}", failing=True)
        transient = "" if is_transient(outcome.failure, status) else " (may be lasting)"
        return settle(Verdict.FAILING, f"{what}{transient}, {in_row} failed run(s) since {_day(started)}", failing=True)

    if signs is not None and signs.parked:
        return dead("a parked-domain page")
    if signs is not None and signs.telegram_missing:
        return dead("the Telegram post is gone (the page shows no post)")
    if outcome.redirect is not None and not still_cited:
        return dead(f"redirects to {_REDIRECT_WORDS[outcome.redirect]} ({outcome.moved_to})")
    if signs is not None and signs.not_found:
        title = f"“{signs.title[:60]}”" if signs.title else "a “not found” page"
        return dead(f"soft 404: {title} served with {status}")
    if outcome.soft_404:
        return dead(outcome.soft_404)
    if outcome.similarity is not None and outcome.similarity < change_threshold:
        first = f" of {_day(outcome.first_archived)}" if outcome.first_archived else ""
        return settle(Verdict.CHANGED, f"text {outcome.similarity:.0%} similar to the capture{first}")
    if rewritten(outcome.similarity, outcome.sentences_lost, change_threshold, rewrite_threshold):
        first = f" of {_day(outcome.first_archived)}" if outcome.first_archived else ""
        return settle(
            Verdict.CHANGED,
            f"{outcome.sentences_lost:.0%} of the capture{first}'s sentences rewritten or gone "
            f"(text {outcome.similarity:.0%} similar)",
        )
    if outcome.not_modified:
        return settle(Verdict.OK, f"{status}, not modified")
    moved = f", moved to {outcome.moved_to}" if outcome.moved_to else ""
    if outcome.similarity is None:
        first = ", first capture" if outcome.first_archived is None else ""
        return settle(Verdict.OK, f"{status}{first}{moved}")
    unchanged = "text unchanged" if outcome.similarity >= 0.999 else f"text {outcome.similarity:.0%} similar"
    return settle(Verdict.OK, f"{status}, {unchanged}{moved}")
