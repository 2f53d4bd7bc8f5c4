"""The run's decisions, as pure functions: no server, no archive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from archiver.judging.analysis import Analysis
from archiver.judging.compare import Comparison
from archiver.judging.decide import (
    ProbeAnswer,
    Rules,
    check_row,
    choose_revisit,
    decide,
    internal_error,
    known_comparison,
    looks_suspect,
    outcome_of,
    redirect_of,
    soft_404,
    to_store,
)
from archiver.judging.extract import Extracted
from archiver.judging.signs import PageSigns, RedirectKind
from archiver.judging.verdict import Judgement
from archiver.outcomes import Exchange, Failure, Fetch, Verdict
from archiver.storage.catalog import LinkState

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
RULES = Rules(change_threshold=0.6, dead_after_failures=3, dead_after_hours=48)
URL = "https://news.example/2020/09/03/story"


def link(**changes: object) -> LinkState:
    values: dict[str, object] = dict(
        id=7, url=URL, host="news.example", verdict="ok", verdict_since=NOW - timedelta(days=5), failures_in_row=0,
        failing_since=None, etag=None, last_modified=None, first_text_digest="a" * 64,
        first_archived=NOW - timedelta(days=5), last_payload_digest="sha1:OLD", last_capture_id=3,
        last_capture_url=URL, last_capture_at=NOW - timedelta(days=1), last_text_digest="a" * 64, reason="200",
    )  # fmt: skip
    values.update(changes)
    return LinkState(**values)  # type: ignore[arg-type]


def exchange(status: int, url: str = URL, headers: tuple[tuple[str, str], ...] = ()) -> Exchange:
    return Exchange(url, "GET", (), status, "OK" if status == 200 else "", "HTTP/1.1", headers, NOW)


def fetched(status: int = 200, digest: str = "sha1:NEW", final: str = URL, hops: int = 0, **kw: object) -> Fetch:
    hop = tuple(exchange(302, URL, (("Location", final),)) for _ in range(hops))
    return Fetch(URL, final, hop, exchange(status, final), payload_digest=digest, started_at=NOW, **kw)  # type: ignore[arg-type]


def signs(**changes: bool) -> PageSigns:
    return PageSigns(
        "Story", False, **({"not_found": False, "parked": False, "challenge": False, "geo_blocked": False} | changes)
    )


def test_revisit_for_a_304_and_for_the_same_payload_only() -> None:
    assert choose_revisit(link(), fetched(304, digest=""), NOW) is not None
    same = choose_revisit(link(), fetched(200, digest="sha1:OLD"), NOW)
    assert same is not None and same.payload_digest == "sha1:OLD" and same.fetched_at == NOW - timedelta(days=1)
    assert choose_revisit(link(), fetched(200), NOW) is None
    assert choose_revisit(link(last_capture_id=None, last_payload_digest=None), fetched(304, digest=""), NOW) is None
    assert choose_revisit(link(), Fetch(URL, URL, failure=Failure.TIMEOUT), NOW) is None


def test_a_304_of_the_first_text_needs_no_comparison() -> None:
    assert known_comparison(link()) == Comparison(1.0, "")
    assert known_comparison(link(last_text_digest="b" * 64)) is None


def test_what_is_stored() -> None:
    assert to_store(link(), fetched())
    assert not to_store(link(last_capture_id=None), fetched(304))  # a 304 we never asked for stores nothing
    assert to_store(link(), fetched(failure=Failure.BAD_ENCODING))  # evidence
    assert not to_store(link(), Fetch(URL, URL, failure=Failure.TIMEOUT))


def test_which_pages_are_worth_a_probe() -> None:
    drifted = Analysis(None, None, Comparison(0.2, "-"), signs(), None)
    assert looks_suspect(drifted, fetched(), 0.6)
    same = Analysis(None, None, Comparison(0.95, ""), signs(), None)
    assert not looks_suspect(same, fetched(), 0.6)
    assert looks_suspect(same, fetched(hops=1, final="https://news.example/"), 0.6)  # redirected
    assert not looks_suspect(Analysis(None, None, None, signs(not_found=True), None), fetched(hops=1), 0.6)
    assert not looks_suspect(drifted, fetched(404), 0.6)


def test_soft_404_from_the_probe() -> None:
    page = Analysis(None, None, Comparison(0.1, "-"), signs(), "Sorry, nothing here. Try the search.")
    probe = ProbeAnswer(200, "https://news.example/xyz", "Sorry, nothing here. Try the search.")
    assert soft_404(probe, page, fetched(), link()) is not None
    assert soft_404(ProbeAnswer(404, "x", None), page, fetched(), link()) is None
    moved = fetched(hops=1, final="https://news.example/")
    assert "redirects where a nonexistent path does" in str(
        soft_404(ProbeAnswer(200, "https://news.example/", None), page, moved, link())
    )


def test_a_redirect_to_the_home_page_is_dead_through_the_outcome() -> None:
    home = fetched(hops=1, final="https://news.example/")
    assert redirect_of(link(), home) == RedirectKind.HOME
    judgement = decide(link(), outcome_of(link(), home, None, RedirectKind.HOME, None, NOW), None, RULES)
    assert judgement.verdict == Verdict.DEAD and "home page" in judgement.reason


def test_a_capture_without_text_says_why_in_its_reason() -> None:
    analysis = Analysis(Extracted("html", None, error="too large to extract (42 MB of HTML)"), None, None, None, None)
    judgement = decide(link(), outcome_of(link(), fetched(), analysis, None, None, NOW), analysis, RULES)
    assert judgement.verdict == Verdict.OK and judgement.reason.endswith(
        "no text: too large to extract (42 MB of HTML)"
    )


def test_an_internal_error_keeps_the_history() -> None:
    failing_since = NOW - timedelta(days=2)
    old = link(verdict="failing", verdict_since=failing_since, failures_in_row=2, failing_since=failing_since)
    judgement = internal_error(old, "internal error: boom", NOW)
    assert judgement == Judgement(Verdict.FAILING, "internal error: boom", 2, failing_since, failing_since)
    assert internal_error(link(), "internal error: boom", NOW).since == NOW


def test_the_check_row() -> None:
    answer = fetched()
    judgement = Judgement(Verdict.OK, "200", 0, None, NOW, observed=False)
    row = check_row(link(), answer, judgement, Comparison(0.9, "diff"), run=4)
    assert row.run == 4 and row.link == 7 and row.similarity == 0.9 and row.diff == "diff"
    assert row.keeps_state and not row.retried


def test_an_unchanged_page_is_recorded_again_only_after_the_revisit_interval() -> None:
    unchanged = fetched(304, digest="")
    revisit = choose_revisit(link(), unchanged, NOW)
    assert revisit is not None
    day_old = link(last_capture_at=NOW - timedelta(hours=24))
    assert not to_store(day_old, unchanged, revisit, NOW, every=168)  # the check row says it: no new record
    assert to_store(link(last_capture_at=NOW - timedelta(hours=169)), unchanged, revisit, NOW, every=168)
    assert to_store(day_old, unchanged, revisit, NOW, every=0)  # 0: a record at every check
    changed = fetched(200)
    assert to_store(day_old, changed, choose_revisit(day_old, changed, NOW), NOW, every=168)  # a new payload: always
