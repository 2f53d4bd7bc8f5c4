"""The run's decisions that need no I/O: revisit or capture, a probe, soft 404, the outcome, the verdict, the rows.

The pipeline schedules and waits; every choice it makes about one link is a function here,
tested without a server (tests/test_decide.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from archiver.judging.analysis import Analysis
from archiver.judging.compare import Comparison, similarity
from archiver.judging.signs import RedirectKind, classify_redirect, is_telegram_post, section_page
from archiver.judging.verdict import History, Judgement, Outcome, judge
from archiver.outcomes import CapturedWith, CheckRow, Failure, Fetch, LinkState, Verdict
from archiver.reading.safetext import printable
from archiver.storage.warcstore import Revisit


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """How a site answered a path that cannot exist."""

    status: int | None
    final_url: str
    text: str | None


@dataclass(frozen=True, slots=True)
class Rules:
    """The settings the verdicts follow."""

    change_threshold: float
    dead_after_failures: int
    dead_after_hours: float
    rewrite_threshold: float = 1.0  # the share of the cited text's sentences gone that makes it changed


def answered(fetch: Fetch) -> bool:
    """A complete HTTP answer (any status), not a failure."""
    return fetch.response is not None and fetch.failure is None


def choose_revisit(link: LinkState, fetch: Fetch, now: datetime) -> Revisit | None:
    """The earlier capture a new one only refers to: a 304 to our conditional request, or the very same payload."""
    if not answered(fetch) or link.last_captured_with != CapturedWith.HTTP:
        return None  # a post read through its endpoint or a rendered page: its shell's bytes say nothing
    if fetch.status == 304 and link.last_capture_id is not None:
        return Revisit(
            link.last_capture_url or link.url, link.last_capture_at or now, link.last_payload_digest or "sha1:"
        )
    if fetch.payload_digest and fetch.payload_digest == link.last_payload_digest:
        return Revisit(link.last_capture_url or link.url, link.last_capture_at or now, fetch.payload_digest)
    return None


def known_comparison(link: LinkState) -> Comparison | None:
    """A 304's comparison when it needs no worker: the text first archived is the text last archived."""
    if link.first_text_digest and link.first_text_digest == link.last_text_digest:
        return Comparison(1.0, "")
    return None


def redirect_of(link: LinkState, fetch: Fetch, analysis: Analysis | None = None) -> RedirectKind | None:
    """Where a successful answer's redirects went, when away from the article: by the URL alone, or a
    shallower page of the same site whose text is not the article's (its section's index)."""
    if not (answered(fetch) and fetch.hops and (fetch.status or 0) < 300) or fetch.captured_with != CapturedWith.HTTP:
        return None  # (a post read through its endpoint after a redirect to a wall did not move)
    kind = classify_redirect(link.url, fetch.final_url)
    comparison = analysis.comparison if analysis is not None else None
    if kind is None and comparison is not None and section_page(link.url, fetch.final_url, comparison.similarity):
        return RedirectKind.SECTION
    return kind


def looks_suspect(analysis: Analysis | None, fetch: Fetch, change_threshold: float) -> bool:
    """Whether a 200 answer might be the site's "not found" in disguise: worth a probe."""
    if analysis is None or not answered(fetch) or not 200 <= (fetch.status or 0) < 300:
        return False
    if fetch.captured_with == CapturedWith.ENDPOINT:
        return False  # the site's endpoint said what the post is
    signs = analysis.signs
    if signs is None or signs.not_found or signs.parked or signs.challenge or signs.telegram_missing:
        return False  # decided by the page itself, or not a page
    drifted = analysis.comparison is not None and analysis.comparison.similarity < change_threshold
    # A deleted Telegram post shows its channel's page: compare with a post that cannot exist, even at first sight.
    first_sight_post = analysis.comparison is None and is_telegram_post(fetch.url)
    return drifted or bool(fetch.hops) or first_sight_post


def soft_404(answer: ProbeAnswer | None, analysis: Analysis, fetch: Fetch, link: LinkState) -> str | None:
    """Why the page is the site's answer to a path that does not exist, or None."""
    if answer is None or answer.status is None or not 200 <= answer.status < 300:
        return None
    if fetch.hops and answer.final_url == fetch.final_url and fetch.final_url != link.url:
        return f"soft 404: redirects where a nonexistent path does ({fetch.final_url})"
    if analysis.short_text is None or answer.text is None:
        return None
    page, probe = analysis.short_text, answer.text
    like_probe = min(similarity(page, probe), similarity(probe, page)) >= 0.85
    if like_probe and is_telegram_post(fetch.url):
        return "the Telegram post is gone (t.me shows the same page for a post that does not exist)"
    first_differed = analysis.comparison is not None and analysis.comparison.similarity < 0.5
    if like_probe and first_differed:
        return "soft 404: the page is what the site serves for a path that does not exist"
    return None


