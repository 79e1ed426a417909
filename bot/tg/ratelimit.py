"""Telegram's flood limits, kept before Telegram has to enforce them.

PTB's ``AIORateLimiter`` keeps 30 messages/s overall and 20/min per group but not 1/s per
private chat, and cannot tell the delivery worker which message ids a chat has seen. This
limiter (a PTB ``BaseRateLimiter``, so every Bot API call of the application passes here):

* **overall**: at most ``per_second`` throttled calls in any window of 1 s + a margin (sends,
  edits, documents; not getUpdates, getMe, answerCallbackQuery, getChatMember ...);
* **per chat**: message-creating calls to one chat at least ``chat_interval_s`` apart, and at
  most ``group_per_minute`` in any 60 s (+ margin) for groups and channels (negative ids);
* **one message in flight per chat**: message-creating calls to a chat hold the chat's lock,
  so their message ids come back in order (the delivery worker takes the same lock for a
  whole claim-send-mark, and passes ``{"chat_locked": True}`` so it is not taken twice);
* **RetryAfter**: every throttled call waits ``retry_after`` (Telegram does not say which
  limit was hit, so all of them wait, like ``AIORateLimiter``), then the call is retried up to
  ``max_retries`` times; after that the ``RetryAfter`` reaches the caller;
* **message ids**: the highest id sent or seen per chat is kept, and ``on_message`` is awaited
  with every id the bot gets back (under the chat's lock), so it is recorded before the next
  message to that chat can start.

* **reservations** (``reserve``): the delivery worker waits for both limits *before* it claims a
  row, so a row is "in flight" only while its request is; the reserved slot is moved to the
  moment the request really leaves, so the windows hold real send times.

The margin (100 ms) absorbs the jitter between our clock and the server's: a window exactly 1 s
long on our side can look shorter on arrival (with 50 ms the emulator still refused about one
message in 300 on a loaded two-core machine). Ceiling: 30 per 1.1 s = 27.3 messages/s; measured 27.3 to 27.8, with no
429 (``benchmarks/bench_delivery.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

ApiResult = bool | dict[str, Any] | list[dict[str, Any]]  # what a Bot API call returns

MESSAGE_METHODS = frozenset(
    {
        "sendMessage", "sendDocument", "sendPhoto", "sendAudio", "sendVideo", "sendAnimation", "sendVoice",
        "sendVideoNote", "sendSticker", "sendLocation", "sendVenue", "sendContact", "sendPoll", "sendDice",
        "sendMediaGroup", "forwardMessage", "forwardMessages", "copyMessage", "copyMessages",
    }
)  # fmt: skip
UNTHROTTLED = frozenset(
    {
        "getUpdates", "getMe", "logOut", "close", "setWebhook", "deleteWebhook", "getWebhookInfo",
        "setMyCommands", "getMyCommands", "deleteMyCommands", "setChatMenuButton", "getChatMenuButton",
        "answerCallbackQuery", "getChat", "getChatMember", "getChatAdministrators", "getChatMemberCount",
        "getFile", "sendChatAction",
    }
)  # fmt: skip
MARGIN_S = 0.1
GROUP_WINDOW_S = 60.0

OnMessage = Callable[[int, int], Awaitable[None]]


def retry_seconds(error: RetryAfter) -> float:
    """``RetryAfter``'s wait in seconds, whether PTB hands out an int or a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat_key(data: dict[str, Any]) -> int | None:
    chat_id = data.get("chat_id")
    if chat_id is None:
        return None
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return None  # "@channelusername": not a chat this bot sends alerts to


