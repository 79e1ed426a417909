"""What a rule's named selection picks out of an analysed text: listed parties, countries or
term groups, each as a ``Finding`` placed in its sentence.

Which listed parties a selection means is decided per party group (a rule file's own party, a
list selector such as "OFAC's DPRK programs", or any party); the engine caches that answer.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

from .analysis import Analysis
from .groups import EntityGroup
from .mentions import PartyMention
from .model import CountryMention, Entity, Span, TermMatch
from .rules import ListSelector, RuleSet, Selection


@dataclass
class Finding:
    """One thing a selection found, in the one shape windows and evidence work on whatever it
    is: its sentence places it in a window, its span is highlighted, its score weighs the
    window, and the party, country or term explains it."""

    sentence: int
    span: Span
    score: float
    label: str
    party: PartyMention | None = None
    country: CountryMention | None = None
    term: TermMatch | None = None


def party_finding(mention: PartyMention) -> Finding:
    """A party mention as a finding: how selections and evidence windows see it."""
    match = mention.match
    return Finding(
        match.sentence, match.span, match.score, mention.group.entity.caption, party=mention
    )


def findings_of(
    selection: Selection,
    analysis: Analysis,
    selects: Callable[[Selection, EntityGroup], bool],
) -> list[Finding]:
    """Everything ``selection`` picks out; ``selects`` says whether it means a party group."""
    if selection.parties:
        return [
            party_finding(p)
            for p in analysis.parties
            if p.match.score >= selection.min_score and selects(selection, p.group)
        ]
    if selection.countries:
        return [
            Finding(
                c.sentence,
                c.span,
                0.9 if c.form in ("capital", "port") else 1.0,
                c.code,
                country=c,
            )
            for c in analysis.countries
            if c.code in selection.countries
            and (selection.role is None or c.role == selection.role)
        ]
    return [
        Finding(t.sentence, t.span, 1.0, t.group, term=t)
        for t in analysis.terms
        if t.group in selection.terms
    ]


def selects_group(rules: RuleSet, selection: Selection, group: EntityGroup) -> bool:
    """Whether a parties selection means this party: by type, then by any of its references."""
    if selection.party_types and group.type.value not in selection.party_types:
        return False
    for ref in selection.parties:
        if ref == "any":
            return True
        key = rules.party_ids.get(ref)
        if key is not None and key in group.keys:
            return True
        for selector in rules.list_selectors.get(ref, ()):
            for member in group.members:
                if _selector_matches(selector, member):
                    return True
    return False


def _selector_matches(selector: ListSelector, entity: Entity) -> bool:
    if selector.sources and not any(
        fnmatch.fnmatchcase(entity.source, s) for s in selector.sources
    ):
        return False
    if selector.types and entity.type.value not in selector.types:
        return False
    if not selector.programs:
        return True
    return any(fnmatch.fnmatchcase(p, glob) for p in entity.programs for glob in selector.programs)
