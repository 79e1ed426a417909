"""What a chat watches: watch targets, term keys and the watchlist alert's rule id.

The matching (``find_watch_hits``, ``watch_alerts``, ``suggest``) is in ``bot.watch``; the
stored watch items are in ``db.chats``. Both agree on these definitions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from bot.matching.normalize import norm_tokens

RULE_ID = "watchlist"  # the rule id of every watchlist alert (how ``db.delivery`` routes them)
TERM_PREFIX = "term:"
MAX_NAME_CHARS = 100


def term_key(text: str) -> str:
    """The identity of a free-text item: its normalised words ("Acme & Sons" -> "term:acme sons")."""
    return TERM_PREFIX + " ".join(norm_tokens(text))


@dataclass(frozen=True)
class WatchTarget:
    """One thing watched, by one or more chats (all items with the same ``key``)."""

    key: str  # an entity key ("ofac-sdn:22543") or term_key(name)
    name: str  # what the chat typed, or the party's listed caption
    item_ids: tuple[int, ...] = ()

    @property
    def is_term(self) -> bool:
        return self.key.startswith(TERM_PREFIX)


def targets_from_items(items: Iterable[tuple[int, str, str]]) -> list[WatchTarget]:
    """Group watch items ``(item id, key, name)`` of all chats into targets (one per key)."""
    grouped: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for item_id, key, name in items:
        grouped[key].append((item_id, name))
    return [
        WatchTarget(key=key, name=min(entries)[1], item_ids=tuple(sorted(i for i, _ in entries)))
        for key, entries in sorted(grouped.items())
    ]
