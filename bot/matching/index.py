"""The name index: every listed name, built once per list version, searched per article.

Why not fuzzy-compare every name with every window of the text? Because with tens of thousands
of names that costs about two seconds an article (the benchmark measures it). Instead:

1. Every distinct name token goes into a vocabulary. An article token is looked up in it once
   (and cached across articles): exactly, by its transliteration ``skeleton``, and by edit
   distance on skeletons through a deletion index (SymSpell), so "Ryongbong" finds "Ryonbong"
   and "Prigoschin" finds "Prigozhin" without scanning the vocabulary.
2. Only capitalised article tokens anchor a search (names are capitalised in running text),
   and only through a name's *key* tokens: the ones rare enough among listed names to point at
   a handful of candidates ("Ryonbong", not "Korea" or "General").
3. Each candidate name is aligned inside the anchor's sentence: the tokens it requires must be
   present close together, in order for companies and vessels, in any order for people.
4. ``score`` then decides whether the alignment is trustworthy enough to report.

Entities from several sources that describe the same party (a rule file's Wagner Group and the
OFAC entry for PMC Wagner) are merged into one *group* through ``Entity.same_as``, so an
article names each party once.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from rapidfuzz.distance import OSA

from .model import Entity, EntityType, Name, NameKind
from .normalize import Token, skeleton, tokenize
from .refdata import ORG_WEAK_WORDS, STOPWORDS, program_countries, rarer_than, zipf

KEY_MAX_NAMES = 40  # a token shared by more names than this does not anchor a search
FUZZY_MIN_LEN = 5  # shorter skeletons only match exactly: "Kim" must not find "Kin"
FUZZY_TWO_EDITS_LEN = 10  # from this length two edits are allowed
FUZZY_MAX_ZIPF = 4.0  # common English words are never "typos" of a name
ALIGN_FUZZY_MIN_LEN = 4  # inside an alignment, words from this length may carry one typo
ALIGN_FUZZY_MAX_ZIPF = 3.0  # ... if the word as written is no everyday English word
SLOT_MIN_LEN = (
    4  # a word beside the rest of its name may carry one typo from this length (as listed)
)
SLOT_PIN_MAX_ZIPF = 3.5  # ... if one of those other words is rarer than this in English
JOINED_MIN_LEN = 7  # two name words written as one ("Cholsu", "Jongun") from this length
EXACT, VARIANT = 1.0, 0.95
NAME_PARTICLES = frozenset(
    [
        "al",
        "el",
        "bin",
        "ibn",
        "bint",
        "abu",
        "de",
        "da",
        "di",
        "del",
        "della",
        "der",
        "van",
        "von",
        "du",
        "la",
        "le",
        "ter",
    ]
)
GENERIC_STRENGTH = 0.5  # below this a name's distinctive words are too ordinary to stand for it

# Abbreviations of company words that mean the same in a name.
_EQUIVALENT_WEAK = {
    "co": "company",
    "corp": "corporation",
    "ltd": "limited",
    "intl": "international",
    "inc": "incorporated",
}


@dataclass(frozen=True, slots=True)
class NameToken:
    norm: str
    vid: int
    weak: bool  # a company word or function word: optional, never evidence on its own
    family: bool  # part of a person's surname
    rarity: float  # 0..1: how much this token, seen in text, points at this name


@dataclass(frozen=True, slots=True)
class IndexedName:
    nid: int
    group: int
    name: Name
    tokens: tuple[NameToken, ...]
    required: frozenset[int]  # token positions that must all be found
    required_words: tuple[tuple[int, str], ...]  # (vid, word) of the required non-weak tokens
    required_vids: frozenset[int]  # their vids, for one subset test per article
    rare_vids: frozenset[int]  # those of words rare in English (what pins a misspelt neighbour)
    optional_misses: int  # how many further non-weak tokens may be missing
    acronym: bool
    ordered: bool  # company and vessel names keep their word order; people's names need not


@dataclass
class EntityGroup:
    """One real-world party, possibly listed by several sources.

    Members are fixed once the index is built, so the derived sets are computed once.
    """

    gid: int
    entity: Entity  # the one reported: a list entry when there is one
    members: list[Entity] = field(default_factory=list)

    @cached_property
    def keys(self) -> frozenset[str]:
        return frozenset(member.key for member in self.members)

    @cached_property
    def programs(self) -> frozenset[str]:
        return frozenset(p for member in self.members for p in member.programs)

    @cached_property
    def countries(self) -> frozenset[str]:
        return frozenset(c for member in self.members for c in member.countries)

    @cached_property
    def linked_countries(self) -> frozenset[str]:
        """Its own countries and those its sanctions programs are about."""
        linked = {
            c for member in self.members for p in member.programs for c in program_countries(p)
        }
        return self.countries | linked

    @cached_property
    def context(self) -> frozenset[str]:
        return frozenset(word.lower() for member in self.members for word in member.context)

    @property
    def type(self) -> EntityType:
        return self.entity.type


@dataclass(frozen=True, slots=True)
class Alignment:
    """Where a name was found: which article tokens stand for which name tokens."""

    name: IndexedName
    picks: tuple[tuple[int, int, float], ...]  # (name token position, article token, similarity)
    first: int  # first and last article token of the match
    last: int


class NameIndex:
    """All names of all loaded entities, ready to be searched in article tokens."""

    def __init__(self, entities: Iterable[Entity]) -> None:
        self.groups: list[EntityGroup] = []
        self.names: list[IndexedName] = []
        self._vocab: dict[str, int] = {}
        self._vocab_norms: list[str] = []
        self._by_skeleton: dict[str, list[int]] = defaultdict(list)
        self._deletes: dict[str, list[str]] = defaultdict(list)
        self._raw_deletes: dict[str, list[int]] = defaultdict(list)  # spelling as listed -> vids
        self._postings: dict[int, list[int]] = defaultdict(list)
        self._joined: dict[str, list[tuple[int, int, int]]] = defaultdict(
            list
        )  # skeleton -> (nid, a, b)
        self._identifiers: dict[tuple[str, str], int] = {}
        self.word_rarity: dict[str, float] = {}  # listed words: how much each identifies a name
        self._lookup_cache: dict[str, tuple[tuple[int, float], ...]] = {}
        self._build(list(entities))

    # --- building -----------------------------------------------------------------------------

    def _build(self, entities: list[Entity]) -> None:
        group_of = self._group(entities)
        raw: list[tuple[int, Name, list[str], set[int], EntityType]] = []
        name_count: dict[str, int] = defaultdict(int)
        for entity in entities:
            gid = group_of[entity.key]
            for name in _dedupe_names(entity.names):
                words, family = _name_words(name, entity.type)
                if not words:
                    continue
                raw.append((gid, name, words, family, entity.type))
                for word in set(words):
                    name_count[word] += 1
            for scheme, value in entity.identifiers:
                self._identifiers[(scheme.lower(), value.strip().upper())] = gid
        for gid, name, words, family, etype in raw:
            self._add_name(gid, name, words, family, etype, name_count)
        for word, count in name_count.items():
            self.word_rarity[word] = _rarity(word, count, False)
        self._build_fuzzy()

    def _group(self, entities: list[Entity]) -> dict[str, int]:
        """Union entities that say they are the same party; list entries are reported first."""
        parent = {entity.key: entity.key for entity in entities}

        def find(key: str) -> str:
            while parent[key] != key:
                parent[key] = parent[parent[key]]
                key = parent[key]
            return key

        for entity in entities:
            for other in entity.same_as:
                if other in parent:
                    parent[find(entity.key)] = find(other)
        by_root: dict[str, list[Entity]] = defaultdict(list)
        for entity in entities:
            by_root[find(entity.key)].append(entity)
        group_of: dict[str, int] = {}
        for members in by_root.values():
            members.sort(key=lambda e: (e.source.startswith("rules"), e.key))
            group = EntityGroup(gid=len(self.groups), entity=members[0], members=members)
            self.groups.append(group)
            for member in members:
                group_of[member.key] = group.gid
        return group_of

    def _add_name(
        self,
        gid: int,
        name: Name,
        words: list[str],
        family: set[int],
        etype: EntityType,
        name_count: dict[str, int],
    ) -> None:
        tokens = []
        for position, word in enumerate(words):
            weak = word in STOPWORDS or (etype is not EntityType.PERSON and word in ORG_WEAK_WORDS)
            tokens.append(
                NameToken(
                    norm=word,
                    vid=self._vid(word),
                    weak=weak,
                    family=position in family,
                    rarity=_rarity(word, name_count[word], weak),
                )
            )
        strong = [i for i, token in enumerate(tokens) if not token.weak]
        acronym = _is_acronym(name, words, etype)
        required, misses = _required(tokens, strong, etype)
        if (
            strong
            and len(strong) < len(tokens)
            and sum(tokens[i].rarity for i in strong) < GENERIC_STRENGTH
        ):
            # A name of ordinary words ("International Company for Industrial and Commercial
            # Technology") identifies nobody unless it is written out in full.
            required, misses = list(range(len(tokens))), 0
        indexed = IndexedName(
            nid=len(self.names),
            group=gid,
            name=name,
            tokens=tuple(tokens),
            required=frozenset(required),
            required_words=tuple(
                (tokens[r].vid, tokens[r].norm) for r in sorted(required) if not tokens[r].weak
            ),
            required_vids=frozenset(tokens[r].vid for r in required if not tokens[r].weak),
            rare_vids=frozenset(
                tokens[r].vid
                for r in required
                if not tokens[r].weak and _rare_enough_to_pin()(tokens[r].norm)
            ),
            optional_misses=misses,
            acronym=acronym,
            ordered=etype is not EntityType.PERSON,
        )
        self.names.append(indexed)
        for position in _keys(tokens, strong, name_count):
            self._postings[tokens[position].vid].append(indexed.nid)
        for a, b in _adjacent_pairs(tokens, etype):
            first, second = tokens[a].norm, tokens[b].norm
            if first.isalpha() and second.isalpha() and len(first) + len(second) >= JOINED_MIN_LEN:
                self._joined[skeleton(first + second)].append((indexed.nid, a, b))

    def _vid(self, word: str) -> int:
        vid = self._vocab.get(word)
        if vid is None:
            vid = self._vocab[word] = len(self._vocab_norms)
            self._vocab_norms.append(word)
            self._by_skeleton[skeleton(word)].append(vid)
        return vid

    def _build_fuzzy(self) -> None:
        for skel, vids in self._by_skeleton.items():
            if not _fuzzy_allowed(skel, [self._vocab_norms[v] for v in vids]):
                continue
            self._deletes[skel].append(skel)  # finds queries with one extra letter
            for deleted in _deletes(skel):
                self._deletes[deleted].append(skel)
        # Typos also on the spelling as listed: a skeleton can turn one typing mistake into two
        # differences ("Sayuaf" -> "saiuaf" against "sayaf"), the spelling never does.
        for vid, norm in enumerate(self._vocab_norms):
            if len(norm) >= FUZZY_MIN_LEN and _fuzzy_allowed(skeleton(norm), [norm]):
                for deleted in {norm, *_deletes(norm)}:
                    self._raw_deletes[deleted].append(vid)

    # --- looking up ---------------------------------------------------------------------------

    @property
    def names_indexed(self) -> int:
        return len(self.names)

    def lookup(self, norm: str) -> tuple[tuple[int, float], ...]:
        """Vocabulary tokens an article token may stand for, with a similarity; cached.

        The exact match, when there is one, comes first (``listed_as_written`` relies on it).
        """
        cached = self._lookup_cache.get(norm)
        if cached is not None:
            return cached
        found: dict[int, float] = {}
        exact = self._vocab.get(norm)
        if exact is not None:
            found[exact] = EXACT
        skel = skeleton(norm)
        for vid in self._by_skeleton.get(skel, ()):
            found.setdefault(vid, VARIANT)
        if _fuzzy_allowed(skel, [norm]):
            self._fuzzy(norm, skel, found)
            self._fuzzy_raw(norm, found)
        result = tuple(found.items())
        if len(self._lookup_cache) > 500_000:
            self._lookup_cache.clear()
        self._lookup_cache[norm] = result
        return result

    def _fuzzy(self, norm: str, skel: str, found: dict[int, float]) -> None:
        max_edits = 2 if len(skel) >= FUZZY_TWO_EDITS_LEN else 1
        seen: set[str] = set()
        for deleted in (skel, *_deletes(skel)):
            for candidate in self._deletes.get(deleted, ()):
                if candidate in seen or candidate == skel:
                    continue
                seen.add(candidate)
                distance = OSA.distance(
                    skel, candidate, score_cutoff=max_edits
                )  # a swap is one edit
                if distance > max_edits:
                    continue
                similarity = VARIANT * (1.0 - distance / max(len(skel), len(candidate)))
                for vid in self._by_skeleton[candidate]:
                    if similarity > found.get(vid, 0.0):
                        found[vid] = similarity

    def _fuzzy_raw(self, norm: str, found: dict[int, float]) -> None:
        if len(norm) < FUZZY_MIN_LEN:
            return
        max_edits = 2 if len(norm) >= FUZZY_TWO_EDITS_LEN else 1
        seen: set[int] = set()
        for deleted in (norm, *_deletes(norm)):
            for vid in self._raw_deletes.get(deleted, ()):
                if vid in seen or vid in found:
                    continue
                seen.add(vid)
                listed = self._vocab_norms[vid]
                distance = OSA.distance(norm, listed, score_cutoff=max_edits)
                if 0 < distance <= max_edits:
                    found[vid] = VARIANT * (1.0 - distance / max(len(norm), len(listed)))

    def candidates(
        self,
        token_matches: Sequence[tuple[tuple[int, float], ...] | None],
        tokens: Sequence[Token] = (),
    ) -> dict[int, list[int]]:
        """Names worth aligning, each with the article tokens that point at it.

        A capitalised word that is two words of a name run together ("Cholsu", "Jongun")
        points at that name too, so a lost space cannot hide a two-word name.
        """
        anchors: dict[int, list[int]] = defaultdict(list)
        postings = self._postings
        last = len(tokens)
        for position, matches in enumerate(token_matches):
            if matches:
                for vid, _similarity in matches:
                    for nid in postings.get(vid, ()):
                        anchors[nid].append(position)
            if position < last:
                token = tokens[position]
                # the cheap tests first: most words are short or lower-case
                if (
                    token.cap
                    and len(token.norm) >= JOINED_MIN_LEN
                    and _may_be_joined(token, matches)
                ):
                    for nid, _a, _b in self.joined(token.norm):
                        anchors[nid].append(position)
        return anchors

    @property
    def words(self) -> list[str]:
        """Every listed word by its vid (read-only by convention: the engine's hot loops index it)."""
        return self._vocab_norms

    def joined(self, norm: str) -> list[tuple[int, int, int]]:
        """(name, position, position) of the adjacent name words that ``norm`` writes as one."""
        return self._joined.get(skeleton(norm), []) if norm.isalpha() else []

    def align(
        self,
        name: IndexedName,
        anchor: int,
        tokens: Sequence[Token],
        token_matches: Sequence[tuple[tuple[int, float], ...] | None],
        lo: int,
        hi: int,
        odd: Sequence[int] = (),
        slot: bool = False,
    ) -> Alignment | None:
        """Fit a name around an anchor token within article tokens ``lo..hi`` (one sentence).

        ``odd`` are the sentence's capitalised words that are no listed word as written and no
        everyday English word (``odd_words``): the only ones that may be a listed word with a
        typo or two listed words run together, so only they are compared letter by letter.
        ``slot``: the name is pinned by its other words, so one missing word may be the word
        standing in its place with one typo, even a short or everyday one (``_slot_token``).
        """
        size = len(name.tokens)
        lo = max(lo, anchor - size - 1)
        hi = min(hi, anchor + size + 1)
        odd = [position for position in odd if lo <= position <= hi]
        used: set[int] = set()
        picks: list[tuple[int, int, float]] = []
        misses = 0
        typos = 0  # words found only by the in-alignment comparison: one per name
        joined = self._joined_in(name, odd, tokens) if odd else {}
        pending: int | None = None  # a required word left for the slot test
        for position, token in enumerate(name.tokens):
            if token.weak or any(p[0] == position for p in picks):
                continue
            best = _best_token(token, anchor, lo, hi, used, tokens, token_matches, name.acronym)
            if (
                best is None
                and position in joined
                and not any(p[0] == joined[position][1] for p in picks)
            ):
                article, other = joined[position]
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
        if pending is not None:
            best = _slot_token(
                pending, name.ordered, name.tokens[pending], picks, used, tokens, lo, hi
            )
            if best is None:
                return None
            picks.append((pending, best[0], best[1]))
        picks.sort()
        if not picks or misses > name.optional_misses:
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

    def _joined_in(
        self, name: IndexedName, odd: Sequence[int], tokens: Sequence[Token]
    ) -> dict[int, tuple[int, int]]:
        """Name position -> (odd article word writing it and a neighbour as one, that
        neighbour's position)."""
        found: dict[int, tuple[int, int]] = {}
        for article in odd:
            token = tokens[article]
            if len(token.norm) < JOINED_MIN_LEN:
                continue
            for nid, a, b in self.joined(token.norm):
                if nid == name.nid:
                    found.setdefault(a, (article, b))
                    found.setdefault(b, (article, a))
        return found

    def by_identifier(self, scheme: str, value: str) -> EntityGroup | None:
        gid = self._identifiers.get((scheme.lower(), value.upper()))
        return None if gid is None else self.groups[gid]

    def short_forms(self, name: IndexedName) -> set[int]:
        """Vocabulary ids that, alone, may refer back to a party already named in full."""
        if name.name.kind is NameKind.WEAK:
            return set()
        etype = self.groups[name.group].type
        forms = set()
        for token in name.tokens:
            if token.weak or len(token.norm) < 4 or token.norm.isdigit():
                continue
            if etype is EntityType.PERSON and not token.family:
                continue
            if token.rarity < 0.5 or english_rarity(token.norm) < 0.5:
                continue  # "Islamic" alone does not mean the Islamic Revolutionary Guard Corps
            forms.add(token.vid)
        return forms


# --- helpers ---------------------------------------------------------------------------------


def _dedupe_names(names: Sequence[Name]) -> list[Name]:
    seen: set[str] = set()
    unique = []
    for name in names:
        key = name.text.strip().lower()
        if key and key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def _name_words(name: Name, etype: EntityType) -> tuple[list[str], set[int]]:
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


def _rarity(word: str, names_with_word: int, weak: bool) -> float:
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


def _keys(tokens: list[NameToken], strong: list[int], name_count: dict[str, int]) -> list[int]:
    """Tokens through which a name is found: its rare words, or failing that its rarest word."""
    pool = strong or list(range(len(tokens)))
    keys = [i for i in pool if name_count[tokens[i].norm] <= KEY_MAX_NAMES]
    if keys:
        return keys
    return [min(pool, key=lambda i: (name_count[tokens[i].norm], -tokens[i].rarity))]


def _fuzzy_allowed(skel: str, norms: Sequence[str]) -> bool:
    if len(skel) < FUZZY_MIN_LEN or not skel.isalpha():
        return False
    return all(zipf(norm) < FUZZY_MAX_ZIPF for norm in norms)


def _deletes(word: str) -> set[str]:
    """All strings one (or, for long words, two) deletions away: the SymSpell neighbourhood."""
    first = {word[:i] + word[i + 1 :] for i in range(len(word))}
    if len(word) < FUZZY_TWO_EDITS_LEN:
        return first
    second = {w[:i] + w[i + 1 :] for w in first for i in range(len(w))}
    return first | second


def _best_token(
    token: NameToken,
    anchor: int,
    lo: int,
    hi: int,
    used: set[int],
    tokens: Sequence[Token],
    token_matches: Sequence[tuple[tuple[int, float], ...] | None],
    acronym: bool,
) -> tuple[int, float] | None:
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
    tokens: Sequence[Token], token_matches: Sequence[tuple[tuple[int, float], ...] | None]
) -> list[int]:
    """Capitalised words that are no listed word as written and no everyday English word.

    A misspelt or run-together name can only hide in such a word ("Commdoities", "Cholsu");
    an article has a handful, so letter-by-letter comparisons stay cheap.
    """
    rare = _rare_for_typos()
    return [
        position
        for position, token in enumerate(tokens)
        if token.cap
        and not token.caseless  # a transliterated word of a script without capitals is no sign of a name
        and len(token.norm) >= ALIGN_FUZZY_MIN_LEN - 1
        and token.norm.isalpha()
        and not listed_as_written(token_matches[position])
        and rare(token.norm)
    ]


