"""The vocabulary of listed words, and which of them an article word may stand for.

Every distinct word of every listed name gets an id (``vid``). An article word is looked up once
(and cached across articles): exactly, by its transliteration ``skeleton``, and by edit distance
through a deletion index (SymSpell), so "Ryongbong" finds "Ryonbong" and "Prigoschin" finds
"Prigozhin" without comparing the word with tens of thousands of listed words.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rapidfuzz.distance import OSA

from .normalize import skeleton
from .refdata import zipf

FUZZY_MIN_LEN = 5  # shorter skeletons only match exactly: "Kim" must not find "Kin"
FUZZY_TWO_EDITS_LEN = 10  # from this length two edits are allowed
FUZZY_MAX_ZIPF = 4.0  # common English words are never "typos" of a name
EXACT, VARIANT = 1.0, 0.95
LOOKUP_CACHE_SIZE = 500_000  # article words remembered; the cache starts afresh beyond this

# What an article word may stand for: (vid, similarity) pairs, the exact match first.
Matches = tuple[tuple[int, float], ...]


class Vocabulary:
    """Every listed word by its id, with the indexes that find it from a misspelt word."""

    def __init__(self) -> None:
        self.words: list[str] = []  # by vid (read-only by convention: hot loops index it)
        self._vids: dict[str, int] = {}
        self._by_skeleton: dict[str, list[int]] = defaultdict(list)
        self._deletes: dict[str, list[str]] = defaultdict(list)
        self._raw_deletes: dict[str, list[int]] = defaultdict(list)  # spelling as listed -> vids
        self._lookup_cache: dict[str, Matches] = {}

    def vid(self, word: str) -> int:
        """The word's id, given on first sight."""
        vid = self._vids.get(word)
        if vid is None:
            vid = self._vids[word] = len(self.words)
            self.words.append(word)
            self._by_skeleton[skeleton(word)].append(vid)
        return vid

    def build_fuzzy(self) -> None:
        """The deletion indexes, once every word is in: they are built over the whole
        vocabulary, so a word added later would not be found by its typos."""
        for skel, vids in self._by_skeleton.items():
            if not fuzzy_allowed(skel, [self.words[v] for v in vids]):
                continue
            self._deletes[skel].append(skel)  # finds queries with one extra letter
            for deleted in deletes(skel):
                self._deletes[deleted].append(skel)
        # Typos also on the spelling as listed: a skeleton can turn one typing mistake into two
        # differences ("Sayuaf" -> "saiuaf" against "sayaf"), the spelling never does.
        for vid, norm in enumerate(self.words):
            if len(norm) >= FUZZY_MIN_LEN and fuzzy_allowed(skeleton(norm), [norm]):
                for deleted in {norm, *deletes(norm)}:
                    self._raw_deletes[deleted].append(vid)

    def lookup(self, norm: str) -> Matches:
        """Vocabulary words an article word may stand for, with a similarity; cached.

        The exact match, when there is one, comes first (``listed_as_written`` relies on it).
        """
        cached = self._lookup_cache.get(norm)
        if cached is not None:
            return cached
        found: dict[int, float] = {}
        exact = self._vids.get(norm)
        if exact is not None:
            found[exact] = EXACT
        skel = skeleton(norm)
        for vid in self._by_skeleton.get(skel, ()):
            found.setdefault(vid, VARIANT)
        if fuzzy_allowed(skel, [norm]):
            self._fuzzy(skel, found)
            self._fuzzy_raw(norm, found)
        result = tuple(found.items())
        if len(self._lookup_cache) > LOOKUP_CACHE_SIZE:
            self._lookup_cache.clear()
        self._lookup_cache[norm] = result
        return result

    def _fuzzy(self, skel: str, found: dict[int, float]) -> None:
        max_edits = 2 if len(skel) >= FUZZY_TWO_EDITS_LEN else 1
        seen: set[str] = set()
        for deleted in (skel, *deletes(skel)):
            for candidate in self._deletes.get(deleted, ()):
                if candidate in seen or candidate == skel:
                    continue
                seen.add(candidate)
                # optimal string alignment: a swap of two letters is one edit, not two
                distance = OSA.distance(skel, candidate, score_cutoff=max_edits)
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
        for deleted in (norm, *deletes(norm)):
            for vid in self._raw_deletes.get(deleted, ()):
                if vid in seen or vid in found:
                    continue
                seen.add(vid)
                listed = self.words[vid]
                distance = OSA.distance(norm, listed, score_cutoff=max_edits)
                if 0 < distance <= max_edits:
                    found[vid] = VARIANT * (1.0 - distance / max(len(norm), len(listed)))


def listed_as_written(matches: Matches | None) -> bool:
    """Whether a word's look-up found it in the vocabulary as written (exact comes first)."""
    if not matches:
        return False
    return matches[0][1] == EXACT


def fuzzy_allowed(skel: str, norms: Sequence[str]) -> bool:
    """Only long, purely alphabetic words that English does not use often may carry typos:
    every everyday word would otherwise find hundreds of names."""
    if len(skel) < FUZZY_MIN_LEN or not skel.isalpha():
        return False
    return all(zipf(norm) < FUZZY_MAX_ZIPF for norm in norms)


def deletes(word: str) -> set[str]:
    """All strings one (or, for long words, two) deletions away: the SymSpell neighbourhood."""
    first = {word[:i] + word[i + 1 :] for i in range(len(word))}
    if len(word) < FUZZY_TWO_EDITS_LEN:
        return first
    second = {w[:i] + w[i + 1 :] for w in first for i in range(len(w))}
    return first | second
