"""The one shared HTTP client, whose connections open only through the URL guard.

One client, created once and injected, so connections and HTTP/2 sessions are reused across
feeds; tests pass their own.
"""

from __future__ import annotations

import httpcore
import httpx

from .fetchtypes import FetchPolicy
from .netstream import PolledBackend
from .urlguard import GuardedNetworkBackend, URLGuard

ACCEPT_ENCODING = "gzip, deflate, br"  # exactly what ``body.BoundedDecoder`` can decode


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx transport whose connection pool opens sockets only through the URL guard, and
    whose idle connections answer "did the server hang up?" with one ``poll`` (``netstream``).

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
            network_backend=GuardedNetworkBackend(guard, PolledBackend(httpcore.AnyIOBackend())),
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
