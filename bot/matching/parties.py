"""Finding listed parties in an article: candidates, alignment, trust, then coreference.

The order matters. Strong matches are accepted first; weak ones (acronyms, ordinary words)
are accepted only if something supports them: a context word next to them, the party's
country in the same or a neighbouring sentence, or the same party already named in full in
the article. Finally, once a party has been named in full, its surname or its distinctive
word alone refers back to it (``coreference``), and a listed identifier in the text names its
party as surely as the full name (``identifier_mentions``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import attrgetter

from rapidfuzz.distance import OSA

from .align import align, odd_words
from .coreference import coreferences, namesake
from .groups import EntityGroup
from .identifier_mentions import identifier_mentions
from .index import NameIndex
from .mentions import Candidate, PartyMention
from .model import CountryMention, EntityMatch, EntityType, Feature, Span
from .names import IndexedName
from .normalize import Token
from .score import MIN_SCORE, judge
from .shapes import Shapes, WordShape
from .vocabulary import Matches

# What the rest of the bot imports from here (``PartyMention`` lives in ``mentions``).
__all__ = ["PartyMention", "find_parties"]

SAME_NAME_MARGIN = 0.1  # two entries read from the same words are both reported within this
COUNTRY_SUPPORT_REACH = 1  # sentences either side


def find_parties(
    index: NameIndex,
    text: str,
    tokens: Sequence[Token],
    sentence_of_token: Sequence[int],
    sentence_bounds: Sequence[tuple[int, int]],
    countries: Sequence[CountryMention],
    capitals: Sequence[int] | None = None,
) -> list[PartyMention]:
    """All trustworthy mentions of listed parties, in text order. ``capitals``: the positions
    of the capitalised tokens, when the caller has them."""
    # Only capitalised words are looked up: names are capitalised in running text (a word in
    # capitals is capitalised too). A quarter of an article's words or less.
    if capitals is None:
        capitals = [i for i, token in enumerate(tokens) if token.cap]
    token_matches: list[Matches | None] = [None] * len(tokens)
    lookup = index.vocabulary.lookup
    for i in capitals:
        token_matches[i] = lookup(tokens[i].norm)
    places = _country_tokens(tokens, countries)
    named_countries = frozenset(c.code for c in countries)
    article = _Article(
        tokens,
        token_matches,
        sentence_of_token,
        sentence_bounds,
        named_countries,
        defaultdict(list),
        {},
    )
    candidates = _align_all(index, article, capitals)
    accepted = _accept(index, tokens, sentence_of_token, candidates, countries, places)
    mentions = [_mention(index, text, tokens, c) for c in accepted]
    mentions += coreferences(
        index, text, tokens, token_matches, sentence_of_token, accepted, places
    )
    mentions += identifier_mentions(index, text, tokens, sentence_of_token, mentions)
    mentions.sort(key=lambda m: (m.match.span.start, -m.match.score))
    return mentions


@dataclass(slots=True)
class _Article:
    """What every name's alignment needs to know about the article, computed once."""

    tokens: Sequence[Token]
    token_matches: Sequence[Matches | None]
    sentence_of_token: Sequence[int]
    sentence_bounds: Sequence[tuple[int, int]]
    named_countries: frozenset[str]
    odd: defaultdict[int, list[int]]  # sentence -> its odd words (``odd_words``)
    shapes: dict[int, Shapes]  # sentence -> its odd words' shapes, made on first need

    def may_hide_all(self, sentence: int, absent: Sequence[WordShape]) -> bool:
        """Every absent name word may hide, misspelt, among the sentence's odd words."""
        positions = self.odd.get(sentence)
        if not positions:
            return False
        shapes = self.shapes.get(sentence)
        if shapes is None:
            shapes = self.shapes[sentence] = Shapes.of(self.tokens[p].norm for p in positions)
        return all(shapes.may_hide(shape) for shape in absent)


def _align_all(index: NameIndex, article: _Article, capitals: Sequence[int]) -> list[Candidate]:
    """Align every name the article's words point at that may be found here."""
    tokens, token_matches = article.tokens, article.token_matches
    for position in odd_words(tokens, token_matches, capitals):
        article.odd[article.sentence_of_token[position]].append(position)
    anchors = index.candidates(token_matches, tokens, capitals)
    found: dict[tuple[int, int, int], Candidate] = {}
    names = index.names
    for nid, missing, slot in _worth_aligning(index, article, capitals, anchors.order):
        _align_name(index, article, names[nid], anchors.of(nid), missing, slot, found)
    return list(found.values())


