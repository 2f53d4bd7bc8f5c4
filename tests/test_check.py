"""`archiver check REPORT N`: what a person runs when a reader reports a broken footnote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import server as fixture_server
from .helpers import FAST, archiver
from .server import ARTICLE, OTHER_ARTICLE

REPORT = """Check test report

September 3, 2020

By Test Author

Claim one.[1] Claim two.[2] A missing note.[3] A note with no link.[4]

[1] {changing}; {gone}

[2] {stable}

[4] Interview with an official, September 2020.
"""


@pytest.fixture(scope="module")
def check_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, fixture_server.Server]]:
    web, stop = fixture_server.start()
    root = tmp_path_factory.mktemp("check")
    archive = root / "archive"
    archive.mkdir()
    (archive / "archiver.toml").write_text(FAST)
    web.pages.update({"changing": ARTICLE * 2, "gone": ARTICLE, "stable": ARTICLE * 3})
    report = root / "rep.txt"
    report.write_text(
        REPORT.format(changing=web.url("/page/changing"), gone=web.url("/page/gone"), stable=web.url("/page/stable"))
    )
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    web.pages["changing"] = OTHER_ARTICLE * 2
    web.pages.pop("gone")
    assert archiver("run", "--allow-private", archive=archive).returncode == 0
    yield archive, web
    stop()


def test_check_json(check_archive: tuple[Path, fixture_server.Server]) -> None:
    root, web = check_archive
    result = archiver("check", "rep", "1", "--json", archive=root)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["report"], answer["n"]) == ("rep", 1)
    assert answer["text"] == f"{web.url('/page/changing')}; {web.url('/page/gone')}"
    changing, gone = answer["urls"]
    assert changing["url"] == web.url("/page/changing")
    assert changing["verdict"] == "changed"
    assert "similar to the capture of" in changing["reason"]
    assert [c["http_status"] for c in changing["captures"]] == [200, 200]
    assert changing["captures"][0]["fetched_at"] <= changing["captures"][1]["fetched_at"]
    assert "Mishustin said on September 3" in changing["archived_text"]
    assert "grain harvests" in changing["latest_text"]
    assert changing["diff"] and "-Mishustin" in changing["diff"].replace("- ", "-")
    assert [c["verdict"] for c in changing["checks"]] == ["ok", "changed"]
    assert gone["verdict"] == "dead" and gone["reason"].startswith("404 Not Found since ")
    assert [c["http_status"] for c in gone["captures"]] == [200, 404]
    assert "Mishustin said" in gone["archived_text"]  # what the footnote cited, kept


def test_check_for_people(check_archive: tuple[Path, fixture_server.Server]) -> None:
    root, _ = check_archive
    result = archiver("check", "rep", "1", archive=root)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "rep · footnote 1" in out
    assert "changed" in out and "dead: 404 Not Found since" in out
    assert "history: " in out and " ok 200 → " in out
    assert "│ Mishustin said on September 3" in out
    assert "what changed by" in out


def test_missing_and_empty_notes_say_which(check_archive: tuple[Path, fixture_server.Server]) -> None:
    root, _ = check_archive
    missing = archiver("check", "rep", "3", archive=root)
    assert missing.returncode == 0
    assert "cited in the body of rep but has no note" in missing.stdout
    empty = json.loads(archiver("check", "rep", "4", "--json", archive=root).stdout)
    assert empty["urls"] == [] and empty["problems"] == ["empty"]
    assert "has a note but no link" in empty["message"]


def test_unknown_report_and_number(check_archive: tuple[Path, fixture_server.Server]) -> None:
    root, _ = check_archive
    unknown = archiver("check", "nope", "1", archive=root)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "archiver: error: no report 'nope' in the archive (tracked: rep)"
    number = archiver("check", "rep", "99", archive=root)
    assert number.returncode == 1
    assert "report 'rep' has no footnote 99 (its footnotes: 1–4)" in number.stderr


def test_live_checks_again_now(check_archive: tuple[Path, fixture_server.Server]) -> None:
    root, web = check_archive
    before = web.hits["/page/stable"]
    answer = json.loads(archiver("check", "rep", "2", "--live", "--allow-private", "--json", archive=root).stdout)
    assert web.hits["/page/stable"] == before + 1
    assert len(answer["urls"][0]["checks"]) == 3
    assert web.hits["/page/changing"] == 2  # only footnote 2's link was fetched again


def test_live_while_a_run_holds_the_archive_answers_from_the_archive(
    check_archive: tuple[Path, fixture_server.Server],
) -> None:
    from archiver.storage.lock import ArchiveLock

    root, web = check_archive
    before = web.hits["/page/stable"]
    with ArchiveLock(root):
        result = archiver("check", "rep", "2", "--live", "--allow-private", "--json", archive=root)
    assert result.returncode == 0
    assert "not checked again now" in result.stderr and "another archiver run holds the archive" in result.stderr
    assert json.loads(result.stdout)["urls"][0]["verdict"] == "ok"
    assert web.hits["/page/stable"] == before
