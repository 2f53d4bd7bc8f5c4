"""The fetcher against real servers on 127.0.0.1: statuses, redirects, encodings, broken and hostile servers, TLS."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import brotlicffi as brotli
import pytest
import trustme

from archiver.config import Settings
from archiver.errors import ConfigError
from archiver.fetching.fetch import MIN_SPILL, SPILL, Fetcher, spill_threshold, ssl_context
from archiver.outcomes import Failure, Fetch

from . import server as fixture_server
from .socks import relay

LOCAL = Settings(
    allow_private=True, connect_timeout=2, read_timeout=2, total_timeout=5, max_decoded=20 << 20, max_body=10 << 20
)


def fetch(url: str, tmp_path: Path, settings: Settings = LOCAL, **kwargs: object) -> Fetch:
    async def go() -> Fetch:
        async with Fetcher(settings, tmp_path, **kwargs) as fetcher:  # type: ignore[arg-type]
            return await fetcher.fetch(url)

    return asyncio.run(go())


def body(result: Fetch) -> bytes:
    assert result.decoded is not None
    return result.read_decoded()


def raw(result: Fetch) -> bytes:
    opened = result.open_body()
    assert opened is not None
    with opened:
        return opened.read()


def test_ok_page_streams_to_disk_with_digests(web: fixture_server.Server, tmp_path: Path) -> None:
    result = fetch(web.url("/article"), tmp_path)
    assert result.failure is None
    assert result.status == 200
    assert result.content_type.startswith("text/html")
    assert b"Union State" in body(result)
    assert result.payload_digest and result.payload_digest.startswith("sha1:")
    assert result.body_size == len(body(result))
    assert result.response is not None and result.response.header("etag")
    assert result.response.peer == "127.0.0.1"
    ua = dict(result.response.request_headers)["User-Agent"]
    assert ua.startswith("archiver/") and "+http" in ua


@pytest.mark.parametrize("code", [404, 410, 403, 401, 429, 451, 500, 503])
def test_status_codes_are_answers_not_failures(web: fixture_server.Server, tmp_path: Path, code: int) -> None:
    result = fetch(web.url(f"/status/{code}"), tmp_path)
    assert result.failure is None
    assert result.status == code


def test_redirect_chain_is_followed_and_recorded(web: fixture_server.Server, tmp_path: Path) -> None:
    result = fetch(web.url("/redirect/3"), tmp_path)
    assert result.status == 200
    assert [hop.status for hop in result.hops] == [302, 302, 302]
    assert [hop.url for hop in result.hops] == [web.url("/redirect/3"), web.url("/redirect/2"), web.url("/redirect/1")]
    assert result.final_url == web.url("/article")


def test_too_many_redirects(web: fixture_server.Server, tmp_path: Path) -> None:
    result = fetch(web.url("/redirect/15"), tmp_path)
    assert result.failure == Failure.TOO_MANY_REDIRECTS
    assert len(result.hops) == 11


def test_redirect_loop(web: fixture_server.Server, tmp_path: Path) -> None:
    result = fetch(web.url("/loop/a"), tmp_path)
    assert result.failure == Failure.REDIRECT_LOOP
    assert "loop" in result.detail


def test_redirect_to_non_web_scheme(web: fixture_server.Server, tmp_path: Path) -> None:
    result = fetch(web.url("/to-mailto"), tmp_path)
    assert result.failure == Failure.BAD_URL and "redirect to a non-web URL: mailto:" in result.detail


def test_cookie_set_on_a_redirect_is_sent_on_the_next_hop(web: fixture_server.Server, tmp_path: Path) -> None:
    result = fetch(web.url("/cookie-gate"), tmp_path)
    assert result.failure is None and result.response is not None, result.detail
    assert result.response.status == 200 and b"Union State talks" in body(result)
    assert ("Cookie", "consent=yes") in result.response.request_headers


def test_the_request_on_the_wire_host_first_a_caller_s_header_replacing_ours_and_a_form(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    """Requests go to httpcore as built here: Host (no user:password), our headers, the caller's instead of
    ours of the same name, a form's body with its type and length; a port out of range is a bad URL."""

    async def go() -> tuple[Fetch, Fetch]:
        async with Fetcher(LOCAL, tmp_path) as fetcher:
            posted = await fetcher.fetch(
                web.url("/page/a").replace("://", "://user:secret@"),
                headers={"accept": "application/json"},
                form={"url": "https://example.org/a b"},
            )
            bad = await fetcher.fetch("http://127.0.0.1:0/x")  # not port 80
            return posted, bad

    posted, bad = asyncio.run(go())
    assert posted.response is not None, posted.detail
    sent = posted.response.request_headers
    assert sent[0] == ("Host", f"127.0.0.1:{web.port}")
    assert [value for name, value in sent if name.lower() == "accept"] == ["application/json"]
    assert ("Content-Type", "application/x-www-form-urlencoded") in sent
    assert ("Content-Length", str(len("url=https%3A%2F%2Fexample.org%2Fa+b"))) in sent
    assert any(name == "User-Agent" for name, _ in sent)
    seen = web.requests[-1]
    assert (seen.method, seen.path, seen.headers["accept"]) == ("POST", "/page/a", "application/json")
    assert bad.failure == Failure.BAD_URL and "port 0" in bad.detail


