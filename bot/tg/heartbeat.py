"""PTB's HTTP transport, telling ``TelegramHealth`` how each getMe / getUpdates call went (and
getWebhookInfo, the heartbeat of webhook mode: ``bot.tg.updates``).

Why at the transport: python-telegram-bot has no hook for a poll that succeeded (so nothing
could say "reachable again"), it hands polling errors to a callback except timeouts and a
rejected token, and on a rejected token its polling loop just ends with a log line. The
transport sees every answer first, with its status code, whatever PTB does with it after.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from telegram.error import NetworkError
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.tg.health import TelegramHealth
from bot.tg.redact import redact

HEARTBEAT_METHODS = frozenset({"getme", "getupdates", "getwebhookinfo"})
TOKEN_REFUSED = (401, 404)  # Telegram: 401 a revoked token, 404 a malformed one


class HeartbeatRequest(HTTPXRequest):
    """An ``HTTPXRequest`` that reports heartbeat outcomes to ``health`` (see the module docstring)."""

    def __init__(self, health: TelegramHealth, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.health = health

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = url.rstrip("/").rsplit("/", 1)[-1]
        watched = name.lower() in HEARTBEAT_METHODS
        try:
            code, payload = await super().do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except NetworkError as error:  # TimedOut included
            if watched and not isinstance(
                error.__cause__, httpx.PoolTimeout
            ):  # our pool, not Telegram
                self.health.unreachable(network_reason(error))
            raise
        if watched:
            self._observe(name, code, payload)
        return code, payload

    def _observe(self, name: str, code: int, payload: bytes) -> None:
        if code in TOKEN_REFUSED:
            self.health.reject(f"HTTP {code} {describe_payload(payload)} on {name}")
        elif code >= 500:
            self.health.unreachable(f"HTTP {code} {describe_payload(payload)} on {name}")
        else:  # answered (429 and 409 included): Telegram is there
            self.health.reachable()


def network_reason(error: BaseException) -> str:
    """ "ConnectError: All connection attempts failed (ConnectionRefusedError: [Errno 111] ...)":
    httpx's error and, when there is one, the operating system's below it; token-free."""
    top = error.__cause__ or error
    deepest = top
    while (below := deepest.__cause__ or deepest.__context__) is not None and below is not deepest:
        deepest = below
    text = _said(top)
    if deepest is not top and isinstance(deepest, OSError):
        text += f" ({_said(deepest)})"
    return redact(text)[:300]


def _said(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def describe_payload(payload: bytes) -> str:
    """The ``description`` of a Bot API error body, or a short piece of whatever came back."""
    try:
        body = json.loads(payload)
    except ValueError:
        return redact(payload[:100].decode("utf-8", "replace")).strip()
    description = body.get("description") if isinstance(body, dict) else None
    return redact(str(description or "")[:200])
