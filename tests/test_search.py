"""`archiver search` on an archive made by `run`: Cyrillic and Latin, word forms, phrases, OR, NOT, prefixes."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.storage import searchtext
from archiver.storage.searchtext import QueryError, indexed, parse_query, snippet, words

from . import server as fixture_server
from .helpers import archiver, make_archive, write_report

PAGES = {
    "ru-news": (
        "Новости Минска",
        "Председатель правительства Михаил Мишустин заявил в Минске, что стороны достигли прогресса в вопросе "
        "формирования Союзного государства. Объём торговли вырос. Оппозиция отвергла любые соглашения. "
        "Протесты продолжились в Минске четвёртую неделю подряд, сообщают источники новостей.",
    ),
    "ru-police": (
        "Псковский ОМОН",
        "Сотрудники псковского ОМОНа прибыли в Минск. Telegram-канал сообщил о колонне автобусов. "
        "Государство не комментирует эти сведения, а жители города публикуют фотографии колонны.",
    ),
    "uk-news": (
        "Новини",
        "Українські журналісти повідомили про зустріч у Мінську. Переговори тривали чотири години. "
        "Сторони домовилися продовжити консультації наступного тижня у столиці.",
    ),
    "be-news": (
        "Навіны",
        "Беларускія журналісты паведамілі пра сустрэчу ў Мінску. Перамовы працягваліся чатыры гадзіны. "
        "Бакі дамовіліся працягнуць кансультацыі на наступным тыдні ў сталіцы.",
    ),
    "en-pipeline": (
        "Energy pipeline",
        "The ministers discussed a new gas pipeline and unified energy markets. Analysts at the café near "
        "the ministry said the pipeline would take years. Customs rules were harmonised as well.",
    ),
}


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, fixture_server.Server]]:
    """An archive made by `run`: five pages over two reports, one page cited twice under two URLs."""
    web, stop = fixture_server.start()
    root = tmp_path_factory.mktemp("search")
    for name, (_title, text) in PAGES.items():
        web.pages[name] = text
    archive = make_archive(root)
    first = write_report(
        root, [web.url(f"/page/{n}") for n in ("ru-news", "ru-police", "uk-news")], "доклад", title="Доклад"
    )
    second = write_report(
        root, [web.url(f"/page/{n}") for n in ("be-news", "en-pipeline", "ru-news?copy")], "brief", title="Brief"
    )
    result = archiver("run", str(first), str(second), "--allow-private", archive=archive)
    assert result.returncode == 0, result.stderr
    yield archive, web
    stop()


def search(archive: Path, *args: str) -> list[dict[str, Any]]:
    result = archiver("search", *args, "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def pages(hits: list[dict[str, Any]]) -> set[str]:
    return {hit["url"].rsplit("/", 1)[1] for hit in hits}


@pytest.mark.sqlite_catalog
def test_run_keeps_the_index_and_each_text_is_indexed_once(searched: tuple[Path, fixture_server.Server]) -> None:
    archive, _ = searched
    with sqlite3.connect(archive / "search.sqlite") as db:  # made by run, before any search
        (texts,) = db.execute("SELECT COUNT(*) FROM texts").fetchone()
    assert texts == 5  # six links, the two copies of one page share a text


def test_results_in_json(searched: tuple[Path, fixture_server.Server]) -> None:
    archive, _web = searched
    hits = search(archive, "Мишустин")
    assert pages(hits) == {"ru-news", "ru-news?copy"}  # one per link and text version
    hit = next(h for h in hits if h["url"].endswith("/ru-news"))
    assert set(hit) == {"url", "cited_by", "captured", "verdict", "snippet"}
    assert hit["cited_by"] == [{"report": "доклад", "n": 1}] and hit["verdict"] == "ok"
    assert datetime.fromisoformat(hit["captured"].replace("Z", "+00:00"))
    assert "<mark>Мишустин</mark>" in hit["snippet"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("МИНСКЕ", {"ru-news", "ru-news?copy", "ru-police"}),  # case, and the word's forms (Минск, Минске)
        ("новости", {"ru-news", "ru-news?copy"}),  # новостей
        ("объем", {"ru-news", "ru-news?copy"}),  # ё as е: объём
        ("четвертую", {"ru-news", "ru-news?copy"}),
        ("pipelines", {"en-pipeline"}),  # pipeline
        ("CAFE", {"en-pipeline"}),  # café
        ("журналісти", {"uk-news", "be-news"}),  # one stem for both languages' plural
        ("ЖУРНАЛІСТЫ", {"uk-news", "be-news"}),
        ("сустрэчу", {"be-news"}),
        ('"Союзного государства"', {"ru-news", "ru-news?copy"}),
        ('"государства Союзного"', set()),  # a phrase is its words in order
        ("омон OR pipeline", {"ru-police", "en-pipeline"}),
        ("государство NOT ОМОН", {"ru-news", "ru-news?copy"}),
        ("Мишус*", {"ru-news", "ru-news?copy"}),  # a prefix, as typed
        ("консультац*", {"uk-news"}),  # Belarusian writes кансультацыі
    ],
)
def test_what_analysts_type(searched: tuple[Path, fixture_server.Server], query: str, expected: set[str]) -> None:
    archive, _ = searched
    assert pages(search(archive, query)) == expected


@pytest.mark.parametrize("query", ['"foo AND', "NEAR(", "*", "-", "NOT государство", "AND", '""', "x:y (z"])
def test_any_query_gives_results_or_one_line(searched: tuple[Path, fixture_server.Server], query: str) -> None:
    archive, _ = searched
    result = archiver("search", query, archive=archive)
    assert "Traceback" not in result.stderr
    if result.returncode:
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("archiver: error: ")
    else:
        assert result.stdout.strip()


def test_filters_by_report_and_verdict(searched: tuple[Path, fixture_server.Server]) -> None:
    archive, _ = searched
    assert pages(search(archive, "Мишустин", "--report", "brief")) == {"ru-news?copy"}
    assert pages(search(archive, "Мишустин", "--verdict", "dead,changed")) == set()
    assert pages(search(archive, "Мишустин", "--verdict", "ok")) == {"ru-news", "ru-news?copy"}
    assert len(search(archive, "журналісти OR журналісты OR Минск", "--limit", "2")) == 2


@pytest.mark.sqlite_catalog  # it copies the archive directory: with PostgreSQL the copy would share the catalog
def test_every_text_version_of_a_link_is_found(searched: tuple[Path, fixture_server.Server], tmp_path: Path) -> None:
    """A rewritten page: its first text (the one the footnote cited) and its new one are both searchable."""
    archive, web = searched
    copy = tmp_path / "archive"
    import shutil

    shutil.copytree(archive, copy)
    web.pages["en-pipeline"] = "The pipeline project was cancelled after the elections, the ministry announced."
    assert archiver("run", "--allow-private", archive=copy).returncode == 0
    old = search(copy, "harmonised")
    new = search(copy, "cancelled")
    assert pages(old) == pages(new) == {"en-pipeline"}
    # Two texts, the first captured first (in the same second when the machine is quick: ISO seconds).
    assert "<mark>harmonised</mark>" in old[0]["snippet"] and "<mark>cancelled</mark>" in new[0]["snippet"]
    assert old[0]["captured"] <= new[0]["captured"]
    web.pages["en-pipeline"] = PAGES["en-pipeline"][1]


def test_a_rebuild_gives_the_same_results_and_an_old_archive_is_indexed_on_first_search(
    searched: tuple[Path, fixture_server.Server], tmp_path: Path
) -> None:
    archive, _ = searched
    before = [search(archive, q) for q in ("Минск", "pipeline OR омон", '"Союзного государства"')]
    result = archiver("search", "--reindex", archive=archive)
    assert result.returncode == 0, result.stderr
    assert [search(archive, q) for q in ("Минск", "pipeline OR омон", '"Союзного государства"')] == before
    if not (archive / "search.sqlite").exists():
        return  # a PostgreSQL catalog (pytest --catalog postgresql) keeps its index in its own tables
    (archive / "search.sqlite").unlink()  # as an archive made before search was
    for extra in ("-wal", "-shm"):
        (archive / f"search.sqlite{extra}").unlink(missing_ok=True)
    assert search(archive, "Минск") == before[0]


def test_the_terminal_output_marks_the_matches(searched: tuple[Path, fixture_server.Server]) -> None:
    archive, _ = searched
    result = archiver("search", "pipelines", archive=archive)
    assert result.returncode == 0, result.stderr
    assert "1. http://127.0.0.1" in result.stdout and "cited by brief #2" in result.stdout
    assert "[pipeline]" in result.stdout and "<mark>" not in result.stdout  # marked, off a terminal


# ----- the words (pure) -------------------------------------------------------------------------------------


def test_indexed_is_the_words_stems_in_order() -> None:
    text = "Объём новостей о Café и PIPELINES: Лукашэнка, 2020."
    assert indexed(text) == " ".join(stem for _, _, stem in words(text))
    assert indexed(text).split()[:2] == indexed("объем новости").split()


def test_stems_kept_between_texts_are_the_ones_words_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [
        "Объём новостей о Café и PIPELINES: Лукашэнка, 2020.",
        "café cafés naïve Ёлка ёлки mixedКириллица x2 _under 42 Ἀθῆναι 北京 pipelines",
        "The pipelines ran; новостей было много. Café, café, CAFÉ.",
    ]
    monkeypatch.setattr(searchtext, "MAX_KNOWN_STEMS", 8)  # the memo is emptied between texts too
    for text in texts * 2:
        assert indexed(text) == " ".join(stem for _, _, stem in words(text)), text


def test_snippets_show_the_original_words() -> None:
    query = parse_query("новости")
    shown = snippet("Много НОВОСТЕЙ сегодня.", query)
    assert shown == "Много <mark>НОВОСТЕЙ</mark> сегодня."
    long = " ".join(["слово"] * 100) + " новости " + " ".join(["слово"] * 100)
    assert re.fullmatch(r"… (слово ){5}<mark>новости</mark>( слово){24} …", snippet(long, query))


def test_a_query_with_nothing_to_search_for_says_so() -> None:
    with pytest.raises(QueryError, match="nothing to search for"):
        parse_query("* - ()")
