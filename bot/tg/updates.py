"""How the bot receives updates: long polling (the default) or a webhook behind a reverse proxy.

Chosen by configuration: ``TELEGRAM_WEBHOOK_URL`` set (or ``run --webhook-url``) is webhook
mode, unset is polling. ``start_receiving`` and ``stop_receiving`` are the runner's only two
calls; everything that differs between the modes stays here.

**Webhook mode** is python-telegram-bot's own ``Updater.start_webhook`` (the ``webhooks`` extra,
tornado): it listens on ``TELEGRAM_WEBHOOK_LISTEN:TELEGRAM_WEBHOOK_PORT`` (plain HTTP; TLS ends at
the reverse proxy) at the URL's path, calls ``setWebhook`` with the URL and the secret token, and
answers 403 to any POST whose ``X-Telegram-Bot-Api-Secret-Token`` header is missing or wrong
before reading its body as an update. Two things polling gave for free are added:

* *A heartbeat.* Polling's ``getUpdates`` tells ``TelegramHealth`` whether Telegram answers and
  whether the token still holds; a webhook makes no call at all. ``WebhookWatch`` asks
  ``getWebhookInfo`` every ``TELEGRAM_WEBHOOK_CHECK_S`` seconds (every 5 s at most while Telegram
  is unreachable), which the heartbeat transport observes like ``getUpdates``: the delivery
  worker pauses during an outage and a revoked token stops the run, as in polling mode.
* *Telegram's side of the story.* Telegram cannot reach a badly configured proxy, and only
  ``getWebhookInfo`` says so (``last_error_message``); each new error is logged as a warning,
  and so is a webhook URL changed under the bot (a polling process with the same token deletes
  it at start: updates then stop arriving here).

Stopping closes the webhook server and leaves the webhook set: Telegram keeps the updates (for
up to a day) until a bot listens again, and other bot processes behind the same proxy go on
receiving. A polling start deletes it (PTB's bootstrap), so switching back needs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from dataclasses import dataclass, field
from datetime import datetime

from telegram import Update
from telegram.error import NetworkError, TelegramError

from bot.settings import Settings
from bot.tg.deps import BotApplication, deps
from bot.tg.health import BotStopped, TelegramHealth, sleep_unless
from bot.tg.redact import redact

log = logging.getLogger(__name__)

_WATCH = "webhook_watch"  # the key of the running WebhookWatch in ``application.bot_data``
OUTAGE_CHECK_S = 5.0  # how often getWebhookInfo is asked while Telegram is unreachable


class WebhookListenError(BotStopped):
    """The webhook server cannot listen where configured (a port in use, an unknown address)."""


async def start_receiving(application: BotApplication, settings: Settings) -> None:
    """Start taking updates: the webhook server when a webhook URL is set, else polling.
    ``application`` must be started. Raises what ``setWebhook``/``deleteWebhook`` raise (the
    runner retries network failures) and ``WebhookListenError``."""
    updater = application.updater
    assert updater is not None
    if not settings.telegram_webhook_url:
        await updater.start_polling(
            poll_interval=0.0,
            timeout=settings.telegram_poll_timeout_s,
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
            error_callback=_polling_error,
        )
        log.info("receiving Telegram updates by polling")
        return
    secret = settings.telegram_webhook_secret
    assert secret is not None  # Settings refuses a webhook URL without one
    listen, port = settings.telegram_webhook_listen, settings.telegram_webhook_port
    try:
        _check_can_listen(listen, port)  # before setWebhook points Telegram at us
        await updater.start_webhook(
            listen=listen,
            port=port,
            url_path=settings.webhook_path,
            webhook_url=settings.telegram_webhook_url,
            secret_token=secret.get_secret_value(),
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
        )
    except OSError as error:  # binding the port; setWebhook's failures are NetworkErrors
        raise WebhookListenError(
            f"cannot listen for Telegram's webhook on {listen}:{port}"
            f" (TELEGRAM_WEBHOOK_LISTEN, TELEGRAM_WEBHOOK_PORT): {error.strerror or error}"
        ) from error
    watch = WebhookWatch(
        application, settings.telegram_webhook_url, settings.telegram_webhook_check_s
    )
    application.bot_data[_WATCH] = watch.start()
    log.info(
        "receiving Telegram updates by webhook at %s (listening on %s:%d, path %s)",
        settings.telegram_webhook_url,
        listen,
        port,
        settings.webhook_path,
    )


def _check_can_listen(listen: str, port: int) -> None:
    """Bind (and release) what tornado will bind, as it binds it: every address ``listen``
    resolves to, with ``SO_REUSEADDR``. Raises ``OSError`` if one cannot be bound. Why before:
    ``start_webhook`` calls ``setWebhook`` first and binds after, and tornado leaks its socket
    when the bind fails."""
    for family, kind, proto, _, address in socket.getaddrinfo(
        listen or None,  # "": every interface, as tornado reads it
        port,
        socket.AF_UNSPEC,
        socket.SOCK_STREAM,
        0,
        socket.AI_PASSIVE,
    ):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as error:  # IPv6 half disabled (containers): left to tornado
                if not (family == socket.AF_INET6 and error.errno == errno.EADDRNOTAVAIL):
                    raise


async def stop_receiving(application: BotApplication) -> None:
    """Stop taking updates (polling, or the webhook server and its watch). A rejected token ends
    PTB's polling task with ``InvalidToken``, which ``updater.stop()`` raises again: already
    reported, not a reason to leave the rest running."""
    watch = application.bot_data.pop(_WATCH, None)
    if isinstance(watch, WebhookWatch):
        await watch.stop()
    if application.updater is not None and application.updater.running:
        try:
            await application.updater.stop()
        except TelegramError as error:
            log.debug("receiving updates had ended with %s", type(error).__name__)


def _polling_error(error: TelegramError) -> None:
    """PTB's polling loop retries every error after this; must not raise. Network failures are
    already in ``TelegramHealth`` (logged once per outage), so only the others are logged here
    (e.g. ``Conflict``: another process polls with the same token)."""
    if not isinstance(error, NetworkError):
        log.error("Telegram polling failed: %s: %s", type(error).__name__, redact(str(error)))


@dataclass
class WebhookWatch:
    """``getWebhookInfo`` every ``interval_s``: the heartbeat of webhook mode, and Telegram's own
    report of delivering to us (see the module docstring)."""

    application: BotApplication
    url: str
    interval_s: float
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _last_error_date: datetime | None = field(default=None, init=False)
    _url_warned: str | None = field(default=None, init=False)

    @property
    def health(self) -> TelegramHealth:
        return deps(self.application).health

    def start(self) -> WebhookWatch:
        self._task = asyncio.create_task(self._run(), name="telegram-webhook-watch")
        return self

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not await sleep_unless(self._stop, self._delay()):
            await self.check()

    def _delay(self) -> float:
        return self.interval_s if self.health.up else min(self.interval_s, OUTAGE_CHECK_S)

    async def check(self) -> None:
        """One ``getWebhookInfo``; its outcome reaches ``TelegramHealth`` through the transport."""
        try:
            info = await self.application.bot.get_webhook_info()
        except TelegramError as error:  # an outage or a rejected token: health has it
            log.debug("getWebhookInfo failed: %s", type(error).__name__)
            return
        if info.last_error_date is not None and info.last_error_date != self._last_error_date:
            self._last_error_date = info.last_error_date
            log.warning(
                "Telegram could not deliver updates to %s at %s: %s (%d waiting); check the"
                " reverse proxy and TELEGRAM_WEBHOOK_LISTEN/PORT",
                self.url,
                f"{info.last_error_date:%H:%M:%S}",
                redact(info.last_error_message or "no reason given"),
                info.pending_update_count,
            )
        if info.url == self.url:
            self._url_warned = None
        elif info.url != self._url_warned:
            self._url_warned = info.url
            log.warning(
                "Telegram's webhook for this bot is now %r, not %s: another process with this"
                " token changed it (a polling run deletes it); updates do not reach this one",
                info.url,
                self.url,
            )
