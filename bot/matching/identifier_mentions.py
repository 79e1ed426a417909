"""Parties named by a listed identifier written in the text: IMO and MMSI numbers, SWIFT/BIC
codes, aircraft registrations and serial numbers (``identifiers`` says how each one is
recognised).

An identifier names one party whatever it is called today, so a listed one counts as much as
the full name (score 1.0). Only values that are exactly on a list count: bare codes and tail
numbers are read at all only because of that.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from .groups import EntityGroup
from .identifiers import IdentifierMention, find_identifiers
from .index import NameIndex
from .mentions import PartyMention, span_mention
from .model import Feature, Span
from .normalize import Token


def identifier_mentions(
    index: NameIndex,
    text: str,
    tokens: Sequence[Token],
    sentence_of_token: Sequence[int],
    named: Sequence[PartyMention] = (),
) -> list[PartyMention]:
    """Every listed identifier in the text as a mention of its party.

    Aircraft listed under their registration ("EP-MNX") are also found by name; such a place,
    already ``named`` in full, is not repeated.
    """
    found = find_identifiers(text, tokens)
    if not found or not tokens:
        return []
    starts = [token.start for token in tokens]
    mentions = []
    for mention in found:
        hit = _listed(index, mention)
        if hit is None:
            continue
        key, group = hit
        if _named_there(named, group, mention):
            continue
        sentence = sentence_of_token[max(0, bisect_right(starts, mention.start) - 1)]
        feature = Feature("identifier", 1.0, mention.detail(key))
        span = Span(mention.start, mention.end)
        mentions.append(span_mention(group, text, span, sentence, 1.0, feature))
    return mentions


def _listed(index: NameIndex, mention: IdentifierMention) -> tuple[str, EntityGroup] | None:
    """The first of the mention's values that a list gives, with its party."""
    for key in mention.keys:
        group = index.by_identifier(mention.scheme, key)
        if group is not None:
            return key, group
    return None


def _named_there(
    named: Sequence[PartyMention], group: EntityGroup, mention: IdentifierMention
) -> bool:
    """Whether the party is already found, in full, by a name covering the identifier."""
    return any(
        m.group.gid == group.gid
        and m.match.score >= 1.0
        and m.match.span.start <= mention.start
        and mention.end <= m.match.span.end
        for m in named
    )
