"""Running the bot beside the feed scheduler, in one process and one event loop.

``run_telegram`` does what ``Application.run_polling`` does, minus owning the event loop and
the signals (the caller has them): initialize (``getMe``), ``post_init`` (command menu),
reconcile messages a previous process left in flight, start, poll; plus the delivery worker.
Setting ``stop`` is a graceful stop (every chat finishes the message in hand); cancelling the
task is a hard stop, like a crash (rows in flight are reconciled at the next start).

**Outages** (see ``bot.tg.health``): when Telegram cannot be reached at start-up (connection
refused, a timeout, a 5xx), start-up is tried again with exponential backoff until it works or
``stop`` is set; while polling, python-telegram-bot retries ``getUpdates`` with its own backoff
(1 s growing to 30 s) and the delivery worker pauses. Neither ends the task: feed ingestion goes
on beside it and alerts wait in the outbox. A token Telegram rejects (401/404 on ``getMe`` or
``getUpdates``), at start-up or later, ends the task with ``TokenRejected``: retrying cannot
help, and the caller must stop and say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.app import App
from bot.settings import Settings
from bot.tg.app import build_application
from bot.tg.deps import BotApplication, Deps, deps
from bot.tg.health import Backoff, TelegramHealth, TelegramState, sleep_unless
from bot.tg.heartbeat import network_reason
from bot.tg.ratelimit import retry_seconds
from bot.tg.redact import redact
from bot.tg.updates import start_receiving, stop_receiving

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0  # getMe pace of a process that delivers without receiving updates


@dataclass(frozen=True)
class Halves:
    """Which halves of the bot a process runs: receiving updates, delivering the outbox."""

    receive: bool = True
    deliver: bool = True


async def run_telegram(
    app: App,
    settings: Settings,
    stop: asyncio.Event,
    *,
    receive: bool = True,
    deliver: bool = True,
    application: BotApplication | None = None,
    health: TelegramHealth | None = None,
    backoff: Backoff | None = None,
) -> None:
    """Poll Telegram and deliver alerts until ``stop`` is set (see the module docstring).

    ``receive`` and ``deliver`` say which halves run here: receiving updates (commands) and delivering the
    outbox; ``run --role bot`` and ``--role deliver`` run one each, in separate processes.
    ``application`` may be one built by ``build_application`` (tests reach into it); by default
    it is built here from ``settings`` (``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_API_BASE_URL``) and
    reports to ``health``. ``backoff`` paces start-up retries (tests shorten it).
    Raises ``TokenRejected`` when Telegram refuses the token.
    """
    application = application or build_application(app, settings, health=health)
    d = deps(application)
    retry = backoff or Backoff()
    try:
        while not stop.is_set():
            try:
                await _session(application, settings, stop, d, Halves(receive, deliver))
                return
            except InvalidToken as error:
                raise d.health.reject(_token_reason(error)) from None
            except (NetworkError, RetryAfter) as error:  # NetworkError: TimedOut too, not Forbidden
                retry_in = _after_failure(error, d.health, retry)
            if await sleep_unless(stop, retry_in):
                return
    finally:
        if d.health.state in (TelegramState.STARTING, TelegramState.RETRYING):
            log.warning("Telegram bot stopping while %s", d.health.describe())
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


def _after_failure(
    error: NetworkError | RetryAfter, health: TelegramHealth, retry: Backoff
) -> float:
    """Record a failed start-up; the seconds to wait: the backoff, or longer if Telegram asks (429)."""
    delay = retry.next_delay()
    if isinstance(error, RetryAfter):
        delay = max(delay, retry_seconds(error))
        log.warning("Telegram asks the bot to wait %.0f s before starting (429)", delay)
        return delay
    if health.state is not TelegramState.RETRYING:  # not a heartbeat call: say it here
        health.unreachable(f"start-up failed: {network_reason(error)}")
    log.info("next attempt to reach Telegram in %.1f s", delay)
    return delay


async def _session(
    application: BotApplication, settings: Settings, stop: asyncio.Event, d: Deps, roles: Halves
) -> None:
    """One connection: start, deliver until ``stop`` (or a rejected token), stop. Raises what
    start-up raised, after undoing what had started (so that it can be tried again)."""
    try:
        if not await _unless_stopped(stop, application.initialize()):
            return
        await _start(application, settings, d, roles)
        halt = asyncio.Event()
        relay = asyncio.create_task(
            _relay(halt, stop, d.health.rejected_event), name="telegram-halt"
        )
        beat = None if roles.receive else asyncio.create_task(_heartbeat(application, halt))
        try:
            if roles.deliver:
                await _deliver_until(halt, d)
            else:
                await halt.wait()
        finally:
            relay.cancel()
            if beat is not None:
                beat.cancel()
        if d.health.state is TelegramState.REJECTED:
            raise d.health.rejection()
    finally:
        try:
            await _stop(application)
        finally:
            await application.shutdown()
            await application.bot.shutdown()  # when initialize was cut short: its HTTP clients


async def _heartbeat(application: BotApplication, halt: asyncio.Event) -> None:
    """A delivery worker that receives no updates asks ``getMe`` every few seconds instead:
    ``TelegramHealth`` learns of an outage from it (a failed send alone says nothing) and the
    worker pauses rather than spend its rows' attempts on it."""
    while not await sleep_unless(halt, HEARTBEAT_S):
        with contextlib.suppress(TelegramError):  # the transport has reported it
            await application.bot.get_me()


