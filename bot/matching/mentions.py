"""A listed party found in a text, and the judged alignments such mentions are chosen from.

Shared by the ways a party is found: by its name (``parties``), by a short form of a name
already found (``coreference``) and by a listed identifier (``identifier_mentions``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .align import Alignment
from .groups import EntityGroup
from .model import EntityMatch, Feature, Span
from .score import Judgement


@dataclass(frozen=True, slots=True)
class PartyMention:
    """A listed party found in the text: the group for the rules (every source's entry of the
    party), the match for the analyst (what was read where, and why it counts)."""

    group: EntityGroup
    match: EntityMatch


@dataclass(frozen=True, slots=True)
class Candidate:
    """A name aligned in the text and judged, before overlapping candidates are settled."""

    alignment: Alignment
    judgement: Judgement
    sentence: int


def span_mention(
    group: EntityGroup, text: str, span: Span, sentence: int, score: float, feature: Feature
) -> PartyMention:
    """A mention by a word or value that stands for a party named otherwise (a surname, an
    identifier such as "9191278" or "EP-MNX"): the highlight covers that word or value only."""
    match = EntityMatch(
        entity=group.entity,
        name=group.entity.names[0],
        matched=text[span.start : span.end],
        span=span,
        sentence=sentence,
        score=score,
        features=(feature,),
    )
    return PartyMention(group=group, match=match)