def outcome_of(
    link: LinkState,
    fetch: Fetch,
    analysis: Analysis | None,
    redirect: RedirectKind | None,
    soft: str | None,
    now: datetime,
    wall: str | None = None,
) -> Outcome:
    """What one check of a link found, for judge()."""
    comparison = analysis.comparison if analysis else None
    return Outcome(
        checked_at=now,
        failure=fetch.failure,
        detail=fetch.detail,
        status=fetch.status,
        reason_phrase=fetch.response.reason if fetch.response else "",
        similarity=comparison.similarity if comparison else None,
        sentences_lost=comparison.lost if comparison else None,
        first_archived=link.first_archived,
        not_modified=fetch.status == 304,
        moved_to=fetch.final_url if fetch.hops and fetch.captured_with == CapturedWith.HTTP else None,
        signs=analysis.signs if analysis else None,
        redirect=redirect,
        soft_404=soft,
        challenge_header=bool(fetch.response and (fetch.response.header("cf-mitigated") or "") == "challenge"),
        wall=wall,
    )


def decide(link: LinkState, outcome: Outcome, analysis: Analysis | None, rules: Rules) -> Judgement:
    """The link's verdict after this check, given its history; a capture with no text says why."""
    history = History(link.failures_in_row, link.failing_since, Verdict(link.verdict), link.verdict_since, link.reason)
    judgement = judge(
        outcome,
        history,
        change_threshold=rules.change_threshold,
        dead_after_failures=rules.dead_after_failures,
        dead_after=timedelta(hours=rules.dead_after_hours),
        rewrite_threshold=rules.rewrite_threshold,
    )
    extracted = analysis.extracted if analysis else None
    if extracted is not None and extracted.error and extracted.text is None:
        # Reachable, captured, but no text made of it ("too large to extract", a broken PDF): say so.
        judgement = replace(judgement, reason=f"{judgement.reason}; no text: {extracted.error}")
    return judgement


def to_store(
    link: LinkState, fetch: Fetch, revisit: Revisit | None = None, now: datetime | None = None, every: float = 0.0
) -> bool:
    """Whether the fetch's records go into the WARC: a complete answer, or a body whose encoding is broken
    (no capture of the page, but evidence); never a 304 to a request we did not make conditional.

    An unchanged page (revisit) recorded less than `every` hours ago is not recorded again: its check
    row says it was unchanged, and a nightly archive of a million links does not grow a gigabyte a night.
    """
    if fetch.response is None:
        return False
    if fetch.failure == Failure.BAD_ENCODING:
        return True
    recorded = link.last_capture_at
    if revisit is not None and now is not None and recorded is not None and now - recorded < timedelta(hours=every):
        return False
    return answered(fetch) and not (fetch.status == 304 and link.last_capture_id is None)


def retrying(fetch: Fetch, now: datetime, attempt: int) -> Judgement:
    """An attempt that will be retried within the run: recorded, not the link's new state."""
    what = fetch.failure or f"{fetch.status}"
    return Judgement(Verdict.FAILING, f"{what}, attempt {attempt + 1}, retrying", 0, None, now)


def internal_error(link: LinkState, reason: str, now: datetime) -> Judgement:
    """Our own bug on one link: failing, with its history kept (it counts neither toward "dead" nor against it)."""
    since = link.verdict_since if link.verdict == Verdict.FAILING and link.verdict_since else now
    return Judgement(Verdict.FAILING, reason, link.failures_in_row, link.failing_since, since)


def check_row(
    link: LinkState,
    fetch: Fetch,
    judgement: Judgement,
    comparison: Comparison | None,
    run: int,
    *,
    retried: bool = False,
    replaces_first: bool = False,
) -> CheckRow:
    """The catalog row of one check (and, unless retried or unobserved, the link's new state)."""
    response = fetch.response
    ok_response = response is not None and fetch.failure is None and response.status < 300
    return CheckRow(
        link=link.id,
        run=run,
        started_at=fetch.started_at,
        elapsed=fetch.elapsed,
        url=fetch.url,
        # A post read through its endpoint after a redirect to a consent page or a shell is still where it was.
        final_url=fetch.final_url if fetch.captured_with == CapturedWith.HTTP else fetch.url,
        redirects=[{"url": h.url, "status": h.status, "location": h.header("location")} for h in fetch.hops],
        http_status=fetch.status,
        failure=fetch.failure,
        detail=printable(fetch.detail),
        payload_digest=fetch.payload_digest,
        similarity=comparison.similarity if comparison else None,
        diff=comparison.diff if comparison and comparison.diff else None,
        verdict=judgement.verdict,
        reason=printable(judgement.reason),
        verdict_since=judgement.since,
        failures_in_row=judgement.failures_in_row,
        failing_since=judgement.failing_since,
        etag=response.header("etag") if ok_response and response else None,
        last_modified=response.header("last-modified") if ok_response and response else None,
        retried=retried,
        keeps_state=not judgement.observed,
        replaces_first=replaces_first,
    )
