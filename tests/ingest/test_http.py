"""The fetcher against real loopback servers: caps, deadlines, retries, redirects, the guard."""

from __future__ import annotations

import asyncio
import importlib.abc
import logging
import random
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import pytest

from bot.ingest.errors import (
    BlockedURL,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    TooLarge,
    TooManyRedirects,
)
from bot.ingest.http import Fetcher, FetchPolicy, parse_retry_after, quiet_http_logs, redact_url
from bot.ingest.urlguard import URLGuard
from bot.settings import Settings
from tests.ingest.servers import (
    LoopbackServer,
    big_body,
    brotli_bomb,
    endless_chunked,
    gzip_bomb,
    gzipped,
    never_answer,
    redirect,
    sequence,
    serve,
    slow,
    static,
    trickle,
    with_etag,
)

MB = 1024 * 1024
FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
TEST_POLICY = FetchPolicy(
    timeout_s=2.0,
    deadline_s=10.0,
    allow_private=True,
    backoff_base_s=0.01,
    backoff_cap_s=0.05,
)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as running:
        yield running


@asynccontextmanager
async def fetcher(
    guard: URLGuard | None = None,
    sleeps: list[float] | None = None,
    rng: Callable[[], float] = random.random,
    **overrides: Any,
) -> AsyncIterator[Fetcher]:
    """A fetcher on a real client; ``sleeps`` records backoff delays (sleeping 0 instead)."""
    policy = replace(TEST_POLICY, **overrides)

    async def record(delay: float) -> None:
        assert sleeps is not None
        sleeps.append(delay)
        await asyncio.sleep(0)

    sleep = asyncio.sleep if sleeps is None else record
    async with Fetcher.create(policy, guard=guard, sleep=sleep, rng=rng) as made:
        yield made


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- basics ------------------------------------------------------------------------------------
async def test_plain_fetch_returns_body_and_sends_our_headers(server: LoopbackServer) -> None:
    feed_type = {"Content-Type": "application/rss+xml; charset=utf-8"}
    url = server.route("/feed", static(FEED, feed_type))
    async with fetcher() as f:
        result = await f.fetch(url)
    assert (result.status, result.content, result.final_url) == (200, FEED, url)
    assert result.content_type == "application/rss+xml" and result.charset == "utf-8"
    assert not result.truncated and not result.not_modified and result.attempts == 1
    seen = server.requests_to("/feed")[0].headers
    assert seen["User-Agent"] == TEST_POLICY.user_agent
    assert "gzip" in seen["Accept-Encoding"] and "br" in seen["Accept-Encoding"]
    assert "application/rss+xml" in seen["Accept"]


