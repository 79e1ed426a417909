"""The exception tree is the contract with the pipeline: pin its shape."""

from __future__ import annotations

import pytest

from bot.ingest import errors


def test_one_root_and_the_documented_hierarchy() -> None:
    fetch_errors = (
        errors.HTTPStatusError,
        errors.TooLarge,
        errors.FetchTimeout,
        errors.TooManyRedirects,
    )
    for cls in fetch_errors:
        assert issubclass(cls, errors.FetchError)
    for cls in (errors.BlockedURL, errors.FetchError, errors.FeedError, errors.ExtractError):
        assert issubclass(cls, errors.IngestError)
    assert not issubclass(errors.BlockedURL, errors.FetchError)  # never retried
    for name in errors.__all__:
        assert name in (errors.__doc__ or "")


def test_context_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        errors.FetchError("boom", "https://x.example/")  # type: ignore[misc]
    error = errors.HTTPStatusError("HTTP 503", url="https://x.example/", status=503, retry_after=9)
    assert (error.url, error.status, error.retry_after, str(error)) == (
        "https://x.example/",
        503,
        9,
        "HTTP 503",
    )
    feed = errors.FeedError("HTML page, not a feed", discovered=("https://x.example/rss",))
    assert feed.reason == str(feed) and feed.discovered == ("https://x.example/rss",)
    extract = errors.ExtractError("no main text found", url="https://x.example/a")
    assert extract.reason == "no main text found" and "x.example" in str(extract)
