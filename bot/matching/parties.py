"""Finding listed parties in an article: candidates, alignment, trust, then coreference.

The order matters. Strong matches are accepted first; weak ones (acronyms, ordinary words)
are accepted only if something supports them: a context word next to them, the party's
country in the same or a neighbouring sentence, or the same party already named in full in
the article. Finally, once a party has been named in full, its surname or its distinctive
word alone refers back to it ("Prigozhin said", "Wagner is infamous") unless another given
name stands right before it (Richard Wagner, Captain Virginia A. Wagner).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from .identifiers import IdentifierMention, find_identifiers
from .index import (
    ALIGN_FUZZY_MIN_LEN,
    JOINED_MIN_LEN,
    SLOT_MIN_LEN,
    Alignment,
    EntityGroup,
    IndexedName,
    NameIndex,
    odd_words,
)
from .model import CountryMention, EntityMatch, EntityType, Feature, Span
from .normalize import Token
from .refdata import STOPWORDS, TITLES, zipf
from .score import MIN_SCORE, Judgement, judge

COREFERENCE_FACTOR = 0.95
SAME_NAME_MARGIN = 0.1  # two entries read from the same words are both reported within this
COUNTRY_SUPPORT_REACH = 1  # sentences either side


@dataclass(frozen=True, slots=True)
class PartyMention:
    group: EntityGroup
    match: EntityMatch


@dataclass(frozen=True, slots=True)
class _Candidate:
    alignment: Alignment
    judgement: Judgement
    sentence: int


def find_parties(
    index: NameIndex,
    text: str,
    tokens: Sequence[Token],
    sentence_of_token: Sequence[int],
    sentence_bounds: Sequence[tuple[int, int]],
    countries: Sequence[CountryMention],
) -> list[PartyMention]:
    """All trustworthy mentions of listed parties, in text order."""
    token_matches = [index.lookup(t.norm) if (t.cap or t.upper) else None for t in tokens]
    places = _country_tokens(tokens, countries)
    named_countries = frozenset(c.code for c in countries)
    candidates = _align_all(
        index, tokens, token_matches, sentence_of_token, sentence_bounds, named_countries
    )
    accepted = _accept(index, tokens, sentence_of_token, candidates, countries, places)
    mentions = [_mention(index, text, tokens, c) for c in accepted]
    mentions += _coreferences(
        index, text, tokens, token_matches, sentence_of_token, accepted, places
    )
    mentions += _identifiers(index, text, tokens, sentence_of_token, mentions)
    mentions.sort(key=lambda m: (m.match.span.start, -m.match.score))
    return mentions


@dataclass(slots=True)
class _Article:
    """What every name's alignment needs to know about the article, computed once."""

    tokens: Sequence[Token]
    token_matches: Sequence[tuple[tuple[int, float], ...] | None]
    sentence_of_token: Sequence[int]
    sentence_bounds: Sequence[tuple[int, int]]
    named_countries: frozenset[str]
    odd: dict[int, list[int]]  # sentence -> its odd words (``odd_words``)
    shapes: dict[int, _Shapes]  # sentence -> its odd words' shapes, made on first need

    def may_hide_all(self, sentence: int, absent: Sequence[str]) -> bool:
        """Every absent name word may hide, misspelt, among the sentence's odd words."""
        positions = self.odd.get(sentence)
        if not positions:
            return False
        shapes = self.shapes.get(sentence)
        if shapes is None:
            shapes = self.shapes[sentence] = _Shapes.of(self.tokens[p].norm for p in positions)
        return all(shapes.may_hide(word) for word in absent)


