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

Logs go to ``bot.ingest.http`` with url (query secrets masked), status, bytes, elapsed, attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import brotli  # type: ignore[import-untyped]
import httpcore
import httpx

from .errors import (
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    IngestError,
    TooLarge,
    TooManyRedirects,
)
from .urlguard import GuardedNetworkBackend, URLGuard

if TYPE_CHECKING:
    from bot.settings import Settings

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
ACCEPT_ENCODING = "gzip, deflate, br"  # exactly what _BoundedDecoder can decode
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SECRET_PARAMS = ("token", "key", "secret", "password", "passwd", "auth", "sig", "session")


@dataclass(frozen=True)
class FetchPolicy:
    """Every limit of the fetcher, in one immutable value built once from ``Settings``."""

    timeout_s: float = 20.0  # each network operation: connect, each read, each write
    deadline_s: float = 60.0  # the whole fetch(): all attempts, hops, sleeps and the body
    max_bytes: int = 5 * 1024 * 1024  # decoded body cap
    max_redirects: int = 5
    user_agent: str = "sanctions-bot/0.1 (news monitoring)"
    max_connections: int = 20
    max_per_host: int = 2  # keyed by host name; all ports of a host share it
    retries: int = 3  # extra attempts after the first
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    retry_after_cap_s: float = 120.0  # longer Retry-After: give up, report it to the caller
    allow_private: bool = False
    allow_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        """The policy the running bot uses (``ALLOW_PRIVATE_URLS`` and friends)."""
        return cls(
            timeout_s=settings.fetch_timeout_s,
            deadline_s=max(3 * settings.fetch_timeout_s, 30.0),
            max_bytes=settings.max_response_bytes,
            max_redirects=settings.max_redirects,
            user_agent=settings.user_agent,
            max_connections=settings.max_connections,
            max_per_host=settings.max_connections_per_host,
            allow_private=settings.allow_private_urls,
        )

    def guard(self) -> URLGuard:
        """A guard with this policy's address rules and the system resolver."""
        return URLGuard(allow_private=self.allow_private, allow_hosts=self.allow_hosts)


@dataclass(frozen=True)
class FetchResult:
    """What one fetch produced. ``content`` is decoded (no gzip/br) and at most ``max_bytes``."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    etag: str | None
    last_modified: str | None
    not_modified: bool
    truncated: bool
    elapsed_s: float
    attempts: int = 1
    redirects: tuple[str, ...] = field(default=())  # the hops before final_url

    @property
    def content_type(self) -> str:
        """Media type without parameters, lower-cased ('' when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, if the server sent one."""
        for param in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip(" \"'"):
                return value.strip(" \"'")
        return None


def quiet_http_logs() -> None:
    """Silence httpx/httpcore below WARNING: they log every URL at INFO, query secrets included."""
    for name in ("httpx", "httpcore", "hpack", "h2"):
        logging.getLogger(name).setLevel(logging.WARNING)


def redact_url(url: str) -> str:
    """The URL without credentials and with secret-looking query values masked, for logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc.rpartition("@")[2]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    masked = [(k, "***" if any(s in k.lower() for s in SECRET_PARAMS) else v) for k, v in pairs]
    query = urlencode(masked) if masked else parts.query
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx transport whose connection pool opens sockets only through the URL guard.

    httpx 0.28 exposes no ``network_backend`` argument, so we replace the pool it built with an
    identical one that has our ``GuardedNetworkBackend`` (``_pool`` is the only attribute
    ``handle_async_request`` uses; httpx is pinned, and a test proves the pinning works).
    """

    def __init__(self, guard: URLGuard, policy: FetchPolicy) -> None:
        limits = _limits(policy)
        super().__init__(http2=True, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=True,
            network_backend=GuardedNetworkBackend(guard),
        )


def _limits(policy: FetchPolicy) -> httpx.Limits:
    return httpx.Limits(
        max_connections=policy.max_connections,
        max_keepalive_connections=policy.max_connections,
        keepalive_expiry=30.0,
    )


def make_client(policy: FetchPolicy, *, guard: URLGuard | None = None) -> httpx.AsyncClient:
    """The one shared client: HTTP/2, gzip/br, no automatic redirects, no proxies from env.

    ``trust_env=False``: an environment proxy would make the guard check the proxy's address
    instead of the target's, and ``.netrc`` credentials must never be sent to feed servers.
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(guard or policy.guard(), policy),
        timeout=httpx.Timeout(policy.timeout_s),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
    )


