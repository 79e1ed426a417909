"""What the handlers and the worker share: the app, settings, limiter, caches; and ``db()``.

One ``Deps`` per Application, kept in ``application.bot_data["deps"]``; ``deps(context)``
fetches it with its type. ``db()`` takes a function of the session alone, typically a ``db.*``
function with its other arguments bound: ``d.db(partial(chats_db.list_watch, tg_chat_id=1))``
(mypy checks the bound arguments' names and types, and the result's type carries through).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

from sqlmodel import Session
from telegram.ext import Application, ContextTypes, ExtBot, JobQueue

from bot.app import App
from bot.ingest.http import Fetcher
from bot.settings import Settings
from bot.tg.auth import AdminCache
from bot.tg.health import TelegramHealth
from bot.tg.ratelimit import SendLimiter
from db.engine import session_scope

if TYPE_CHECKING:
    from bot.tg.delivery import DeliveryWorker

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class SessionWork(Protocol[T_co]):
    """A ``db.*`` function (keyword-only ``session``) or a partial of one with the rest bound."""

    def __call__(self, *, session: Session) -> T_co: ...


# The Application ``bot.tg.app.build_application`` builds: default context types, dict data,
# a bot whose rate limiter (``SendLimiter``) takes dict ``rate_limit_args``.
BotApplication: TypeAlias = Application[
    ExtBot[dict[str, Any]],
    ContextTypes.DEFAULT_TYPE,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    JobQueue[ContextTypes.DEFAULT_TYPE],
]


class ScanLimits:
    """At most ``count`` scans per chat in any ``window_s``; one at a time per chat."""

    def __init__(
        self, count: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.count = count
        self.window_s = window_s
        self._clock = clock
        self._recent: dict[int, deque[float]] = {}
        self.running: set[int] = set()

    def allow(self, chat_id: int) -> float:
        """0 if a scan may start now (and counts it), else the seconds to wait."""
        now = self._clock()
        recent = self._recent.setdefault(chat_id, deque())
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        if len(recent) >= self.count:
            return recent[0] + self.window_s - now
        recent.append(now)
        return 0.0


@dataclass
class Deps:
    app: App
    settings: Settings
    limiter: SendLimiter
    admins: AdminCache = field(default_factory=AdminCache)
    scans: ScanLimits = field(default_factory=lambda: ScanLimits(5, 600))
    fetcher: Fetcher | None = None
    worker: DeliveryWorker | None = None
    regimes: list[str] = field(default_factory=list)
    health: TelegramHealth = field(default_factory=TelegramHealth)

    async def db(self, work: SessionWork[T], /) -> T:
        """Run ``work(session=...)`` in a worker thread, in its own committed transaction."""

        def call() -> T:
            with session_scope(self.app.engine) as session:
                return work(session=session)

        return await asyncio.to_thread(call)


def deps(source: ContextTypes.DEFAULT_TYPE | BotApplication) -> Deps:
    """The ``Deps`` of a handler's context (or of the application itself)."""
    application = source if isinstance(source, Application) else source.application
    value = application.bot_data["deps"]
    assert isinstance(value, Deps)
    return value
