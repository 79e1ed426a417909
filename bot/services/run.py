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
from enum import StrEnum
from typing import Any

from bot.app import App
from bot.demo import SAMPLES_SITE, serve_directory
from bot.errors import UserInputError
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
from bot.tg.health import BotStopped, TelegramHealth, server_of

log = logging.getLogger(__name__)

BotRunner = Callable[..., Coroutine[Any, Any, None]]


class Role(StrEnum):
    """What one ``run`` process does. Any number of each may share one PostgreSQL: feeds are
    claimed with expiring leases (``db.feeds``), chats with expiring locks (``db.chatlocks``)."""

    ALL = "all"  # everything in one process (the default)
    INGEST = "ingest"  # poll feeds, fetch, match, store alerts and their outbox rows; list sync
    DELIVER = "deliver"  # send the outbox to Telegram
    BOT = "bot"  # answer commands (polling or webhook)

    @property
    def ingests(self) -> bool:
        return self in (Role.ALL, Role.INGEST)

    @property
    def receives(self) -> bool:
        """Answers Telegram updates (commands)."""
        return self in (Role.ALL, Role.BOT)

    @property
    def delivers(self) -> bool:
        """Sends the outbox."""
        return self in (Role.ALL, Role.DELIVER)


class RoleError(UserInputError):
    """A role that cannot run with these settings (a Telegram role without a token)."""


@dataclass(frozen=True)
class TelegramParts:
    """What the Telegram bot adds to a run: the outbox hook (a delivery row per chat for each
    new alert, in the storing transaction), the watchlist alerts, the bot's runner and its
    connection's health (one object: the runner moves it, ``/healthz`` reads it)."""

    hooks: Sequence[AlertHook] = ()
    extra_alerts: Sequence[ExtraAlerts] = ()
    runner: BotRunner | None = None
    health: TelegramHealth | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> TelegramParts:
        """The parts when a bot token is configured, none otherwise (nothing imported then)."""
        token = settings.telegram_bot_token
        if token is None or not token.get_secret_value():
            return cls()
        from bot.tg.runner import run_telegram
        from bot.watchalerts import watch_alerts_for
        from db.delivery import outbox_hook

        health = TelegramHealth(server=server_of(settings.telegram_api_base_url))
        return cls([outbox_hook], [watch_alerts_for], run_telegram, health)


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


def check_role(settings: Settings, role: Role, *, once: bool = False) -> None:
    """Refuse a role that cannot run with these settings, before anything is opened."""
    token = settings.telegram_bot_token
    if not role.ingests and (token is None or not token.get_secret_value()):
        raise RoleError(f"run --role {role.value} needs TELEGRAM_BOT_TOKEN")
    if once and not role.ingests:
        raise RoleError(f"run --once polls feeds; --role {role.value} does not")


def prepare_run(app: App, settings: Settings, role: Role = Role.ALL) -> None:
    """Before watching: the feeds file applied, the matcher built (broken rules fail here);
    a delivery worker needs neither."""
    if role.ingests:
        sync_feeds_file(app, settings)
    if role is not Role.DELIVER:
        app.matcher()


def watch(
    app: App, settings: Settings, *, once: bool, seconds: int | None, role: Role = Role.ALL
) -> RunReport:
    """Watch the feeds until stopped (``once``: one polling cycle, no bot, no list sync);
    ``role``: only that part of the work (see ``Role``)."""
    check_role(settings, role, once=once)
    telegram = TelegramParts.for_settings(settings)
    if not role.ingests:
        return asyncio.run(_telegram_only(app, settings, telegram, role, seconds))
    return asyncio.run(_watch(app, settings, telegram, role, once=once, seconds=seconds))


async def _telegram_only(
    app: App, settings: Settings, telegram: TelegramParts, role: Role, seconds: int | None
) -> RunReport:
    """``--role deliver`` or ``--role bot``: the Telegram half alone, until stopped."""
    stop = _stop_event(seconds)
    served = _health_server(app, settings, telegram.health)
    assert telegram.runner is not None
    try:
        outcomes = await asyncio.gather(
            telegram.runner(
                app,
                settings,
                stop,
                receive=role.receives,
                deliver=role.delivers,
                health=telegram.health,
            ),
            return_exceptions=True,
        )
    finally:
        if served is not None:
            served.close()
    return RunReport(CycleReport(), _bot_failure(outcomes))


async def _watch(
    app: App,
    settings: Settings,
    telegram: TelegramParts,
    role: Role,
    *,
    once: bool,
    seconds: int | None,
) -> RunReport:
    sinks: list[AlertSink] = [ConsoleSink()]
    if settings.alerts_jsonl:
        sinks.append(JsonlSink(settings.alerts_jsonl))
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
            return await _until_stopped(app, settings, scheduler, telegram, stop, role)
    finally:
        extractor.close()


def _health_server(
    app: App, settings: Settings, telegram: TelegramHealth | None
) -> HealthServer | None:
    """``/healthz`` and ``/metrics`` when ``HEALTH_PORT`` is set; started first, so that a port
    in use stops the run before anything else has started. ``telegram``: the bot's connection
    when this process runs the bot (None for a process without a Telegram role)."""
    if not settings.health_port:
        return None
    server = HealthServer(app, settings.health_host, settings.health_port, telegram=telegram)
    return server.start()


async def _until_stopped(
    app: App,
    settings: Settings,
    scheduler: Scheduler,
    telegram: TelegramParts,
    stop: asyncio.Event,
    role: Role,
) -> RunReport:
    """The scheduler, the bot beside it (``Role.ALL``) and the list sync, until ``stop``."""
    runner = telegram.runner if role is Role.ALL else None
    served = _health_server(app, settings, telegram.health if runner else None)
    tasks = [_bot_task(runner(app, settings, stop, health=telegram.health), stop)] if runner else []
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
