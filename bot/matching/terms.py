"""Term groups: the activities rules look for (arms, transfer verbs, petroleum, ship-to-ship ...).

A rule author writes a lemma and the engine finds its inflections, so a rule reads like the
resolution it encodes rather than like a regular expression:

``missile``          missile, missiles, missile's
``deliver``          deliver, delivers, delivered, delivering
``supply``           supply, supplies, supplied, supplying
``ship-to-ship``     ship-to-ship, ship to ship (hyphens and spaces are the same token break)
``transfer*``        any word starting with "transfer" (a prefix of at least four letters)
``=sold``            exactly "sold": no inflections added

Irregular forms (sold, sent, bought) are written out. Terms are case-insensitive.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, not_

from .model import Span, TermMatch
from .normalize import Token, norm_tokens

MIN_PREFIX = 4
_VOWELS = set("aeiou")


@dataclass(frozen=True, slots=True)
class _Phrase:
    words: tuple[str, ...]
    group: str
    term: str
    rest: list[str] = field(
        init=False, compare=False, hash=False, repr=False
    )  # for one list compare

    def __post_init__(self) -> None:
        object.__setattr__(self, "rest", list(self.words[2:]))  # after the two it is indexed by


_NO_HITS: tuple[list[_Phrase], tuple[tuple[str, str], ...]] = ([], ())


def inflections(word: str) -> set[str]:
    """Regular English inflections of a lemma (over-generation is harmless here)."""
    forms = {word, word + "s", word + "es", word + "ed", word + "ing", word + "d"}
    if word.endswith("e"):
        forms |= {word[:-1] + "ing", word[:-1] + "ed"}
    if word.endswith("y") and len(word) > 2 and word[-2] not in _VOWELS:
        forms |= {word[:-1] + "ies", word[:-1] + "ied"}
    if (
        len(word) >= 3
        and word[-1] not in _VOWELS | {"w", "x", "y"}
        and word[-2] in _VOWELS
        and word[-3] not in _VOWELS
    ):
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}  # ship -> shipped
    if word.endswith("f"):
        forms.add(word[:-1] + "ves")
    if word.endswith("fe"):
        forms.add(word[:-2] + "ves")
    return forms


_NORM = attrgetter("norm")


class TermIndex:
    """All term groups of a rule set, searchable in one pass over the tokens."""

    def __init__(self, groups: Mapping[str, Sequence[str]]) -> None:
        self.groups = {name: tuple(terms) for name, terms in groups.items()}
        self._phrases: dict[str, list[_Phrase]] = defaultdict(list)  # one-word terms
        self._pairs: dict[tuple[str, ...], list[_Phrase]] = defaultdict(
            list
        )  # longer, by two words
        self._pair_starts: set[str] = set()
        self._prefixes: list[tuple[str, str, str]] = []
        self._word_cache: dict[str, tuple[list[_Phrase], tuple[tuple[str, str], ...]]] = {}
        self._idle: set[str] = set()  # words known to start no term
        for group, terms in self.groups.items():
            for term in terms:
                self._add(group, term)
        # every stem at once, for one C-level test of a word that starts none of them
        self._stems = tuple(stem for stem, _, _ in self._prefixes)

    def _add(self, group: str, term: str) -> None:
        raw = term.strip()
        exact = raw.startswith("=")
        raw = raw.lstrip("=")
        if raw.endswith("*"):
            stem = "".join(norm_tokens(raw[:-1]))
            if len(stem) < MIN_PREFIX:
                raise ValueError(f"prefix term {term!r} is shorter than {MIN_PREFIX} letters")
            self._prefixes.append((stem, group, term))
            return
        words = norm_tokens(raw)
        if not words:
            raise ValueError(f"term {term!r} has no words")
        last_forms = {words[-1]} if exact else inflections(words[-1])
        for form in last_forms:
            phrase = _Phrase((*words[:-1], form), group, term)
            if len(phrase.words) == 1:
                self._phrases[phrase.words[0]].append(phrase)
            else:  # by its first two words: "for" starts dozens of phrases, "for the" few
                self._pairs[phrase.words[:2]].append(phrase)
                self._pair_starts.add(phrase.words[0])

    def find(
        self, text: str, tokens: Sequence[Token], sentence_of_token: Sequence[int]
    ) -> list[TermMatch]:
        """Every term occurrence, except words that are part of a proper name.

        "Workers' Party", "Arms Trade Treaty", "Strategic Rocket Force": capitalised words in
        the middle of a sentence, next to other capitalised words, name something; they are
        not the activity the term describes. Title-case headlines are exempt.
        """
        found: list[TermMatch] = []
        count = len(tokens)
        norms = list(map(_NORM, tokens))
        # most words are known to start no term: they are dropped by whole-list steps in C
        idle = self._idle
        maybe = list(compress(range(count), map(not_, map(idle.__contains__, norms))))
        hit_positions = [i for i in maybe if self._hits(norms[i]) is not _NO_HITS]
        if not hit_positions:
            return found
        named = _ProperNames(tokens, sentence_of_token)
        pairs = self._pairs
        for i in hit_positions:
            if i in named:
                continue
            token = tokens[i]
            phrases, prefixed = self._hits(token.norm)
            if i + 1 < count and token.norm in self._pair_starts:
                phrases = [*phrases, *pairs.get((token.norm, norms[i + 1]), ())]
            for phrase in phrases:
                end = i + len(phrase.words)
                if end > count:
                    continue
                if (
                    len(phrase.words) <= 2 or norms[i + 2 : end] == phrase.rest
                ):  # list compare: C speed
                    if sentence_of_token[end - 1] != sentence_of_token[i]:
                        continue
                    found.append(
                        _match(
                            text,
                            phrase.group,
                            phrase.term,
                            tokens[i],
                            tokens[end - 1],
                            sentence_of_token[i],
                        )
                    )
            for group, term in prefixed:
                found.append(_match(text, group, term, token, token, sentence_of_token[i]))
        return found

    def _hits(self, norm: str) -> tuple[list[_Phrase], tuple[tuple[str, str], ...]]:
        """Phrases starting with a word and prefix terms matching it, cached per word.

        Most words of an article start no term: they go to a set, so that the scan over the
        article's words is one set membership test each.
        """
        cached = self._word_cache.get(norm)
        if cached is None:
            phrases, prefixed = self._phrases.get(norm, []), self._prefix_hits(norm)
            if len(self._word_cache) + len(self._idle) > 200_000:
                self._word_cache.clear()
                self._idle.clear()
            if not phrases and not prefixed and norm not in self._pair_starts:
                self._idle.add(norm)
                return _NO_HITS
            cached = self._word_cache[norm] = (phrases, prefixed)
        return cached

    def _prefix_hits(self, norm: str) -> tuple[tuple[str, str], ...]:
        if not norm.startswith(self._stems):
            return ()
        return tuple((group, term) for stem, group, term in self._prefixes if norm.startswith(stem))


class _ProperNames:
    """Which tokens are inside multi-word proper names, outside title-case sentences.

    A token counts when it is capitalised (not an acronym), not the first of its sentence,
    and a neighbour in the same sentence is capitalised too (not being that sentence's first
    word). Sentences where most words are capitalised (headlines) are left alone. Asked only
    of the few words that start a term, and most of those are lower-case: the sentence
    counts are made only for the sentences that need them.
    """

    def __init__(self, tokens: Sequence[Token], sentence_of_token: Sequence[int]) -> None:
        self.tokens = tokens
        self.sentence_of_token = sentence_of_token
        self._headline: dict[int, bool] = {}

    def __contains__(self, i: int) -> bool:
        if not self._word_cap(i) or self._first(i):
            return False
        sentence = self.sentence_of_token[i]
        left = i - 1 >= 0 and self._word_cap(i - 1) and not self._first(i - 1)
        right = (
            i + 1 < len(self.tokens)
            and self.sentence_of_token[i + 1] == sentence
            and self._word_cap(i + 1)
        )
        return (left or right) and not self._is_headline(i, sentence)

    def _word_cap(self, i: int) -> bool:
        token = self.tokens[i]
        return token.cap and not token.upper and not token.norm.isdigit()

    def _first(self, i: int) -> bool:
        return i == 0 or self.sentence_of_token[i - 1] != self.sentence_of_token[i]

    def _is_headline(self, i: int, sentence: int) -> bool:
        found = self._headline.get(sentence)
        if found is None:
            of = self.sentence_of_token
            lo = hi = i
            while lo > 0 and of[lo - 1] == sentence:
                lo -= 1
            while hi + 1 < len(of) and of[hi + 1] == sentence:
                hi += 1
            capitals = sum(1 for k in range(lo, hi + 1) if self._word_cap(k))
            found = self._headline[sentence] = capitals * 2 > hi - lo + 1
        return found


def _match(text: str, group: str, term: str, first: Token, last: Token, sentence: int) -> TermMatch:
    span = Span(first.start, last.end)
    return TermMatch(
        group=group, term=term, matched=text[span.start : span.end], span=span, sentence=sentence
    )
