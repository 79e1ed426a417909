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
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from telegram import InlineKeyboardMarkup, LinkPreviewOptions
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
from bot.tg.health import TelegramHealth
from bot.tg.keyboards import alert_keyboard, digest_keyboard
from bot.tg.messages import digest_batches, esc, render_alert, render_digest
from bot.tg.ratelimit import SendLimiter, retry_seconds
from db import chats as chats_db
from db import delivery as outbox
from db.engine import session_scope
from db.models import utcnow

log = logging.getLogger(__name__)

PROBE_SPAN = 30  # message ids looked at after probe_after
PROBE_MISSES = 3  # consecutive "not found" that end the search (past the chat's last message)
CHAT_CONCURRENCY = 200  # chats served at once
BACKOFF_CAP_S = 600.0
ORPHAN_CHECK_S = 60.0  # how often rows left "sending" by nobody are looked for
ORPHAN_AGE_S = 120.0  # ... and how long they must have been in flight
_SURELY_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Message:
    """One message to send: its rows, its alerts, its HTML and its keyboard."""

    delivery_ids: tuple[int, ...]
    alert_ids: tuple[int, ...]
    text: str
    keyboard: InlineKeyboardMarkup


def compose(
    alerts: Sequence[dict[str, Any]],
    delivery_ids: Sequence[int],
    digest: bool,
    total: int | None = None,
) -> Message:
    """The message for some rows: an alert, or a digest of several (pure, so a probe rebuilds
    exactly the keyboard that was sent)."""
    if not digest and len(alerts) == 1:
        alert = alerts[0]
        return Message(
            tuple(delivery_ids), (alert["id"],), render_alert(alert), alert_keyboard(alert)
        )
    ids = tuple(a["id"] for a in alerts)
    return Message(tuple(delivery_ids), ids, render_digest(alerts, total), digest_keyboard(ids))


