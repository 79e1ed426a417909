"""The idle check of pooled connections: one poll, the same answers as httpcore's own."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpcore
import pytest

from bot.ingest import netstream
from bot.ingest.fetchtypes import FetchPolicy
from bot.ingest.http import Fetcher
from bot.ingest.netstream import PolledStream


class _Inner(httpcore.AsyncNetworkStream):
    def __init__(self, sock: Any) -> None:
        self.sock = sock

    def get_extra_info(self, info: str) -> Any:
        return self.sock if info == "socket" else f"inner {info}"


def test_readable_when_data_or_the_end_is_waiting_not_before() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        stream = PolledStream(_Inner(ours))
        assert stream.get_extra_info("is_readable") is False
        assert stream.get_extra_info("server_addr") == "inner server_addr"  # passed through
        theirs.sendall(b"x")
        assert stream.get_extra_info("is_readable") is True
        ours.recv(1)
        theirs.close()  # the server hung up: the end is waiting
        assert stream.get_extra_info("is_readable") is True
    assert stream.get_extra_info("is_readable") is True  # a closed socket counts as readable


async def _close_after_each_answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """HTTP/1.1 without ``Connection: close``, then the connection is closed anyway (what a
    server does when its keep-alive timeout runs out between two of our requests)."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
    await writer.drain()
    writer.close()


async def test_a_connection_the_server_closed_is_not_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[bool] = []

    def spy(sock: Any) -> bool:
        checks.append(answer := readable(sock))
        return answer

    readable = netstream.readable
    monkeypatch.setattr(netstream, "readable", spy)
    server = await asyncio.start_server(_close_after_each_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    policy = FetchPolicy(timeout_s=2.0, deadline_s=5.0, allow_private=True, retries=0)
    async with server, Fetcher.create(policy) as fetcher:
        first = await fetcher.fetch(f"http://127.0.0.1:{port}/a")
        await asyncio.sleep(0.1)  # the close reaches us
        second = await fetcher.fetch(f"http://127.0.0.1:{port}/b")
    assert first.content == second.content == b"ok"
    assert second.attempts == 1  # no retry: the dead connection was dropped, not written to
    assert True in checks
