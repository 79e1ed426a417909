"""Review: verdicts on stored alerts, and tuning changes made from them (suppress a party,
demote one of its names, add a text a rule must not fire on, revert a change).

A change naming a party, alias or rule that does not exist is refused (``ReviewError``) before
anything is stored: a typo would otherwise be a change that silently does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.app import App
from bot.rulefiles import load_rules
from db.engine import session_scope
from db.lists import load_entities
from db.models import ReviewMark, TuningChange
from db.review import (
    ReviewError,
    Tally,
    add_change,
    false_positive_tallies,
    list_changes,
    mark_alert,
)


@dataclass(frozen=True)
class ReviewSummary:
    """Entities and rules with the most false-positive marks, and the changes in force."""

    entities: list[Tally]
    rules: list[Tally]
    changes: list[TuningChange]

    @property
    def version(self) -> int:
        return max((change.id or 0 for change in self.changes), default=0)


def review_summary(app: App) -> ReviewSummary:
    with session_scope(app.engine) as session:
        entities, rules = false_positive_tallies(session=session)
        return ReviewSummary(entities, rules, list_changes(session=session))


def mark(
    app: App,
    alert_id: int,
    *,
    false_positive: bool,
    author: str,
    entity: str | None = None,
    note: str = "",
) -> ReviewMark:
    """Mark a stored alert (or one party in it) as a false positive or as relevant."""
    verdict = "false_positive" if false_positive else "relevant"
    with session_scope(app.engine) as session:
        return mark_alert(
            session=session,
            alert_id=alert_id,
            verdict=verdict,
            author=author,
            entity_key=entity,
            note=note,
        )


def tune(app: App, kind: str, *, author: str, reason: str, **fields: Any) -> TuningChange:
    """Add a tuning change (a new tuning version) once its target is known to exist."""
    check_target(app, kind, fields)
    with session_scope(app.engine) as session:
        return add_change(session=session, kind=kind, author=author, reason=reason, **fields)


def check_target(app: App, kind: str, fields: dict[str, Any]) -> None:
    """Refuse changes that name a party, alias or rule that does not exist."""
    if kind in {"suppress_entity", "demote_alias"}:
        _check_party(app, str(fields["entity_key"]), fields.get("alias"))
    if kind == "negative_example":
        rule_id = str(fields["rule_id"])
        if rule_id not in {r.id for r in load_rules(app.settings.rules_dir).rules}:
            raise ReviewError(f"no rule {rule_id!r}")


def _check_party(app: App, key: str, alias: object) -> None:
    with session_scope(app.engine) as session:
        entities = {e.key: e for e in load_entities(session=session)}
    entities.update({e.key: e for e in load_rules(app.settings.rules_dir).parties})
    if key not in entities:
        raise ReviewError(f"no listed party {key!r} (see the key in an alert's entities)")
    names = entities[key].names
    if alias is not None and str(alias).strip().lower() not in {
        n.text.strip().lower() for n in names
    }:
        raise ReviewError(
            f"{key} has no name {alias!r}; its names: {', '.join(n.text for n in names)}"
        )
