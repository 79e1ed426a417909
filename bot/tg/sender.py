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
import random
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
from bot.tg.chatleases import ChatLeases
from bot.tg.deps import SessionWork
from bot.tg.markup import esc
from bot.tg.outgoing import Message, compose
from bot.tg.probe import PROBE_SPAN, find_message
from bot.tg.ratelimit import SendLimiter, retry_seconds
from db import chatrecords, inflight, sending
from db.engine import session_scope
from db.models import utcnow
from db.outage import outlast
from db.sending import Due
from db.tables.delivery import SEND

log = logging.getLogger("bot.tg.delivery")  # the delivery worker logs under one name

T = TypeVar("T")

BACKOFF_CAP_S = 600.0
HUNG_SETTLE_S = 10.0  # a send that hung unanswered is looked for again no sooner than this
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
        # the chat locks it shares with other processes sending to the same chats
        self.leases = ChatLeases(settings, self._db, clock)
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
            got = await self.leases.claim(chat_pk, message.delivery_ids, known)
            claimed = got.delivery_ids
            if not claimed:
                self.limiter.release(tg_chat_id)
                return not got.lost and not got.busy
            if tuple(claimed) != message.delivery_ids:  # some were dropped meanwhile
                keep = [a for a in alerts if by_alert[a["id"]].delivery_id in claimed]
                message = compose(keep, claimed, digest, total)
            self._held.update(claimed)
            try:
                hung = [r.hung_after for r in rows if r.hung_after is not None]
                earlier = min(hung) if hung else None
                return await self._send(tg_chat_id, chat_type, message, got.probe_after, earlier)
            finally:
                self._held.difference_update(claimed)
                await self.leases.let_go(SEND, [chat_pk])

    async def _send(
        self,
        tg_chat_id: int,
        chat_type: str,
        message: Message,
        probe_after: int,
        earlier: int | None = None,
    ) -> bool:
        ids = list(message.delivery_ids)
        try:
            sent = await self._request(tg_chat_id, chat_type, message, earlier)
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
        await self._mark_sent(ids, tg_chat_id, sent)
        return True

    async def _request(
        self, tg_chat_id: int, chat_type: str, message: Message, earlier: int | None
    ) -> int:
        """Send the message; its id. If its last send hung (``earlier``: where that probe
        started), Telegram may have carried it out after the probe looked (a late request):
        it is looked for once more first, by whichever worker sends it now."""
        if earlier is not None:
            found = await self.probe(tg_chat_id, chat_type, earlier, message.keyboard)
            if found is not None:
                log.info("deliveries %s did reach chat %s late", message.delivery_ids, tg_chat_id)
                return found
        sent: SentMessage = await self.bot.send_message(
            chat_id=tg_chat_id,
            text=message.text,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_markup=message.keyboard,
            rate_limit_args={"chat_locked": True},
        )
        return sent.message_id

    async def _mark_sent(self, ids: Sequence[int], tg_chat_id: int, message_id: int) -> None:
        """Record the message Telegram accepted. Only this process knows its id, so a database
        outage is waited out, holding the chat's lock; a stop or crash meanwhile leaves the rows
        ``sending``, and the next start finds the message by probing."""
        mark = partial(
            sending.mark_sent,
            delivery_ids=ids,
            tg_chat_id=tg_chat_id,
            message_id=message_id,
            now=self._clock(),
        )
        await outlast(self.app.db_health, lambda: self._db(mark))

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
        """The send may or may not have happened: look for the message before sending again.

        With no answer at all (a timeout, a dropped connection) Telegram may still carry the
        request out after the probe looked: the rows wait at least ``HUNG_SETTLE_S`` and the
        message is looked for once more before it is sent again (``_request``). What remains
        is a request carried out later still."""
        self.stats["uncertain"] += 1
        ids = list(message.delivery_ids)
        surely_not = isinstance(error.__cause__, _SURELY_NOT_SENT)
        if surely_not:
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
        # No answer at all (a timeout, a dropped connection): Telegram may carry it out late.
        hung = not surely_not and isinstance(error.__cause__, httpx.HTTPError)
        await self._retry_or_fail(ids, f"{type(error).__name__}: {error}", hung=hung)
        return False

    async def _retry_or_fail(self, ids: list[int], error: str, *, hung: bool = False) -> None:
        """Again later (a hung send no sooner than ``HUNG_SETTLE_S``), or give up."""
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
        delay = max(delay, HUNG_SETTLE_S) if hung else delay
        await self._db(
            partial(
                sending.retry_later,
                delivery_ids=ids,
                due_at=self._clock() + timedelta(seconds=delay),
                error=error,
                hung=hung,
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