def _align_all(
    index: NameIndex,
    tokens: Sequence[Token],
    token_matches: Sequence[tuple[tuple[int, float], ...] | None],
    sentence_of_token: Sequence[int],
    sentence_bounds: Sequence[tuple[int, int]],
    named_countries: frozenset[str],
) -> list[_Candidate]:
    """Align every name the article's words point at; hundreds per article, so the names
    whose indispensable words are absent are dropped with set and dictionary look-ups."""
    found: dict[tuple[int, int, int], _Candidate] = {}
    present = {vid for matches in token_matches if matches for vid, _ in matches}
    odd: dict[int, list[int]] = defaultdict(list)
    for position in odd_words(tokens, token_matches):
        odd[sentence_of_token[position]].append(position)
    article = _Article(
        tokens, token_matches, sentence_of_token, sentence_bounds, named_countries, odd, {}
    )
    everywhere = _Shapes.of(tokens[p].norm for positions in odd.values() for p in positions)
    hideable: dict[int, bool] = {}  # absent word -> may hide in the article (names share words)
    names, words = index.names, index.words
    for nid, anchors in index.candidates(token_matches, tokens).items():
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
                    hides = hideable[vid] = everywhere.may_hide(words[vid])
                if not hides:
                    hidden = False
                    break
            if not hidden:
                # a word the name cannot do without appears nowhere in the article, unless it
                # is a misspelt word pinned by the others
                slot = len(missing) == 1 and _slot_possible(name, missing, words)
                if not slot:
                    continue
        absent = [words[vid] for vid in missing]
        _align_name(index, article, name, anchors, absent, slot, found)
    return list(found.values())