class SendLimiter(BaseRateLimiter[dict[str, Any]]):
    """See the module docstring."""

    def __init__(
        self,
        *,
        per_second: float = 30.0,
        chat_interval_s: float = 1.0,
        group_per_minute: int = 20,
        max_retries: int = 3,
        margin_s: float = MARGIN_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.per_second = max(1, int(per_second))
        self.chat_interval_s = chat_interval_s
        self.group_per_minute = group_per_minute
        self.max_retries = max_retries
        self.margin_s = margin_s
        self.on_message: OnMessage | None = None
        # taken around a message no delivery worker sends (a reply): the chat's lock shared
        # with the other processes sending to it (db.chatlocks, set by bot.tg.app)
        self.send_lock: Callable[[int], AbstractAsyncContextManager[None]] | None = None
        self.stats: Counter[str] = Counter()
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._global = asyncio.Lock()
        self._paused_until = 0.0
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._chat_sends: dict[int, deque[float]] = {}
        self._chat_paused: dict[int, float] = {}
        self._last_ids: dict[int, int] = {}
        self._reserved: dict[int, float] = {}  # chat -> when its reserved slot was taken

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    # --- what the worker uses -----------------------------------------------------------------

    def chat_lock(self, chat_id: int) -> asyncio.Lock:
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            lock = self._chat_locks[chat_id] = asyncio.Lock()
        return lock

    def last_message_id(self, chat_id: int) -> int | None:
        return self._last_ids.get(chat_id)

    def note_message_id(self, chat_id: int, message_id: int) -> None:
        """A message id seen in a chat (an update, a reply): ids only grow."""
        if message_id > self._last_ids.get(chat_id, 0):
            self._last_ids[chat_id] = message_id

    async def wait_for_chat(self, chat_id: int) -> None:
        """Sleep until a message to the chat would be allowed (without taking the slot)."""
        delay = self._chat_delay(chat_id, self._clock())
        if delay > 0:
            await self._sleep(delay)

    async def reserve(self, chat_id: int) -> None:
        """Wait for the chat's turn and an overall slot and take both now: the next message-creating
        call to this chat goes out without waiting. The delivery worker reserves before it claims
        a row, so a row is in flight only while its request is, not while it queues."""
        await self.wait_for_chat(chat_id)
        stamp = await self._global_slot()
        self._chat_sends.setdefault(chat_id, deque()).append(stamp)
        self._reserved[chat_id] = stamp

    def release(self, chat_id: int) -> None:
        """Give up a reservation that was not used (its slots count no more)."""
        stamp = self._reserved.pop(chat_id, None)
        if stamp is not None:
            self._forget(chat_id, stamp)

    def _forget(self, chat_id: int, stamp: float) -> None:
        with contextlib.suppress(ValueError):
            self._starts.remove(stamp)
        with contextlib.suppress(ValueError):
            self._chat_sends.get(chat_id, deque()).remove(stamp)

    def _move(self, chat_id: int, stamp: float, now: float) -> None:
        for times in (self._starts, self._chat_sends.get(chat_id, deque())):
            with contextlib.suppress(ValueError):
                times[times.index(stamp)] = now

    # --- PTB's interface ----------------------------------------------------------------------

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> ApiResult:
        options = rate_limit_args or {}
        if endpoint in UNTHROTTLED:
            return await callback(*args, **kwargs)
        chat = _chat_key(data)
        creates = endpoint in MESSAGE_METHODS and chat is not None
        lock = (
            self.chat_lock(chat)
            if creates and chat is not None and not options.get("chat_locked")
            else None
        )
        shared = (
            self.send_lock(chat)
            if lock is not None and chat is not None and self.send_lock is not None
            else None
        )
        async with (
            lock if lock is not None else contextlib.nullcontext(),
            shared if shared is not None else contextlib.nullcontext(),
        ):
            return await self._attempts(callback, args, kwargs, chat, creates, options)

    async def _attempts(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        chat: int | None,
        creates: bool,
        options: dict[str, Any],
    ) -> ApiResult:
        retries = int(options.get("max_retries", self.max_retries))
        for attempt in range(retries + 1):
            stamp = (
                self._reserved.pop(chat, None)
                if attempt == 0 and creates and chat is not None
                else None
            )
            if stamp is not None and chat is not None:
                # The request leaves now, a little after its slot was taken (the worker claimed
                # its row meanwhile): count it at the real time, so later slots keep their
                # distance from when it really went out.
                self._move(chat, stamp, self._clock())
            else:
                if creates and chat is not None:
                    await self.wait_for_chat(chat)
                now = await self._global_slot()
                if creates and chat is not None:
                    self._chat_sends.setdefault(chat, deque()).append(now)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as error:
                wait = retry_seconds(error)
                self.stats["retry_after"] += 1
                now = self._clock()
                self._paused_until = max(self._paused_until, now + wait)
                if chat is not None:
                    self._chat_paused[chat] = max(self._chat_paused.get(chat, 0.0), now + wait)
                log.warning(
                    "Telegram flood limit: waiting %.1f s (chat %s, attempt %d)",
                    wait,
                    chat,
                    attempt + 1,
                )
                if attempt >= retries:
                    raise
                continue
            if creates and chat is not None:
                await self._observe(chat, result, notify=not options.get("chat_locked"))
            self.stats["calls"] += 1
            return result
        raise AssertionError("unreachable")

    async def _observe(self, chat: int, result: Any, notify: bool) -> None:
        messages = result if isinstance(result, list) else [result]
        ids = [int(m["message_id"]) for m in messages if isinstance(m, dict) and "message_id" in m]
        if not ids:
            return
        self.note_message_id(chat, max(ids))
        if notify and self.on_message is not None:
            try:
                await self.on_message(chat, max(ids))
            except Exception:  # recording is bookkeeping: the message itself went out
                log.exception("recording message id %s of chat %s failed", max(ids), chat)

    # --- the windows ----------------------------------------------------------------------------

    def _chat_delay(self, chat: int, now: float) -> float:
        delay = self._chat_paused.get(chat, 0.0) - now
        sends = self._chat_sends.get(chat)
        if sends:
            recent = sorted(t for t in sends if t > now - GROUP_WINDOW_S - self.margin_s)
            if not recent:
                del self._chat_sends[chat]
                return delay
            self._chat_sends[chat] = deque(recent)
            delay = max(delay, recent[-1] + self.chat_interval_s + self.margin_s - now)
            if chat < 0 and len(recent) >= self.group_per_minute:
                delay = max(
                    delay, recent[-self.group_per_minute] + GROUP_WINDOW_S + self.margin_s - now
                )
        return delay

    async def _global_slot(self) -> float:
        """Wait (first come, first served) until a call fits the overall window; take the slot
        and return its time."""
        window = 1.0 + self.margin_s
        async with self._global:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    continue
                # at most per_second entries; a reserved slot may have moved later (not sorted)
                self._starts = deque(t for t in self._starts if t > now - window)
                if len(self._starts) < self.per_second:
                    self._starts.append(now)
                    return now
                await self._sleep(min(self._starts) + window - now)
