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
) -> list[PartyMention]:
    """All trustworthy mentions of listed parties, in text order."""
    lookup = index.vocabulary.lookup
    token_matches = [lookup(t.norm) if (t.cap or t.upper) else None for t in tokens]
    places = _country_tokens(tokens, countries)
    named_countries = frozenset(c.code for c in countries)
    candidates = _align_all(
        index, tokens, token_matches, sentence_of_token, sentence_bounds, named_countries
    )
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
    odd: dict[int, list[int]]  # sentence -> its odd words (``odd_words``)
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


def _align_all(
    index: NameIndex,
    tokens: Sequence[Token],
    token_matches: Sequence[Matches | None],
    sentence_of_token: Sequence[int],
    sentence_bounds: Sequence[tuple[int, int]],
    named_countries: frozenset[str],
) -> list[Candidate]:
    """Align every name the article's words point at; hundreds per article, so the names
    whose indispensable words are absent are dropped with set and dictionary look-ups."""
    found: dict[tuple[int, int, int], Candidate] = {}
    present = {vid for matches in token_matches if matches for vid, _ in matches}
    odd: dict[int, list[int]] = defaultdict(list)
    for position in odd_words(tokens, token_matches):
        odd[sentence_of_token[position]].append(position)
    article = _Article(
        tokens, token_matches, sentence_of_token, sentence_bounds, named_countries, odd, {}
    )
    everywhere = Shapes.of(tokens[p].norm for positions in odd.values() for p in positions)
    hideable: dict[int, bool] = {}  # absent word -> may hide in the article (names share words)
    names, shapes = index.names, index.word_shapes
    anchors = index.candidates(token_matches, tokens)
    for nid in anchors.order:
        name = names[nid]
        missing = name.required_vids - present  # one C-level set operation for the common case
        slot = False
        if missing:
            if len(missing) > 2:
                continue
            hidden = True
            for vid in missing:  # most names stop here; each word is tested once per article
                hides = hideable.get(vid)
                if hides is None:
                    hides = hideable[vid] = everywhere.may_hide(shapes[vid])
                if not hides:
                    hidden = False
                    break
            if not hidden:
                # a word the name cannot do without appears nowhere in the article, unless it
                # is a misspelt word pinned by the others
                if len(missing) > 1 or not missing <= name.slot_vids:
                    continue
                slot = True
        _align_name(index, article, name, anchors.of(nid), tuple(missing), slot, found)
    return list(found.values())


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
        if slot:
            if not _misspelt_beside(slot_word, anchor, tokens):
                continue
        elif absent:
            if sentence not in checked:
                checked[sentence] = article.may_hide_all(sentence, absent)
            if not checked[sentence]:
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
