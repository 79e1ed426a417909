"""The address guard on literal addresses, odd spellings and injected resolvers (no DNS mocking)."""

from __future__ import annotations

import ipaddress

import pytest

from bot.ingest.errors import BlockedURL, FetchError
from bot.ingest.urlguard import URLGuard, address_problem, check_url

BLOCKED_LITERALS = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.8.9.10:8080/feed", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://10.0.0.5/", "private"),
    ("http://172.16.3.4/", "private"),
    ("http://192.168.1.1/rss", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://100.127.255.254/", "carrier-grade NAT"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "broadcast-or-reserved"),
    ("http://192.0.2.10/", "documentation"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped link-local"),
    ("http://[::ffff:10.1.2.3]/", "IPv4-mapped private"),
    ("http://[64:ff9b::7f00:1]/", "NAT64 loopback"),
    ("http://[2002:a00:1::]/", "6to4 private"),
]


@pytest.mark.parametrize(("url", "why"), BLOCKED_LITERALS)
async def test_non_public_literals_are_refused(url: str, why: str) -> None:
    with pytest.raises(BlockedURL) as info:
        await check_url(url)
    assert info.value.url == url
    first_word = why.split()[0]
    if first_word not in ("broadcast-or-reserved", "documentation"):
        assert first_word in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # decimal 127.0.0.1
        "http://0x7f.1/",  # hex + short form
        "http://0x7f000001/",
        "http://0177.0.0.1/",  # octal
        "http://127.1/",  # short form
        "http://017700000001/",
        "http://3232235777/",  # 192.168.1.1
    ],
)
async def test_legacy_numeric_ipv4_spellings_are_always_refused(url: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(BlockedURL, match=r"ambiguous numeric|Invalid IPv4"):
            await check_url(url, allow_private=allow_private)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/feed", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://example.com/", "scheme"),
        ("http://user:secret@example.com/feed", "credentials"),
        ("http://user@example.com/feed", "credentials"),
        ("http:///nohost", "no host"),
        ("http://exa mple.com/", "invalid host name"),
        ("http://-bad-.example/", "invalid host name"),
    ],
)
async def test_scheme_credentials_and_host_rules(url: str, message: str) -> None:
    with pytest.raises(BlockedURL, match=message):
        await check_url(url, allow_private=True)


async def test_public_literal_is_allowed_without_dns() -> None:
    checked = await check_url("https://93.184.216.34/feed.xml")
    assert checked.addresses == ("93.184.216.34",)
    assert checked.port == 443


async def test_allow_private_lifts_address_rules() -> None:
    for url in ("http://127.0.0.1:8080/", "http://169.254.169.254/", "http://[::1]/"):
        checked = await check_url(url, allow_private=True)
        assert checked.addresses == ()


def static_resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


async def test_public_looking_name_resolving_to_private_is_refused() -> None:
    guard = URLGuard(
        resolver=static_resolver(
            {
                "news.example": ["93.184.216.34"],
                "intranet.example": ["10.0.0.7"],
                "metadata.example": ["169.254.169.254"],
                "mixed.example": ["93.184.216.34", "127.0.0.1"],
                "mapped.example": ["::ffff:127.0.0.1"],
            }
        )
    )
    assert (await guard.check_url("https://news.example/rss")).addresses == ("93.184.216.34",)
    for host in ("intranet", "metadata", "mixed", "mapped"):
        with pytest.raises(BlockedURL, match="refused"):
            await guard.check_url(f"https://{host}.example/rss")


async def test_resolution_failure_is_a_fetch_error_not_a_block() -> None:
    guard = URLGuard(resolver=static_resolver({}))
    with pytest.raises(FetchError, match="cannot resolve"):
        await guard.check_url("https://nowhere.example/")


async def test_allow_hosts_exempts_only_the_named_host() -> None:
    guard = URLGuard(allow_hosts={"localhost"}, resolver=static_resolver({}))
    checked = await guard.check_url("http://localhost:8080/feed")
    assert checked.addresses == ()
    with pytest.raises(BlockedURL):
        await guard.check_url("http://127.0.0.1:8080/feed")


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_have_no_problem(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None