class _ImportSpy(importlib.abc.MetaPathFinder):
    """Records every module name the import system is asked to look for, finds nothing."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        self.names.append(name)


async def test_fetching_searches_for_no_module_once_started(server: LoopbackServer) -> None:
    """httpcore asks for ``sniffio`` at every lock it sets up (several per request); anyio no
    longer brings it, and a failed import is never cached, so each request searched every
    directory of ``sys.path`` again: half of a request's CPU time (encode/httpcore#1103). The
    project depends on sniffio, so after the first request nothing is searched for."""
    url = server.route("/feed", static(FEED))
    spy = _ImportSpy()
    async with fetcher() as f:
        await f.fetch(url)
        sys.meta_path.insert(0, spy)
        try:
            await asyncio.gather(*(f.fetch(url) for _ in range(4)))
        finally:
            sys.meta_path.remove(spy)
    assert spy.names == []


async def test_gzip_body_is_decoded(server: LoopbackServer) -> None:
    url = server.route("/page", gzipped(b"<html>" + b"hello " * 10_000 + b"</html>"))
    async with fetcher() as f:
        result = await f.fetch(url)
    assert result.content.startswith(b"<html>hello") and len(result.content) == 60_013


async def test_conditional_get_returns_not_modified_without_body(server: LoopbackServer) -> None:
    url = server.route("/feed", with_etag(FEED, '"v1"'))
    async with fetcher() as f:
        first = await f.fetch(url)
        second = await f.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert first.status == 200 and first.etag == '"v1"' and first.last_modified
    assert second.status == 304 and second.not_modified and second.content == b""
    assert second.etag == '"v1"' and second.last_modified == first.last_modified
    sent = server.requests_to("/feed")[1].headers
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == first.last_modified


async def test_http_error_status_is_raised_without_retry(server: LoopbackServer) -> None:
    url = server.route("/gone", static(b"no", status=404))
    async with fetcher() as f:
        with pytest.raises(HTTPStatusError) as info:
            await f.fetch(url)
    assert info.value.status == 404 and info.value.url == url
    assert len(server.requests_to("/gone")) == 1


# ---- redirects and the guard -------------------------------------------------------------------
async def test_redirect_chain_is_followed_and_recorded(server: LoopbackServer) -> None:
    server.route("/a", redirect("/b", 301))
    server.route("/b", redirect(server.url("/c"), 307))
    server.route("/c", static(FEED))
    async with fetcher() as f:
        result = await f.fetch(server.url("/a"))
    assert result.final_url == server.url("/c")
    assert result.redirects == (server.url("/a"), server.url("/b"))
    assert result.content == FEED


async def test_too_many_redirects_and_loops(server: LoopbackServer) -> None:
    for n in range(8):
        server.route(f"/r{n}", redirect(f"/r{n + 1}"))
    server.route("/x", redirect("/y"))
    server.route("/y", redirect("/x"))
    async with fetcher(max_redirects=5) as f:
        with pytest.raises(TooManyRedirects, match="more than 5"):
            await f.fetch(server.url("/r0"))
        with pytest.raises(TooManyRedirects, match="loop"):
            await f.fetch(server.url("/x"))
    assert len(server.requests_to("/r5")) == 1 and not server.requests_to("/r6")


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/secret",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:127.0.0.1]:{port}/secret",
        "http://2130706433:{port}/secret",
        "http://10.0.0.1/admin",
    ],
)
async def test_redirect_to_internal_address_is_refused(server: LoopbackServer, target: str) -> None:
    """An allowed host (``localhost`` exempted by policy) redirects into our network: refused."""
    location = target.format(port=server.port)
    server.route("/feed", redirect(location))
    server.route("/secret", static(b"internal"))
    async with fetcher(allow_private=False, allow_hosts=frozenset({"localhost"})) as f:
        with pytest.raises(BlockedURL) as info:
            await f.fetch(server.url("/feed", host="localhost"))
    assert info.value.url == location
    assert not server.requests_to("/secret")


async def test_loopback_is_refused_without_allow_private(server: LoopbackServer) -> None:
    url = server.route("/feed", static(FEED))
    async with fetcher(allow_private=False) as f:
        with pytest.raises(BlockedURL, match="loopback"):
            await f.fetch(url)
    assert not server.stats.requests


async def test_dns_rebinding_is_caught_at_connect_time(server: LoopbackServer) -> None:
    """The name is public when checked, loopback when connecting: the pinned backend refuses."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    server.route("/feed", static(FEED))
    guard = URLGuard(resolver=rebinding)
    async with fetcher(guard=guard, allow_private=False) as f:
        with pytest.raises(BlockedURL, match="loopback"):
            await f.fetch(f"http://rebind.example:{server.port}/feed")
    assert not server.stats.requests


async def test_connection_goes_to_the_resolved_address_with_the_original_host(
    server: LoopbackServer,
) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        assert host == "feeds.example"
        return ["127.0.0.1"]

    server.route("/feed", static(FEED))
    async with fetcher(guard=URLGuard(allow_private=True, resolver=resolver)) as f:
        result = await f.fetch(f"http://feeds.example:{server.port}/feed")
    assert result.content == FEED
    assert server.requests_to("/feed")[0].headers["Host"] == f"feeds.example:{server.port}"


# ---- size caps -----------------------------------------------------------------------------------
async def test_50mb_body_is_cut_at_the_cap_quickly(server: LoopbackServer) -> None:
    url = server.route("/huge", big_body(50 * MB))
    async with fetcher() as f:
        started = time.monotonic()
        result = await f.fetch(url)
    assert result.truncated and len(result.content) == 5 * MB
    assert time.monotonic() - started < 5


async def test_endless_chunked_stream_is_cut_at_the_cap(server: LoopbackServer) -> None:
    url = server.route("/endless", endless_chunked())
    async with fetcher(max_bytes=1 * MB) as f:
        started = time.monotonic()
        result = await f.fetch(url)
    assert result.truncated and len(result.content) == MB
    assert result.content.startswith(b"<item><title>spam")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("bomb", [gzip_bomb, brotli_bomb])
async def test_compression_bombs_are_cut_after_decoding(server: LoopbackServer, bomb: Any) -> None:
    url = server.route("/bomb", bomb(64 * MB))
    async with fetcher(max_bytes=2 * MB) as f:
        result = await f.fetch(url)
    assert result.truncated and len(result.content) == 2 * MB
    assert result.content.count(0) == 2 * MB