def listed_as_written(matches: tuple[tuple[int, float], ...] | None) -> bool:
    """Whether a token's look-up found it in the vocabulary as written (exact comes first)."""
    if not matches:
        return False
    return matches[0][1] == EXACT


@lru_cache(maxsize=1)
def _rare_enough_to_pin() -> Callable[[str], bool]:
    return rarer_than(SLOT_PIN_MAX_ZIPF)


@lru_cache(maxsize=1)
def _rare_for_typos() -> Callable[[str], bool]:
    return rarer_than(ALIGN_FUZZY_MAX_ZIPF)


def _may_be_joined(token: Token, matches: tuple[tuple[int, float], ...] | None) -> bool:
    """A capitalised long word that is no listed word as written (it may be near one); a word of
    a script without capitals ("하지만", "however", read as "hajiman") is not taken for a name."""
    if not token.cap or token.caseless or len(token.norm) < JOINED_MIN_LEN:
        return False
    return not listed_as_written(matches)


def _adjacent_pairs(tokens: Sequence[NameToken], etype: EntityType) -> set[tuple[int, int]]:
    """Word pairs a writer may run together: neighbours as listed, and for people also as
    written in running text, given names first ("HERRERA BUITRAGO, Helmer" -> "Helmerherrera")."""
    pairs = {(i, i + 1) for i in range(len(tokens) - 1)}
    if etype is EntityType.PERSON:
        natural = [i for i, t in enumerate(tokens) if not t.family] + [
            i for i, t in enumerate(tokens) if t.family
        ]
        pairs |= set(zip(natural, natural[1:]))
    return pairs


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
    picks: Sequence[tuple[int, int, float]],
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
    rare = _rare_enough_to_pin()
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
        article = tokens[position]
        if (
            not article.cap
            or article.caseless
            or not article.norm.isalpha()
            or abs(len(article.norm) - len(token.norm)) > 1
        ):
            continue
        distance = OSA.distance(article.norm, token.norm, score_cutoff=1)
        if 0 < distance <= 1:
            return position, VARIANT * (1.0 - distance / max(len(article.norm), len(token.norm)))
    return None


def _foreign_words(
    name: IndexedName,
    picks: list[tuple[int, int, float]],
    first: int,
    last: int,
    tokens: Sequence[Token],
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
    picks: list[tuple[int, int, float]],
    first: int,
    last: int,
    tokens: Sequence[Token],
    lo: int,
    hi: int,
) -> tuple[list[tuple[int, int, float]], int, int]:
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
