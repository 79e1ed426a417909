"""The watcher's composition root: what ``sanctions-bot run`` (and ``demo``) put together.

``watch`` builds the sinks (the console, and ``ALERTS_JSONL`` when set), stops on SIGINT/SIGTERM
or after a duration, creates the one fetcher and the extraction processes, the pipeline and its
scheduler, the list sync schedule and, with ``TELEGRAM_BOT_TOKEN`` set, the Telegram bot in the
same process (``TelegramParts``: the outbox hook, the watchlist alerts and the bot's runner,
imported only then). If the bot ends with an error (a rejected token) the whole run stops, and
the error is returned with the cycle's figures.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.app import App
from bot.demo import SAMPLES_SITE, serve_directory
from bot.ingest.extractor import Extractor
from bot.ingest.http import Fetcher, FetchPolicy
from bot.listsync import sync_periodically
from bot.pipeline import Pipeline
from bot.scheduler import CycleReport, Scheduler
from bot.services.feeds import sync_feeds_file, watch_feeds
from bot.services.healthhttp import HealthServer
from bot.services.scan import AlertHook, ExtraAlerts
from bot.settings import Settings
from bot.sinks import AlertSink, ConsoleSink, JsonlSink
from bot.tg.health import BotStopped

log = logging.getLogger(__name__)

BotRunner = Callable[[App, Settings, asyncio.Event], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class TelegramParts:
    """What the Telegram bot adds to a run: the outbox hook (a delivery row per chat for each
    new alert, in the storing transaction), the watchlist alerts and the bot's runner."""

    hooks: Sequence[AlertHook] = ()
    extra_alerts: Sequence[ExtraAlerts] = ()
    runner: BotRunner | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> TelegramParts:
        """The parts when a bot token is configured, none otherwise (nothing imported then)."""
        token = settings.telegram_bot_token
        if token is None or not token.get_secret_value():
            return cls()
        from bot.tg.runner import run_telegram
        from bot.watchalerts import watch_alerts_for
        from db.delivery import outbox_hook

        return cls([outbox_hook], [watch_alerts_for], run_telegram)


@dataclass
class RunReport:
    """A run's figures, and what stopped the bot when it did not stop by itself."""

    cycle: CycleReport
    bot_failure: BotStopped | None = None


def _stop_event(seconds: int | None) -> asyncio.Event:
    """Set by SIGINT or SIGTERM, or after ``seconds`` (and by a failing bot, see ``_bot_task``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if seconds is not None:
        loop.call_later(seconds, stop.set)
    return stop


def prepare_run(app: App, settings: Settings) -> None:
    """Before watching: the feeds file applied, the matcher built (broken rules fail here)."""
    sync_feeds_file(app, settings)
    app.matcher()


def watch(app: App, settings: Settings, *, once: bool, seconds: int | None) -> RunReport:
    """Watch the feeds until stopped (``once``: one polling cycle, no bot, no list sync)."""
    return asyncio.run(_watch(app, settings, once=once, seconds=seconds))


async def _watch(app: App, settings: Settings, *, once: bool, seconds: int | None) -> RunReport:
    sinks: list[AlertSink] = [ConsoleSink()]
    if settings.alerts_jsonl:
        sinks.append(JsonlSink(settings.alerts_jsonl))
    telegram = TelegramParts.for_settings(settings)
    stop = _stop_event(seconds)
    extractor = Extractor(workers=settings.extractor_workers, timeout_s=settings.extract_timeout_s)
    try:
        async with Fetcher.create(FetchPolicy.from_settings(settings)) as fetcher:
            pipeline = Pipeline(
                app,
                fetcher,
                sinks,
                hooks=telegram.hooks,
                extra_alerts=telegram.extra_alerts,
                extractor=extractor,
            )
            scheduler = Scheduler(pipeline)
            if once:
                return RunReport(await scheduler.run_once())
            return await _until_stopped(app, settings, scheduler, telegram, stop)
    finally:
        extractor.close()


async def _until_stopped(
    app: App, settings: Settings, scheduler: Scheduler, telegram: TelegramParts, stop: asyncio.Event
) -> RunReport:
    """The scheduler, the bot beside it and the list sync, until ``stop`` is set."""
    served = (  # first: a port in use stops the run before anything else has started
        HealthServer(app, settings.health_host, settings.health_port).start()
        if settings.health_port
        else None
    )
    runner = telegram.runner
    tasks = [_bot_task(runner(app, settings, stop), stop)] if runner else []
    lists_task = asyncio.create_task(
        sync_periodically(app, settings, stop, telegram.hooks), name="list-sync"
    )
    try:
        report = await scheduler.run(stop)
    finally:
        if served is not None:
            served.close()
        stop.set()
        lists_task.cancel()  # a download in flight is dropped; the version in force stays
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(lists_task, return_exceptions=True)
    return RunReport(report, _bot_failure(outcomes))


def _bot_task(bot: Coroutine[Any, Any, None], stop: asyncio.Event) -> asyncio.Task[None]:
    """The bot beside the scheduler; if it ends with an error (a rejected token), the whole run stops."""
    task: asyncio.Task[None] = asyncio.create_task(bot, name="telegram")

    def stop_on_error(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            stop.set()

    task.add_done_callback(stop_on_error)
    return task


def _bot_failure(outcomes: Sequence[Any]) -> BotStopped | None:
    """What ended the bot, which ``gather(return_exceptions=True)`` would otherwise drop."""
    from bot.tg.redact import redact

    for outcome in outcomes:
        if isinstance(outcome, BotStopped):
            return outcome
        if isinstance(outcome, Exception):
            log.error("the Telegram bot stopped unexpectedly", exc_info=outcome)
            return BotStopped(
                f"the Telegram bot stopped unexpectedly: {type(outcome).__name__}: {redact(str(outcome))[:300]}"
            )
    return None


# --- the demo ---------------------------------------------------------------------------------


def demo_cycle(app: App, settings: Settings) -> CycleReport:
    """One polling cycle over the bundled sample feeds, served from a loopback web server (the
    fetch policy allows only ``localhost``); running it again finds nothing new."""
    with serve_directory(SAMPLES_SITE) as base:
        names = sorted(path.name for path in (SAMPLES_SITE / "feeds").iterdir())
        feeds = [(f"{base}/feeds/{name}", name) for name in names]
        watch_feeds(app, feeds, interval_s=settings.default_feed_interval_s, origin="demo")
        policy = replace(FetchPolicy.from_settings(settings), allow_hosts=frozenset({"localhost"}))
        return asyncio.run(_demo(app, policy))


async def _demo(app: App, policy: FetchPolicy) -> CycleReport:
    async with Fetcher.create(policy) as fetcher:
        return await Scheduler(Pipeline(app, fetcher, [ConsoleSink()])).run_once()