async def test_too_large_is_raised_when_truncation_is_refused(server: LoopbackServer) -> None:
    url = server.route("/huge", big_body(50 * MB))
    chunked = server.route("/endless", endless_chunked())
    async with fetcher(max_bytes=MB) as f:
        with pytest.raises(TooLarge, match="Content-Length"):
            await f.fetch(url, truncate=False)
        with pytest.raises(TooLarge, match="exceeds"):
            await f.fetch(chunked, truncate=False)


# ---- time limits -------------------------------------------------------------------------------
async def test_server_that_never_answers_times_out(server: LoopbackServer) -> None:
    """Without the timeout the fetch would wait for ever (the server never answers): any bound
    proves it; a generous one cannot flake on a loaded machine."""
    url = server.route("/silent", never_answer())
    async with fetcher(timeout_s=0.5, retries=0) as f:
        started = time.monotonic()
        with pytest.raises(FetchTimeout):
            await f.fetch(url)
    assert time.monotonic() - started < 15
    assert len(server.requests_to("/silent")) == 1


async def test_total_deadline_bounds_retries_of_a_silent_server(server: LoopbackServer) -> None:
    """Counted in attempts, not seconds: five retries of a 0.6 s timeout would be six requests;
    the 1.5 s deadline leaves room for three at most, however loaded the machine is."""
    url = server.route("/silent", never_answer())
    async with fetcher(timeout_s=0.6, deadline_s=1.5, retries=5) as f:
        with pytest.raises(FetchTimeout):
            await f.fetch(url)
    assert 1 <= len(server.requests_to("/silent")) <= 3


async def test_trickling_server_is_stopped_by_the_deadline(server: LoopbackServer) -> None:
    """One byte every 0.1 s never trips the 1 s read timeout; the 1.5 s deadline stops it."""
    url = server.route("/trickle", trickle(0.1))
    async with fetcher(timeout_s=1.0, deadline_s=1.5) as f:
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match="deadline"):
            await f.fetch(url)
    assert time.monotonic() - started > 1.4  # a lower bound: load only adds time
    assert time.monotonic() - started < 15  # the trickle itself would go on far longer


# ---- retries -------------------------------------------------------------------------------------
async def test_5xx_is_retried_until_success(server: LoopbackServer) -> None:
    url = server.route("/flaky", sequence([(503, {}, b""), (502, {}, b""), (200, {}, FEED)]))
    async with fetcher() as f:
        result = await f.fetch(url)
    assert result.content == FEED and result.attempts == 3
    assert len(server.requests_to("/flaky")) == 3


async def test_retry_after_seconds_and_http_date_are_honoured(server: LoopbackServer) -> None:
    soon = formatdate(time.time() + 3, usegmt=True)
    url = server.route(
        "/limited",
        sequence(
            [(429, {"Retry-After": "2"}, b""), (503, {"Retry-After": soon}, b""), (200, {}, FEED)]
        ),
    )
    sleeps: list[float] = []
    async with fetcher(sleeps=sleeps) as f:
        result = await f.fetch(url)
    assert result.attempts == 3
    assert sleeps[0] == 2.0 and 1.0 <= sleeps[1] <= 3.0


async def test_retry_after_is_really_waited(server: LoopbackServer) -> None:
    url = server.route("/limited", sequence([(429, {"Retry-After": "1"}, b""), (200, {}, FEED)]))
    async with fetcher() as f:
        await f.fetch(url)
    first, second = server.requests_to("/limited")
    assert second.started - first.started >= 0.95


async def test_retry_after_beyond_cap_is_reported_not_slept(server: LoopbackServer) -> None:
    url = server.route("/limited", static(b"", {"Retry-After": "3600"}, status=503))
    sleeps: list[float] = []
    async with fetcher(sleeps=sleeps) as f:
        with pytest.raises(HTTPStatusError) as info:
            await f.fetch(url)
    assert info.value.status == 503 and info.value.retry_after == 3600.0
    assert len(server.requests_to("/limited")) == 1 and sleeps == []  # no wait asked for at all


async def test_connection_errors_retry_with_capped_exponential_backoff() -> None:
    sleeps: list[float] = []
    edge = fetcher(  # rng 1.0: the upper edge of full jitter
        sleeps=sleeps, rng=lambda: 1.0, retries=4, backoff_base_s=0.01, backoff_cap_s=0.03
    )
    async with edge as f:
        with pytest.raises(FetchError, match="ConnectError") as info:
            await f.fetch(f"http://127.0.0.1:{closed_port()}/feed")
    assert not isinstance(info.value, (FetchTimeout, HTTPStatusError))
    assert sleeps == [0.01, 0.02, 0.03, 0.03]


