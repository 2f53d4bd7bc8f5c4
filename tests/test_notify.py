"""Notifications after a night: apprise's json:// to a local webhook, mailto:// to a local SMTP server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from archiver.showing.digest import build_digest
from archiver.storage.readrows import Citation, NewsRow

from . import server as fixture_server
from .helpers import FAST, archiver, make_archive, write_report
from .server import ARTICLE, OTHER_ARTICLE

FRESH_WEB = True  # each test counts the messages its own webhook received


def hook_url(web: fixture_server.Server, secret: str = "") -> str:
    return f"json://{'hooks:' + secret + '@' if secret else ''}127.0.0.1:{web.port}/hook"


def hooks(web: fixture_server.Server) -> list[dict[str, Any]]:
    return list(web.archive.get("hooks", []))


def night(archive: Path, *args: str) -> Any:
    result = archiver("run", *args, "--allow-private", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    return result


def test_no_message_after_a_clean_night_nor_after_one_with_nothing_new(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    web.pages.update({"a": ARTICLE, "b": ARTICLE * 2})
    archive = make_archive(tmp_path)
    report = write_report(tmp_path, [web.url("/page/a"), web.url("/page/b")], "clean")
    first = night(archive, str(report), "--notify", hook_url(web))
    assert hooks(web) == [] and json.loads(first.stdout)["notifications"] == []
    night(archive, "--notify", hook_url(web))
    assert hooks(web) == []


def test_one_digest_names_both_rewritten_pages_and_is_never_sent_twice(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    web.pages.update({"one": ARTICLE * 2, "two": ARTICLE * 3})
    archive = make_archive(tmp_path, FAST + f'notify = ["{hook_url(web)}"]\nname = "Institute sources"\n')
    report = write_report(tmp_path, [web.url("/page/one"), web.url("/page/two")], "brief")
    night(archive, str(report))
    web.pages.update({"one": OTHER_ARTICLE * 2, "two": OTHER_ARTICLE * 3})  # both rewritten
    second = night(archive)
    messages = hooks(web)
    assert len(messages) == 1, messages
    message = messages[0]
    assert message["title"] == "archiver · Institute sources: 2 changed"
    assert web.url("/page/one") in message["message"] and web.url("/page/two") in message["message"]
    assert "brief" in message["message"] and "[1]" in message["message"] and "[2]" in message["message"]
    assert json.loads(second.stdout)["notifications"] == [
        {"service": json.loads(second.stdout)["notifications"][0]["service"], "links": 2, "sent": True, "error": None}
    ]
    night(archive)  # a rerun, nothing new: nothing sent
    assert len(hooks(web)) == 1


def test_a_dead_page_told_while_the_webhook_fails_is_told_the_next_night(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    web.pages["going"] = ARTICLE * 2
    archive = make_archive(tmp_path, FAST + f'notify = ["{hook_url(web, secret="t0kenS3cret")}"]\n')
    report = write_report(tmp_path, [web.url("/page/going"), web.url("/status/404")], "sources")
    web.archive["hook_status"] = 500
    first = night(archive, str(report))  # the 404 is dead on its first night: news, but the hook fails
    assert hooks(web) == []
    assert "notification to json://hooks:****@127.0.0.1" in first.stderr and "owed again next run" in first.stderr
    assert "t0kenS3cret" not in first.stderr + first.stdout
    del web.archive["hook_status"]
    second = night(archive)
    assert len(hooks(web)) == 1 and web.url("/status/404") in hooks(web)[0]["message"]
    assert "1 dead" in hooks(web)[0]["title"] and "t0kenS3cret" not in second.stderr + second.stdout
    web.pages.pop("going")  # a new death: told on its own
    night(archive)
    assert len(hooks(web)) == 2 and web.url("/page/going") in hooks(web)[1]["message"]
    assert web.url("/status/404") not in hooks(web)[1]["message"]  # already told in its current verdict


def test_cyrillic_report_names_and_urls_arrive_intact(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    url = web.url("/status/404?тема=минск")
    report = write_report(tmp_path, [url], "доклад-минск", title="Союзное государство")
    night(archive, str(report), "--notify", hook_url(web))
    message = hooks(web)[0]
    assert "доклад-минск" in message["message"] and "тема=минск" in message["message"]
    assert message["title"].endswith(": 1 dead")


def test_apprise_requests_go_through_the_runs_proxy(web: fixture_server.Server, tmp_path: Path) -> None:
    """The webhook's host name exists only through the proxy (our test server answers proxy requests)."""
    archive = make_archive(tmp_path)
    report = write_report(tmp_path, [web.url("/status/410")], "proxied")
    night(archive, str(report), "--proxy", web.base, "--notify", "json://hooks.invalid/hook")
    assert len(hooks(web)) == 1
    assert any(r.path == "/hook" and r.host == "hooks.invalid" for r in web.requests)


