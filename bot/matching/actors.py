"""Sentences that name an identifiable non-state actor: a company, a vessel, a person.

What makes a report a possible violation, and not sanctions policy, is that someone identifiable
did something: "Kesh Air International Corp pleaded guilty", "the tanker Ji Song 6 took on
fuel", "Keshari, 48, admitted". Policy news names governments, councils and programmes. These
are shapes of English reporting (a legal form after a capitalised name, a ship word before one,
an age after a name, an honorific), not names of anyone; the scorer weighs them.
"""

from __future__ import annotations

from collections.abc import Sequence

from .normalize import Token

ACTOR = "actor"

LEGAL_FORMS = frozenset(
    {
        "ltd",
        "llc",
        "inc",
        "corp",
        "co",
        "corporation",
        "company",
        "limited",
        "gmbh",
        "jsc",
        "ojsc",
        "pjsc",
        "cjsc",
        "llp",
        "plc",
        "sa",
        "ag",
        "bv",
        "pte",
        "fze",
        "fzco",
        "fzc",
        "fzllc",
        "bhd",
        "sdn",
        "srl",
        "spa",
        "oy",
        "ab",
        "as",
        "sarl",
        "kft",
        "ooo",
        "zao",
    }
)
SHIP_WORDS = frozenset(
    {
        "tanker",
        "vessel",
        "ship",
        "freighter",
        "carrier",
        "dredger",
        "trawler",
        "tug",
        "bulker",
        "containership",
        "yacht",
        "barge",
    }
)
HONORIFICS = frozenset({"mr", "mrs", "ms", "dr", "mister"})
AGES = frozenset(str(age) for age in range(18, 100))  # "Keshari, 48,": a person's age
_TRIGGERS = LEGAL_FORMS | SHIP_WORDS | HONORIFICS | AGES | {"imo"}


def actor_sentences(
    text: str, tokens: Sequence[Token], sentence_of_token: Sequence[int]
) -> set[int]:
    """The sentences that name a company, a vessel or a person in one of the shapes above.

    Only the few words that can start a shape are looked at (one set test per token, in a
    comprehension), so the pass costs little beside tokenising.
    """
    found: set[int] = set()
    for i in [i for i, token in enumerate(tokens) if token.norm in _TRIGGERS]:
        sentence = sentence_of_token[i]
        if sentence not in found and _names_actor(text, tokens, i, sentence_of_token):
            found.add(sentence)
    return found


def _names_actor(
    text: str, tokens: Sequence[Token], i: int, sentence_of_token: Sequence[int]
) -> bool:
    token = tokens[i]
    norm = token.norm
    if norm in LEGAL_FORMS and token.cap and _named_before(tokens, i, sentence_of_token):
        return True
    if norm in SHIP_WORDS or (norm in HONORIFICS and token.cap):
        return _named_after(tokens, i, sentence_of_token)
    if norm == "imo":
        return i + 1 < len(tokens) and tokens[i + 1].norm.isdigit()
    return norm.isdigit() and _aged(text, tokens, i, sentence_of_token)


def _same(sentence_of_token: Sequence[int], a: int, b: int) -> bool:
    return (
        0 <= a < len(sentence_of_token)
        and 0 <= b < len(sentence_of_token)
        and (sentence_of_token[a] == sentence_of_token[b])
    )


def _named_before(tokens: Sequence[Token], i: int, sentence_of_token: Sequence[int]) -> bool:
    """A capitalised word (not the sentence's first) right before a legal form."""
    j = i - 1
    return _same(sentence_of_token, i, j) and tokens[j].cap and _same(sentence_of_token, j, j - 1)


def _named_after(tokens: Sequence[Token], i: int, sentence_of_token: Sequence[int]) -> bool:
    """A capitalised word right after a ship word or an honorific ("the tanker Eventin")."""
    j = i + 1
    return _same(sentence_of_token, i, j) and tokens[j].cap and not tokens[j].upper


def _aged(text: str, tokens: Sequence[Token], i: int, sentence_of_token: Sequence[int]) -> bool:
    """ "Keshari, 48, and ...": a capitalised name, then the age between commas."""
    j = i - 1
    if not _same(sentence_of_token, i, j) or not tokens[j].cap:
        return False
    return (
        text[tokens[j].end : tokens[i].start] == ", "
        and text[tokens[i].end : tokens[i].end + 1] == ","
    )
