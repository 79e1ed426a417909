"""The watchlist as a pipeline hook: the watch items stored in ``db.chats``, found in an article
by ``bot.watch``.

``bot.watch`` is pure (no database); this module is the one place that joins it to the stored
watch items, so it sits in the service layer, above ``db``.
"""

from __future__ import annotations

from typing import Any

from bot.matching.engine import Analysis, Matcher
from bot.watch import find_watch_hits, watch_alerts
from db.chats import watch_targets


def watch_alerts_for(
    session: Any, matcher: Matcher, analysis: Analysis, article: Any = None
) -> list[dict[str, Any]]:
    """The watchlist alerts for an analysed article, in the scan JSON schema.

    Positional, in the shape of the pipeline's ``ExtraAlerts`` hook: the pipeline stores them
    after the rules' alerts (``store_alerts``) and calls ``enqueue_alert`` for each new one,
    which sends it only to the chats watching its party. ``analysis`` must come from ``matcher``
    (entity items are looked up in the parties it found); ``article`` is not needed.
    """
    targets = watch_targets(session=session)
    if not targets:
        return []
    return watch_alerts(analysis, find_watch_hits(analysis, targets))
