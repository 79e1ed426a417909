"""The one exception tree of the ingestion layer.

Callers (the pipeline, the CLI) catch ``IngestError`` to mean "this source failed this time" and
never see an ``httpx``, ``feedparser`` or ``lxml`` exception: every adapter translates at its edge,
so the layers above need not import the libraries below. ``IngestError`` is itself a
``bot.errors.SanctionsBotError``, the project's one root.

Hierarchy::

    IngestError
    ├── BlockedURL            the address guard refused a URL (scheme, credentials, address)
    ├── FetchError            the fetch failed; ``.url`` says which URL (keyword-only context)
    │   ├── HTTPStatusError   final status was an error (``.status``, ``.retry_after``)
    │   ├── TooLarge          body over the byte cap and the caller asked not to truncate
    │   ├── FetchTimeout      a network timeout or the total deadline expired
    │   └── TooManyRedirects  more than ``max_redirects`` hops (or a redirect loop)
    ├── FeedError             the bytes are not a readable feed (``.reason``, ``.discovered``)
    └── ExtractError          no usable article text in a page (``.reason``)

A plain ``FetchError`` is a connection-level failure (refused, reset, TLS, protocol error).
``BlockedURL`` is deliberately *not* a ``FetchError``: retrying or backing off never helps, and a
monitor should tell the user the URL is refused rather than "temporarily failing".
"""

from __future__ import annotations

from bot.errors import SanctionsBotError

__all__ = [
    "BlockedURL",
    "ExtractError",
    "FeedError",
    "FetchError",
    "FetchTimeout",
    "HTTPStatusError",
    "IngestError",
    "TooLarge",
    "TooManyRedirects",
]


class IngestError(SanctionsBotError):
    """Root of every error raised by ``bot.ingest``."""


class BlockedURL(IngestError):
    """The URL may not be fetched: bad scheme, credentials, or a non-public address."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class FetchError(IngestError):
    """Fetching ``url`` failed at the network level (connection refused, reset, TLS...)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class HTTPStatusError(FetchError):
    """The server answered with an error status (after any retries).

    ``retry_after`` carries the server's ``Retry-After`` in seconds when it asked for a longer
    pause than we are willing to sleep inline, so a scheduler can back off that long.
    """

    def __init__(
        self, message: str, *, url: str, status: int, retry_after: float | None = None
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after


class TooLarge(FetchError):
    """The body exceeded the byte cap and truncation was not acceptable to the caller."""


class FetchTimeout(FetchError):
    """A connect/read timeout, or the total deadline of one ``fetch`` call, expired."""


class TooManyRedirects(FetchError):
    """The redirect chain was longer than allowed, or looped."""


class FeedError(IngestError):
    """The bytes are not a feed we can read.

    ``discovered`` lists feed URLs advertised by an HTML page (``<link rel=alternate>``), so the
    caller can suggest "did you mean one of these feeds?".
    """

    def __init__(self, reason: str, *, discovered: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.discovered = discovered


class ExtractError(IngestError):
    """No usable article text could be extracted; the caller falls back to the feed summary."""

    def __init__(self, reason: str, *, url: str | None = None) -> None:
        super().__init__(reason if url is None else f"{reason} ({url})")
        self.reason = reason
        self.url = url
