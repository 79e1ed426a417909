"""Ingestion: fetch feeds and pages safely, parse feeds, extract article text, fingerprint stories.

Network and parsing adapters only (no database, no Telegram, no matching). Every failure is an
``IngestError`` (see ``bot.ingest.errors``); this module only re-exports the public API.
"""

from __future__ import annotations

from .errors import (
    BlockedURL,
    ExtractError,
    FeedError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    IngestError,
    TooLarge,
    TooManyRedirects,
)
from .extract import ExtractedArticle, extract_article
from .feeds import FeedItem, ParsedFeed, discover_feeds, parse_feed
from .fingerprint import hamming, resemblance, simhash64, similar
from .http import (
    FEED_ACCEPT,
    PAGE_ACCEPT,
    Fetcher,
    FetchPolicy,
    FetchResult,
    make_client,
    quiet_http_logs,
)
from .urlguard import CheckedURL, URLGuard, check_url
from .urls import canonical_url, resolve_link, url_identity

__all__ = [
    "FEED_ACCEPT",
    "PAGE_ACCEPT",
    "BlockedURL",
    "CheckedURL",
    "ExtractError",
    "ExtractedArticle",
    "FeedError",
    "FeedItem",
    "FetchError",
    "FetchPolicy",
    "FetchResult",
    "FetchTimeout",
    "Fetcher",
    "HTTPStatusError",
    "IngestError",
    "ParsedFeed",
    "TooLarge",
    "TooManyRedirects",
    "URLGuard",
    "canonical_url",
    "check_url",
    "discover_feeds",
    "extract_article",
    "hamming",
    "make_client",
    "parse_feed",
    "quiet_http_logs",
    "resemblance",
    "resolve_link",
    "simhash64",
    "similar",
    "url_identity",
]
