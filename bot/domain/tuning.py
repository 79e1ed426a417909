"""Tuning changes: the numbered, revertible decisions review makes about what the engine sees.

``db.review`` stores them; ``bot.tuning`` applies them to the engine's entities and rules.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPRESS_ENTITY = "suppress_entity"
DEMOTE_ALIAS = "demote_alias"
NEGATIVE_EXAMPLE = "negative_example"
REVERT = "revert"
KINDS = (SUPPRESS_ENTITY, DEMOTE_ALIAS, NEGATIVE_EXAMPLE, REVERT)


@dataclass(frozen=True)
class Change:
    id: int
    kind: str
    entity_key: str | None = None
    alias: str | None = None
    rule_id: str | None = None
    text: str = ""
    target_id: int | None = None