class _BoundedDecoder:
    """Content-Encoding decoder that never produces more than asked for in one call."""

    def __init__(self, encoding: str, url: str) -> None:
        self.encoding = encoding.strip().lower()
        self._zlib: zlib._Decompress | None = None
        self._brotli: brotli.Decompressor | None = None
        self._first = True
        if self.encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self.encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif self.encoding == "br":
            self._brotli = brotli.Decompressor()
        elif self.encoding not in ("", "identity"):
            raise FetchError(f"unsupported content-encoding {encoding!r}", url=url)

    def decode(self, data: bytes, room: int) -> bytes:
        """Decode ``data``, returning at most about ``room`` bytes (the rest is never produced)."""
        if self._zlib is not None:
            return self._inflate(data, room)
        if self._brotli is not None:
            return bytes(self._brotli.process(data, output_buffer_limit=room))
        return data[:room]

    def _inflate(self, data: bytes, room: int) -> bytes:
        assert self._zlib is not None
        first, self._first = self._first, False
        try:
            return self._zlib.decompress(data, room)
        except zlib.error:
            if first and self.encoding == "deflate":  # raw deflate without zlib header
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._zlib.decompress(data, room)
            raise


class _HostLimiter:
    """A global semaphore plus one semaphore per host, dropped when the host goes idle."""

    def __init__(self, overall: int, per_host: int) -> None:
        self._overall = asyncio.Semaphore(overall)
        self._per_host = per_host
        self._hosts: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Host first, then global: waiting on a busy host must not hold a global slot."""
        semaphore, users = self._hosts.setdefault(host, (asyncio.Semaphore(self._per_host), [0]))
        users[0] += 1
        try:
            async with semaphore, self._overall:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._hosts[host]


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


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


def _header_dict(headers: httpx.Headers) -> dict[str, str]:
    return {key: ", ".join(headers.get_list(key)) for key in headers.keys()}


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
        self._limiter = _HostLimiter(policy.max_connections, policy.max_per_host)

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
                delay = self._delay(retry, attempt, deadline)
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

    def _delay(self, retry: _Retry, attempt: int, deadline: float) -> float | None:
        """Seconds to sleep before the next attempt, or None when retrying is pointless.

        Pointless: attempts used up, a ``Retry-After`` beyond our cap, or a sleep that would run
        into the deadline (better to report the real error now than a timeout later).
        """
        policy = self.policy
        if attempt > policy.retries:
            return None
        if retry.retry_after is not None:
            if retry.retry_after > policy.retry_after_cap_s:
                return None
            delay = retry.retry_after
        else:  # full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]
            ceiling = min(policy.backoff_cap_s, policy.backoff_base_s * 2 ** (attempt - 1))
            delay = self._rng() * ceiling
        if time.monotonic() + delay >= deadline:
            return None
        return delay

    async def _follow(
        self, url: str, headers: dict[str, str], truncate: bool, started: float, attempt: int
    ) -> FetchResult:
        """Follow redirects by hand, guarding and counting every hop."""
        current, seen, hops = url, {url}, []
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
            content, truncated = await self._read_capped(response, url, truncate)
            return _Hop(url, status, resp_headers, content, truncated)

    async def _read_capped(
        self, response: httpx.Response, url: str, truncate: bool
    ) -> tuple[bytes, bool]:
        """Stream and decode the body, stopping at ``max_bytes`` (never buffering more)."""
        cap = self.policy.max_bytes
        declared = response.headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > cap:
            raise TooLarge(f"Content-Length {declared} exceeds {cap} bytes", url=url)
        decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), url)
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += decoder.decode(chunk, cap + 1 - len(body))
            if len(body) > cap:
                if not truncate:
                    raise TooLarge(f"body exceeds {cap} bytes", url=url)
                return bytes(body[:cap]), True
        return bytes(body), False

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
