"""Is Telegram reachable? One small state object per bot, for the logs and a status command.

States (``TelegramHealth.state``)::

    starting --getMe answered--> connected <--an answer again-- retrying
        |                            |                             ^
        |                            +--refused, timeout, 5xx------+
        +--refused, timeout, 5xx--> retrying
    any --401/404 on a heartbeat call--> rejected (final: ``run`` stops, status 4)

Only the heartbeat calls (``getMe`` at start-up, ``getUpdates`` while polling, ``getWebhookInfo``
in webhook mode: ``bot.tg.updates``) move the state: a single send that fails says something
about that message, not about Telegram. While the
state is ``retrying``, start-up and polling try again with exponential backoff, feed ingestion
goes on and alerts wait in the outbox (the delivery worker pauses rather than spend their
attempts). Every transition is logged once: ERROR when Telegram is lost or the token rejected,
INFO "Telegram reachable again" when it answers again.

This module imports nothing from python-telegram-bot, so the CLI can name its errors cheaply.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit

from bot.errors import SanctionsBotError

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class TelegramState(StrEnum):
    STARTING = "starting"
    CONNECTED = "connected"
    RETRYING = "retrying"
    REJECTED = "rejected"


class BotStopped(SanctionsBotError):
    """The Telegram bot cannot go on; ``sanctions-bot run`` stops and exits with ``exit_code``."""

    exit_code = 1


class TokenRejected(BotStopped):
    """Telegram refused the bot token: retrying cannot help, the operator must fix it."""

    exit_code = 4


def server_of(base_url: str) -> str:
    """``https://user:pw@api.telegram.org/bot`` -> ``https://api.telegram.org``: where, never who."""
    parts = urlsplit(base_url)
    if not parts.scheme or not parts.hostname:
        return repr(base_url.split("@")[-1][:100])
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


@dataclass
class TelegramHealth:
    """The bot's connection to Telegram: state, since when, why (see the module docstring)."""

    server: str = "Telegram"
    clock: Callable[[], datetime] = field(default=_now, repr=False)
    state: TelegramState = TelegramState.STARTING
    since: datetime = field(default_factory=_now)
    last_error: str | None = None
    failures: int = 0  # consecutive, in the current outage
    rejected_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def __post_init__(self) -> None:
        self.since = self.clock()

    @property
    def up(self) -> bool:
        return self.state is TelegramState.CONNECTED

    def reachable(self) -> None:
        """Telegram answered a heartbeat call."""
        if self.state in (TelegramState.CONNECTED, TelegramState.REJECTED):
            return
        if self.state is TelegramState.RETRYING:
            down_s = (self.clock() - self.since).total_seconds()
            log.info(
                "Telegram reachable again at %s after %.0f s and %d failed attempts",
                self.server,
                down_s,
                self.failures,
            )
        self._enter(TelegramState.CONNECTED)
        self.failures = 0

    def unreachable(self, reason: str) -> None:
        """A heartbeat call failed without Telegram's answer (refused, timed out, 5xx)."""
        if self.state is TelegramState.REJECTED:
            return
        self.failures += 1
        self.last_error = reason
        if self.state is not TelegramState.RETRYING:
            self._enter(TelegramState.RETRYING)
            log.error(
                "Telegram unreachable at %s: %s; retrying with backoff, feeds are still watched and alerts wait in the outbox",
                self.server,
                reason,
            )
        else:
            log.warning(
                "Telegram still unreachable at %s since %s (%d attempts): %s",
                self.server,
                f"{self.since:%H:%M:%S}",
                self.failures,
                reason,
            )

    def reject(self, reason: str) -> TokenRejected:
        """Telegram refused the token; returns the error that stops the run (logged once)."""
        if self.state is not TelegramState.REJECTED:
            self.last_error = reason
            self._enter(TelegramState.REJECTED)
            log.error(
                "Telegram rejected the bot token at %s (%s): check TELEGRAM_BOT_TOKEN; stopping",
                self.server,
                reason,
            )
            self.rejected_event.set()
        return self.rejection()

    def rejection(self) -> TokenRejected:
        """The error that stops the run, naming Telegram's reason (never the token)."""
        return TokenRejected(
            f"Telegram rejected the bot token ({self.last_error}) at {self.server}: "
            "check TELEGRAM_BOT_TOKEN (revoked, mistyped, or meant for another server)"
        )

    def describe(self) -> str:
        """One line for logs and a status command: "retrying since 12:00:01 UTC (3 attempts): ..."."""
        text = f"{self.state.value} since {self.since:%Y-%m-%d %H:%M:%S} UTC"
        if self.state is TelegramState.RETRYING:
            text += f" ({self.failures} failed attempts)"
        if self.last_error and self.state is not TelegramState.CONNECTED:
            text += f": {self.last_error}"
        return text

    def snapshot(self) -> dict[str, object]:
        """The state as plain data (JSON-ready) for a status command."""
        return {
            "state": self.state.value,
            "since": self.since.isoformat(),
            "server": self.server,
            "last_error": self.last_error,
            "failures": self.failures,
        }

    def _enter(self, state: TelegramState) -> None:
        self.state = state
        self.since = self.clock()


@dataclass
class Backoff:
    """Exponential delays with jitter (1, 2, 4 ... 60 s by default): an outage costs at most a
    request a minute, and a fleet of bots restarting together does not retry in step."""

    initial_s: float = 1.0
    cap_s: float = 60.0
    rng: Callable[[], float] = field(default=random.random, repr=False)
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.cap_s, self.initial_s * 2.0**self.attempt)
        self.attempt += 1
        return delay * (0.75 + self.rng() / 4)

    def reset(self) -> None:
        self.attempt = 0


async def sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True when stopped (so the caller returns)."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