def _worth_aligning(
    index: NameIndex, article: _Article, capitals: Sequence[int], order: Sequence[int]
) -> list[tuple[int, tuple[int, ...], bool]]:
    """The names worth aligning, in ``order``, each with its required words absent from the
    article and whether the one absent word may be a misspelt word beside the others (the
    slot test of ``align``).

    An article points at hundreds of names and most are dropped here: a name misses more than
    two of the words it cannot do without, or a missing word could hide nowhere in the article
    (as a typo in, or run together with, one of its odd words), unless it is pinned by the
    others. So every step runs over all the names at once, in C, and only the absent words
    (each once) and the few names kept are visited in Python.
    """
    token_matches = article.token_matches
    present = {vid for i in capitals for vid, _ in token_matches[i] or ()}
    names = list(map(index.names.__getitem__, order))
    missing = list(map(frozenset.difference, map(_REQUIRED, names), repeat(present)))
    sizes = list(map(len, missing))
    absent: set[int] = set().union(*compress(missing, map(_AT_MOST_TWO, sizes)))
    tokens = article.tokens
    everywhere = Shapes.of(tokens[p].norm for positions in article.odd.values() for p in positions)
    shapes = index.word_shapes
    hideable = {vid for vid in absent if everywhere.may_hide(shapes[vid])}
    return [
        (name.nid, tuple(absent_words), not hidden)
        for name, absent_words, size, hidden in zip(
            names, missing, sizes, map(hideable.issuperset, missing), strict=True
        )
        if size <= 2 and (hidden or (size == 1 and absent_words <= name.slot_vids))
    ]


_REQUIRED = attrgetter("required_vids")
_AT_MOST_TWO = (3).__gt__


def _align_name(
    index: NameIndex,
    article: _Article,
    name: IndexedName,
    anchors: Sequence[int],
    missing: Sequence[int],
    slot: bool,
    found: dict[tuple[int, int, int], Candidate],
) -> None:
    """Align one name around each of its anchors; keep each distinct span's first alignment.

    ``missing``: the vids of the required words absent from the article; ``slot``: the one
    missing word may be a misspelt word beside the others (``align``).
    """
    tokens, sentence_of_token = article.tokens, article.sentence_of_token
    group = index.groups[name.group]
    checked: dict[int, bool] = {}
    absent = [index.word_shapes[vid] for vid in missing]
    slot_word = index.words[missing[0]] if slot else ""
    for anchor in anchors:
        sentence = sentence_of_token[anchor]
        if not _may_align(article, anchor, sentence, slot_word, absent, checked):
            continue
        lo, hi = article.sentence_bounds[sentence]
        alignment = align(
            name,
            anchor,
            tokens,
            article.token_matches,
            lo,
            hi,
            index.joined_words,
            article.odd.get(sentence, ()),
            slot,
        )
        if alignment is None:
            continue
        key = (name.nid, alignment.first, alignment.last)
        if key in found:
            continue
        judgement = judge(
            alignment, group, tokens, lo, hi, article.named_countries, index.word_rarity
        )
        if judgement.score >= MIN_SCORE:
            found[key] = Candidate(alignment, judgement, sentence)


def _may_align(
    article: _Article,
    anchor: int,
    sentence: int,
    slot_word: str,
    absent: Sequence[WordShape],
    checked: dict[int, bool],
) -> bool:
    """Whether aligning at ``anchor`` can succeed: the slot word is misspelt beside it, or
    every absent word may hide in its sentence (``checked`` keeps each sentence's answer)."""
    if slot_word:
        return _misspelt_beside(slot_word, anchor, article.tokens)
    if absent:
        if sentence not in checked:
            checked[sentence] = article.may_hide_all(sentence, absent)
        return checked[sentence]
    return True


def _misspelt_beside(word: str, anchor: int, tokens: Sequence[Token]) -> bool:
    """A capitalised word next to the anchor is ``word`` with one typo: the only place the slot
    test of the alignment will look, checked before paying for an alignment."""
    for position in (anchor - 1, anchor + 1):
        if 0 <= position < len(tokens):
            token = tokens[position]
            if (
                token.cap
                and not token.caseless
                and abs(len(token.norm) - len(word)) <= 1
                and OSA.distance(token.norm, word, score_cutoff=1) == 1
            ):
                return True
    return False


