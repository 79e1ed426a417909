"""Stored alerts read back: newest first, in the scan schema plus id, created_at and sources."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.app import App
from bot.feedconfig import parse_duration
from db.alerts import alert_dict, alert_sources, recent_alerts
from db.engine import session_scope
from db.models import utcnow


def cutoff(since: str | None) -> datetime | None:
    """The moment ``since`` (1h, 1d, 7d) ago; a malformed value raises ``FeedInputError``."""
    return utcnow() - timedelta(seconds=parse_duration(since)) if since else None


def stored_alerts(app: App, *, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    """Alerts stored since ``since`` (all without), newest first, each with all its sources."""
    with session_scope(app.engine) as session:
        return [
            alert_dict(alert, article, alert_sources(session=session, alert_id=alert.id or 0))
            for alert, article in recent_alerts(session=session, since=since, limit=limit)
        ]
