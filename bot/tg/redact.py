"""Keep the bot token out of every log line.

The token is part of every Bot API URL (``.../bot<TOKEN>/sendMessage``): httpx logs URLs at
INFO (silenced to WARNING), and an exception's text or traceback may quote one. A log record
factory redacts the token from the message and from the formatted exception of every record,
whatever logger or handler, before any handler sees it.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from bot.ingest.http import quiet_http_logs

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "<token>"


def redact(text: str) -> str:
    for secret in _secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


def protect_token(token: str) -> None:
    """Redact ``token`` (and its secret half) from all logging from now on; idempotent."""
    quiet_http_logs()
    with _lock:
        _secrets.add(token)
        secret_half = token.split(":", 1)[-1]
        if len(secret_half) >= 20:  # real tokens: 35 random characters
            _secrets.add(secret_half)
        _install_factory()


@functools.cache  # once per process (called under _lock)
def _install_factory() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        return record

    logging.setLogRecordFactory(factory)
