"""The name index: every listed name, built once per list version, searched per article.

Why not fuzzy-compare every name with every window of the text? Because with tens of thousands
of names that costs about two seconds an article (the benchmark measures it). Instead:

1. Every distinct name token goes into a vocabulary (``vocabulary``). An article token is looked
   up in it once (and cached across articles): exactly, by its transliteration ``skeleton``,
   and by edit distance on skeletons through a deletion index (SymSpell), so "Ryongbong" finds
   "Ryonbong" and "Prigoschin" finds "Prigozhin" without scanning the vocabulary.
2. Only capitalised article tokens anchor a search (names are capitalised in running text),
   and only through a name's *key* tokens (``names``): the ones rare enough among listed names
   to point at a handful of candidates ("Ryonbong", not "Korea" or "General"). A word that is
   two name words run together points at that name too (``joined``).
3. Each candidate name is aligned inside the anchor's sentence (``align``): the tokens it
   requires must be present close together, in order for companies and vessels, in any order
   for people.
4. ``score`` then decides whether the alignment is trustworthy enough to report.

Entities from several sources that describe the same party (a rule file's Wagner Group and the
OFAC entry for PMC Wagner) are merged into one *group* (``groups``), so an article names each
party once.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence

from .groups import EntityGroup, group_entities
from .joined import JOINED_MIN_LEN, JoinedWords, may_be_joined
from .model import Entity, EntityType, Name, NameKind
from .names import (
    IndexedName,
    dedupe_names,
    english_rarity,
    index_name,
    key_positions,
    name_words,
    rarity,
)
from .normalize import Token
from .shapes import word_shape
from .vocabulary import Matches, Vocabulary

# What the rest of the bot imports from here (``english_rarity`` lives in ``names``).
__all__ = ["NameIndex", "english_rarity"]


class NameIndex:
    """All names of all loaded entities, ready to be searched in article tokens."""

    def __init__(self, entities: Iterable[Entity]) -> None:
        self.groups: list[EntityGroup] = []
        self.names: list[IndexedName] = []
        self.vocabulary = Vocabulary()
        self.joined_words = JoinedWords()
        self._postings: dict[int, list[int]] = defaultdict(list)  # key vid -> names
        self._keys: list[tuple[int, ...]] = []  # name -> its key vids (those it is posted under)
        self._identifiers: dict[tuple[str, str], int] = {}
        self.word_rarity: dict[str, float] = {}  # listed words: how much each identifies a name
        self._build(list(entities))
        # by vid: each listed word's keys into an article's odd words (``shapes``)
        self.word_shapes = [word_shape(word) for word in self.vocabulary.words]

    # --- building -----------------------------------------------------------------------------

    def _build(self, entities: list[Entity]) -> None:
        self.groups, group_of = group_entities(entities)
        raw: list[tuple[int, Name, list[str], set[int], EntityType]] = []
        name_count: dict[str, int] = defaultdict(int)
        for entity in entities:
            gid = group_of[entity.key]
            for name in dedupe_names(entity.names):
                words, family = name_words(name, entity.type)
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
            self.word_rarity[word] = rarity(word, count, False)
        self.vocabulary.build_fuzzy()

    def _add_name(
        self,
        gid: int,
        name: Name,
        words: list[str],
        family: set[int],
        etype: EntityType,
        name_count: dict[str, int],
    ) -> None:
        indexed = index_name(
            len(self.names), gid, name, words, family, etype, name_count, self.vocabulary.vid
        )
        self.names.append(indexed)
        keys = [indexed.tokens[position].vid for position in key_positions(indexed, name_count)]
        for vid in keys:
            self._postings[vid].append(indexed.nid)
        self._keys.append(tuple(dict.fromkeys(keys)))
        self.joined_words.add(indexed, etype)

    # --- looking up ---------------------------------------------------------------------------

    @property
    def names_indexed(self) -> int:
        return len(self.names)

    @property
    def words(self) -> list[str]:
        """Every listed word by its vid (read-only by convention: the engine's hot loops index it)."""
        return self.vocabulary.words

    def candidates(
        self,
        token_matches: Sequence[Matches | None],
        tokens: Sequence[Token] = (),
        capitals: Sequence[int] | None = None,
    ) -> Anchors:
        """Names worth aligning, each with the article tokens that point at it.

        A capitalised word that is two words of a name run together ("Cholsu", "Jongun")
        points at that name too, so a lost space cannot hide a two-word name.

        Gathered word by word, not name by name: an article points at hundreds of names, most
        of which the caller drops at once (a word they cannot do without is absent), and it
        repeats its words. So each word's names are read once, in C, and a name's anchors are
        put together only when the caller asks for them (``Anchors.of``).
        """
        postings = self._postings
        positions_of: dict[int, list[int]] = {}  # vid -> the article words that may be it
        joined_at: dict[int, list[int]] = defaultdict(list)  # name -> words writing two as one
        pointed: list[list[int]] = []  # names pointed at, in the order the words point at them
        for position in _looked_up(token_matches, tokens, capitals):
            matches = token_matches[position]
            if matches:
                for vid, _similarity in matches:
                    at = positions_of.get(vid)
                    if at is None:
                        positions_of[vid] = [position]
                        names = postings.get(vid)
                        if names:
                            pointed.append(names)
                    else:
                        at.append(position)
            if tokens:
                token = tokens[position]
                if len(token.norm) >= JOINED_MIN_LEN and may_be_joined(token, matches):
                    joined = [nid for nid, _a, _b in self.joined_words.find(token.norm)]
                    pointed.append(joined)
                    for nid in joined:
                        at = joined_at[nid]
                        if not at or at[-1] != position:  # two word pairs of one name
                            at.append(position)
        return Anchors(
            list(dict.fromkeys(itertools.chain.from_iterable(pointed))),
            self._keys,
            positions_of,
            joined_at,
        )

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


class Anchors:
    """The names an article's words point at, in the order they are first pointed at, and for
    each name the article words that point at it (ascending, each once)."""

    __slots__ = ("_joined_at", "_keys", "_positions_of", "order")

    def __init__(
        self,
        order: list[int],
        keys: Sequence[tuple[int, ...]],
        positions_of: dict[int, list[int]],
        joined_at: dict[int, list[int]],
    ) -> None:
        self.order = order
        self._keys = keys
        self._positions_of = positions_of
        self._joined_at = joined_at

    def of(self, nid: int) -> list[int]:
        """The article words pointing at name ``nid``: through its key words or written as two
        of its words run together. (A word pointing twice would be aligned twice, to the same
        result.)"""
        positions_of = self._positions_of
        found = [positions_of[vid] for vid in self._keys[nid] if vid in positions_of]
        joined = self._joined_at.get(nid)
        if joined:
            found.append(joined)
        if len(found) == 1:
            return found[0]
        return sorted(set(itertools.chain.from_iterable(found)))


def _looked_up(
    token_matches: Sequence[Matches | None],
    tokens: Sequence[Token],
    capitals: Sequence[int] | None,
) -> Sequence[int]:
    """The positions ``candidates`` visits. Only capitalised words are looked up
    (``find_parties``) or may be two name words run together, and most words of an article are
    lower-case: ``capitals`` are their positions when the caller has them, else one C-level
    pass picks them."""
    if capitals is not None:
        return capitals
    if tokens:
        return [i for i, token in enumerate(tokens) if token.cap]
    return [i for i, matches in enumerate(token_matches) if matches]
