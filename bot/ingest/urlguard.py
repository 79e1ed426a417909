"""Decide whether a URL may be fetched, so user-supplied feed URLs cannot reach our own network.

The bot fetches URLs that chat users give it; without a guard, ``/watch http://169.254.169.254/``
would read the cloud metadata service and ``http://127.0.0.1:5432/`` would probe local services
(SSRF). Rules, applied to the first URL *and to every redirect hop*:

* only ``http``/``https``; no ``user:password@`` in the URL (it would end up in logs and headers);
* the host must resolve only to public unicast addresses: loopback, RFC 1918 / ``fc00::/7``,
  link-local (``169.254/16`` with the metadata address, ``fe80::/10``), unspecified, multicast,
  reserved, CGNAT ``100.64/10``, documentation ranges, and IPv6 forms that embed such an IPv4
  (``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are refused;
* legacy numeric IPv4 spellings (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``) are refused
  outright, even when private addresses are allowed: parsers disagree on what they mean, and no
  real feed is published under one.

``allow_private=True`` (setting ``ALLOW_PRIVATE_URLS``) lifts the address rules for development.
``allow_hosts`` exempts named hosts (an operator's internal feed proxy; the tests' ``localhost``):
an exempt host is not resolved by us, but a redirect from it to any other host is checked again.

DNS rebinding: a name can resolve to a public address when we check and to 127.0.0.1 a second
later when the HTTP library resolves it again. ``GuardedNetworkBackend`` closes that gap for the
clients built by ``bot.ingest.client.make_client``: httpcore asks *it* to open every TCP connection,
it resolves the name once, checks every address, and connects to those checked addresses itself
(TLS still verifies the certificate for the host name, which httpcore passes as SNI). The earlier
per-hop ``check_url`` then only gives clear errors early and covers injected clients whose
transport we do not control. All resolution goes through an injectable ``Resolver`` so tests can
exercise public-looking names and rebinding without touching real DNS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote

import httpcore
import httpx

from .errors import BlockedURL, FetchError, FetchTimeout, IngestError

__all__ = [
    "CheckedURL",
    "GuardedNetworkBackend",
    "Resolver",
    "URLGuard",
    "address_problem",
    "check_url",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``async (host, port) -> [address, ...]``: how names become addresses (injectable for tests)."""

ALLOWED_SCHEMES = frozenset({"http", "https"})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.IGNORECASE)
_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$")
_DOTTED_QUAD = re.compile(r"^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$")


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the event loop's ``getaddrinfo`` (a thread, so the loop is never blocked)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the translation forms."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if any(ip in net for net in _NAT64):
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it may be contacted.

    Pure function: the whole address policy in one place, testable on literals.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            kind, v4 = embedded
            inner = address_problem(v4)
            return f"{kind} {inner}" if inner else None
    checks: tuple[tuple[str, bool], ...] = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("carrier-grade NAT", isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not globally routable", not ip.is_global),
    )
    for label, hit in checks:
        if hit:
            return f"{label} address {ip}"
    return None


def _parse_ip_literal(host: str, url: str) -> IPAddress | None:
    """The address a host names literally; refuses legacy numeric IPv4 spellings."""
    host = host.strip("[]")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(unquote(host))
        except ValueError as exc:
            raise BlockedURL(f"unparseable IPv6 literal {host!r}", url=url) from exc
    if not _NUMERIC_HOST.match(host):
        return None
    if _DOTTED_QUAD.match(host.rstrip(".")):
        try:
            return ipaddress.IPv4Address(host.rstrip("."))
        except ValueError as exc:  # 999.1.1.1
            raise BlockedURL(f"invalid IPv4 address {host!r}", url=url) from exc
    raise BlockedURL(f"ambiguous numeric IPv4 spelling {host!r} refused", url=url)


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the guard; ``addresses`` are the checked ones (empty if not resolved)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


