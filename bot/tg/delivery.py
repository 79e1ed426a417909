"""The delivery worker: sends the outbox, once, at Telegram's pace, through restarts and crashes.

States of an outbox row (``db.models.Delivery``)::

    pending --claim--> sending --sent--> sent (message_id)
       ^                  |  \\--Forbidden / bad request / too many attempts--> failed
       |                  |
       +---- 429, a send that surely did not happen, a lost send not found (probe) ----+

**Exactly once with an API that has no idempotency key.** Telegram's ``sendMessage`` cannot
be made idempotent: a request whose answer is lost (a crash, a timeout, a dropped connection)
may or may not have produced a message, and sending again may duplicate it. So:

1. A row is marked ``sending`` (claimed, committed) before the request, with ``probe_after``,
   the highest message id the bot knows in that chat. Everything from the claim to the mark is
   done holding the chat's lock, which every message the bot sends to that chat also takes
   (``SendLimiter``): while a row is in flight no other bot message can appear in the chat.
2. When the answer comes, the row is marked ``sent`` with the message id in the next statement.
3. When the outcome is unknown (a timeout, a dropped connection, a 5xx, or on start-up for rows
   a previous process left ``sending``) the worker does not resend blindly: it **looks for the
   message**. Every alert message carries a keyboard unique to it (its callback data holds the
   alert id). ``editMessageReplyMarkup`` with exactly that keyboard on a message id answers
   "message is not modified" only for the message that already has it: ours. The ids after
   ``probe_after`` are tried in order (user messages answer "can't be edited", missing ids "not
   found"; a run of "not found" ends the search), and, for private chats and basic groups, the
   ids after the highest id the bot got back anywhere (should Telegram number them per bot).
   Because no other bot message can follow ``probe_after`` in the chat (point 1), the probe can
   only ever touch our own message. Found: the row is ``sent`` with the id found. Not found:
   the message was never created; the row goes back to ``pending`` and is sent again.
4. Errors that come with Telegram's answer (400, 403, 429, migration) and connection failures
   before the request left (connect errors, pool timeouts) are certain: no probe.

**The window that remains**: the probe looks at ``PROBE_SPAN`` ids after ``probe_after``; if
more messages than that were posted in a busy group between the claim and the crash, a sent
message is not found and is sent a second time. And ``probe_after`` of a fresh process comes
from the database: a reply the previous process sent in the very instant it crashed is not
recorded, and a probe after a *second* crash in the same chat could edit that reply's buttons.
Neither was seen in testing; both need a crash inside a send.

**Graceful stop** (``stop()``): no new messages are started; each chat finishes the message in
hand (send and mark). **Cancellation** (``abort()``, or cancelling ``run_telegram``) is a hard
stop like a crash: rows in flight stay ``sending`` and are reconciled by the next start.

**Pace**: chats are served concurrently (one message at a time per chat) and the shared
``SendLimiter`` keeps 30/s overall, 1/s per chat and 20/min per group. ``RetryAfter`` is
honoured there (and any left over reschedules the row after ``retry_after``); other transient
failures back off exponentially with jitter, up to ``delivery_max_attempts``. ``Forbidden``
(blocked, removed) deactivates the chat's subscription and drops its queue; ``ChatMigrated``
moves the chat to its new id and the row is sent there.

**Digests and quiet hours**: digest rows are due at the digest time and go out as one
message per batch of alerts (their rows share a ``batch``); a chat in quiet hours has its due
rows moved to the end of them.

**Where it lives**: this module is the loop (find due rows, serve each chat, stop); sending one
message and recording the answer is ``bot.tg.sender``, looking for a lost message
``bot.tg.probe``, resolving rows left in flight at start-up ``bot.tg.reconcile``; the outbox rows
are read and written with ``db.sending`` and ``db.inflight``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram.ext import ExtBot

from bot.app import App
from bot.settings import Settings
from bot.tg.alertmessages import digest_batches
from bot.tg.health import TelegramHealth
from bot.tg.ratelimit import SendLimiter
from bot.tg.reconcile import Reconciler
from db import chatlocks, sending
from db.deliverytimes import in_quiet_hours, quiet_ends
from db.models import utcnow
from db.sending import Due, Work
from db.tables.delivery import DROPPED, SEND, SERVE

log = logging.getLogger(__name__)

CHAT_CONCURRENCY = 200  # chats served at once
ORPHAN_CHECK_S = 60.0  # how often rows left "sending" by nobody are looked for
ORPHAN_AGE_S = 120.0  # ... and how long they must have been in flight


class DeliveryWorker(Reconciler):
    """Sends pending outbox rows (see the module docstring): the loop that finds due rows and
    serves each chat; sending one message is ``Sender``'s, crash recovery ``Reconciler``'s."""

    def __init__(
        self,
        *,
        app: App,
        bot: ExtBot[Any],
        limiter: SendLimiter,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
        health: TelegramHealth | None = None,
    ) -> None:
        super().__init__(app=app, bot=bot, limiter=limiter, settings=settings, clock=clock, rng=rng)
        self.health = health
        self.poll_interval_s = settings.delivery_poll_interval_s
        self._busy: set[int] = set()  # chat pks being served
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(CHAT_CONCURRENCY)
        self._stopping = False
        self._last_orphan_check = 0.0

    # --- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve due rows until ``stop`` is set; then let each chat finish its current message."""
        loop = asyncio.get_running_loop()
        self._last_orphan_check = loop.time()  # the start reconciled everything already
        while not stop.is_set():
            try:
                if loop.time() - self._last_orphan_check >= ORPHAN_CHECK_S:
                    self._last_orphan_check = loop.time()
                    await self.reconcile(older_than=timedelta(seconds=ORPHAN_AGE_S))
                if self._busy:
                    await self._renew()
                await self.dispatch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery worker pass failed; trying again")
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(
                    waiters, timeout=self.poll_interval_s, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiter in waiters:
                    waiter.cancel()
        await self.stop()

    async def stop(self, timeout: float = 30.0) -> None:
        """Start no new message; wait for the messages in hand to be sent and marked; let go
        of every chat, so that other workers take them over at once."""
        self._stopping = True
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
        try:
            await self._let_go(SERVE)
        except SQLAlchemyError:  # the database is gone: the locks run out by themselves
            log.warning(
                "could not release this worker's chats; they are free in %.0f s", self.lease_s
            )

    def abort(self) -> None:
        """Stop at once, like a crash: rows in flight stay ``sending`` for the next start."""
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()

    async def dispatch(self) -> int:
        """Start serving every chat with due rows (not already being served); returns how many.

        Nothing starts while Telegram is unreachable: the rows would only spend their attempts
        (and be given up) on an outage; they wait in the outbox for "reachable again".
        """
        if self._stopping or (self.health is not None and not self.health.up):
            return 0
        due: list[Due] = await self._db(
            partial(
                sending.due_deliveries, now=self._clock(), limit=2000, skip_chats=set(self._busy)
            )
        )
        by_chat: dict[int, list[Due]] = defaultdict(list)
        for row in due:
            if row.chat_pk not in self._busy:
                by_chat[row.chat_pk].append(row)
        by_chat = await self._ours(by_chat)
        if not by_chat:
            return 0
        work: Work = await self._db(
            partial(sending.work_for, due=[r for rows in by_chat.values() for r in rows])
        )
        for chat_pk, rows in by_chat.items():
            self._busy.add(chat_pk)
            task = asyncio.create_task(
                self._serve(chat_pk, rows, work), name=f"deliver-chat-{chat_pk}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(by_chat)

    async def _ours(self, by_chat: dict[int, list[Due]]) -> dict[int, list[Due]]:
        """The chats this worker may serve now: those whose serve lock it takes (another
        worker serves the rest). Messages a dead worker left in flight in them are resolved
        first, so that the probe runs before anything new is sent there."""
        if not by_chat:
            return by_chat
        taken = await self._db(
            partial(
                chatlocks.take,
                kind=SERVE,
                holder=self.holder,
                chat_pks=list(by_chat),
                now=self._clock(),
                lease_s=self.lease_s,
            )
        )
        if taken:
            await self.resolve_in(taken)
        return {pk: rows for pk, rows in by_chat.items() if pk in taken}

    def serving(self) -> set[int]:
        return set(self._busy)

    async def _renew(self) -> None:
        """Keep this worker's locks while it serves (a pass every poll interval): a message
        waiting out a flood limit in flight keeps its send lock too."""
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

    # --- one chat -------------------------------------------------------------------------------

    async def _serve(self, chat_pk: int, rows: list[Due], work: Work) -> None:
        try:
            async with self._slots:
                await self._serve_chat(chat_pk, rows, work)
        except Exception:
            log.exception("delivering to chat %s failed", chat_pk)
        finally:
            self._busy.discard(chat_pk)
            with contextlib.suppress(Exception):  # a lock not released runs out by itself
                await self._let_go(SERVE, [chat_pk])

    async def _serve_chat(self, chat_pk: int, rows: list[Due], work: Work) -> None:
        """The chat's due rows: alerts one by one, then digests; none during quiet hours."""
        sub = work.subscriptions.get(chat_pk)
        now = self._clock()
        if in_quiet_hours(sub, now) and sub is not None:
            await self._db(
                partial(
                    sending.reschedule_chat,
                    chat_pk=chat_pk,
                    due_at=quiet_ends(sub, now),
                    delivery_ids=[r.delivery_id for r in rows],
                )
            )
            return
        tg_chat_id, chat_type = rows[0].tg_chat_id, rows[0].chat_type
        stored_id = work.last_ids.get(tg_chat_id, 0)
        gone = [r.delivery_id for r in rows if r.alert_id not in work.alerts]
        if gone:
            await self._db(
                partial(
                    sending.mark_failed,
                    delivery_ids=gone,
                    error="alert no longer stored",
                    status=DROPPED,
                )
            )
        rows = [r for r in rows if r.alert_id in work.alerts]
        for row in [r for r in rows if not r.digest]:
            if self._stopping or not await self._deliver(
                tg_chat_id, chat_type, [row], [work.alerts[row.alert_id]], stored_id, digest=False
            ):
                return
        digest_rows = [r for r in rows if r.digest]
        await self._send_digests(tg_chat_id, chat_type, digest_rows, work, stored_id)

    async def _send_digests(
        self, tg_chat_id: int, chat_type: str, digest_rows: list[Due], work: Work, stored_id: int
    ) -> None:
        """The chat's digest rows, in as many messages as they need."""
        if not digest_rows:
            return
        row_of = {r.alert_id: r for r in digest_rows}
        for batch in digest_batches([work.alerts[r.alert_id] for r in digest_rows]):
            if self._stopping:
                return
            chosen = [row_of[a["id"]] for a in batch]
            if not await self._deliver(
                tg_chat_id,
                chat_type,
                chosen,
                batch,
                stored_id,
                digest=True,
                total=len(digest_rows),
            ):
                return
