"""The outbox's messages as they are sent: an alert, or a digest of several, with the keyboard
that makes each one unique in its chat (what ``bot.tg.sender`` looks for when an answer is lost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup

from bot.tg.alertmessages import render_alert, render_digest
from bot.tg.keyboards import alert_keyboard, digest_keyboard


@dataclass(frozen=True)
class Message:
    """One message to send: its rows, its alerts, its HTML and its keyboard."""

    delivery_ids: tuple[int, ...]
    alert_ids: tuple[int, ...]
    text: str
    keyboard: InlineKeyboardMarkup


def compose(
    alerts: Sequence[dict[str, Any]],
    delivery_ids: Sequence[int],
    digest: bool,
    total: int | None = None,
) -> Message:
    """The message for some rows: an alert, or a digest of several (pure, so a probe rebuilds
    exactly the keyboard that was sent)."""
    if not digest and len(alerts) == 1:
        alert = alerts[0]
        return Message(
            tuple(delivery_ids), (alert["id"],), render_alert(alert), alert_keyboard(alert)
        )
    ids = tuple(a["id"] for a in alerts)
    return Message(tuple(delivery_ids), ids, render_digest(alerts, total), digest_keyboard(ids))
