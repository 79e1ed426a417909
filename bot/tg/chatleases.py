"""A delivery worker's side of the chat locks it shares with other processes (``db.chatlocks``).

Who the worker is (``holder``: ``WORKER_ID``, or host, pid and a random tag), how long its locks
last, and the calls it makes: take chats to serve, renew them while serving, claim a message's
rows under the chat's send lock, let go. Every call goes through the worker's own database
thread (``Sender._db``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from bot.settings import Settings
from db import chatlocks, sending
from db.tables.delivery import SEND, SERVE

SEND_LOCK_WAIT_S = 0.2  # between tries while another process's message is in flight in a chat

RunInDb = Callable[[Callable[..., Any]], Awaitable[Any]]


class ChatLeases:
    """See the module docstring."""

    def __init__(self, settings: Settings, db: RunInDb, clock: Callable[[], datetime]) -> None:
        self.holder = settings.worker_id or (
            f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"
        )
        self.lease_s = settings.delivery_lease_s
        self._db = db
        self._clock = clock

    async def take(self, chat_pks: Iterable[int], kind: str = SERVE) -> set[int]:
        """The chats among ``chat_pks`` whose ``kind`` lock this worker holds now (``serve``:
        the chats it may serve)."""
        taken: set[int] = await self._db(
            partial(
                chatlocks.take,
                kind=kind,
                holder=self.holder,
                chat_pks=list(chat_pks),
                now=self._clock(),
                lease_s=self.lease_s,
            )
        )
        return taken

    async def renew(self) -> None:
        """Keep every lock this worker holds: a message waiting out a flood limit in flight
        keeps its send lock too."""
        for kind in (SERVE, SEND):
            await self._db(
                partial(
                    chatlocks.renew,
                    kind=kind,
                    holder=self.holder,
                    now=self._clock(),
                    lease_s=self.lease_s,
                )
            )

    async def claim(self, chat_pk: int, ids: Sequence[int], known: int) -> sending.Claimed:
        """Claim the rows under the chat's locks, waiting while another process's message is
        in flight in the chat (a reply takes a moment; a dead worker's lock runs out within
        the lease)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lease_s
        while True:
            got: sending.Claimed = await self._db(
                partial(
                    sending.claim_in_chat,
                    delivery_ids=list(ids),
                    chat_pk=chat_pk,
                    holder=self.holder,
                    lease_s=self.lease_s,
                    probe_after=known,
                    now=self._clock(),
                )
            )
            if not got.busy or loop.time() >= deadline:
                return got
            await asyncio.sleep(SEND_LOCK_WAIT_S)

    async def let_go(self, kind: str, chat_pks: Sequence[int] | None = None) -> None:
        """Release this worker's ``kind`` locks (of ``chat_pks``, or all)."""
        await self._db(partial(chatlocks.release, kind=kind, holder=self.holder, chat_pks=chat_pks))
