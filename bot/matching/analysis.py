"""Everything found in one text, which the rules are then evaluated on; and how a text is laid
out into sentences and tokens for that.

Findings point into the text by offsets and into its sentences by index, so evidence can be
shown as written and proximity judged per sentence.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from .mentions import PartyMention
from .model import CountryMention, Document, TermMatch
from .normalize import Token
from .text import Sentence


@dataclass(frozen=True)
class Analysis:
    """Everything found in one text; rules are evaluated on this."""

    text: str
    sentences: list[Sentence]
    tokens: list[Token]
    countries: list[CountryMention]
    terms: list[TermMatch]
    parties: list[PartyMention]
    total_chars: int = 0  # length of the whole text; more than len(text) when it was cut
    cues: list[frozenset[str]] = field(default_factory=list)  # cue classes per sentence

    @property
    def cut(self) -> bool:
        """Whether only the start of the text was matched (``Matcher.max_chars``)."""
        return self.total_chars > len(self.text)


def scan_text(document: Document) -> str:
    """Title and body as one text; the title is its own first sentence."""
    title = document.title.strip()
    body = document.text
    if not title or body.lstrip().startswith(title):
        return body
    return f"{title}\n\n{body}"


def bounded(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at the last line end or space so no word is halved."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    for mark in ("\n", " "):
        cut = head.rfind(mark)
        if cut > limit // 2:
            return head[:cut]
    return head


def sentence_of_tokens(sentences: Sequence[Sentence], tokens: Sequence[Token]) -> list[int]:
    """Sentence index of every token (a token before the first sentence counts as in it): one
    binary search per sentence, then runs of equal numbers, instead of a search per token."""
    token_starts = [token.start for token in tokens]
    ends = [bisect_left(token_starts, sentence.start) for sentence in sentences[1:]] + [len(tokens)]
    result: list[int] = []
    done = 0
    for index, end in enumerate(ends):
        result.extend([index] * (end - done))
        done = max(done, end)
    return result


def sentence_bounds(count: int, sentence_of_token: Sequence[int]) -> list[tuple[int, int]]:
    """First and last token of every sentence ((0, -1) for a sentence without tokens); the
    token sentences are in order, so each bound is one binary search."""
    bounds = []
    for sentence in range(count):
        lo = bisect_left(sentence_of_token, sentence)
        hi = bisect_right(sentence_of_token, sentence, lo) - 1
        bounds.append((lo, hi) if hi >= lo else (0, -1))
    return bounds
