"""Sending one outbox message and recording what became of it, looking for it when unsure.

The delivery worker (``bot.tg.delivery``, whose docstring explains the states, the chat lock
and the crash window) is a ``Sender``: it claims a message's rows, sends the message holding
the chat's lock, and marks the rows with Telegram's answer. An answer that leaves the outcome
unknown is resolved by ``probe``, which looks for the message in the chat before it is sent
again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import httpx
from telegram import InlineKeyboardMarkup, LinkPreviewOptions
from telegram import Message as SentMessage
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from bot.app import App
from bot.settings import Settings
from bot.tg.alertmessages import Message, compose
from bot.tg.deps import SessionWork
from bot.tg.markup import esc
from bot.tg.probe import PROBE_SPAN, find_message
from bot.tg.ratelimit import SendLimiter, retry_seconds
from db import chatlocks, chatrecords, inflight, sending
from db.engine import session_scope
from db.models import utcnow
from db.sending import Due
from db.tables.delivery import SEND

log = logging.getLogger("bot.tg.delivery")  # the delivery worker logs under one name

T = TypeVar("T")

BACKOFF_CAP_S = 600.0
SEND_LOCK_WAIT_S = 0.2  # between tries while another process's message is in flight in a chat
_SURELY_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Sender:
    """Claims, sends and marks one message at a time per chat (see ``bot.tg.delivery``)."""

    def __init__(
        self,
        *,
        app: App,
        bot: ExtBot[Any],
        limiter: SendLimiter,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.app = app
        self.bot = bot
        self.limiter = limiter
        self.settings = settings
        self.max_attempts = settings.delivery_max_attempts
        self.admin_chat_id = settings.admin_chat_id
        self.stats: Counter[str] = Counter()
        self._clock = clock
        self._rng = rng
        self._held: set[int] = set()  # delivery ids this process has in flight
        # who this worker is in the chat locks it shares with other processes (db.chatlocks)
        self.holder = settings.worker_id or (
            f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"
        )
        self.lease_s = settings.delivery_lease_s
        self._last_admin_notice = 0.0
        self._wake = asyncio.Event()  # set: the worker's loop looks for due rows at once
        # one thread: the worker's writes never wait for each other on SQLite's lock (its busy
        # handler sleeps in 10-100 ms steps, which would jitter the pace)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="delivery-db")

    async def _db(self, work: SessionWork[T], /) -> T:
        """Run ``work(session=...)`` (see ``Deps.db``) in the worker's own threads (never queued
        behind a handler's)."""

        def call() -> T:
            with session_scope(self.app.engine) as session:
                return work(session=session)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def wake(self) -> None:
        """Look for due rows now rather than at the next poll (e.g. after enqueueing)."""
        self._wake.set()

    def close(self) -> None:
        """Release the worker's database thread (the Application is shutting down)."""
        self._executor.shutdown(wait=False)

    # --- one message: claim, send, mark ----------------------------------------------------------

    async def _deliver(
        self,
        tg_chat_id: int,
        chat_type: str,
        rows: list[Due],
        alerts: list[dict[str, Any]],
        stored_id: int,
        digest: bool,
        total: int | None = None,
    ) -> bool:
        """Claim, send and mark one message. False when the chat should not be served further now."""
        by_alert = {r.alert_id: r for r in rows}
        try:
            message = compose(
                alerts, [by_alert[a["id"]].delivery_id for a in alerts], digest, total
            )
        except Exception as error:  # a rendering bug must not leave rows in flight
            log.exception("cannot render deliveries %s", [r.delivery_id for r in rows])
            await self._db(
                partial(
                    sending.mark_failed,
                    delivery_ids=[r.delivery_id for r in rows],
                    error=f"rendering failed: {error}",
                )
            )
            return True
        chat_pk = rows[0].chat_pk
        async with self.limiter.chat_lock(tg_chat_id):
            # Queue for the rate limits *before* claiming: a row is in flight only while its
            # request is, and between the slot and the request there is only the claim.
            await self.limiter.reserve(tg_chat_id)
            known = max(self.limiter.last_message_id(tg_chat_id) or 0, stored_id)
            got = await self._claim(chat_pk, message.delivery_ids, known)
            claimed = got.delivery_ids
            if not claimed:
                self.limiter.release(tg_chat_id)
                return not got.lost and not got.busy
            if tuple(claimed) != message.delivery_ids:  # some were dropped meanwhile
                keep = [a for a in alerts if by_alert[a["id"]].delivery_id in claimed]
                message = compose(keep, claimed, digest, total)
            self._held.update(claimed)
            try:
                return await self._send(tg_chat_id, chat_type, message, got.probe_after)
            finally:
                self._held.difference_update(claimed)
                await self._let_go(SEND, [chat_pk])

    async def _claim(self, chat_pk: int, ids: Sequence[int], known: int) -> sending.Claimed:
        """Claim the rows under the chat's locks (``db.chatlocks``), waiting while another
        process's message is in flight in the chat (a reply takes a moment, a dead worker's
        lock runs out within the lease)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lease_s
        while True:
            got = await self._db(
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

    async def _let_go(self, kind: str, chat_pks: Sequence[int] | None = None) -> None:
        """Release this worker's ``kind`` locks (of ``chat_pks``, or all)."""
        await self._db(partial(chatlocks.release, kind=kind, holder=self.holder, chat_pks=chat_pks))

    async def _send(
        self, tg_chat_id: int, chat_type: str, message: Message, probe_after: int
    ) -> bool:
        ids = list(message.delivery_ids)
        try:
            sent = await self._request(tg_chat_id, message)
        except RetryAfter as error:
            await self._retry_after(ids, error)
            return False
        except Forbidden as error:
            self.stats["forbidden"] += 1
            log.info("chat %s refuses messages (%s): subscription deactivated", tg_chat_id, error)
            await self._refused(tg_chat_id, ids, error)
            return False
        except ChatMigrated as error:
            await self._migrated(tg_chat_id, ids, error)
            return False
        except BadRequest as error:
            return await self._bad_request(tg_chat_id, ids, error)
        except InvalidToken:
            raise
        except (NetworkError, TelegramError) as error:
            return await self._uncertain(tg_chat_id, chat_type, message, probe_after, error)
        self.stats["sent"] += 1
        await self._mark_sent(ids, tg_chat_id, sent.message_id)
        return True

    async def _request(self, tg_chat_id: int, message: Message) -> SentMessage:
        return await self.bot.send_message(
            chat_id=tg_chat_id,
            text=message.text,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_markup=message.keyboard,
            rate_limit_args={"chat_locked": True},
        )

    async def _mark_sent(self, ids: Sequence[int], tg_chat_id: int, message_id: int) -> None:
        await self._db(
            partial(
                sending.mark_sent,
                delivery_ids=ids,
                tg_chat_id=tg_chat_id,
                message_id=message_id,
                now=self._clock(),
            )
        )

    # --- what Telegram's answer means ---------------------------------------------------------

    async def _retry_after(self, ids: list[int], error: RetryAfter) -> None:
        """429: the rows wait as long as Telegram asks."""
        wait = retry_seconds(error)
        self.stats["retry_after"] += 1
        await self._db(
            partial(
                sending.retry_later,
                delivery_ids=ids,
                due_at=self._clock() + timedelta(seconds=wait),
                error=f"429: retry after {wait:g} s",
            )
        )

    async def _refused(self, tg_chat_id: int, ids: list[int], error: Forbidden) -> None:
        """Forbidden (blocked, removed): the rows failed and the chat is deactivated."""
        await self._db(partial(sending.mark_failed, delivery_ids=ids, error=f"forbidden: {error}"))
        await self._db(
            partial(
                chatrecords.deactivate_chat,
                tg_chat_id=tg_chat_id,
                reason=f"forbidden: {error}"[:256],
            )
        )

    async def _migrated(self, tg_chat_id: int, ids: list[int], error: ChatMigrated) -> None:
        """The group became a supergroup: move the chat, and send the rows there at once."""
        self.stats["migrated"] += 1
        log.info("chat %s became supergroup %s: moving it", tg_chat_id, error.new_chat_id)
        await self._db(
            partial(
                sending.retry_later,
                delivery_ids=ids,
                due_at=self._clock(),
                error="chat migrated",
            )
        )
        await self._db(
            partial(chatrecords.migrate_chat, old_id=tg_chat_id, new_id=error.new_chat_id)
        )
        self.wake()

    async def _bad_request(self, tg_chat_id: int, ids: list[int], error: BadRequest) -> bool:
        text = str(error).lower()
        if "chat not found" in text or "bot was kicked" in text or "not enough rights" in text:
            await self._db(
                partial(sending.mark_failed, delivery_ids=ids, error=f"bad request: {error}")
            )
            await self._db(
                partial(chatrecords.deactivate_chat, tg_chat_id=tg_chat_id, reason=str(error)[:256])
            )
            return False
        # Anything else is our message's fault (markup, length): retrying cannot help.
        self.stats["failed"] += 1
        log.error(
            "Telegram refused the message for deliveries %s in chat %s: %s", ids, tg_chat_id, error
        )
        await self._db(
            partial(sending.mark_failed, delivery_ids=ids, error=f"bad request: {error}")
        )
        await self._notify_admin(
            f"⚠️ Telegram refused an alert message (deliveries {ids}): {esc(error)}"
        )
        return True

    async def _uncertain(
        self,
        tg_chat_id: int,
        chat_type: str,
        message: Message,
        probe_after: int,
        error: TelegramError,
    ) -> bool:
        """The send may or may not have happened: look for the message before sending again."""
        self.stats["uncertain"] += 1
        ids = list(message.delivery_ids)
        if isinstance(error.__cause__, _SURELY_NOT_SENT):
            found = None
        else:
            try:
                found = await self.probe(tg_chat_id, chat_type, probe_after, message.keyboard)
            except TelegramError as probe_error:
                log.warning(
                    "cannot check whether deliveries %s reached chat %s (%s); left in flight",
                    ids,
                    tg_chat_id,
                    probe_error,
                )
                return False  # stays "sending": the orphan check reconciles it later
        if found is not None:
            self.stats["recovered"] += 1
            log.info(
                "deliveries %s did reach chat %s as message %s despite %s",
                ids,
                tg_chat_id,
                found,
                error,
            )
            await self._mark_sent(ids, tg_chat_id, found)
            return True
        await self._retry_or_fail(ids, f"{type(error).__name__}: {error}")
        return False

    async def _retry_or_fail(self, ids: list[int], error: str) -> None:
        attempts = await self._db(partial(sending.attempts_of, delivery_ids=ids))
        if attempts >= self.max_attempts:
            self.stats["failed"] += 1
            await self._db(
                partial(
                    sending.mark_failed,
                    delivery_ids=ids,
                    error=f"gave up after {attempts} attempts: {error}",
                )
            )
            await self._notify_admin(
                f"⚠️ Gave up on deliveries {ids} after {attempts} attempts: {esc(error)}"
            )
            return
        delay = min(BACKOFF_CAP_S, 2.0**attempts) * (0.5 + self._rng() / 2)
        await self._db(
            partial(
                sending.retry_later,
                delivery_ids=ids,
                due_at=self._clock() + timedelta(seconds=delay),
                error=error,
            )
        )

    async def _notify_admin(self, text: str) -> None:
        if self.admin_chat_id is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_admin_notice < 60:
            return
        self._last_admin_notice = loop.time()
        try:
            await self.bot.send_message(self.admin_chat_id, text[:3000], parse_mode=ParseMode.HTML)
        except TelegramError:
            log.warning("cannot notify the admin chat", exc_info=True)

    # --- finding a message whose send outcome was lost ---------------------------------------------

    async def probe(
        self,
        tg_chat_id: int,
        chat_type: str,
        probe_after: int | None,
        keyboard: InlineKeyboardMarkup,
    ) -> int | None:
        """The id of the bot's message in the chat carrying exactly ``keyboard``, or None.

        Must be called holding the chat's lock (see ``bot.tg.delivery``). The ids after
        ``probe_after`` are tried, and for private chats and basic groups also those after the
        highest id the bot got back anywhere (should Telegram number them per bot).
        """
        starts = [probe_after or 0]
        if chat_type in ("private", "group"):
            shared = await self._db(inflight.recent_shared_id)
            if shared is not None and shared > starts[0] + PROBE_SPAN:
                starts.append(shared)
        return await find_message(self.bot, tg_chat_id, starts, keyboard, self.stats)
