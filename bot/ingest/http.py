"""Polite, bounded HTTP fetching of feeds and pages over one shared ``httpx.AsyncClient``.

Why each piece exists:

* **one client** (``make_client``) so connections and HTTP/2 sessions are reused across feeds; it
  is created once and injected, tests pass their own;
* **manual redirects** so every hop goes through the ``URLGuard`` and is counted;
* **a hard byte cap while streaming** (after decompression, with our own bounded decoder, so a
  gzip/brotli bomb cannot expand a 64 KB chunk into gigabytes): a 50 MB or endless body is cut at
  ``max_bytes`` and the prefix kept with ``truncated=True`` (feedparser and lxml read prefixes);
* **a total deadline** for the whole ``fetch`` (retries, redirects, body), because httpx timeouts
  are per read and a server trickling one byte a second never trips them;
* **retries with full-jitter exponential backoff** on 429/5xx, timeouts and connection errors,
  honouring ``Retry-After``; a ``Retry-After`` longer than ``retry_after_cap_s`` is not slept
  through but returned (``HTTPStatusError.retry_after``) for the scheduler to respect;
* **bounded concurrency** overall and per host, so twenty feeds on one site do not hammer it;
* **conditional GET** (ETag / Last-Modified) so an unchanged feed costs a 304 and no body.

This module is the fetcher itself (attempts, redirects, status handling, logs); the client is
``client``, the capped body ``body``, the backoff ``retry``, the per-host limits ``hostlimit``,
the policy and result values ``fetchtypes`` and the log-safe URLs ``redaction``.

Logs go to ``bot.ingest.http`` with url (query secrets masked), status, bytes, elapsed, attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import brotli
import httpx

from .body import read_capped
from .client import ACCEPT_ENCODING, make_client
from .errors import (
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    IngestError,
    TooManyRedirects,
)
from .fetchtypes import FetchPolicy, FetchResult
from .hostlimit import HostLimiter
from .redaction import quiet_http_logs, redact_url
from .retry import parse_retry_after, retry_delay
from .urlguard import URLGuard

__all__ = [
    "FEED_ACCEPT",
    "PAGE_ACCEPT",
    "FetchPolicy",
    "FetchResult",
    "Fetcher",
    "make_client",
    "parse_retry_after",
    "quiet_http_logs",
    "redact_url",
]

log = logging.getLogger("bot.ingest.http")

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, text/html;q=0.5, */*;q=0.1"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying; ``error`` is what we would raise."""

    def __init__(self, error: IngestError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Hop:
    """One request's outcome before redirect handling."""

    url: str
    status: int
    headers: dict[str, str]
    content: bytes = b""
    truncated: bool = False


def _header_dict(headers: httpx.Headers) -> dict[str, str]:
    return {key: ", ".join(headers.get_list(key)) for key in headers}


class Fetcher:
    """Fetches URLs under a ``FetchPolicy`` through one shared client (see module docstring)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: FetchPolicy,
        *,
        guard: URLGuard | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._owns_client = False
        self.policy = policy
        self.guard = guard or policy.guard()
        self._sleep = sleep
        self._rng = rng
        self._limiter = HostLimiter(policy.max_connections, policy.max_per_host)

    @classmethod
    def create(
        cls,
        policy: FetchPolicy,
        *,
        guard: URLGuard | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> Fetcher:
        """A fetcher owning a client from ``make_client`` (closed by ``aclose``).

        ``sleep`` and ``rng`` are the backoff's clock and dice, injectable for tests.
        """
        guard = guard or policy.guard()
        client = make_client(policy, guard=guard)
        fetcher = cls(client, policy, guard=guard, sleep=sleep, rng=rng)
        fetcher._owns_client = True
        return fetcher

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
        truncate: bool = True,
    ) -> FetchResult:
        """GET ``url`` within the policy; raises only ``IngestError`` subclasses.

        ``etag``/``last_modified`` are the validators stored from the previous fetch; they are
        sent on every hop because they came from the final response of this same chain.
        ``truncate=False`` raises ``TooLarge`` instead of returning a prefix.
        """
        started = time.monotonic()
        headers = {"Accept": accept, "User-Agent": self.policy.user_agent}
        headers["Accept-Encoding"] = ACCEPT_ENCODING
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = started + self.policy.deadline_s
        try:
            async with asyncio.timeout(self.policy.deadline_s):
                return await self._with_retries(url, headers, truncate, started, deadline)
        except TimeoutError as exc:
            log.warning(
                "fetch deadline url=%s deadline_s=%s", redact_url(url), self.policy.deadline_s
            )
            raise FetchTimeout(
                f"deadline of {self.policy.deadline_s:g}s exceeded", url=url
            ) from exc

    async def _with_retries(
        self, url: str, headers: dict[str, str], truncate: bool, started: float, deadline: float
    ) -> FetchResult:
        for attempt in range(1, self.policy.retries + 2):
            try:
                return await self._follow(url, headers, truncate, started, attempt)
            except _Retry as retry:
                delay = retry_delay(self.policy, retry.retry_after, attempt, deadline, self._rng)
                if delay is None:
                    raise retry.error from retry.__cause__
                log.info(
                    "fetch retry url=%s attempt=%d error=%s delay_s=%.2f",
                    redact_url(url),
                    attempt,
                    retry.error,
                    delay,
                    extra={"url": redact_url(url), "attempt": attempt, "delay_s": delay},
                )
                await self._sleep(delay)
        raise AssertionError("unreachable: the last attempt raises")

    async def _follow(
        self, url: str, headers: dict[str, str], truncate: bool, started: float, attempt: int
    ) -> FetchResult:
        """Follow redirects by hand, guarding and counting every hop."""
        current, seen = url, {url}
        hops: list[str] = []
        while True:
            await self.guard.check_url(current)
            hop = await self._request(current, headers, truncate, attempt)
            if hop.status not in REDIRECT_STATUSES:
                return self._result(url, hop, tuple(hops), started, attempt, headers)
            location = hop.headers.get("location", "").strip()
            if not location:
                raise HTTPStatusError(
                    f"HTTP {hop.status} without Location", url=current, status=hop.status
                )
            target = urljoin(current, location)
            if len(hops) >= self.policy.max_redirects:
                raise TooManyRedirects(f"more than {self.policy.max_redirects} redirects", url=url)
            if target in seen:
                raise TooManyRedirects(f"redirect loop at {redact_url(target)}", url=url)
            hops.append(current)
            seen.add(target)
            current = target

    def _result(
        self,
        url: str,
        hop: _Hop,
        hops: tuple[str, ...],
        started: float,
        attempt: int,
        sent: dict[str, str],
    ) -> FetchResult:
        not_modified = hop.status == 304
        return FetchResult(
            url=url,
            final_url=hop.url,
            status=hop.status,
            headers=hop.headers,
            content=hop.content,
            etag=hop.headers.get("etag") or (sent.get("If-None-Match") if not_modified else None),
            last_modified=hop.headers.get("last-modified")
            or (sent.get("If-Modified-Since") if not_modified else None),
            not_modified=not_modified,
            truncated=hop.truncated,
            elapsed_s=time.monotonic() - started,
            attempts=attempt,
            redirects=hops,
        )

    async def _request(
        self, url: str, headers: dict[str, str], truncate: bool, attempt: int
    ) -> _Hop:
        """One GET under the concurrency limits; translates every httpx error."""
        host = urlsplit(url).hostname or ""
        t0 = time.monotonic()
        async with self._limiter.slot(host):
            try:
                hop = await self._send(url, headers, truncate)
            except httpx.TimeoutException as exc:
                self._log(url, None, 0, t0, attempt, error=exc)
                raise _Retry(FetchTimeout(f"timed out: {type(exc).__name__}", url=url)) from exc
            except httpx.UnsupportedProtocol as exc:
                raise FetchError(f"unsupported protocol: {exc}", url=url) from exc
            except httpx.TransportError as exc:
                self._log(url, None, 0, t0, attempt, error=exc)
                raise _Retry(FetchError(f"{type(exc).__name__}: {exc}", url=url)) from exc
            except (httpx.HTTPError, httpx.InvalidURL, zlib.error, brotli.error) as exc:
                raise FetchError(f"{type(exc).__name__}: {exc}", url=url) from exc
            except (UnicodeError, ValueError) as exc:  # e.g. a stored ETag that is not ASCII
                raise FetchError(f"invalid request: {exc}", url=url) from exc
        self._log(url, hop.status, len(hop.content), t0, attempt)
        self._raise_for_status(hop)
        return hop

    async def _send(self, url: str, headers: dict[str, str], truncate: bool) -> _Hop:
        async with self._client.stream("GET", url, headers=headers) as response:
            status, resp_headers = response.status_code, _header_dict(response.headers)
            if status >= 300:  # redirects, 304 and errors: the body is never needed
                return _Hop(url, status, resp_headers)
            content, truncated = await read_capped(response, url, self.policy.max_bytes, truncate)
            return _Hop(url, status, resp_headers, content, truncated)

    def _raise_for_status(self, hop: _Hop) -> None:
        if hop.status < 400 and (hop.status < 300 or hop.status in (304, *REDIRECT_STATUSES)):
            return
        error = HTTPStatusError(f"HTTP {hop.status}", url=hop.url, status=hop.status)
        if hop.status in RETRY_STATUSES:
            retry_after = parse_retry_after(hop.headers.get("retry-after"))
            error.retry_after = retry_after
            raise _Retry(error, retry_after)
        raise error

    def _log(
        self,
        url: str,
        status: int | None,
        size: int,
        t0: float,
        attempt: int,
        *,
        error: BaseException | None = None,
    ) -> None:
        elapsed = time.monotonic() - t0
        safe = redact_url(url)
        fields = {"url": safe, "status": status, "bytes": size, "elapsed_s": round(elapsed, 3)}
        fields["attempt"] = attempt
        if error is not None:
            log.info(
                "fetch url=%s error=%s elapsed_s=%.3f attempt=%d",
                safe,
                type(error).__name__,
                elapsed,
                attempt,
                extra=fields,
            )
            return
        log.info(
            "fetch url=%s status=%s bytes=%d elapsed_s=%.3f attempt=%d",
            safe,
            status,
            size,
            elapsed,
            attempt,
            extra=fields,
        )
