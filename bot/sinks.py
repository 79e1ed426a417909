"""Where new alerts go once stored: the console, a JSON-lines file, later Telegram.

A sink receives an alert only after it is committed to the database, in the stored alert's
JSON shape (``db.alerts.alert_dict``: the scan schema plus ``id``, ``created_at`` and
``sources``). A sink that fails is logged and does not stop the others: the alert is already
stored, and ``alerts list`` shows it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Protocol, TextIO

from bot.report import render_text

log = logging.getLogger(__name__)


class AlertSink(Protocol):
    """Anything that takes new alerts."""

    async def emit(self, alert: dict[str, Any]) -> None: ...


class ConsoleSink:
    """Prints new alerts for people, as ``scan`` does."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    async def emit(self, alert: dict[str, Any]) -> None:
        source = alert["sources"][0] if alert.get("sources") else {"url": "", "title": ""}
        result = {
            "source": source.get("url", ""),
            "title": source.get("title", ""),
            "alerts": [alert],
        }
        extra = len(alert.get("sources", [])) - 1
        text = render_text(result, bold=self.stream.isatty())
        if extra > 0:
            text += f"\n   (+{extra} more source{'s' if extra > 1 else ''})"
        print(text, file=self.stream, flush=True)


class JsonlSink:
    """Appends one JSON object per alert to a file (flushed and synced: a crash loses nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    async def emit(self, alert: dict[str, Any]) -> None:
        line = json.dumps(alert, ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


async def emit_all(sinks: list[AlertSink], alert: dict[str, Any]) -> None:
    for sink in sinks:
        try:
            await sink.emit(alert)
        except Exception:  # one broken sink must not silence the others
            log.exception("alert sink %s failed for alert %s", type(sink).__name__, alert.get("id"))
