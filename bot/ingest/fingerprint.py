"""Near-duplicate fingerprints, so one story republished with edits yields one alert, not ten.

``simhash64`` (Charikar) over word 2-shingles: each shingle hashes to 64 bits and votes +w/-w on
every bit position (w = how often it occurs); the fingerprint keeps the sign of each vote. Texts
sharing most shingles agree on most bits, so the Hamming distance of two fingerprints estimates
how different the texts are, and a 64-bit integer is cheap to store and index.

Normalisation (NFKC, case-folded, punctuation dropped, each CJK character a token) makes the same
sentence typeset differently produce the same shingles.

Measured on the 181 hand-cleaned article texts of the Scrapinghub benchmark
(``benchmarks/bench_extract.py`` prints these; ``tests/ingest/test_fingerprint.py`` asserts them):

* light edit (5% of sentences dropped, other header/footer): median 4 bits, max 12;
* heavy edit (20% of sentences dropped, two swaps, five boilerplate lines): median 9, p95 16,
  max 25;
* different stories (16,290 pairs): mean 31.2, sd 4.0, minimum 14.

Shingles of 2 words separated better than 3 (heavy-edit recall with no false merge 0.79 vs 0.59)
and than IDF-weighted unigrams, which need a per-language word list. ``DEFAULT_THRESHOLD = 12``:
no different-story pair within it (about 1e-6 per pair by the normal tail), which matters because
each new article is compared with thousands of recent ones: at 16 bits, 1e-4 per pair would
already merge about one story in five against 2,000 candidates. It catches every light edit and
77% of heavy ones; a missed duplicate costs one extra alert, a false merge hides a story, so we
err towards "different".

For heavy edits, use two stages: ``CANDIDATE_THRESHOLD = 20`` bits on fingerprints picks
candidates (98.9% of heavy edits; 68 of the 16,290 different pairs, 0.4%), then ``resemblance``
of the texts (Jaccard of 2-shingle sets) confirms: heavy-edit copies score >= 0.30, the 68
different candidates <= 0.21 (two press releases of one company sharing an "About" paragraph),
so ``RESEMBLANCE_THRESHOLD = 0.25``: 98.9% recall, no false merge.

A story is its body, not its headline (``story_body``): a republisher changes exactly the
headline, and extractors keep the page's ``<h1>`` as the first line of the text, so leading lines
that repeat one of the article's titles are dropped before fingerprinting and comparing. A copy
under a new headline then loses nothing by it, and two stories under one headline share nothing
by it. On the 229 real articles of ``../shared/data/news`` with bodies cut to 20 words (a
brief), the whole text split 24 copies under another article's headline from their story and
merged 221 of 2,290 pairs of different stories given one headline; the body splits and merges
none (at 40 words: 3 and 1 before, none after; whole articles: none either way).

Short bodies (a feed summary, a brief) need more overlap (``required_resemblance``) instead of
falling back to title + body: the title would make a copy under a new headline *less* similar
and two stories under one headline *more* similar, the two mistakes this avoids. The risk with
few shingles is a block that different stories of one outlet or series share (a byline and
share bar, a weekly summary's standard opening): among the first 20-60 words of the 410 texts
of the news set and the AEB, such pairs reach 0.68 at 20-30 words and 0.44 at 50. Two bodies of
``n`` shingles sharing only a block of ``B`` have a resemblance of ``B / (2n - B)``; the
confirmation asks for more than a block of ``SHARED_BLOCK_SHINGLES = 40`` could give, at least
``RESEMBLANCE_THRESHOLD`` and at most ``SHORT_RESEMBLANCE_THRESHOLD = 0.7`` (an identical copy
scores 1.0, one changed word in a 20-word summary about 0.8): 0.7 up to 48 shingles, 0.5 at 60,
0.33 at 80, 0.25 from 100 on. On those texts cut to 20-100 words (83,841 pairs at each length,
four pairs that are one story or share a passage left out) no different pair is merged, where
0.25 merged 16; lightly edited copies join 88.5-97.8 % of the time (96.1-99.5 % at 0.25). The
AEB figures above are unchanged (its shortest text has 66 shingles). A full page and a feed
summary of it are rarely joined (the summary is a small part of the page's shingles): a missed
duplicate costs one extra alert. ``tests/ingest/test_fingerprint.py`` (``story_grouping_figures``)
measures all of this.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

__all__ = [
    "CANDIDATE_THRESHOLD",
    "DEFAULT_THRESHOLD",
    "RESEMBLANCE_THRESHOLD",
    "SHARED_BLOCK_SHINGLES",
    "SHORT_RESEMBLANCE_THRESHOLD",
    "hamming",
    "normalise_tokens",
    "required_resemblance",
    "resemblance",
    "same_story",
    "simhash64",
    "similar",
    "story_body",
]

DEFAULT_THRESHOLD = 12
CANDIDATE_THRESHOLD = 20
RESEMBLANCE_THRESHOLD = 0.25
SHORT_RESEMBLANCE_THRESHOLD = 0.7
SHARED_BLOCK_SHINGLES = 40
SHINGLE = 2
HEADLINE_LINES = 3  # leading lines of a text that may repeat its headline (kicker, h1, title)
# A CJK character is a word alone; other words run on (a CJK character after a letter joins its
# word). Written to start with one character set, so the regular expression engine skips
# straight to word characters; the look-behind says whether the first one was CJK.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[^\W_](?:(?<=[{_CJK}])|[^\W_]*)")
_MASK = (1 << 64) - 1


def normalise_tokens(text: str) -> list[str]:
    """Words of ``text``: NFKC, case-folded, punctuation dropped, each CJK character a word."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def _shingles(tokens: Sequence[str], size: int) -> Counter[str]:
    """Word ``size``-grams with their counts: simhash's weighted features."""
    if len(tokens) <= size:
        return Counter([" ".join(tokens)]) if tokens else Counter()
    return Counter(map(" ".join, zip(*(tokens[i:] for i in range(size)), strict=False)))