async def _start(application: BotApplication, settings: Settings, d: Deps, roles: Halves) -> None:
    """Command menu, reconcile rows left in flight, then take updates (polling or webhook: as
    the roles ask)."""
    if roles.deliver:
        assert d.worker is not None
        await d.worker.reconcile()
    if not roles.receive:
        log.info("telegram delivery worker running as @%s", application.bot.username)
        return
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()
    await start_receiving(application, settings)
    log.info(
        "telegram bot @%s running%s",
        application.bot.username,
        "; delivery worker running" if roles.deliver else "",
    )


async def _stop(application: BotApplication) -> None:
    """Stop taking updates, then the application."""
    await stop_receiving(application)
    if application.running:
        await application.stop()
        if application.post_stop is not None:
            await application.post_stop(application)


async def _unless_stopped(stop: asyncio.Event, step: Awaitable[Any]) -> bool:
    """Run ``step`` unless ``stop`` comes first (then cancel it): an unreachable server must not
    hold up a stop for a whole connect timeout. True when ``step`` finished."""
    task = asyncio.ensure_future(step)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False
    task.result()
    return True


async def _relay(target: asyncio.Event, *sources: asyncio.Event) -> None:
    """Set ``target`` as soon as any of ``sources`` is set."""
    waiters = [asyncio.ensure_future(source.wait()) for source in sources]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        target.set()
    finally:
        for waiter in waiters:
            waiter.cancel()


def _token_reason(error: InvalidToken) -> str:
    """Telegram's own words when there are some ("Unauthorized"), never PTB's, which quote the token."""
    inner = error.__cause__ if isinstance(error.__cause__, TelegramError) else error
    return redact(inner.message if isinstance(inner, TelegramError) else str(inner))[:200]


async def _deliver_until(stop: asyncio.Event, d: Deps) -> None:
    """Run the worker until ``stop`` (restarting it after an unexpected error); on cancellation
    abort it at once, leaving rows in flight for the next start to reconcile."""
    worker = d.worker
    assert worker is not None
    while True:
        deliveries = asyncio.create_task(worker.run(stop), name="delivery-worker")
        try:
            await asyncio.shield(deliveries)
        except asyncio.CancelledError:
            worker.abort()
            deliveries.cancel()
            raise
        except Exception:
            log.exception("delivery worker stopped unexpectedly; restarting it")
        if stop.is_set():
            return
        await asyncio.sleep(1.0)
