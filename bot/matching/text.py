"""Sentences with offsets: the unit in which the engine judges proximity.

A rule such as "North Korea + arms + a transfer verb in the same sentence" is only as good as
the sentence boundaries, so the splitter errs towards keeping abbreviations (``U.S.``,
``N. Korea``, ``Dec. 22``, ``Mr.``) inside their sentence, and always breaks at blank lines and
line ends that close a paragraph (headlines carry no full stop).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

from .refdata import word_set

_ABBREVIATIONS = word_set(
    """
    mr mrs ms dr prof gen col lt capt cmdr adm sgt rep sen gov pres st jr sr co corp inc ltd jan
    feb mar apr jun jul aug sep sept oct nov dec no nos vol fig approx est dept univ ave u.s u.k
    u.n e.g i.e vs etc al n s e w mt ft
    """
)
# A sentence ends at a full stop (or ! ?), closing quotes and brackets, before a capital or a
# digit; at a blank line; or at a line end before more text. Every boundary starts with one of
# ".!?" or a line end, written as the pattern's first character set so that the regular
# expression engine skips straight to those characters; the look-behinds say which one it was.
_BOUNDARY_RE = re.compile(
    r"[.!?\n]"
    r"(?:(?<=[.!?])[.!?]*[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])"  # full stop, capital after
    r"|(?<=\n)\s*\n"  # blank line
    r"|(?<=\n)(?=\s*\S))"  # line end before more text
)


class Sentence(NamedTuple):
    start: int
    end: int


def split_sentences(text: str) -> list[Sentence]:
    """Sentence spans covering the text's non-blank parts, in order."""
    spans: list[Sentence] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        if match.group().startswith((".",)) and _is_abbreviation(text, match.start()):
            continue
        end = match.end()
        _append(spans, text, start, end)
        start = end
    _append(spans, text, start, len(text))
    return spans


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the full stop at ``dot`` ends an abbreviation rather than a sentence."""
    word_start = dot
    while word_start > 0 and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:dot].lower()
    if not word:
        return False
    if len(word) == 1 and text[word_start].isupper():
        return True  # an initial: "Virginia A. Wagner", "N. Korea"
    return word in _ABBREVIATIONS


def _append(spans: list[Sentence], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append(Sentence(start, end))


def sentence_index(sentences: list[Sentence]) -> list[int]:
    """Start offsets, for ``sentence_of``."""
    return [sentence.start for sentence in sentences]


def sentence_of(starts: list[int], offset: int) -> int:
    """Which sentence an offset falls in (offsets in gaps belong to the previous sentence)."""
    return max(bisect_right(starts, offset) - 1, 0)