async def test_full_jitter_stays_within_the_exponential_envelope(server: LoopbackServer) -> None:
    url = server.route("/down", static(b"", status=500))
    sleeps: list[float] = []
    async with fetcher(sleeps=sleeps, retries=3, backoff_base_s=0.1, backoff_cap_s=10) as f:
        with pytest.raises(HTTPStatusError):
            await f.fetch(url)
    assert len(sleeps) == 3 and len(server.requests_to("/down")) == 4
    assert all(0 <= delay <= 0.1 * 2**i for i, delay in enumerate(sleeps))


# ---- concurrency ---------------------------------------------------------------------------------
async def test_per_host_bound_is_observed_by_the_server(server: LoopbackServer) -> None:
    server.route("/slow", slow(FEED, 0.3))
    async with fetcher(max_per_host=2, max_connections=20) as f:
        await asyncio.gather(*(f.fetch(server.url(f"/slow?n={n}")) for n in range(8)))
    assert server.stats.peak_in_flight == 2
    assert len(server.requests_to("/slow")) == 8


async def test_bounds_are_per_host_and_overall(server: LoopbackServer) -> None:
    """Two host names for one server: 2 per host would allow 4, the global bound of 3 wins."""
    server.route("/slow", slow(FEED, 0.3))
    hosts = ("127.0.0.1", "localhost")
    urls = [server.url(f"/slow?n={n}", host=h) for n in range(6) for h in hosts]
    async with fetcher(max_per_host=2, max_connections=3) as f:
        await asyncio.gather(*(f.fetch(url) for url in urls))
    assert server.stats.peak_in_flight == 3


# ---- logging and settings ------------------------------------------------------------------------
async def test_structured_log_has_fields_and_masks_secrets(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/feed", static(FEED))
    caplog.set_level(logging.INFO, logger="bot.ingest.http")
    async with fetcher() as f:
        await f.fetch(server.url("/feed?token=s3cr3t&page=2"))
    records = [r for r in caplog.records if r.name == "bot.ingest.http"]
    assert records
    record: Any = records[-1]
    assert record.status == 200 and record.bytes == len(FEED) and record.attempt == 1
    assert "page=2" in record.url and "s3cr3t" not in record.getMessage()
    assert all("s3cr3t" not in r.getMessage() for r in caplog.records)


def test_redact_url_masks_secret_parameters() -> None:
    redacted = redact_url("https://u:p@x.org/f?api_key=1&id=7&access_token=2#frag")
    assert redacted == "https://x.org/f?api_key=%2A%2A%2A&id=7&access_token=%2A%2A%2A"


def test_quiet_http_logs_raises_library_levels() -> None:
    quiet_http_logs()
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() >= logging.WARNING


def test_policy_from_settings() -> None:
    settings = Settings(allow_private_urls=True, fetch_timeout_s=7, max_connections_per_host=3)
    policy = FetchPolicy.from_settings(settings)
    assert policy.allow_private and policy.timeout_s == 7 and policy.max_per_host == 3
    assert policy.max_bytes == 5 * MB and policy.max_redirects == 5


# ---- odd inputs and odd servers ------------------------------------------------------------------
async def test_odd_requests_and_responses_raise_ingest_errors(server: LoopbackServer) -> None:
    server.route("/nolocation", static(b"", status=302))
    server.route("/zstd", static(b"xx", {"Content-Encoding": "zstd"}))
    server.route("/badgzip", static(b"not gzip at all", {"Content-Encoding": "gzip"}))
    server.route("/feed", static(FEED))
    async with fetcher() as f:
        with pytest.raises(HTTPStatusError, match="without Location"):
            await f.fetch(server.url("/nolocation"))
        with pytest.raises(FetchError, match="unsupported content-encoding"):
            await f.fetch(server.url("/zstd"))
        with pytest.raises(FetchError, match="error"):
            await f.fetch(server.url("/badgzip"))
        with pytest.raises(FetchError, match="invalid request"):
            await f.fetch(server.url("/feed"), etag='"é-not-ascii"')
        for bad in ("not a url", "http://exa mple.com/", "//no-scheme.example/", ""):
            with pytest.raises(BlockedURL):
                await f.fetch(bad)
    assert len(server.requests_to("/badgzip")) == 1  # a decoding error is not retried


def test_parse_retry_after_forms() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None and parse_retry_after("-5") is None
