"""``sanctions-bot status``: the watcher's health, read from the database every worker writes."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from bot.app import App
from db.engine import session_scope
from db.models import utcnow
from db.status import Status, read_status

LATENCY_WINDOW = timedelta(days=1)


def health(app: App, *, now: datetime | None = None) -> Status:
    """The figures now: feeds, the outbox, alerts, lists and feed-to-chat latency (last day)."""
    with session_scope(app.engine) as session:
        return read_status(session=session, now=now or utcnow(), window=LATENCY_WINDOW)


def as_json(status: Status) -> dict[str, Any]:
    """The figures as one JSON object: times in ISO 8601, durations in seconds."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in asdict(status).items()
    }
