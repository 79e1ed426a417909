"""Applying review decisions to what the engine sees: suppressed parties, demoted aliases,
negative examples. Pure functions over the engine's own types and the ``Change`` rows of
``bot.domain.tuning``.

Changes come from ``sanctions-bot review`` (and the Telegram review buttons) and are stored as
numbered, revertible rows; the matcher is rebuilt whenever the latest number changes, so a
decision applies to the next article scanned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from bot.domain.tuning import DEMOTE_ALIAS, NEGATIVE_EXAMPLE, REVERT, SUPPRESS_ENTITY, Change
from bot.matching.model import Entity, Name, NameKind
from bot.matching.rules import Example, Rule, RuleSet


def active(changes: Iterable[Change]) -> list[Change]:
    """The changes still in force: every change not undone by a later revert."""
    ordered = sorted(changes, key=lambda c: c.id)
    reverted = {c.target_id for c in ordered if c.kind == REVERT}
    return [c for c in ordered if c.kind != REVERT and c.id not in reverted]


def apply_to_entities(entities: Sequence[Entity], changes: Iterable[Change]) -> list[Entity]:
    """Entities without the suppressed ones, with demoted aliases made weak."""
    live = active(changes)
    suppressed = {c.entity_key for c in live if c.kind == SUPPRESS_ENTITY}
    demoted: dict[str, set[str]] = {}
    for change in live:
        if change.kind == DEMOTE_ALIAS and change.entity_key and change.alias:
            demoted.setdefault(change.entity_key, set()).add(change.alias.strip().lower())
    result = []
    for entity in entities:
        # A decision about a list entry also holds for a rule file's party declared the same
        # (same_as), and the other way round: they are one party to the analyst.
        keys = {entity.key, *entity.same_as}
        if keys & suppressed:
            continue
        weak = set().union(*(demoted.get(key, set()) for key in keys))
        if weak:
            result.append(replace(entity, names=tuple(_demote(n, weak) for n in entity.names)))
        else:
            result.append(entity)
    return result


def _demote(name: Name, weak: set[str]) -> Name:
    if name.text.strip().lower() in weak:
        return Name(name.text, NameKind.WEAK, name.family)
    return name


def apply_to_rules(rules: RuleSet, changes: Iterable[Change]) -> RuleSet:
    """Rules with review's negative examples added, parties with suppressions applied."""
    live = active(changes)
    examples: dict[str, list[Example]] = {}
    for change in live:
        if change.kind == NEGATIVE_EXAMPLE and change.rule_id and change.text:
            examples.setdefault(change.rule_id, []).append(Example(change.text, line=0))
    new_rules = tuple(_with_examples(rule, examples.get(rule.id, [])) for rule in rules.rules)
    return replace(rules, rules=new_rules, parties=tuple(apply_to_entities(rules.parties, live)))


def _with_examples(rule: Rule, extra: list[Example]) -> Rule:
    if not extra:
        return rule
    return replace(rule, must_not_match=(*rule.must_not_match, *extra))
