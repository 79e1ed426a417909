"""Wiring only: the PTB ``Application`` with its limiter, handlers, commands and error handler."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.app import App
from bot.ingest.http import Fetcher, FetchPolicy
from bot.matching.rules import RuleSet
from bot.settings import Settings
from bot.tg.auth import AdminCache
from bot.tg.delivery import DeliveryWorker
from bot.tg.deps import BotApplication, Deps, ScanLimits, deps
from bot.tg.handlers import basic, feeds, history, lists, review, scan, subscription, watch
from bot.tg.handlers.common import COMMANDS
from bot.tg.health import TelegramHealth, server_of
from bot.tg.heartbeat import HeartbeatRequest
from bot.tg.ratelimit import SendLimiter
from bot.tg.redact import protect_token, redact
from db import chatlocks, chatrecords
from db.engine import session_scope
from db.models import utcnow
from db.tables.delivery import SEND

log = logging.getLogger(__name__)

SCAN_MAX_BYTES = 2 * 1024 * 1024
REPLY_LOCK_WAIT_S = 0.2  # between tries while an alert is in flight in the chat elsewhere


def file_base_url(base_url: str) -> str:
    """``https://api.telegram.org/bot`` -> ``https://api.telegram.org/file/bot`` (same for a local server)."""
    head, sep, tail = base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}" if sep else base_url


def build_application(
    app: App,
    settings: Settings,
    *,
    health: TelegramHealth | None = None,
    admins: AdminCache | None = None,
) -> BotApplication:
    """The bot for ``settings``: handlers registered; ``post_init`` registers the commands.

    ``health`` receives every getMe / getUpdates outcome (pass one to read the state from
    outside); ``admins`` lets a test choose the group-admin cache's lifetime and clock.
    """
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    token = settings.telegram_bot_token.get_secret_value()
    protect_token(token)
    # PTB 22 warns whenever a time period (RetryAfter.retry_after) is read as an int; opt in to
    # the timedelta form it will use anyway.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    limiter = SendLimiter(
        per_second=settings.telegram_rate_per_s,
        chat_interval_s=settings.telegram_chat_interval_s,
        group_per_minute=settings.telegram_group_per_min,
    )
    health = health or TelegramHealth(server=server_of(settings.telegram_api_base_url))
    application = _application(token, settings, health, limiter)
    d = Deps(
        app=app,
        settings=settings,
        limiter=limiter,
        admins=admins or AdminCache(),
        scans=ScanLimits(settings.scan_rate_per_chat, settings.scan_rate_window_s),
        health=health,
    )
    d.worker = DeliveryWorker(
        app=app, bot=application.bot, limiter=limiter, settings=settings, health=health
    )
    limiter.on_message = _recorder(app)
    limiter.send_lock = _reply_lock(app, settings.delivery_lease_s)
    application.bot_data["deps"] = d
    _register(application)
    application.add_error_handler(on_error)
    return application


def _application(
    token: str, settings: Settings, health: TelegramHealth, limiter: SendLimiter
) -> BotApplication:
    """PTB's ``Application``: our requests (reporting to ``health``), limiter and defaults."""
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_base_url)
        .request(HeartbeatRequest(health, connection_pool_size=256))
        .get_updates_request(HeartbeatRequest(health, connection_pool_size=1))
        .base_file_url(file_base_url(settings.telegram_api_base_url))
        .rate_limiter(limiter)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            )
        )
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )


def _recorder(app: App) -> Callable[[int, int], Awaitable[None]]:
    """Persist every message id the bot gets back (see ``bot.tg.delivery``: probe_after)."""

    def record(tg_chat_id: int, message_id: int) -> None:
        with session_scope(app.engine) as session:
            chatrecords.note_message_id(
                session=session, tg_chat_id=tg_chat_id, message_id=message_id
            )

    async def on_message(tg_chat_id: int, message_id: int) -> None:
        await asyncio.to_thread(record, tg_chat_id, message_id)

    return on_message


def _reply_lock(app: App, lease_s: float) -> Callable[[int], AbstractAsyncContextManager[None]]:
    """A reply holds the chat's send lock (``db.chatlocks``) while it goes out, so that no
    delivery worker of another process has an alert in flight there meanwhile (the probe
    after a crash must find only the alert after ``probe_after``)."""
    holder = f"reply:{socket.gethostname()[:64]}:{os.getpid()}"

    def take(tg_chat_id: int) -> bool:
        with session_scope(app.engine) as session:
            return chatlocks.take_in_tg_chat(
                session=session,
                kind=SEND,
                holder=holder,
                tg_chat_id=tg_chat_id,
                now=utcnow(),
                lease_s=lease_s,
            )

    def release(tg_chat_id: int) -> None:
        with session_scope(app.engine) as session:
            chatlocks.release_in_tg_chat(
                session=session, kind=SEND, holder=holder, tg_chat_id=tg_chat_id
            )

    @asynccontextmanager
    async def held(tg_chat_id: int) -> AsyncIterator[None]:
        deadline = time.monotonic() + lease_s  # a dead worker's lock has run out by then
        while not await asyncio.to_thread(take, tg_chat_id) and time.monotonic() < deadline:
            await asyncio.sleep(REPLY_LOCK_WAIT_S)
        try:
            yield
        finally:
            await asyncio.to_thread(release, tg_chat_id)

    return held