def _hash64(feature: str) -> bytes:
    """Stable 64-bit hash (``hash()`` is salted per process; fingerprints are stored)."""
    return hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()


def simhash64(text: str, *, shingle: int = SHINGLE) -> int:
    """64-bit simhash of ``text`` over word ``shingle``-grams; 0 for text without words.

    Every shingle's 8-byte hash is written out as many times as the shingle occurs, into one
    byte string; bit ``k`` of byte ``p`` then gets as many votes as the bytes at ``p``, ``p + 8``
    ... that have it set, which two C calls count (a slice, and a ``translate`` deleting the
    bytes with the bit set). A long article costs its hashes and 64 such counts, not a Python
    step per shingle and bit.
    """
    features = _shingles(normalise_tokens(text), shingle)
    if not features:
        return 0
    votes = b"".join(_hash64(feature) * weight for feature, weight in features.items())
    total = len(votes) // 8  # the shingles, each counted as often as it occurs
    fingerprint = 0
    for position in range(8):
        column = votes[position::8]
        for bit in range(8):
            ones = total - len(column.translate(None, _WITH_BIT[bit]))
            if 2 * ones > total:
                fingerprint |= 1 << (63 - (position * 8 + bit))
    return fingerprint & _MASK


# The byte values with bit ``k`` set, counting from the most significant bit.
_WITH_BIT = [bytes(value for value in range(256) if value >> (7 - bit) & 1) for bit in range(8)]


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two fingerprints."""
    return (a ^ b).bit_count()


def similar(a: int, b: int, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """True if two fingerprints are within ``threshold`` bits: the same story (see module doc)."""
    return hamming(a, b) <= threshold


def shingle_set(text: str, shingle: int = SHINGLE) -> frozenset[tuple[str, ...]]:
    """The distinct word ``shingle``-grams of ``text``, as tuples: what resemblance compares.

    Built by ``zip`` in C; a body compared with several candidates is shingled once (see
    ``bot.services.stories``). A text of ``shingle`` words or fewer is one shingle of them all.
    """
    tokens = normalise_tokens(text)
    if len(tokens) <= shingle:
        return frozenset([tuple(tokens)]) if tokens else frozenset()
    return frozenset(zip(*(tokens[i:] for i in range(shingle)), strict=False))  # ragged on purpose


def _jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    common = len(a & b)
    return common / (len(a) + len(b) - common)  # |a & b| / |a | b|


def resemblance(a: str, b: str, *, shingle: int = SHINGLE) -> float:
    """Jaccard similarity of the two texts' shingle sets, to confirm a simhash candidate."""
    set_a, set_b = shingle_set(a, shingle), shingle_set(b, shingle)
    return _jaccard(set_a, set_b) if set_a and set_b else 0.0


def story_body(text: str, *titles: str) -> str:
    """``text`` without the leading lines that repeat one of ``titles``: what identifies a story.

    A line repeats a title when at least 80 % of its words are the title's and it has at least
    half of them (so "Headline" matches the title "Headline | Outlet", and a first sentence that
    merely mentions the headline's words does not). Only the first ``HEADLINE_LINES`` non-empty
    lines are looked at; a text that is nothing but its headline is returned whole.
    """
    heads = [
        words for words in (set(normalise_tokens(title)) for title in titles if title) if words
    ]
    if not heads:
        return text
    lines = text.split("\n")
    start = 0
    looked = 0
    while start < len(lines) and looked < HEADLINE_LINES:
        words = set(normalise_tokens(lines[start]))
        if words:
            looked += 1
            if not any(_repeats(words, head) for head in heads):
                break
        start += 1
    body = "\n".join(lines[start:])
    return body if body.strip() else text


def _repeats(line: set[str], title: set[str]) -> bool:
    common = len(line & title)
    return common >= 0.8 * len(line) and common >= 0.5 * len(title)


def required_resemblance(count: int) -> float:
    """The resemblance that confirms two bodies as one story when the shorter has ``count``
    shingles.

    More than a shared block of ``SHARED_BLOCK_SHINGLES`` alone would give two such bodies
    (``B / (2n - B)``), never less than ``RESEMBLANCE_THRESHOLD`` and never more than
    ``SHORT_RESEMBLANCE_THRESHOLD`` (see the module doc for the measurements).
    """
    excess = 2 * count - SHARED_BLOCK_SHINGLES
    if excess <= 0:
        return SHORT_RESEMBLANCE_THRESHOLD
    return min(
        SHORT_RESEMBLANCE_THRESHOLD, max(RESEMBLANCE_THRESHOLD, SHARED_BLOCK_SHINGLES / excess)
    )


def same_story(a: str, b: str, *, shingle: int = SHINGLE) -> bool:
    """True if two story bodies overlap enough to be one story: the confirming stage after a
    simhash candidate (Jaccard of shingle sets, at least ``required_resemblance`` of the shorter)."""
    return same_story_sets(shingle_set(a, shingle), shingle_set(b, shingle))


def same_story_sets(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> bool:
    """``same_story`` of two bodies, given their ``shingle_set``s (each computed once)."""
    if not a or not b:
        return False
    return _jaccard(a, b) >= required_resemblance(min(len(a), len(b)))
