"""Running the bot beside the feed scheduler, in one process and one event loop.

``run_telegram`` does what ``Application.run_polling`` does, minus owning the event loop and
the signals (the caller has them): initialize, ``post_init`` (command menu), reconcile messages
a previous process left in flight, start, poll; plus the delivery worker. Setting ``stop`` is a
graceful stop (every chat finishes the message in hand); cancelling the task is a hard stop,
like a crash (rows in flight are reconciled at the next start).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update

from bot.app import App
from bot.settings import Settings
from bot.tg.app import build_application
from bot.tg.deps import deps

log = logging.getLogger(__name__)


async def run_telegram(app: App, settings: Settings, stop: asyncio.Event, *, application: Any = None) -> None:
    """Poll Telegram and deliver alerts until ``stop`` is set (see the module docstring).

    ``application`` may be one built by ``build_application`` (tests reach into it); by default
    it is built here from ``settings`` (``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_API_BASE_URL``).
    """
    application = application or build_application(app, settings)
    worker = deps(application).worker
    assert worker is not None
    try:
        async with application:  # initialize ... shutdown
            if application.post_init is not None:
                await application.post_init(application)
            await worker.reconcile()
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(
                poll_interval=0.0,
                timeout=settings.telegram_poll_timeout_s,
                allowed_updates=Update.ALL_TYPES,
                drop_pending_updates=False,
            )
            log.info("telegram bot @%s polling; delivery worker running", application.bot.username)
            try:
                await _deliver_until(stop, worker)
            finally:
                if application.updater.running:
                    await application.updater.stop()
                if application.running:
                    await application.stop()
                    if application.post_stop is not None:
                        await application.post_stop(application)
    finally:
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


async def _deliver_until(stop: asyncio.Event, worker: Any) -> None:
    """Run the worker until ``stop`` (restarting it after an unexpected error); on cancellation
    abort it at once, leaving rows in flight for the next start to reconcile."""
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