def _register(application: BotApplication) -> None:
    add = application.add_handler
    add(TypeHandler(Update, basic.note_incoming), group=-1)
    add(CommandHandler("start", basic.start))
    add(CommandHandler("help", basic.help_command))
    add(CommandHandler("stats", basic.stats))
    add(CommandHandler("subscribe", subscription.subscribe))
    add(CommandHandler("unsubscribe", subscription.unsubscribe))
    add(CommandHandler("settings", subscription.settings))
    add(CommandHandler("watch", watch.watch, block=False))
    add(CommandHandler("unwatch", watch.unwatch))
    add(CommandHandler("watchlist", watch.watchlist))
    add(CommandHandler("history", history.history))
    add(CommandHandler("alert", history.alert))
    add(CommandHandler("export", history.export, block=False))
    add(CommandHandler("scan", scan.scan, block=False))
    add(CommandHandler("feeds", feeds.feeds))
    add(CommandHandler("lists", lists.lists))
    add(CallbackQueryHandler(review.review_button, pattern=r"^rv:"))
    add(CallbackQueryHandler(review.mute_button, pattern=r"^mu:"))
    add(CallbackQueryHandler(watch.stop_watching_button, pattern=r"^uw:"))
    add(CallbackQueryHandler(watch.watch_button, pattern=r"^w:"))
    add(CallbackQueryHandler(watch.watchlist_button, pattern=r"^wl:"))
    add(CallbackQueryHandler(subscription.settings_button, pattern=r"^st:"))
    add(CallbackQueryHandler(history.history_button, pattern=r"^h:"))
    add(CallbackQueryHandler(history.alert_button, pattern=r"^al:"))
    add(MessageHandler(filters.StatusUpdate.MIGRATE, basic.migrated))
    add(ChatMemberHandler(basic.membership, ChatMemberHandler.MY_CHAT_MEMBER))
    add(
        MessageHandler(
            filters.ChatType.PRIVATE & (filters.TEXT | filters.CAPTION) & ~filters.COMMAND,
            scan.scan_message,
            block=False,
        )
    )


async def post_init(application: BotApplication) -> None:
    """Register the command menu (setMyCommands) and open the fetcher /scan uses."""
    d = deps(application)
    commands = [BotCommand(name, text) for name, text in COMMANDS]
    await application.bot.set_my_commands(commands)
    await application.bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats())
    await application.bot.set_my_commands(commands, scope=BotCommandScopeAllGroupChats())
    if d.fetcher is None:  # post_init runs again when start-up is retried after an outage
        policy = FetchPolicy.from_settings(d.settings)
        d.fetcher = Fetcher.create(
            dataclasses.replace(policy, max_bytes=min(policy.max_bytes, SCAN_MAX_BYTES))
        )
    rules = await _rules(d)
    if rules is not None:
        d.regimes = subscription.regime_names(rules)


async def _rules(d: Deps) -> RuleSet | None:
    try:
        matcher = await asyncio.to_thread(d.app.matcher)
    except Exception:
        log.exception("cannot build the matcher")
        return None
    return matcher.rules


async def post_shutdown(application: BotApplication) -> None:
    d = deps(application)
    if d.fetcher is not None:
        await d.fetcher.aclose()
        d.fetcher = None
    if d.worker is not None:
        d.worker.close()


_last_notice = [0.0]


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log every handler error with its traceback, tell the user, and tell the admin chat."""
    error = context.error
    log.error("error while handling an update", exc_info=error)
    if isinstance(update, Update) and update.effective_message is not None:
        with contextlib.suppress(TelegramError):
            await update.effective_message.reply_text(
                "⚠️ Something went wrong; the bot's admins have been told.", parse_mode=None
            )
    admin_chat = deps(context).settings.admin_chat_id
    if admin_chat is None or time.monotonic() - _last_notice[0] < 10:
        return
    _last_notice[0] = time.monotonic()
    where = ""
    if isinstance(update, Update) and update.effective_chat is not None:
        where = f" in chat {update.effective_chat.id}"
    text = f"⚠️ <b>{html.escape(type(error).__name__)}</b>{html.escape(where)}: {html.escape(redact(str(error))[:1500])}"
    try:
        await context.bot.send_message(admin_chat, text, parse_mode=ParseMode.HTML)
    except TelegramError:
        log.warning("cannot tell the admin chat about an error", exc_info=True)
