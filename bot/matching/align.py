"""Fitting a candidate name around the article word that points at it.

The look-up says which article words may stand for which listed words; alignment says whether
they make the name here: the words it requires must be present close together in the anchor's
sentence, in order for companies and vessels, in any order for people, with nothing foreign in
between. A name already pinned by its other words may also find a word with a typo the look-up
cannot afford to find, or two of its words run together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

from .joined import JoinedWords
from .names import SLOT_MIN_LEN, IndexedName, NameToken, rare_enough_to_pin
from .normalize import Token
from .refdata import STOPWORDS, rarer_than, word_set
from .vocabulary import EXACT, FUZZY_TWO_EDITS_LEN, VARIANT, Matches, listed_as_written

ALIGN_FUZZY_MIN_LEN = 4  # inside an alignment, words from this length may carry one typo
ALIGN_FUZZY_MAX_ZIPF = 3.0  # ... if the word as written is no everyday English word
NAME_PARTICLES = word_set("al el bin ibn bint abu de da di del della der van von du la le ter")

# Abbreviations of company words that mean the same in a name.
_EQUIVALENT_WEAK = {
    "co": "company",
    "corp": "corporation",
    "ltd": "limited",
    "intl": "international",
    "inc": "incorporated",
}

Pick = tuple[int, int, float]  # (name token position, article token, similarity)


@dataclass(frozen=True, slots=True)
class Alignment:
    """Where a name was found: which article tokens stand for which name tokens."""

    name: IndexedName
    picks: tuple[Pick, ...]
    first: int  # first and last article token of the match
    last: int


def align(
    name: IndexedName,
    anchor: int,
    tokens: Sequence[Token],
    token_matches: Sequence[Matches | None],
    lo: int,
    hi: int,
    joined: JoinedWords,
    odd: Sequence[int] = (),
    slot: bool = False,
) -> Alignment | None:
    """Fit a name around an anchor token within article tokens ``lo..hi`` (one sentence).

    ``odd`` are the sentence's capitalised words that are no listed word as written and no
    everyday English word (``odd_words``): the only ones that may be a listed word with a
    typo or two listed words run together (``joined``), so only they are compared letter by
    letter. ``slot``: the name is pinned by its other words, so one missing word may be the
    word standing in its place with one typo, even a short or everyday one (``_slot_token``).
    """
    size = len(name.tokens)
    lo = max(lo, anchor - size - 1)
    hi = min(hi, anchor + size + 1)
    odd = [position for position in odd if lo <= position <= hi]
    found = _pick_words(name, anchor, tokens, token_matches, lo, hi, joined, odd, slot)
    if found is None:
        return None
    picks, used, pending = found
    if pending is not None:
        best = _slot_token(pending, name.ordered, name.tokens[pending], picks, used, tokens, lo, hi)
        if best is None:
            return None
        picks.append((pending, best[0], best[1]))
    return _fitted(name, picks, tokens, lo, hi)


def _pick_words(
    name: IndexedName,
    anchor: int,
    tokens: Sequence[Token],
    token_matches: Sequence[Matches | None],
    lo: int,
    hi: int,
    joined: JoinedWords,
    odd: Sequence[int],
    slot: bool,
) -> tuple[list[Pick], set[int], int | None] | None:
    """An article word for each of the name's words: as looked up, else written together with a
    neighbour, else (once per name) with a typo. Returns the picks, the article words used and
    the required word left for the slot test, or None when too much of the name is missing."""
    used: set[int] = set()
    picks: list[Pick] = []
    misses = 0
    typos = 0  # words found only by the in-alignment comparison: one per name
    joined_at = joined.in_name(name, odd, tokens) if odd else {}
    pending: int | None = None  # a required word left for the slot test
    for position, token in enumerate(name.tokens):
        if token.weak or any(p[0] == position for p in picks):
            continue
        best = _best_token(token, anchor, lo, hi, used, tokens, token_matches, name.acronym)
        if (
            best is None
            and position in joined_at
            and not any(p[0] == joined_at[position][1] for p in picks)
        ):
            article, other = joined_at[position]
            picks.append((other, article, VARIANT))
            best = (article, VARIANT)
        elif best is None and typos == 0 and odd and not name.acronym:
            best = _typo_token(token, anchor, odd, used, tokens)
            typos += best is not None
        if best is None:
            if position in name.required:
                if not slot or typos or pending is not None or name.acronym:
                    return None
                pending = position
                continue
            misses += 1
            continue
        used.add(best[0])
        picks.append((position, best[0], best[1]))
    if misses > name.optional_misses:
        return None
    return picks, used, pending


def _fitted(
    name: IndexedName, picks: list[Pick], tokens: Sequence[Token], lo: int, hi: int
) -> Alignment | None:
    """The alignment, if the picked words read as one name: nothing foreign between them, in
    the listed order where the name keeps it, and every required word found."""
    picks.sort()
    if not picks:
        return None
    first = min(p[1] for p in picks)
    last = max(p[1] for p in picks)
    if _foreign_words(name, picks, first, last, tokens) > (0 if name.ordered else 1):
        return None  # scattered over the sentence: not one name
    if name.ordered and [p[1] for p in picks] != sorted(p[1] for p in picks):
        return None
    picks, first, last = _extend_weak(name, picks, first, last, tokens, lo, hi)
    if not name.required <= {p[0] for p in picks}:
        return None  # a required company word is missing
    return Alignment(name=name, picks=tuple(picks), first=first, last=last)


def _best_token(
    token: NameToken,
    anchor: int,
    lo: int,
    hi: int,
    used: set[int],
    tokens: Sequence[Token],
    token_matches: Sequence[Matches | None],
    acronym: bool,
) -> tuple[int, float] | None:
    """The most similar article word the look-up found for ``token``, nearest the anchor."""
    best: tuple[int, float] | None = None
    for position in range(lo, hi + 1):
        if position in used:
            continue
        matches = token_matches[position]
        if not matches:
            continue
        if acronym and not tokens[position].upper:
            continue
        for vid, similarity in matches:
            if vid != token.vid:
                continue
            if (
                best is None
                or similarity > best[1]
                or (similarity == best[1] and abs(position - anchor) < abs(best[0] - anchor))
            ):
                best = (position, similarity)
    return best


def odd_words(
    tokens: Sequence[Token], token_matches: Sequence[Matches | None], capitals: Sequence[int]
) -> list[int]:
    """Capitalised words that are no listed word as written and no everyday English word.

    A misspelt or run-together name can only hide in such a word ("Commdoities", "Cholsu");
    an article has a handful, so letter-by-letter comparisons stay cheap. ``capitals``: the
    positions of the capitalised words, the only ones looked at.
    """
    rare = _rare_for_typos()
    # (a transliterated word of a script without capitals is no sign of a name)
    return [
        position
        for position in capitals
        if not (token := tokens[position]).caseless
        and len(token.norm) >= ALIGN_FUZZY_MIN_LEN - 1
        and token.norm.isalpha()
        and not listed_as_written(token_matches[position])
        and rare(token.norm)
    ]


@lru_cache(maxsize=1)
def _rare_for_typos() -> Callable[[str], bool]:
    return rarer_than(ALIGN_FUZZY_MAX_ZIPF)


def _typo_token(
    token: NameToken, anchor: int, odd: Sequence[int], used: set[int], tokens: Sequence[Token]
) -> tuple[int, float] | None:
    """A capitalised word near the anchor that is this name word with one typing mistake.

    The vocabulary lookup cannot afford typos of everyday words ("Airlnies", "Nacioanl"):
    every English word would find hundreds of names. Here the name is already pinned by its
    other words, so one word may differ by one edit (two in long words), provided the word
    as written is no everyday English word and not another listed word spelt correctly.
    """
    if len(token.norm) < ALIGN_FUZZY_MIN_LEN or not token.norm.isalpha():
        return None
    max_edits = 2 if len(token.norm) >= FUZZY_TWO_EDITS_LEN - 2 else 1
    best: tuple[int, float] | None = None
    for position in odd:
        article = tokens[position]
        if position in used or abs(len(article.norm) - len(token.norm)) > max_edits:
            continue
        distance = OSA.distance(article.norm, token.norm, score_cutoff=max_edits)
        if distance > max_edits:
            continue
        similarity = VARIANT * (1.0 - distance / max(len(article.norm), len(token.norm)))
        if (
            best is None
            or similarity > best[1]
            or (similarity == best[1] and abs(position - anchor) < abs(best[0] - anchor))
        ):
            best = (position, similarity)
    return best


def _slot_token(
    pending: int,
    ordered: bool,
    token: NameToken,
    picks: Sequence[Pick],
    used: set[int],
    tokens: Sequence[Token],
    lo: int,
    hi: int,
) -> tuple[int, float] | None:
    """The capitalised word right beside the name's other words that is name word ``pending``
    with one typo.

    Dropping or swapping letters often leaves a short or everyday word ("Havin Ban Limited",
    "Vinales Tour", "Raid Hijazi"), which the typo test must refuse when it looks across a
    sentence. Here the name's other words are found and this word stands next to them, where
    it belongs (on the listed side when only one other word of a company or vessel name is
    found; people are written in either order): the place is the
    evidence, so one edit is allowed from four listed letters on. One of the found words must
    be rare in English, or the place proves little ("Peoples Liberation Army").
    """
    if not picks or len(token.norm) < SLOT_MIN_LEN or not token.norm.isalpha():
        return None
    rare = rare_enough_to_pin()
    if not any(rare(tokens[p[1]].norm) for p in picks):
        return None  # pinned by everyday words only ("Peoples Liberation Army"): a namesake's risk
    if len(picks) == 1 and ordered:  # one other word: the missing one stands on its listed side
        other, article, _ = picks[0]
        beside = [article - 1 if pending < other else article + 1]
    else:
        beside = sorted({p[1] + step for p in picks for step in (-1, 1)} - used)
    for position in beside:
        if not lo <= position <= hi:
            continue
        word = tokens[position]
        if (
            not word.cap
            or word.caseless
            or not word.norm.isalpha()
            or abs(len(word.norm) - len(token.norm)) > 1
        ):
            continue
        distance = OSA.distance(word.norm, token.norm, score_cutoff=1)
        if 0 < distance <= 1:
            return position, VARIANT * (1.0 - distance / max(len(word.norm), len(token.norm)))
    return None


def _foreign_words(
    name: IndexedName, picks: list[Pick], first: int, last: int, tokens: Sequence[Token]
) -> int:
    """Words inside the match that belong to neither the matched words nor the name's own
    company and function words ("Choson International Chemicals" may keep its "International")."""
    picked = {p[1] for p in picks}
    weak = [t.norm for t in name.tokens if t.weak]
    # Inside a person's name only particles and middle names may stand unlisted ("Ahmad bin
    # Hanbal", "Yevgeny V. Prigozhin"); a conjunction joins two people ("Maximo Gonzalez and
    # Leonardo Mayer") and ends the name.
    ignorable = STOPWORDS if name.ordered else NAME_PARTICLES
    count = 0
    for position in range(first, last + 1):
        norm = tokens[position].norm
        if position in picked or norm in ignorable or any(_weak_equal(norm, w) for w in weak):
            continue
        if not name.ordered and norm in STOPWORDS:
            return len(tokens)
        count += 1
    return count


def _weak_equal(text_norm: str, name_norm: str) -> bool:
    """The same company or function word, abbreviated ("Co", "Ltd") or with one typo
    ("Internationla"): long words only, so "Co" never passes for "Go"."""
    if (
        text_norm == name_norm
        or _EQUIVALENT_WEAK.get(text_norm) == name_norm
        or _EQUIVALENT_WEAK.get(name_norm) == text_norm
    ):
        return True
    return (
        len(name_norm) >= 5
        and abs(len(text_norm) - len(name_norm)) <= 1
        and OSA.distance(text_norm, name_norm, score_cutoff=1) <= 1
    )


def _extend_weak(
    name: IndexedName,
    picks: list[Pick],
    first: int,
    last: int,
    tokens: Sequence[Token],
    lo: int,
    hi: int,
) -> tuple[list[Pick], int, int]:
    """Add the name's company and function words found inside or right next to the match."""
    weak_positions = [i for i, token in enumerate(name.tokens) if token.weak]
    if not weak_positions:
        return picks, first, last
    picks = list(picks)
    changed = True
    taken = {p[1] for p in picks}
    matched = {p[0] for p in picks}
    while changed:
        changed = False
        for position in weak_positions:
            if position in matched:
                continue
            norm = name.tokens[position].norm
            for candidate in range(max(lo, first - 1), min(hi, last + 1) + 1):
                if candidate not in taken and _weak_equal(tokens[candidate].norm, norm):
                    picks.append((position, candidate, EXACT))
                    taken.add(candidate)
                    matched.add(position)
                    first, last = min(first, candidate), max(last, candidate)
                    changed = True
                    break
    return picks, first, last
