"""Bounded concurrency, overall and per host, so twenty feeds on one site do not hammer it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class HostLimiter:
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