def _start(token: Token) -> int:
    return token.start


def _country_tokens(tokens: Sequence[Token], countries: Sequence[CountryMention]) -> set[int]:
    """Article tokens that are part of a country mention ("North" in "North Korea")."""
    inside: set[int] = set()
    for country in countries:
        i = bisect_left(tokens, country.span.start, key=_start)
        if i == len(tokens) or tokens[i].start != country.span.start:
            continue
        while i < len(tokens) and tokens[i].end <= country.span.end:
            inside.add(i)
            i += 1
    return inside


def _accept(
    index: NameIndex,
    tokens: Sequence[Token],
    sentence_of_token: Sequence[int],
    candidates: list[Candidate],
    countries: Sequence[CountryMention],
    places: set[int],
) -> list[Candidate]:
    """Best non-overlapping candidates; weak ones only with support, never a namesake's."""
    ordered = sorted(candidates, key=_preference)
    strong_groups = {c.alignment.name.group for c in ordered if not c.judgement.needs_support}
    taken: dict[int, int] = {}  # token -> group that owns it
    accepted: list[Candidate] = []
    for candidate in ordered:
        group = index.groups[candidate.alignment.name.group]
        if all(t in places for t in range(candidate.alignment.first, candidate.alignment.last + 1)):
            continue  # "North" of "North Korea" is a country, not North Group Holding Corp.
        if candidate.judgement.needs_support:
            if candidate.alignment.first == candidate.alignment.last and namesake(
                tokens, candidate.alignment.first, sentence_of_token, places
            ):
                continue
            if not candidate.judgement.local_support and not _document_support(
                group, candidate, strong_groups, countries
            ):
                continue
        span = range(candidate.alignment.first, candidate.alignment.last + 1)
        owners = {taken.get(t) for t in span} - {None}
        if owners:
            if group.gid not in owners and _same_name_elsewhere(candidate, accepted):
                accepted.append(candidate)  # two lists, two entries, one name: report both
            continue
        for t in span:
            taken[t] = group.gid
        accepted.append(candidate)
    return accepted


def _preference(candidate: Candidate) -> tuple[float, int]:
    """Better scores first; a longer name beats a shorter one it contains (0.1 per word)."""
    length = candidate.alignment.last - candidate.alignment.first
    return (-(candidate.judgement.score + 0.1 * length), candidate.alignment.first)


def _same_name_elsewhere(candidate: Candidate, accepted: list[Candidate]) -> bool:
    """True when an accepted match covers exactly these words with an equally good score."""
    return any(
        other.alignment.first == candidate.alignment.first
        and other.alignment.last == candidate.alignment.last
        and other.judgement.score - candidate.judgement.score <= SAME_NAME_MARGIN
        for other in accepted
    )


def _document_support(
    group: EntityGroup,
    candidate: Candidate,
    strong_groups: set[int],
    countries: Sequence[CountryMention],
) -> bool:
    """A weak match counts if the party is named strongly elsewhere or its country is near."""
    if group.gid in strong_groups:
        return True
    if group.type is EntityType.VESSEL:
        return False  # ordinary-word ship names need a ship word next to them
    strong_words = sum(
        1 for p, _, _ in candidate.alignment.picks if not candidate.alignment.name.tokens[p].weak
    )
    if candidate.alignment.name.acronym or group.type is not EntityType.PERSON or strong_words >= 2:
        near = range(
            candidate.sentence - COUNTRY_SUPPORT_REACH,
            candidate.sentence + COUNTRY_SUPPORT_REACH + 1,
        )
        party_countries = group.countries
        return any(c.code in party_countries and c.sentence in near for c in countries)
    return False


def _mention(
    index: NameIndex, text: str, tokens: Sequence[Token], candidate: Candidate
) -> PartyMention:
    alignment = candidate.alignment
    group = index.groups[alignment.name.group]
    span = Span(tokens[alignment.first].start, tokens[alignment.last].end)
    features = candidate.judgement.features
    if candidate.judgement.needs_support and not candidate.judgement.local_support:
        features = (*features[:-1], Feature("support", 1.0, "named in full or its country nearby"))
    return PartyMention(
        group=group,
        match=EntityMatch(
            entity=group.entity,
            name=alignment.name.name,
            matched=text[span.start : span.end],
            span=span,
            sentence=candidate.sentence,
            score=candidate.judgement.score,
            features=features,
        ),
    )
