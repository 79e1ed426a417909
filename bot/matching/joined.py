"""Two name words written as one: "Cholsu" for Chol Su, "Jongun" for Jong Un.

Writers and transliterations drop the space between the syllables of Korean given names, and
between a given name and a surname run together ("Helmerherrera"). A lost space must not hide a
two-word name, so every pair of neighbouring name words is also indexed by the skeleton of the
two written as one.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence

from .model import EntityType
from .names import IndexedName, NameToken
from .normalize import Token, skeleton
from .vocabulary import Matches, listed_as_written

JOINED_MIN_LEN = 7  # two name words written as one ("Cholsu", "Jongun") from this length


class JoinedWords:
    """Neighbouring name words by the skeleton of the two written as one."""

    def __init__(self) -> None:
        # skeleton of the two words as one -> (name, position, position)
        self._pairs: dict[str, list[tuple[int, int, int]]] = defaultdict(list)

    def add(self, name: IndexedName, etype: EntityType) -> None:
        tokens = name.tokens
        for a, b in _adjacent_pairs(tokens, etype):
            first, second = tokens[a].norm, tokens[b].norm
            if first.isalpha() and second.isalpha() and len(first) + len(second) >= JOINED_MIN_LEN:
                self._pairs[skeleton(first + second)].append((name.nid, a, b))

    def find(self, norm: str) -> list[tuple[int, int, int]]:
        """(name, position, position) of the adjacent name words that ``norm`` writes as one."""
        return self._pairs.get(skeleton(norm), []) if norm.isalpha() else []

    def in_name(
        self, name: IndexedName, odd: Sequence[int], tokens: Sequence[Token]
    ) -> dict[int, tuple[int, int]]:
        """Name position -> (odd article word writing it and a neighbour as one, that
        neighbour's position)."""
        found: dict[int, tuple[int, int]] = {}
        for article in odd:
            token = tokens[article]
            if len(token.norm) < JOINED_MIN_LEN:
                continue
            for nid, a, b in self.find(token.norm):
                if nid == name.nid:
                    found.setdefault(a, (article, b))
                    found.setdefault(b, (article, a))
        return found


def may_be_joined(token: Token, matches: Matches | None) -> bool:
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
        pairs |= set(itertools.pairwise(natural))
    return pairs