@pytest.mark.parametrize("path", ["/gzip", "/brotli", "/deflate-raw", "/chunked", "/gzip-then-br"])
def test_compression_and_chunking(web: fixture_server.Server, tmp_path: Path, path: str) -> None:
    result = fetch(web.url(path), tmp_path)
    assert result.failure is None, result.detail
    assert b"Union State talks" in body(result)
    assert result.open_body() is not None
    if path in ("/gzip", "/brotli", "/deflate-raw", "/gzip-then-br"):
        assert raw(result) != body(result)  # the raw entity stays compressed, as received
        assert result.response is not None and result.response.header("content-encoding")
    if path == "/brotli":  # the raw entity is brotli's, and decodes to the page
        assert brotli.decompress(raw(result)) == body(result)


@pytest.mark.parametrize("path", ["/gzip-bomb", "/brotli-bomb"])
def test_decompression_bomb_is_stopped(web: fixture_server.Server, tmp_path: Path, path: str) -> None:
    result = fetch(web.url(path), tmp_path, Settings(allow_private=True, max_decoded=5 << 20, total_timeout=20))
    assert result.failure == Failure.TOO_LARGE
    assert result.open_body() is None
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked"])
def test_oversized_body_is_refused(web: fixture_server.Server, tmp_path: Path, path: str) -> None:
    result = fetch(web.url(path), tmp_path, Settings(allow_private=True, max_body=2 << 20, total_timeout=20))
    assert result.failure == Failure.TOO_LARGE
    assert list(tmp_path.iterdir()) == []


def test_server_that_never_answers_times_out(web: fixture_server.Server, tmp_path: Path) -> None:
    result = fetch(web.url("/hang"), tmp_path, Settings(allow_private=True, read_timeout=0.5, total_timeout=3))
    assert result.failure == Failure.TIMEOUT


def test_dripping_server_hits_the_total_timeout(web: fixture_server.Server, tmp_path: Path) -> None:
    result = fetch(web.url("/drip"), tmp_path, Settings(allow_private=True, read_timeout=5, total_timeout=1))
    assert result.failure == Failure.TIMEOUT
    assert list(tmp_path.iterdir()) == []


def test_connection_dropped_mid_body(web: fixture_server.Server, tmp_path: Path) -> None:
    result = fetch(web.url("/drop"), tmp_path)
    assert result.failure == Failure.RESET
    assert result.status == 200  # the head came; the body did not


def test_not_http_at_all(web: fixture_server.Server, tmp_path: Path) -> None:
    assert fetch(web.url("/garbage"), tmp_path).failure in (Failure.PROTOCOL, Failure.RESET)


def test_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert fetch(f"http://127.0.0.1:{port}/", tmp_path).failure == Failure.CONNECT


def test_private_address_refused_without_allow_private(web: fixture_server.Server, tmp_path: Path) -> None:
    before = web.hits["/article"]
    for url in (
        web.url("/article"),
        f"http://localhost:{web.port}/article",
        f"http://2130706433:{web.port}/article",
        f"http://0x7f.1:{web.port}/article",
        f"http://[::ffff:127.0.0.1]:{web.port}/article",
    ):
        result = fetch(url, tmp_path, Settings())
        assert result.failure == Failure.PRIVATE, url
    assert web.hits["/article"] == before  # no request left the client


