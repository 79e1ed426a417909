"""Network streams whose idle check is one ``poll()``: ``PolledBackend`` wraps a backend.

httpcore's connection pool asks every connection it holds, each time a request starts or ends,
whether it has expired; for an idle HTTP/1.1 connection that means "is the socket readable?"
(a readable idle socket is a server that hung up). Through anyio's stream that question builds
the stream's whole attribute table (a ``getpeername`` system call among it) before the
``poll``: with twenty connections kept alive it was dozens of system calls a request and
about a fifth of the fetching process's CPU in a feed cycle (encode/httpcore#928 asks the
pool to poll less). Here the socket is looked up once, when the connection opens, and the
question is one ``poll`` on it: the same answer, as httpcore itself computes it.
"""

from __future__ import annotations

import select
import ssl
import typing

import httpcore


class PolledStream(httpcore.AsyncNetworkStream):
    """``inner`` with a cheap ``is_readable``; everything else is passed through."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        # asyncio hands out a ``TransportSocket`` (a view of the socket), not the socket itself
        found = inner.get_extra_info("socket")
        self._socket: _HasFileno | None = found if hasattr(found, "fileno") else None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return PolledStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable" and self._socket is not None:
            return readable(self._socket)
        return self._inner.get_extra_info(info)


class _HasFileno(typing.Protocol):
    def fileno(self) -> int: ...


def readable(sock: _HasFileno) -> bool:
    """Whether a read would return at once (data, or the end of a closed connection); a
    socket already closed counts as readable, as in httpcore."""
    descriptor = sock.fileno()
    if descriptor < 0:
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(0))


class PolledBackend(httpcore.AsyncNetworkBackend):
    """Opens connections through ``inner`` and hands out ``PolledStream``s."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return PolledStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return PolledStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