def _align_name(
    index: NameIndex,
    article: _Article,
    name: IndexedName,
    anchors: Sequence[int],
    absent: Sequence[str],
    slot: bool,
    found: dict[tuple[int, int, int], _Candidate],
) -> None:
    """Align one name around each of its anchors; keep each distinct span's first alignment."""
    tokens, sentence_of_token = article.tokens, article.sentence_of_token
    group = index.groups[name.group]
    checked: dict[int, bool] = {}
    for anchor in anchors:
        sentence = sentence_of_token[anchor]
        if slot:
            if not _misspelt_beside(absent[0], anchor, tokens):
                continue
        elif absent:
            if sentence not in checked:
                checked[sentence] = article.may_hide_all(sentence, absent)
            if not checked[sentence]:
                continue
        lo, hi = article.sentence_bounds[sentence]
        alignment = index.align(
            name, anchor, tokens, article.token_matches, lo, hi, article.odd.get(sentence, ()), slot
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
            found[key] = _Candidate(alignment, judgement, sentence)


def _slot_possible(
    name: IndexedName, missing: frozenset[int] | set[int], words: Sequence[str]
) -> bool:
    """One required word missing from a name whose other words are present, one of them no
    everyday word: worth aligning where a misspelt word stands beside them (``index._slot_token``)."""
    if (
        len(missing) != 1
        or len(name.required_vids) < 2
        or name.acronym
        or not name.rare_vids - missing
    ):
        return False
    (vid,) = missing
    word = words[vid]
    return len(word) >= SLOT_MIN_LEN and word.isalpha()


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


@dataclass(frozen=True, slots=True)
class _Shapes:
    """The odd words of a sentence (or article), by first letter and length and by their first
    and last three letters, for a quick "could the absent name word hide in one of them?" test
    before any letter-by-letter comparison. Every look-up is one dictionary get."""

    lengths: dict[str, frozenset[int]]  # first two letters, or first and last letter -> lengths
    starts: dict[str, int]  # first three letters of a long word -> its greatest length
    ends: dict[str, int]  # last three letters of a long word -> its greatest length

    @classmethod
    def of(cls, words: Iterable[str]) -> _Shapes:
        lengths: dict[str, set[int]] = defaultdict(set)
        starts: dict[str, int] = {}
        ends: dict[str, int] = {}
        for word in words:
            # one typing mistake (never on the first letter) keeps the first two letters or
            # the first and last letter: either key finds the misspelt word
            lengths[word[:2]].add(len(word))
            lengths[word[0] + "$" + word[-1]].add(len(word))
            if len(word) >= JOINED_MIN_LEN:
                starts[word[:3]] = max(starts.get(word[:3], 0), len(word))
                ends[word[-3:]] = max(ends.get(word[-3:], 0), len(word))
        return cls({k: frozenset(v) for k, v in lengths.items()}, starts, ends)

    def may_hide(self, word: str) -> bool:
        """Misspelt (same first letter, about as long) or run together with a neighbour (a
        longer word sharing its start or end)."""
        size = len(word)
        if size >= ALIGN_FUZZY_MIN_LEN:
            for key in (word[:2], word[0] + "$" + word[-1]):
                for n in self.lengths.get(key, ()):
                    if -2 <= n - size <= 2:
                        return True
        return self.starts.get(word[:3], 0) >= size + 2 or self.ends.get(word[-3:], 0) >= size + 2


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
    candidates: list[_Candidate],
    countries: Sequence[CountryMention],
    places: set[int],
) -> list[_Candidate]:
    """Best non-overlapping candidates; weak ones only with support, never a namesake's."""
    ordered = sorted(candidates, key=_preference)
    strong_groups = {c.alignment.name.group for c in ordered if not c.judgement.needs_support}
    taken: dict[int, int] = {}  # token -> group that owns it
    accepted: list[_Candidate] = []
    for candidate in ordered:
        group = index.groups[candidate.alignment.name.group]
        if all(t in places for t in range(candidate.alignment.first, candidate.alignment.last + 1)):
            continue  # "North" of "North Korea" is a country, not North Group Holding Corp.
        if candidate.judgement.needs_support:
            if candidate.alignment.first == candidate.alignment.last and _namesake(
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


def _preference(candidate: _Candidate) -> tuple[float, int]:
    """Better scores first; a longer name beats a shorter one it contains (0.1 per word)."""
    length = candidate.alignment.last - candidate.alignment.first
    return (-(candidate.judgement.score + 0.1 * length), candidate.alignment.first)


def _same_name_elsewhere(candidate: _Candidate, accepted: list[_Candidate]) -> bool:
    """True when an accepted match covers exactly these words with an equally good score."""
    return any(
        other.alignment.first == candidate.alignment.first
        and other.alignment.last == candidate.alignment.last
        and other.judgement.score - candidate.judgement.score <= SAME_NAME_MARGIN
        for other in accepted
    )


def _document_support(
    group: EntityGroup,
    candidate: _Candidate,
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
    index: NameIndex, text: str, tokens: Sequence[Token], candidate: _Candidate
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


def _coreferences(
    index: NameIndex,
    text: str,
    tokens: Sequence[Token],
    token_matches: Sequence[tuple[tuple[int, float], ...] | None],
    sentence_of_token: Sequence[int],
    accepted: list[_Candidate],
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
                or _namesake(tokens, position, sentence_of_token, places)
            ):
                continue
            group, score = hit
            feature = Feature("coreference", 1.0, "short form of a party named in full earlier")
            score = round(score * COREFERENCE_FACTOR * similarity, 3)
            token = tokens[position]
            mentions.append(
                _span_mention(
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


def _namesake(
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


def _identifiers(
    index: NameIndex,
    text: str,
    tokens: Sequence[Token],
    sentence_of_token: Sequence[int],
    named: Sequence[PartyMention] = (),
) -> list[PartyMention]:
    """Listed identifiers written in the text: IMO and MMSI numbers, SWIFT/BIC codes, aircraft
    registrations and serial numbers (``identifiers`` says how each one is recognised).

    An identifier names one party whatever it is called today, so a listed one counts as much
    as the full name (score 1.0). Only values that are exactly on a list count: bare codes and
    tail numbers are read at all only because of that. Aircraft listed under their registration
    ("EP-MNX") are also found by name; such a place, already ``named`` in full, is not repeated.
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
        mentions.append(_span_mention(group, text, span, sentence, 1.0, feature))
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


def _span_mention(
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
