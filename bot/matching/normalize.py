"""Tokens with offsets, and the one normaliser applied to both list names and article text.

Matching only works if a listed name and the text are folded the same way, so this module is
the single place that decides what a token is:

* Unicode is folded to lower-case ASCII (``Ryŏnbong`` -> ``ryonbong``) so transliterations
  written with or without diacritics meet.
* Hyphens and spaces both separate tokens (``Kim Jong-un`` and ``Kim Jong Un`` give the same
  tokens); dotted abbreviations become one token (``U.S.`` -> ``us``, ``D.P.R.K.`` -> ``dprk``).
* A trailing possessive is not part of the name (``Wagner's`` -> ``wagner``).
* The original casing is kept as flags: capitalisation is one of the strongest signals that a
  word is a name and not the ordinary word a list entry happens to share ("Ocean Freight" the
  vessel vs "ocean freight" the service).

``skeleton`` goes one step further for fuzzy matching: it erases the differences that
transliteration systems introduce (Evgenii / Yevgeniy / Jewgeni -> ``evgeni``) so that an edit
distance on skeletons measures real spelling differences only.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from normality import ascii_text

# A token: letters/digits, optionally with internal apostrophes (O'Brien), or a dotted
# abbreviation such as U.S. / N. / D.P.R.K. (letters each followed by a dot, at least two). The
# first character is taken by a plain character set, so the regular expression engine skips
# to the next one that can start a token instead of trying every alternative at every place;
# the look-behind keeps dotted abbreviations to letters. Captured, so split() keeps the tokens.
_SPLIT_RE = re.compile(
    r"([^\W_]"
    r"(?:(?<=[^\W\d_])\.(?:[^\W\d_]\.)+"  # U.S. / D.P.R.K.
    r"|[^\W_]*(?:['’][^\W\d_]+)*))"  # words, numbers, O'Brien, Wagner's
)
_POSSESSIVE_RE = re.compile(r"['’](?:s|S)?$")
_QUOTE_CHARS = "'’‘`´"


class Token(NamedTuple):
    """One token of a text, with the offsets of its surface form in the original string."""

    norm: str  # folded, lower-case ASCII, possessive removed
    start: int
    end: int
    cap: bool  # first letter upper-case (Name, NAME)
    upper: bool  # all letters upper-case and more than one letter (KOMID, DPRK)
    possessive: bool
    dotted: bool  # written with dots (U.S., N.)
    caseless: bool = False  # a script without capitals (Hangul, Han, Arabic): "cap" says nothing


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Fold one word to lower-case ASCII; cached because news repeats its words."""
    if word.isascii():
        return word.lower()
    folded = ascii_text(word) or ""
    return folded.lower().replace(" ", "")


def tokenize(text: str) -> list[Token]:
    """Split text into tokens; every offset points into ``text`` itself.

    This loop is the engine's hottest (every word of every article). The text is cut at white
    space first, in C: no token holds white space, and a hyphen joins a word to the one before
    only when they are written together, so the tokens of a chunk ("said,", "U.S.-backed",
    "(Reuters)") depend on the chunk alone. A chunk that is one plain lower-case word is its
    own token; any other chunk's tokens are worked out once and cached, since news repeats its
    chunks. An article then costs a look-up per such chunk and a tuple per token.
    """
    tokens: list[Token] = []
    append = tokens.append
    make = tuple.__new__
    cache = _CHUNK_CACHE
    find = text.find
    position = 0
    for chunk in text.split():
        start = find(chunk, position)  # the chunk's first character: nothing but space before
        position = start + len(chunk)
        if chunk.isalpha() and chunk.islower() and chunk.isascii():
            # most chunks are one plain lower-case word, its own normal form: made directly,
            # without a look-up in the cache (a big table, slow to reach in memory)
            append(make(Token, (chunk, start, position, False, False, False, False, False)))
            continue
        relative = cache.get(chunk)
        if relative is None:
            if len(cache) > _CHUNK_CACHE_SIZE:
                cache.clear()
            relative = cache[chunk] = _chunk_tokens(chunk)
        for norm, first, end, cap, upper, possessive, dotted, caseless in relative:
            append(
                make(
                    Token,
                    (norm, start + first, start + end, cap, upper, possessive, dotted, caseless),
                )
            )
    return tokens