@dataclass
class Inbox:
    """What a local SMTP server received."""

    port: int
    messages: list[Message] = field(default_factory=list)


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # a free port for the controller
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox(port)

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            inbox.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def test_mailto_digest_with_its_json_attached(web: fixture_server.Server, smtp: Inbox, tmp_path: Path) -> None:
    mail = f"mailto://127.0.0.1:{smtp.port}?from=archiver@example.org&to=editor@example.org&mode=insecure"
    archive = make_archive(tmp_path, FAST + f'notify = ["{mail}"]\n')
    report = write_report(tmp_path, [web.url("/status/404")], "mailed")
    night(archive, str(report))
    deadline = time.monotonic() + 10
    while not smtp.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(smtp.messages) == 1
    email = smtp.messages[0]
    assert "1 dead" in str(email["Subject"]) and email["To"].endswith("editor@example.org")
    parts = [part for part in email.walk() if not part.is_multipart()]
    text = "".join(str(p.get_payload(decode=True), "utf-8") for p in parts if p.get_content_type() == "text/plain")
    assert web.url("/status/404") in text
    attached = [p for p in parts if p.get_filename() == "archiver-digest.json"]
    assert attached and json.loads(attached[0].get_payload(decode=True))["links"][0]["verdict"] == "dead"


def test_notify_test_says_which_services_worked(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST + f'notify = ["{hook_url(web)}"]\n')
    broken = "json://hooks:pa55word@127.0.0.1:9/nothing-listens-here"
    result = archiver("notify", "--test", "--notify", broken, archive=archive)
    assert result.returncode == 1
    assert f"sent: json://127.0.0.1:{web.port}/hook" in result.stdout
    assert "failed: json://hooks:****@127.0.0.1:9/" in result.stdout
    assert "pa55word" not in result.stdout + result.stderr
    assert hooks(web)[0]["title"].endswith("test message")
    nothing = archiver("notify", "--test", archive=make_archive(tmp_path / "other"))
    assert nothing.returncode == 1 and "no notification service" in nothing.stderr


def test_an_unknown_notification_url_is_one_line_and_the_night_goes_on(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path)
    report = write_report(tmp_path, [web.url("/status/404")], "unknown")
    result = night(archive, str(report), "--notify", "nosuchservice://s3cretT0ken@somewhere")
    assert "notification to nosuchservice://*** failed" in result.stderr
    assert "s3cretT0ken" not in result.stderr + result.stdout


# ----- the digest itself (pure) ---------------------------------------------------------------------------


def _news(count: int) -> list[NewsRow]:
    return [
        NewsRow(
            i,
            f"https://example.org/story/{i}",
            "dead" if i % 2 else "changed",
            "404 Not Found" if i % 2 else "main text rewritten (31% similar)",
            "2026-12-06T02:00:00Z",
            f"https://web.archive.org/web/2020/https://example.org/story/{i}" if i == 1 else None,
            (Citation("brief", i), Citation("annex", 1)) if i == 1 else (Citation("brief", i),),
        )
        for i in range(1, count + 1)
    ]


def test_the_digest_groups_by_report_and_footnote() -> None:
    digest = build_digest("sources", _news(3))
    assert digest.subject == "archiver · sources: 2 dead, 1 changed"
    assert digest.body.index("annex") < digest.body.index("brief")  # reports in order, each once
    assert digest.body.count("] https://example.org/story/1\n") == 2  # cited by two reports: under each
    assert "web archive copy: https://web.archive.org/web/2020/https://example.org/story/1" in digest.body
    assert "dead since 2026-12-06: 404 Not Found" in digest.body
    assert digest.shown == digest.total == 3 and "more:" not in digest.body


def test_a_long_digest_is_cut_to_the_services_limit_and_says_how_many_more() -> None:
    news = _news(200)
    digest = build_digest("sources", news, limit=2000)
    assert len(digest.body) <= 2000
    assert 0 < digest.shown < 200
    assert digest.body.rstrip().endswith(
        f"… and {200 - digest.shown} more: archiver status --verdict dead,changed,blocked --since 2026-12-06"
    )
    assert len(digest.data["links"]) == 200  # the attachment carries them all
