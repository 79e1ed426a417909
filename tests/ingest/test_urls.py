"""canonical_url / url_identity / resolve_link golden cases."""

from __future__ import annotations

import pytest

from bot.ingest.urls import canonical_url, resolve_link, url_identity

CANONICAL = [
    # case, scheme/host, default port, fragment
    ("HTTPS://News.Example.COM:443/World/Story#comments", "https://news.example.com/World/Story"),
    ("http://news.example.com:80/a", "http://news.example.com/a"),
    ("https://news.example.com:8443/a", "https://news.example.com:8443/a"),
    # tracking parameters go, the rest is sorted, flags stay flags
    ("https://x.example/a?utm_source=rss&utm_medium=feed&id=7", "https://x.example/a?id=7"),
    ("https://x.example/a?fbclid=IwAR0&gclid=abc&mc_cid=1&mc_eid=2", "https://x.example/a"),
    (
        "https://x.example/a?ref=home&cmpid=x&ocid=y&at_medium=rss&at_campaign=z",
        "https://x.example/a",
    ),
    ("https://x.example/a?b=2&a=1&ns_source=x", "https://x.example/a?a=1&b=2"),
    ("https://x.example/a?print&page=2", "https://x.example/a?page=2&print"),
    # AMP variants
    ("https://x.example/news/story/amp", "https://x.example/news/story"),
    ("https://x.example/amp/news/story", "https://x.example/news/story"),
    ("https://x.example/news/story/amp/", "https://x.example/news/story"),
    ("https://x.example/news/story?amp", "https://x.example/news/story"),
    ("https://x.example/news/story?amp=1", "https://x.example/news/story"),
    ("https://x.example/news/story?outputType=amp", "https://x.example/news/story"),
    ("https://amp.x.example/news/story", "https://x.example/news/story"),
    ("https://x.example/news/story.amp.html", "https://x.example/news/story.html"),
    (
        "https://www-x-example.cdn.ampproject.org/c/s/www.x.example/news/story/amp/",
        "https://www.x.example/news/story",
    ),
    # trailing slash, index files, dot segments, percent-encoding
    ("https://x.example/news/", "https://x.example/news"),
    ("https://x.example", "https://x.example/"),
    ("https://x.example/news/index.html", "https://x.example/news"),
    ("https://x.example/a//b", "https://x.example/a/b"),
    ("https://x.example/%7Euser/caf%c3%a9", "https://x.example/~user/caf%C3%A9"),
    ("https://x.example/über", "https://x.example/%C3%BCber"),
    ("https://Bücher.example/a", "https://xn--bcher-kva.example/a"),
    # not http(s): left alone
    ("mailto:desk@x.example", "mailto:desk@x.example"),
    ("  https://x.example/a  ", "https://x.example/a"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # idempotent


def test_identity_folds_scheme_www_mobile_and_amp() -> None:
    variants = [
        "https://www.x.example/news/story",
        "http://x.example/news/story/",
        "https://m.x.example/news/story?utm_source=twitter#top",
        "https://amp.x.example/news/story/amp",
        "https://x.example/news/story?outputType=amp",
        "http://www.x.example:80/news/story/index.html",
    ]
    assert len({url_identity(v) for v in variants}) == 1
    assert url_identity("https://x.example/news/story?id=1") != url_identity(
        "https://x.example/news/story?id=2"
    )
    assert url_identity("https://x.example/a") != url_identity("https://y.example/a")


@pytest.mark.parametrize(
    ("base", "href", "expected"),
    [
        ("https://x.example/a/b", "c", "https://x.example/a/c"),
        ("https://x.example/a/b", "../c?q=1#frag", "https://x.example/c?q=1"),
        ("https://x.example/a/b", "//cdn.example/i", "https://cdn.example/i"),
        ("https://x.example/a/b", "  https://y.example/z ", "https://y.example/z"),
        ("https://x.example/a/b", "javascript:alert(1)", None),
        ("https://x.example/a/b", "mailto:a@b.c", None),
        ("https://x.example/a/b", "#top", None),
        ("https://x.example/a/b", "", None),
        (None, "/relative", None),
        (None, "https://x.example/abs", "https://x.example/abs"),
        ("https://x.example/", "ftp://x.example/file", None),
        ("https://x.example/", "http://[bad", None),
    ],
)
def test_resolve_link(base: str | None, href: str, expected: str | None) -> None:
    assert resolve_link(base, href) == expected
