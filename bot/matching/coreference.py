"""Short references to a party already named in full: "Prigozhin said", "Wagner is infamous".

Once a party has been named in full, its surname or its distinctive word alone refers back to
it, unless another given name stands right before it (Richard Wagner, Captain Virginia A.
Wagner): then the word is someone else's surname.
"""

from __future__ import annotations

from collections.abc import Sequence

from .groups import EntityGroup
from .index import NameIndex
from .mentions import Candidate, PartyMention, span_mention
from .model import Feature, Span
from .normalize import Token
from .refdata import STOPWORDS, TITLES, zipf
from .vocabulary import Matches

COREFERENCE_FACTOR = 0.95


def coreferences(
    index: NameIndex,
    text: str,
    tokens: Sequence[Token],
    token_matches: Sequence[Matches | None],
    sentence_of_token: Sequence[int],
    accepted: list[Candidate],
    places: set[int],
) -> list[PartyMention]:
    """Later short references to a party already named in full."""
    forms: dict[int, tuple[EntityGroup, float]] = {}
    covered: set[int] = set()
    for candidate in accepted:
        alignment = candidate.alignment
        covered.update(range(alignment.first, alignment.last + 1))
        if candidate.judgement.needs_support:
            continue
        group = index.groups[alignment.name.group]
        for vid in index.short_forms(alignment.name):
            best = forms.get(vid)
            if best is None or candidate.judgement.score > best[1]:
                forms[vid] = (group, candidate.judgement.score)
    mentions: list[PartyMention] = []
    for position, matches in enumerate(token_matches):
        if not matches or position in covered:
            continue
        for vid, similarity in matches:
            hit = forms.get(vid)
            if (
                hit is None
                or similarity < 0.95
                or namesake(tokens, position, sentence_of_token, places)
            ):
                continue
            group, score = hit
            feature = Feature("coreference", 1.0, "short form of a party named in full earlier")
            score = round(score * COREFERENCE_FACTOR * similarity, 3)
            token = tokens[position]
            mentions.append(
                span_mention(
                    group,
                    text,
                    Span(token.start, token.end),
                    sentence_of_token[position],
                    score,
                    feature,
                )
            )
            break
    return mentions


def namesake(
    tokens: Sequence[Token], position: int, sentence_of_token: Sequence[int], places: set[int]
) -> bool:
    """A capitalised given name right before a word makes it someone else's surname.

    "Richard Wagner", "Virginia A. Wagner": the word before is capitalised, is not a title
    ("Mr", "President"), a country ("Russian Wagner ...") or an acronym ("PMC Wagner"); at the
    start of a sentence it must also look like a name rather than an ordinary word.
    """
    previous = position - 1
    if previous < 0 or sentence_of_token[previous] != sentence_of_token[position]:
        return False
    before = tokens[previous]
    if not before.cap or before.possessive or before.upper or previous in places:
        return False
    if before.norm in TITLES or before.norm in STOPWORDS:
        return False
    sentence_start = previous == 0 or sentence_of_token[previous - 1] != sentence_of_token[position]
    return not sentence_start or len(before.norm) == 1 or zipf(before.norm) < 5.0