class URLGuard:
    """The address policy plus the resolver it uses; one per process, shared by all fetches."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allow_hosts: Iterable[str] = (),
        resolver: Resolver | None = None,
        resolve_timeout_s: float = 10.0,
    ) -> None:
        self.allow_private = allow_private
        self.allow_hosts = frozenset(h.lower().rstrip(".") for h in allow_hosts)
        self.resolver: Resolver = resolver or system_resolver
        self.resolve_timeout_s = resolve_timeout_s

    def exempt(self, host: str) -> bool:
        """True for hosts the operator listed in ``allow_hosts`` (never resolved nor checked)."""
        return host.lower().rstrip(".") in self.allow_hosts

    def check_syntax(self, url: str) -> tuple[str, str, int]:
        """Scheme, credentials and literal-address rules; no DNS. Returns (scheme, host, port)."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise BlockedURL(f"invalid URL: {exc}", url=url) from exc
        if parsed.scheme not in ALLOWED_SCHEMES:
            raise BlockedURL(f"scheme {parsed.scheme!r} not allowed (http/https only)", url=url)
        if parsed.userinfo:
            raise BlockedURL("credentials in URL not allowed", url=url)
        host = parsed.raw_host.decode("ascii").lower()
        if not host:
            raise BlockedURL("URL has no host", url=url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        literal = _parse_ip_literal(host, url)
        if literal is None and not _HOSTNAME.match(host):
            raise BlockedURL(f"invalid host name {host!r}", url=url)
        if literal is not None and not self.allow_private and not self.exempt(host):
            self._refuse_if_bad(literal, url)
        return parsed.scheme, host, port

    def _refuse_if_bad(self, ip: IPAddress, url: str) -> None:
        problem = address_problem(ip)
        if problem:
            raise BlockedURL(f"refused: {problem}", url=url)

    async def check_url(self, url: str) -> CheckedURL:
        """Syntax rules, then resolve the host and refuse it if *any* address is not public.

        Any, not all: a name answering both a public and a private address is how rebinding
        attacks hedge, and no legitimate news site needs that.
        """
        scheme, host, port = self.check_syntax(url)
        if self.allow_private or self.exempt(host):
            return CheckedURL(url, scheme, host, port, ())
        addresses = await self.resolve_checked(host, port, url=url)
        return CheckedURL(url, scheme, host, port, tuple(addresses))

    async def resolve_checked(self, host: str, port: int, *, url: str | None = None) -> list[str]:
        """Resolve ``host`` and return its addresses, all checked against the policy."""
        context = url or f"//{host}:{port}"
        literal = _parse_ip_literal(host, context)
        if literal is not None:
            addresses = [str(literal)]
        else:
            addresses = await self._resolve(host, port, context)
        if not self.allow_private:
            for address in addresses:
                self._refuse_if_bad(ipaddress.ip_address(address.split("%")[0]), context)
        return addresses

    async def _resolve(self, host: str, port: int, context: str) -> list[str]:
        try:
            async with asyncio.timeout(self.resolve_timeout_s):
                addresses = await self.resolver(host, port)
        except TimeoutError as exc:
            raise FetchTimeout(f"resolving {host} timed out", url=context) from exc
        except OSError as exc:
            raise FetchError(f"cannot resolve {host}: {exc}", url=context) from exc
        if not addresses:
            raise FetchError(f"{host} has no address", url=context)
        return addresses


async def check_url(url: str, *, allow_private: bool = False) -> CheckedURL:
    """One-off check with the system resolver (convenience for the CLI and tests)."""
    return await URLGuard(allow_private=allow_private).check_url(url)


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore backend that connects only to addresses the guard has just checked (pinning).

    httpcore calls ``connect_tcp(host, port)`` for every new connection; we resolve and check here
    and hand the inner backend an address, never the name, so nobody resolves the name again.
    Exempt hosts are passed through by name. Unix sockets are refused.
    """

    def __init__(self, guard: URLGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve + check, then try each checked address, IPv4 first.

        IPv4 first because we try addresses one after another (no happy eyeballs): on a host
        whose IPv6 route is broken, every IPv6 attempt would cost a full connect timeout.
        """
        host = host.strip("[]")
        if self._guard.exempt(host):
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        checked = await self._guard.resolve_checked(host, port)
        addresses = sorted(checked, key=lambda address: ":" in address)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None  # resolve_checked never returns an empty list
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: a unix socket is a local service by definition."""
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def refuse_blocked(url: str, *, allow_private: bool = False) -> None:
    """Raise ``BlockedURL`` now for a URL the fetcher would refuse at every poll.

    For commands that store a URL to fetch later (``feeds add``): a private or metadata
    address is refused when it is added, as ``scan`` refuses it. A host that does not resolve
    right now is accepted; polling reports it, since news sites do go away for an hour.
    """
    if not url.lower().startswith(("http://", "https://")):
        return  # not a fetchable URL at all: the caller's own validation says so
    try:
        await check_url(url, allow_private=allow_private)
    except BlockedURL:
        raise
    except IngestError:  # resolution failed or timed out: not a verdict on the address
        return