class DeliveryWorker:
    """Sends pending outbox rows (see the module docstring)."""

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
        self.app = app
        self.health = health
        self.bot = bot
        self.limiter = limiter
        self.settings = settings
        self.poll_interval_s = settings.delivery_poll_interval_s
        self.max_attempts = settings.delivery_max_attempts
        self.admin_chat_id = settings.admin_chat_id
        self.stats: Counter[str] = Counter()
        self._clock = clock
        self._rng = rng
        self._busy: set[int] = set()  # chat pks being served
        self._held: set[int] = set()  # delivery ids this process has in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(CHAT_CONCURRENCY)
        self._stopping = False
        self._wake = asyncio.Event()
        self._last_orphan_check = 0.0
        self._last_admin_notice = 0.0
        # one thread: the worker's writes never wait for each other on SQLite's lock (its busy
        # handler sleeps in 10-100 ms steps, which would jitter the pace)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="delivery-db")

    # --- database, off the event loop ---------------------------------------------------------

    async def _db(self, function: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Run a ``db`` function in the worker's own threads (never queued behind a handler's)."""

        def call() -> Any:
            with session_scope(self.app.engine) as session:
                return function(session=session, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    # --- the loop -----------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due rows now rather than at the next poll (e.g. after enqueueing)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve due rows until ``stop`` is set; then let each chat finish its current message."""
        loop = asyncio.get_running_loop()
        self._last_orphan_check = loop.time()  # the start reconciled everything already
        while not stop.is_set():
            try:
                if loop.time() - self._last_orphan_check >= ORPHAN_CHECK_S:
                    self._last_orphan_check = loop.time()
                    await self.reconcile(older_than=timedelta(seconds=ORPHAN_AGE_S))
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
        """Start no new message; wait for the messages in hand to be sent and marked."""
        self._stopping = True
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()

    def close(self) -> None:
        """Release the worker's database thread (the Application is shutting down)."""
        self._executor.shutdown(wait=False)

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
        due: list[outbox.Due] = await self._db(
            outbox.due_deliveries, now=self._clock(), limit=2000, skip_chats=set(self._busy)
        )
        by_chat: dict[int, list[outbox.Due]] = defaultdict(list)
        for row in due:
            if row.chat_pk not in self._busy:
                by_chat[row.chat_pk].append(row)
        if not by_chat:
            return 0
        work: outbox.Work = await self._db(
            outbox.work_for, due=[r for rows in by_chat.values() for r in rows]
        )
        for chat_pk, rows in by_chat.items():
            self._busy.add(chat_pk)
            task = asyncio.create_task(
                self._serve(chat_pk, rows, work), name=f"deliver-chat-{chat_pk}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(by_chat)

    # --- one chat -------------------------------------------------------------------------------

    async def _serve(self, chat_pk: int, rows: list[outbox.Due], work: outbox.Work) -> None:
        try:
            async with self._slots:
                sub = work.subscriptions.get(chat_pk)
                now = self._clock()
                if outbox.in_quiet_hours(sub, now) and sub is not None:
                    await self._db(
                        outbox.reschedule_chat,
                        chat_pk=chat_pk,
                        due_at=outbox.quiet_ends(sub, now),
                        delivery_ids=[r.delivery_id for r in rows],
                    )
                    return
                tg_chat_id, chat_type = rows[0].tg_chat_id, rows[0].chat_type
                stored_id = work.last_ids.get(tg_chat_id, 0)
                gone = [r.delivery_id for r in rows if r.alert_id not in work.alerts]
                if gone:
                    await self._db(
                        outbox.mark_failed,
                        delivery_ids=gone,
                        error="alert no longer stored",
                        status=outbox.DROPPED,
                    )
                rows = [r for r in rows if r.alert_id in work.alerts]
                for row in [r for r in rows if not r.digest]:
                    if self._stopping or not await self._deliver(
                        tg_chat_id,
                        chat_type,
                        [row],
                        [work.alerts[row.alert_id]],
                        stored_id,
                        digest=False,
                    ):
                        return
                digest_rows = [r for r in rows if r.digest]
                batches = (
                    digest_batches([work.alerts[r.alert_id] for r in digest_rows])
                    if digest_rows
                    else []
                )
                row_of = {r.alert_id: r for r in digest_rows}
                for batch in batches:
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
        except Exception:
            log.exception("delivering to chat %s failed", chat_pk)
        finally:
            self._busy.discard(chat_pk)

    async def _deliver(
        self,
        tg_chat_id: int,
        chat_type: str,
        rows: list[outbox.Due],
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
                outbox.mark_failed,
                delivery_ids=[r.delivery_id for r in rows],
                error=f"rendering failed: {error}",
            )
            return True
        async with self.limiter.chat_lock(tg_chat_id):
            # Queue for the rate limits *before* claiming: a row is in flight only while its
            # request is, and between the slot and the request there is only the claim.
            await self.limiter.reserve(tg_chat_id)
            known = max(self.limiter.last_message_id(tg_chat_id) or 0, stored_id)
            claimed = await self._db(
                outbox.claim,
                delivery_ids=list(message.delivery_ids),
                probe_after=known,
                now=self._clock(),
            )
            if not claimed:
                self.limiter.release(tg_chat_id)
                return True
            if tuple(claimed) != message.delivery_ids:  # some were dropped meanwhile
                keep = [a for a in alerts if by_alert[a["id"]].delivery_id in claimed]
                message = compose(keep, claimed, digest, total)
            self._held.update(claimed)
            try:
                return await self._send(tg_chat_id, chat_type, message, known)
            finally:
                self._held.difference_update(claimed)

    async def _send(
        self, tg_chat_id: int, chat_type: str, message: Message, probe_after: int
    ) -> bool:
        ids = list(message.delivery_ids)
        try:
            sent = await self.bot.send_message(
                chat_id=tg_chat_id,
                text=message.text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_markup=message.keyboard,
                rate_limit_args={"chat_locked": True},
            )
        except RetryAfter as error:
            wait = retry_seconds(error)
            self.stats["retry_after"] += 1
            await self._db(
                outbox.retry_later,
                delivery_ids=ids,
                due_at=self._clock() + timedelta(seconds=wait),
                error=f"429: retry after {wait:g} s",
            )
            return False
        except Forbidden as error:
            self.stats["forbidden"] += 1
            log.info("chat %s refuses messages (%s): subscription deactivated", tg_chat_id, error)
            await self._db(outbox.mark_failed, delivery_ids=ids, error=f"forbidden: {error}")
            await self._db(
                chats_db.deactivate_chat, tg_chat_id=tg_chat_id, reason=f"forbidden: {error}"[:256]
            )
            return False
        except ChatMigrated as error:
            self.stats["migrated"] += 1
            log.info("chat %s became supergroup %s: moving it", tg_chat_id, error.new_chat_id)
            await self._db(
                outbox.retry_later, delivery_ids=ids, due_at=self._clock(), error="chat migrated"
            )
            await self._db(chats_db.migrate_chat, old_id=tg_chat_id, new_id=error.new_chat_id)
            self.wake()
            return False
        except BadRequest as error:
            return await self._bad_request(tg_chat_id, ids, error)
        except InvalidToken:
            raise
        except (NetworkError, TelegramError) as error:
            return await self._uncertain(tg_chat_id, chat_type, message, probe_after, error)
        self.stats["sent"] += 1
        await self._db(
            outbox.mark_sent,
            delivery_ids=ids,
            tg_chat_id=tg_chat_id,
            message_id=sent.message_id,
            now=self._clock(),
        )
        return True

    async def _bad_request(self, tg_chat_id: int, ids: list[int], error: BadRequest) -> bool:
        text = str(error).lower()
        if "chat not found" in text or "bot was kicked" in text or "not enough rights" in text:
            await self._db(outbox.mark_failed, delivery_ids=ids, error=f"bad request: {error}")
            await self._db(chats_db.deactivate_chat, tg_chat_id=tg_chat_id, reason=str(error)[:256])
            return False
        # Anything else is our message's fault (markup, length): retrying cannot help.
        self.stats["failed"] += 1
        log.error(
            "Telegram refused the message for deliveries %s in chat %s: %s", ids, tg_chat_id, error
        )
        await self._db(outbox.mark_failed, delivery_ids=ids, error=f"bad request: {error}")
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
            await self._db(
                outbox.mark_sent,
                delivery_ids=ids,
                tg_chat_id=tg_chat_id,
                message_id=found,
                now=self._clock(),
            )
            return True
        await self._retry_or_fail(ids, f"{type(error).__name__}: {error}")
        return False

    async def _retry_or_fail(self, ids: list[int], error: str) -> None:
        attempts = await self._db(outbox.attempts_of, delivery_ids=ids)
        if attempts >= self.max_attempts:
            self.stats["failed"] += 1
            await self._db(
                outbox.mark_failed,
                delivery_ids=ids,
                error=f"gave up after {attempts} attempts: {error}",
            )
            await self._notify_admin(
                f"⚠️ Gave up on deliveries {ids} after {attempts} attempts: {esc(error)}"
            )
            return
        delay = min(BACKOFF_CAP_S, 2.0**attempts) * (0.5 + self._rng() / 2)
        await self._db(
            outbox.retry_later,
            delivery_ids=ids,
            due_at=self._clock() + timedelta(seconds=delay),
            error=error,
        )

    # --- finding a message whose send outcome was lost ---------------------------------------------

    async def probe(
        self,
        tg_chat_id: int,
        chat_type: str,
        probe_after: int | None,
        keyboard: InlineKeyboardMarkup,
    ) -> int | None:
        """The id of the bot's message in the chat carrying exactly ``keyboard``, or None.

        Must be called holding the chat's lock (see the module docstring).
        """
        starts = [probe_after or 0]
        if chat_type in ("private", "group"):
            shared = await self._db(outbox.recent_shared_id)
            if shared is not None and shared > starts[0] + PROBE_SPAN:
                starts.append(shared)
        for start in starts:
            misses = 0
            for message_id in range(start + 1, start + 1 + PROBE_SPAN):
                self.stats["probes"] += 1
                try:
                    await self.bot.edit_message_reply_markup(
                        chat_id=tg_chat_id, message_id=message_id, reply_markup=keyboard
                    )
                except BadRequest as error:
                    text = str(error).lower()
                    if "not modified" in text:
                        return message_id
                    if "not found" in text:
                        misses += 1
                        if misses >= PROBE_MISSES and start == starts[0]:
                            break
                    else:
                        misses = 0
                    continue
                # The edit went through: a bot message without this keyboard followed
                # probe_after, which the chat lock rules out. Say so loudly.
                log.error(
                    "probe changed the buttons of message %s in chat %s, which is not the alert's",
                    message_id,
                    tg_chat_id,
                )
                return None
        return None

    async def reconcile(self, older_than: timedelta | None = None) -> dict[str, int]:
        """Resolve rows left ``sending`` by a previous process (all of them: at start, before
        polling) or by an unreachable Telegram (``older_than``: the periodic check)."""
        report: Counter[str] = Counter()
        before = self._clock() - older_than if older_than is not None else None
        flights: list[outbox.InFlight] = await self._db(outbox.in_flight, claimed_before=before)
        for flight in flights:
            if set(flight.delivery_ids) & self._held:
                continue
            async with self.limiter.chat_lock(flight.tg_chat_id):
                if set(flight.delivery_ids) & self._held or not await self._db(
                    outbox.still_sending, delivery_ids=flight.delivery_ids
                ):
                    continue  # this process took them meanwhile
                alerts = await self._db(outbox.load_alerts, alert_ids=flight.alert_ids)
                ordered = [alerts[a] for a in flight.alert_ids if a in alerts]
                ids = list(flight.delivery_ids)
                if not ordered:
                    await self._db(
                        outbox.mark_failed,
                        delivery_ids=ids,
                        error="alert no longer stored",
                        status=outbox.DROPPED,
                    )
                    continue
                message = compose(ordered, ids, flight.digest)
                try:
                    found = await self.probe(
                        flight.tg_chat_id, flight.chat_type, flight.probe_after, message.keyboard
                    )
                except Forbidden as error:
                    await self._db(
                        outbox.mark_failed, delivery_ids=ids, error=f"forbidden: {error}"
                    )
                    await self._db(
                        chats_db.deactivate_chat,
                        tg_chat_id=flight.tg_chat_id,
                        reason=f"forbidden: {error}"[:256],
                    )
                    report["forbidden"] += 1
                    continue
                except TelegramError as error:
                    log.warning("cannot reconcile deliveries %s yet: %s", ids, error)
                    report["unresolved"] += 1
                    continue
                if found is not None:
                    await self._db(
                        outbox.mark_sent,
                        delivery_ids=ids,
                        tg_chat_id=flight.tg_chat_id,
                        message_id=found,
                        now=self._clock(),
                    )
                    report["found"] += 1
                else:
                    await self._db(
                        outbox.retry_later,
                        delivery_ids=ids,
                        due_at=self._clock(),
                        error="in flight at a restart; not found in the chat, sending again",
                    )
                    report["resent"] += 1
        if flights:
            log.info("reconciled %d message(s) left in flight: %s", len(flights), dict(report))
        self.stats.update({f"reconcile_{k}": v for k, v in report.items()})
        return dict(report)

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
