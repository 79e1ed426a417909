"""Could an absent name word hide among an article's odd words, misspelt or run together?

The alignment compares a name's missing word letter by letter with the *odd words* of the
sentence (``align.odd_words``), which is worth doing only if one of them could be that word
with a typo or that word run together with a neighbour. Hundreds of candidate names per
article are tested this way before any alignment, so the test is dictionary look-ups only:
the article's odd words are kept by a few letters and their length (``Shapes``), and each
listed word's keys into them are worked out once, when the index is built (``word_shape``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .align import ALIGN_FUZZY_MIN_LEN
from .joined import JOINED_MIN_LEN

# (length, first two letters, first and last letter, first three letters, last three letters)
WordShape = tuple[int, str, str, str, str]


def word_shape(word: str) -> WordShape:
    """A listed word's keys into ``Shapes``; made once per vocabulary word, not per article."""
    return (len(word), word[:2], word[0] + "$" + word[-1], word[:3], word[-3:])


@dataclass(frozen=True, slots=True)
class Shapes:
    """The odd words of a sentence (or article), by first letter and length and by their first
    and last three letters, for a quick "could the absent name word hide in one of them?" test
    before any letter-by-letter comparison. Every look-up is one dictionary get."""

    lengths: dict[str, frozenset[int]]  # first two letters, or first and last letter -> lengths
    starts: dict[str, int]  # first three letters of a long word -> its greatest length
    ends: dict[str, int]  # last three letters of a long word -> its greatest length

    @classmethod
    def of(cls, words: Iterable[str]) -> Shapes:
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

    def may_hide(self, shape: WordShape) -> bool:
        """Misspelt (same first letter, about as long) or run together with a neighbour (a
        longer word sharing its start or end)."""
        size, two, outer, start, end = shape
        if size >= ALIGN_FUZZY_MIN_LEN:
            for key in (two, outer):
                for n in self.lengths.get(key, ()):
                    if -2 <= n - size <= 2:
                        return True
        return self.starts.get(start, 0) >= size + 2 or self.ends.get(end, 0) >= size + 2
