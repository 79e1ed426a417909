"""When is a name found in a text trustworthy? Features, their weights, and the decision.

A match earns trust from four things, each a ``Feature`` the analyst sees:

``similarity``
    How closely the words match the listed spelling: 1.0 exact; 0.95 a transliteration
    variant (Evgenii / Yevgeniy); less for real typos (Ryongbong / Ryonbong).
``coverage``
    How much of the name was found. A person needs surname and given name (the patronymic may
    be missing); a company or vessel needs all its distinctive words.
``distinctiveness``
    How rare the matched words are, in English and among listed names. "Prigozhin" or
    "Ryonbong" identify a party; "Wise Honest" or "Ocean Freight" are ordinary words that
    happen to be a vessel's name; "Wagner" is also a composer.
``support``
    What else in the text says it means this party: a company word or the party's own
    context word next to it ("Wagner Group", "Wagner mercenaries"), a vessel word for a ship
    ("the tanker Wise Honest"), the party's country nearby (KOMID beside North Korea), or the
    party named in full elsewhere in the article.

Score = similarity x coverage x (0.8 + 0.2 x distinctiveness), plus a small bonus for support.
A match must reach ``MIN_SCORE``; and *weak* matches (acronyms, the list's weak aliases,
names of ordinary words, single common words) need support or they are dropped, whatever
their score. That rule, not a higher threshold, is what keeps namesakes and ordinary words out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from .align import Alignment, Pick
from .groups import EntityGroup
from .model import EntityType, Feature, NameKind
from .names import english_rarity
from .normalize import Token, skeleton
from .refdata import STOPWORDS, TYPE_CONTEXT, zipf
from .vocabulary import VARIANT

MIN_SCORE = 0.70
DISTINCT_ENOUGH = 0.6  # below this the matched words are too ordinary to stand alone
DISTINCT_UNIQUE = 0.95  # from this a name is rare enough to be trusted whatever the setting
SUPPORT_BONUS = 0.05
CONTEXT_REACH = 2  # tokens either side where a context word counts


@dataclass(frozen=True, slots=True)
class Judgement:
    score: float
    needs_support: bool
    local_support: str  # what near the match supports it ("" when nothing)
    features: tuple[Feature, ...]


def judge(
    alignment: Alignment,
    group: EntityGroup,
    tokens: Sequence[Token],
    lo: int,
    hi: int,
    document_countries: frozenset[str] = frozenset(),
    word_rarity: Mapping[str, float] | None = None,
) -> Judgement:
    """Score an alignment and say whether it may stand on its own."""
    name = alignment.name
    strong = [(p, t, s) for p, t, s in alignment.picks if not name.tokens[p].weak]
    similarity, coverage, distinct, expected = _measures(alignment, strong, tokens, word_rarity)
    support = local_support(alignment, group, tokens, lo, hi)
    needs = _needs_support(alignment, group, distinct, tokens)
    score = similarity * coverage * (0.8 + 0.2 * distinct)
    if len(strong) == 1 and similarity < 1.0 and not _company_word_vouches(alignment, tokens):
        score = 0.0  # one word standing for a name must be spelt as listed: Coty is not Koti
    if len(strong) >= 2 and max(s for _, _, s in strong) < VARIANT:
        score = 0.0  # a typo in every word is another name: one word at least must be as listed
    if support:
        score = min(1.0, score + SUPPORT_BONUS)
    features = [
        Feature("similarity", round(similarity, 3), _similarity_detail(alignment, tokens)),
        Feature("coverage", round(coverage, 3), f"{len(strong)} of {expected} distinctive words"),
        Feature(
            "distinctiveness",
            round(distinct, 3),
            "rare words" if distinct >= DISTINCT_ENOUGH else "ordinary words",
        ),
    ]
    mismatch = _country_mismatch(group, distinct, document_countries)
    if mismatch:
        needs = True
        features.append(Feature("country", 0.0, mismatch))
    features.append(
        Feature(
            "support", 1.0 if support else 0.0, support or ("needed" if needs else "not needed")
        )
    )
    return Judgement(round(score, 3), needs, support, tuple(features))


def _measures(
    alignment: Alignment,
    strong: Sequence[Pick],
    tokens: Sequence[Token],
    word_rarity: Mapping[str, float] | None,
) -> tuple[float, float, float, int]:
    """Similarity, coverage and distinctiveness of the found words, each weighed by how much
    the word identifies the name; and how many distinctive words were expected."""
    name = alignment.name
    picked = {position for position, _, _ in alignment.picks}
    weight = sum(name.tokens[p].rarity for p, _, _ in strong) or 1e-9
    similarity = sum(name.tokens[p].rarity * s for p, _, s in strong) / weight
    # The words as written count too: "Wagner" in the text is a common surname even where the
    # list spells it "Vagner", a word English never uses; "Mohammed" is common among listed
    # names even where this entry spells it "Muhammed".
    written = sum(
        min(name.tokens[p].rarity, _written_rarity(tokens[t].norm, word_rarity))
        for p, t, _ in strong
    )
    expected = {
        i
        for i, token in enumerate(name.tokens)
        if not token.weak and (i in name.required or i in picked or name.ordered)
    }
    expected_weight = sum(name.tokens[i].rarity for i in expected) or 1e-9
    coverage = min(1.0, weight / expected_weight)
    return similarity, coverage, min(1.0, written), len(expected)


def _company_word_vouches(alignment: Alignment, tokens: Sequence[Token]) -> bool:
    """A misspelt single word may stand for a company when its company word stands beside it.

    "Kremsont Commercial Inc." written "Kremosnt Commercial Inc." keeps the listed company
    words around one long word with one typing mistake, which no everyday word explains;
    a lone "Koti" for the vessel KOTI has nothing of the kind.
    """
    name = alignment.name
    company_words = [
        p
        for p, _, _ in alignment.picks
        if name.tokens[p].weak and name.tokens[p].norm not in STOPWORDS
    ]
    strong = [(p, t, s) for p, t, s in alignment.picks if not name.tokens[p].weak]
    if not name.ordered or not company_words or len(strong) != 1:
        return False
    position, article, _ = strong[0]
    written, listed = tokens[article].norm, name.tokens[position].norm
    if len(written) < 6 or zipf(written) >= 3.0:
        return False
    return (
        written == listed
        or OSA.distance(skeleton(written), skeleton(listed), score_cutoff=1) <= 1
        or (OSA.distance(written, listed, score_cutoff=1) <= 1)
    )


def _written_rarity(norm: str, word_rarity: Mapping[str, float] | None) -> float:
    rarity = english_rarity(norm)
    if word_rarity is not None and norm in word_rarity:
        rarity = min(rarity, word_rarity[norm])
    return rarity


def _country_mismatch(
    group: EntityGroup, distinct: float, document_countries: frozenset[str]
) -> str:
    """A namesake warning: the article is about other countries than the party's.

    Only for names that are not exceptional: "Ibrahim Idris", a Nigerian police chief in the
    article, is not the Syrian scientist of the same name on the list. A rare name (Prigozhin,
    Khamenei) is trusted wherever the article is set.
    """
    linked = group.linked_countries
    if distinct >= DISTINCT_UNIQUE or not linked or not document_countries:
        return ""
    if linked & document_countries:
        return ""
    return f"the article names {', '.join(sorted(document_countries)[:5])}, not {', '.join(sorted(linked))}"


def _needs_support(
    alignment: Alignment, group: EntityGroup, distinct: float, tokens: Sequence[Token]
) -> bool:
    """Weak matches: acronyms, weak aliases, ordinary words, single-word names of people."""
    name = alignment.name
    if name.acronym or name.name.kind is NameKind.WEAK:
        return True
    if distinct < DISTINCT_ENOUGH:
        return True
    strong = [p for p, _, _ in alignment.picks if not name.tokens[p].weak]
    if len(strong) == 1:
        word = name.tokens[strong[0]].norm
        if group.type is EntityType.PERSON:
            # One word is never enough for a person, except a name in Chinese or Korean
            # script, where the whole name is one unbroken word.
            return name.name.text.isascii() or len(name.name.text.strip()) < 2
        return len(word) < 6 or distinct < 0.9
    return group.type is EntityType.VESSEL and distinct < 0.9


def local_support(
    alignment: Alignment, group: EntityGroup, tokens: Sequence[Token], lo: int, hi: int
) -> str:
    """A word next to the match that says the text means this kind of party, or ""."""
    name = alignment.name
    weak_name = name.acronym or name.name.kind is NameKind.WEAK
    for position, article_token, _ in alignment.picks:
        word = tokens[article_token].norm
        if (
            name.tokens[position].weak
            and group.type is not EntityType.PERSON
            and word not in STOPWORDS
            and not weak_name
        ):
            return f"company word '{word}' in the name"
    words = group.context
    if not weak_name or group.type is EntityType.VESSEL:
        # An acronym needs its own party's context; "research firm IDC" is not Iran's IDC.
        words = words | TYPE_CONTEXT.get(group.type.value, frozenset())
    start = max(lo, alignment.first - CONTEXT_REACH)
    end = min(hi, alignment.last + CONTEXT_REACH)
    for position in range(start, end + 1):
        if alignment.first <= position <= alignment.last:
            continue
        if tokens[position].norm in words:
            return f"'{tokens[position].norm}' next to the name"
    return ""


def _similarity_detail(alignment: Alignment, tokens: Sequence[Token]) -> str:
    parts = []
    for position, article_token, similarity in sorted(alignment.picks):
        listed = alignment.name.tokens[position].norm
        written = tokens[article_token].norm
        if listed != written:
            parts.append(f"{written}~{listed} {similarity:.2f}")
    return ", ".join(parts) or "exact"