def test_name_resolving_to_private_address_is_refused(web: fixture_server.Server, tmp_path: Path) -> None:
    async def rebinding(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    result = fetch(f"http://innocent.example:{web.port}/article", tmp_path, Settings(), resolver=rebinding)
    assert result.failure == Failure.PRIVATE
    assert "resolves to a non-public address" in result.detail


def test_redirect_to_private_address_is_refused_through_a_proxy(web: fixture_server.Server, tmp_path: Path) -> None:
    # Through a proxy the proxy resolves names; our test server is that proxy, and any host name reaches it.
    settings = Settings(proxy=web.base)
    result = fetch("http://news.example/to-private", tmp_path, settings)
    assert result.failure == Failure.PRIVATE
    assert [hop.status for hop in result.hops] == [302]
    result = fetch("http://news.example/to-private-decimal", tmp_path, settings)
    assert result.failure == Failure.PRIVATE


def test_proxy_from_environment(web: fixture_server.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", web.base)
    result = fetch("http://some-news.example/article", tmp_path, Settings())
    assert result.status == 200
    assert web.requests[-1].target == "http://some-news.example/article"


def test_no_such_domain_and_temporary_dns_failure(tmp_path: Path) -> None:
    async def nxdomain(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def servfail(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    assert fetch("http://gone.example/", tmp_path, Settings(), resolver=nxdomain).failure == Failure.DNS
    assert fetch("http://gone.example/", tmp_path, Settings(), resolver=servfail).failure == Failure.DNS_TEMPORARY


def test_conditional_request_gets_304(web: fixture_server.Server, tmp_path: Path) -> None:
    first = fetch(web.url("/article"), tmp_path)
    assert first.response is not None
    etag = first.response.header("etag")

    async def again() -> Fetch:
        async with Fetcher(LOCAL, tmp_path) as fetcher:
            return await fetcher.fetch(web.url("/article"), etag=etag)

    assert asyncio.run(again()).status == 304


def test_tls_with_a_test_ca_from_ssl_cert_file(
    tls_web: tuple[fixture_server.Server, trustme.CA], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, ca = tls_web
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    work = tmp_path / "work"
    work.mkdir()
    result = fetch(state.url("/article"), work)
    assert result.failure is None, result.detail
    assert result.status == 200


def test_the_default_trust_is_loaded_at_the_first_handshake_not_at_start(
    tls_web: tuple[fixture_server.Server, trustme.CA], tmp_path: Path
) -> None:
    """certifi's bundle costs 20-40 ms on the way to the night's first request: a run of plain-HTTP
    sites never loads it, and the first TLS site finds it loaded."""
    state, ca = tls_web
    context = ssl_context()  # no SSL_CERT_FILE: certifi's bundle, not read yet
    assert context.cert_store_stats()["x509_ca"] == 0
    plain = fetch(state.url("/article").replace("https://", "http://"), tmp_path, verify=context)
    assert plain.failure is not None and context.cert_store_stats()["x509_ca"] == 0  # TLS port, no handshake made
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context.cafile = str(ca_file)  # the test CA instead of certifi's (still not loaded)
    result = fetch(state.url("/article"), tmp_path, verify=context)
    assert result.failure is None, result.detail
    assert context.cert_store_stats()["x509_ca"] == 1


def test_a_missing_ssl_cert_file_is_a_clear_error_and_a_file_without_certificates_fails_the_tls_sites(
    tls_web: tuple[fixture_server.Server, trustme.CA], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match=r"SSL_CERT_FILE .*missing\.pem: no such file"):
        ssl_context()
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"SSL_CERT_DIR .*nowhere: no such directory"):
        ssl_context()
    monkeypatch.delenv("SSL_CERT_DIR")
    (tmp_path / "junk.pem").write_text("not a certificate")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "junk.pem"))
    state, _ = tls_web
    result = fetch(state.url("/article"), tmp_path)
    assert result.failure == Failure.TLS and "no certificate" in (result.detail or "").lower()


def test_tls_with_an_unknown_ca_fails_as_tls(tls_web: tuple[fixture_server.Server, trustme.CA], tmp_path: Path) -> None:
    state, _ = tls_web
    result = fetch(state.url("/article"), tmp_path)
    assert result.failure == Failure.TLS


def test_with_many_fetches_in_flight_bodies_spill_sooner(web: fixture_server.Server, tmp_path: Path) -> None:
    """A megabyte page stays in memory for 16 fetches at once; for 128, each body may hold half a megabyte,
    so that together they hold no more memory than 32 did (BODIES_IN_MEMORY)."""
    assert spill_threshold(16) == SPILL and spill_threshold(128) == 512 * 1024 and spill_threshold(10**6) == MIN_SPILL
    few = fetch(web.url("/sized?kb=1000"), tmp_path, Settings(allow_private=True, concurrency=16))
    assert few.failure is None and few.body_path is None and few.body_data is not None
    many = fetch(web.url("/sized?kb=1000"), tmp_path, Settings(allow_private=True, concurrency=128))
    assert many.failure is None and many.body_path is not None and many.body_data is None
    assert many.read_decoded() == few.read_decoded() and many.body_size > 1000 * 1024
    many.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_small_body_stays_in_memory_and_a_large_one_spills_to_a_file(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    small = fetch(web.url("/article"), tmp_path)
    assert small.body_path is None and small.body_data is not None and list(tmp_path.iterdir()) == []
    large = fetch(web.url("/bloated/huge-html"), tmp_path, Settings(allow_private=True, total_timeout=20))
    assert large.failure is None and large.body_path is not None and large.body_path.exists()
    assert large.read_decoded().startswith(b"<html>") and large.body_size == large.body_path.stat().st_size
    large.discard()
    assert list(tmp_path.iterdir()) == []


class _RawServer:
    """A listener on 127.0.0.1 that hands each connection to handle() in a thread of its own."""

    def __init__(self) -> None:
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.listener.close()


class _KeepAliveServer(_RawServer):
    """A raw HTTP/1.1 server that keeps connections open, or closes each one a moment after answering."""

    def __init__(self, close_after: float | None) -> None:
        self.close_after = close_after
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        body = fixture_server.page("Kept alive", fixture_server.ARTICLE).encode()
        with conn:
            conn.settimeout(5)
            while True:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    request += chunk
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                if self.close_after is not None:
                    time.sleep(self.close_after)  # the server's keep-alive time-out, without a word
                    return


@pytest.mark.parametrize("close_after", [None, 0.1])
def test_keep_alive_connections_are_reused_and_a_closed_one_is_not(tmp_path: Path, close_after: float | None) -> None:
    """One connection serves a host's links; one the server closed while idle is noticed, not failed on."""
    server = _KeepAliveServer(close_after)
    try:

        async def three() -> list[Fetch]:
            async with Fetcher(LOCAL, tmp_path) as fetcher:
                results = []
                for index in range(3):
                    results.append(await fetcher.fetch(f"http://127.0.0.1:{server.port}/story-{index}"))
                    await asyncio.sleep(1.0)  # well past the server's 0.1 s: the close has happened
                return results

        results = asyncio.run(three())
    finally:
        server.stop()
    assert [r.status for r in results] == [200, 200, 200], [r.detail for r in results]
    assert all(b"Union State" in body(r) for r in results)
    assert server.connections == (1 if close_after is None else 3)


class _ConnectProxy(_RawServer):
    """An HTTP proxy that only tunnels (CONNECT), as HTTPS goes through a proxy; it counts the tunnels."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        super().__init__()

    def handle(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        relay(client, upstream)
        client.close()


def test_https_through_a_proxy_tunnel(
    tls_web: tuple[fixture_server.Server, trustme.CA], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CONNECT, then TLS inside the tunnel: the handshake runs on the stream the proxy connection opened."""
    state, ca = tls_web
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    proxy = _ConnectProxy()
    try:
        settings = LOCAL.replace(proxy=f"http://127.0.0.1:{proxy.port}")
        result = fetch(state.url("/article"), tmp_path, settings)
    finally:
        proxy.stop()
    assert result.failure is None, result.detail
    assert result.status == 200 and b"Union State" in body(result)
    assert proxy.tunnels == [f"127.0.0.1:{state.port}"]


def test_the_fetcher_is_the_http_capturer(web: fixture_server.Server, tmp_path: Path) -> None:
    """The link check's seam: capture() answers with a Fetch that says it was a plain HTTP capture,
    sent conditionally when the check gives a validator."""
    from archiver.fetching.capture import Capturer
    from archiver.outcomes import CapturedWith

    async def go() -> Fetch:
        async with Fetcher(LOCAL, tmp_path) as fetcher:
            capturer: Capturer = fetcher
            return await capturer.capture(web.url("/page/captured"), etag='"v1"', timeout=5)

    web.pages["captured"] = fixture_server.ARTICLE
    result = asyncio.run(go())
    assert result.failure is None and result.captured_with == CapturedWith.HTTP == "http"
    assert web.requests[-1].headers.get("if-none-match") == '"v1"'
