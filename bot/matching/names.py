"""A listed name as the index holds it: its words, which of them it cannot do without, and how
much each one points at it.

A name is found through its words, so each word carries what the search and the judgement need:
whether it is a company or function word (never evidence on its own), part of a person's
surname, and how *rare* it is, in English and among listed names ("Ryonbong" identifies a
party, "Korea" or "General" do not).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .model import EntityType, Name, PickledByFields
from .normalize import tokenize
from .refdata import ORG_WEAK_WORDS, STOPWORDS, rarer_than, zipf

KEY_MAX_NAMES = 40  # a word shared by more names than this does not anchor a search
GENERIC_STRENGTH = 0.5  # below this a name's distinctive words are too ordinary to stand for it
SLOT_PIN_MAX_ZIPF = 3.5  # a word rarer than this in English pins a misspelt neighbour
SLOT_MIN_LEN = 4  # a word beside the rest of its name may carry one typo from this many letters


@dataclass(frozen=True, slots=True)
class NameToken(PickledByFields):
    """One word of a listed name, with what alignment and scoring need to know about it, worked
    out once when the index is built rather than for every article."""

    norm: str
    vid: int
    weak: bool  # a company word or function word: optional, never evidence on its own
    family: bool  # part of a person's surname
    rarity: float  # 0..1: how much this token, seen in text, points at this name


@dataclass(frozen=True, slots=True)
class IndexedName(PickledByFields):
    """A listed name ready to be aligned: hundreds are tried per article, so everything the
    per-article tests need (which words it cannot do without, as ids and as sets) is here."""

    nid: int
    group: int
    name: Name
    tokens: tuple[NameToken, ...]
    required: frozenset[int]  # token positions that must all be found
    required_words: tuple[tuple[int, str], ...]  # (vid, word) of the required non-weak tokens
    required_vids: frozenset[int]  # their vids, for one subset test per article
    rare_vids: frozenset[int]  # those of words rare in English (what pins a misspelt neighbour)
    slot_vids: frozenset[int]  # required words that, alone missing, may stand misspelt beside
    # the others (``align``'s slot test): the name has another required word rare in English
    optional_misses: int  # how many further non-weak tokens may be missing
    acronym: bool
    ordered: bool  # company and vessel names keep their word order; people's names need not


def index_name(
    nid: int,
    group: int,
    name: Name,
    words: list[str],
    family: set[int],
    etype: EntityType,
    name_count: dict[str, int],
    vid: Callable[[str], int],
) -> IndexedName:
    """The name's words weighed, and what an alignment must find of them.

    ``name_count`` is how many listed names use each word; ``vid`` gives a word its
    vocabulary id.
    """
    tokens = _name_tokens(words, family, etype, name_count, vid)
    strong = [i for i, token in enumerate(tokens) if not token.weak]
    required, misses = _required(tokens, strong, etype)
    if (
        strong
        and len(strong) < len(tokens)
        and sum(tokens[i].rarity for i in strong) < GENERIC_STRENGTH
    ):
        # A name of ordinary words ("International Company for Industrial and Commercial
        # Technology") identifies nobody unless it is written out in full.
        required, misses = list(range(len(tokens))), 0
    pins = rare_enough_to_pin()
    required_vids = frozenset(tokens[r].vid for r in required if not tokens[r].weak)
    rare_vids = frozenset(
        tokens[r].vid for r in required if not tokens[r].weak and pins(tokens[r].norm)
    )
    acronym = _is_acronym(name, words, etype)
    return IndexedName(
        nid=nid,
        group=group,
        name=name,
        tokens=tuple(tokens),
        required=frozenset(required),
        required_words=tuple(
            (tokens[r].vid, tokens[r].norm) for r in sorted(required) if not tokens[r].weak
        ),
        required_vids=required_vids,
        rare_vids=rare_vids,
        slot_vids=_slot_vids(tokens, required_vids, rare_vids, acronym),
        optional_misses=misses,
        acronym=acronym,
        ordered=etype is not EntityType.PERSON,
    )


def _slot_vids(
    tokens: Sequence[NameToken],
    required_vids: frozenset[int],
    rare_vids: frozenset[int],
    acronym: bool,
) -> frozenset[int]:
    """The required words that, when they alone are missing from an article, may be a misspelt
    word beside the others: a word of ``SLOT_MIN_LEN`` letters or more of a name of two
    required words or more, one of the others rare in English. Worked out per name once, since
    every article asks it of the names it points at."""
    if len(required_vids) < 2 or acronym:
        return frozenset()
    words = {token.vid: token.norm for token in tokens}
    return frozenset(
        vid
        for vid in required_vids
        if rare_vids - {vid} and len(words[vid]) >= SLOT_MIN_LEN and words[vid].isalpha()
    )


def _name_tokens(
    words: list[str],
    family: set[int],
    etype: EntityType,
    name_count: dict[str, int],
    vid: Callable[[str], int],
) -> list[NameToken]:
    tokens = []
    for position, word in enumerate(words):
        weak = word in STOPWORDS or (etype is not EntityType.PERSON and word in ORG_WEAK_WORDS)
        tokens.append(
            NameToken(
                norm=word,
                vid=vid(word),
                weak=weak,
                family=position in family,
                rarity=rarity(word, name_count[word], weak),
            )
        )
    return tokens


def dedupe_names(names: Sequence[Name]) -> list[Name]:
    """Each spelling once, whatever its case: lists repeat a name as primary name and alias."""
    seen: set[str] = set()
    unique = []
    for name in names:
        key = name.text.strip().lower()
        if key and key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def name_words(name: Name, etype: EntityType) -> tuple[list[str], set[int]]:
    """A name's normalised words, and which of them form a person's surname.

    People written "SURNAME, Given Names" (OFAC) keep the surname marked; ``Name.family``
    marks it when the list says so in another way (the UN's Korean names).
    """
    text = name.text.replace('"', " ")
    if etype is EntityType.PERSON and "," in text:
        surname, _, given = text.partition(",")
        family_words = [t.norm for t in tokenize(surname)]
        given_words = [t.norm for t in tokenize(given)]
        return family_words + given_words, set(range(len(family_words)))
    words = [t.norm for t in tokenize(text)]
    family: set[int] = set()
    if etype is EntityType.PERSON and name.family:
        family_words = [t.norm for t in tokenize(name.family)]
        for start in range(len(words) - len(family_words) + 1):
            if words[start : start + len(family_words)] == family_words:
                family = set(range(start, start + len(family_words)))
                break
    return words, family


def english_rarity(word: str) -> float:
    """1.0 for words English does not use ("prigozhin"), near 0 for everyday words ("ocean")."""
    if word.isdigit():
        return 1.0 if len(word) >= 4 else 0.3
    return min(1.0, max(0.05, (5.5 - zipf(word)) / 3.5))


def rarity(word: str, names_with_word: int, weak: bool) -> float:
    """How much a word identifies a name: rare in English and rare among listed names.

    English frequency catches ordinary words ("ocean", "honest"); the share of listed names
    using the word catches list-specific commonplaces ("korea", "trading", "al").
    """
    english = english_rarity(word)
    listed = 1.0 if names_with_word <= 20 else max(0.3, 1.0 - math.log10(names_with_word / 20) / 2)
    value = english * listed
    if len(word) <= 2:
        value *= 0.5
    return round(value * (0.25 if weak else 1.0), 3)


def _is_acronym(name: Name, words: list[str], etype: EntityType) -> bool:
    """KOMID, OMM, DCB, IRISL: short single words that are no English word, so they must be
    written in capitals to count. Lists write every name in capitals, so the spelling of the
    list says nothing; a short real word (AMBER, a vessel) is a word, not an acronym."""
    if etype is EntityType.PERSON or len(words) != 1:
        return False
    word = words[0]
    if word.isdigit() or len(word) > 6:
        return False
    vowels = sum(1 for c in word if c in "aeiouy")
    if len(word) <= 3 or vowels == 0:
        return True
    # Unpronounceable (IRISL, KKBC) and no English word; "Unsan" or "Komid" read as words.
    return zipf(word) < 1.0 and re.search(r"[^aeiouy]{3}", word) is not None


def _required(
    tokens: list[NameToken], strong: list[int], etype: EntityType
) -> tuple[list[int], int]:
    """Which tokens must be found, and how many other non-weak ones may be missing.

    People: the surname and the first given name (a patronymic or middle name may be left
    out; Korean two-syllable given names are required whole). Without a known surname, the
    first and last words. Companies and vessels: every distinctive word, with one miss
    allowed in names of four or more.
    """
    if not strong:
        return [], 0
    if etype is EntityType.PERSON:
        family = [i for i in strong if tokens[i].family]
        given = [i for i in strong if not tokens[i].family]
        if family and given:
            korean = len(given) <= 2 and all(len(tokens[i].norm) <= 4 for i in given)
            required = family + (given if korean else given[:1])
            return required, len(strong) - len(required)
        if len(strong) >= 2:
            return [strong[0], strong[-1]], len(strong) - 2
        return strong, 0
    misses = (len(strong) - 1) // 3
    return strong, misses


def key_positions(name: IndexedName, name_count: dict[str, int]) -> list[int]:
    """Tokens through which a name is found: its rare words, or failing that its rarest word."""
    tokens = name.tokens
    strong = [i for i, token in enumerate(tokens) if not token.weak]
    pool = strong or list(range(len(tokens)))
    keys = [i for i in pool if name_count[tokens[i].norm] <= KEY_MAX_NAMES]
    if keys:
        return keys
    return [min(pool, key=lambda i: (name_count[tokens[i].norm], -tokens[i].rarity))]


@lru_cache(maxsize=1)
def rare_enough_to_pin() -> Callable[[str], bool]:
    """Whether a word is rare enough in English that a misspelt word beside it is pinned to
    its name (``align``'s slot test): "Peoples Liberation Army" pins nothing."""
    return rarer_than(SLOT_PIN_MAX_ZIPF)