def _chunk_tokens(chunk: str) -> tuple[tuple[str, int, int, bool, bool, bool, bool, bool], ...]:
    """The tokens of a text without white space, as tuples of ``Token``'s fields, with offsets
    into ``chunk``."""
    found = []
    parts = _SPLIT_RE.split(chunk)
    position = len(parts[0])
    prev_end = -2
    prev_cap = False
    rest = iter(parts)
    next(rest)
    # split() with the token pattern captured alternates tokens and separators
    for surface, separator in zip(rest, rest, strict=True):
        start = position
        position += len(surface) + len(separator)
        norm, length, cap, upper, possessive, dotted, caseless = _surface(surface)
        if not norm:
            continue
        end = start + length
        if not cap and start == prev_end + 1 and chunk[prev_end] == "-":
            cap = prev_cap  # Jong-un: the hyphenated part belongs to a capitalised name
        prev_end, prev_cap = end, cap
        found.append((norm, start, end, cap, upper, possessive, dotted, caseless))
    return tuple(found)


_CHUNK_CACHE: dict[str, tuple[tuple[str, int, int, bool, bool, bool, bool, bool], ...]] = {}
_CHUNK_CACHE_SIZE = 300_000  # chunks remembered; the cache starts afresh beyond this


def _surface(surface: str) -> tuple[str, int, bool, bool, bool, bool, bool]:
    """(norm, length of the name part, cap, upper, possessive, dotted, caseless) of one surface form."""
    dotted = surface.endswith(".")
    possessive = False
    length = len(surface)
    if dotted:
        word = surface.replace(".", "")
    else:
        word = surface
        if "'" in word or "’" in word:
            stripped = _POSSESSIVE_RE.sub("", word)
            if stripped != word and stripped:
                possessive = True
                length = len(stripped)
                word = stripped
            word = word.translate(_STRIP_QUOTES)
    norm = fold(word) if word else ""
    if not norm:
        return ("", 0, False, False, False, False, False)
    first = word[0]
    cap = not first.islower()  # upper-case, digits, and scripts without case (CJK)
    upper = len(word) > 1 and word.isupper()
    caseless = first.isalpha() and not first.isupper() and not first.islower()
    return (norm, length, cap, upper, possessive, dotted, caseless)


_STRIP_QUOTES = str.maketrans("", "", _QUOTE_CHARS)


def norm_tokens(text: str) -> list[str]:
    """The normalised token strings of a phrase (a list name, a term, a country name)."""
    return [token.norm for token in tokenize(text)]


# --- skeletons for fuzzy matching -------------------------------------------------------------

# Ordered rewrites; each erases a difference between romanisation systems, not a real one. Each
# comes with letters it cannot match without (None: no such letters), so that a word without
# them skips it: a new word would otherwise cost twenty-one regular expression substitutions.
_SKELETON_RULES: tuple[tuple[str | None, re.Pattern[str], str], ...] = tuple(
    (needed, re.compile(pattern), replacement)
    for needed, pattern, replacement in (
        ("j", r"^j(?=[aeiou])", "y"),  # German Jewgeni -> yewgeni
        ("w", r"w", "v"),  # German w = v
        ("ch", r"tsch|tch", "ch"),
        ("sch", r"sch", "sh"),  # German sch = sh
        ("zh", r"zh", "sh"),  # Prigozhin / Prigoschin / Prigojine
        ("kh", r"kh", "h"),  # Khodorkovsky / Hodorkovsky
        ("ph", r"ph", "f"),
        ("ck", r"ck", "k"),
        ("c", r"c(?=[aou])", "k"),
        ("q", r"q", "k"),
        ("x", r"x", "ks"),
        ("ou", r"ou", "u"),
        ("oo", r"oo", "u"),
        ("ye", r"^ye", "e"),  # Yevgeniy / Evgeniy
        ("yu", r"^yu", "iu"),
        ("ya", r"^ya", "ia"),
        ("y", r"(?<=[aeiou])y(?=[aeiou])", "i"),
        (None, r"(?:iy|ii|ij|yi|y|ie|iei|ei)$", "i"),  # -iy / -ii / -y / -ij endings
        (None, r"(.)\1+", r"\1"),  # doubled letters
        ("ie", r"ie", "i"),
        ("e", r"(?<=[a-z])e$", ""),  # silent final e (Prigojine)
    )
)


@lru_cache(maxsize=200_000)
def skeleton(norm: str) -> str:
    """Collapse romanisation differences of one normalised token; digits are left alone."""
    if not norm.isalpha() or len(norm) < 4:
        return norm
    value = norm
    for needed, pattern, replacement in _SKELETON_RULES:
        if needed is None or needed in value:
            value = pattern.sub(replacement, value)
    return value or norm
