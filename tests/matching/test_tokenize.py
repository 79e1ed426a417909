"""The tokenizer's contract, pinned: offsets into the text, case flags, possessives, dotted
abbreviations, and the hyphen rule (a word written right after a hyphen belongs to the
capitalised name before it). ``tokenize`` caches the tokens of each white-space-free chunk, so
the cases also check that a chunk met twice, at other offsets, gives the same tokens there."""

from __future__ import annotations

import pytest

from bot.matching.normalize import tokenize

# (norm, start, end, cap, upper, possessive, dotted, caseless)
CASES = [
    (
        "Kim Jong-un met U.S.-backed envoys.",
        [
            ("kim", 0, 3, True, False, False, False, False),
            ("jong", 4, 8, True, False, False, False, False),
            ("un", 9, 11, True, False, False, False, False),
            ("met", 12, 15, False, False, False, False, False),
            ("us", 16, 20, True, True, False, True, False),
            ("backed", 21, 27, True, False, False, False, False),
            ("envoys", 28, 34, False, False, False, False, False),
        ],
    ),
    # a possessive ends before its quote, so the hyphen does not follow the name
    (
        "Wagner's-un",
        [
            ("wagner", 0, 6, True, False, True, False, False),
            ("un", 9, 11, False, False, False, False, False),
        ],
    ),
    # a hyphen links only words written together
    (
        "Kim -un and Kim- un",
        [
            ("kim", 0, 3, True, False, False, False, False),
            ("un", 5, 7, False, False, False, False, False),
            ("and", 8, 11, False, False, False, False, False),
            ("kim", 12, 15, True, False, False, False, False),
            ("un", 17, 19, False, False, False, False, False),
        ],
    ),
    (
        "D.P.R.K. and 3.5 tons",
        [
            ("dprk", 0, 8, True, True, False, True, False),
            ("and", 9, 12, False, False, False, False, False),
            ("3", 13, 14, True, False, False, False, False),
            ("5", 15, 16, True, False, False, False, False),
            ("tons", 17, 21, False, False, False, False, False),
        ],
    ),
    (
        "O'Brien’s ships",
        [
            ("obrien", 0, 7, True, False, True, False, False),
            ("ships", 10, 15, False, False, False, False, False),
        ],
    ),
    (
        "하지만 Korea-based",
        [
            ("hajiman", 0, 3, True, False, False, False, True),
            ("korea", 4, 9, True, False, False, False, False),
            ("based", 10, 15, True, False, False, False, False),
        ],
    ),
    # a word that folds to nothing is no token, and breaks the hyphen link across it
    (
        "Kim-ऽ-un",
        [
            ("kim", 0, 3, True, False, False, False, False),
            ("un", 6, 8, False, False, False, False, False),
        ],
    ),
    # the same chunk twice, at other offsets and after other space
    (
        "the Jong-un \t Jong-un",
        [
            ("the", 0, 3, False, False, False, False, False),
            ("jong", 4, 8, True, False, False, False, False),
            ("un", 9, 11, True, False, False, False, False),
            ("jong", 14, 18, True, False, False, False, False),
            ("un", 19, 21, True, False, False, False, False),
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_tokens(text: str, expected: list[tuple[object, ...]]) -> None:
    assert [tuple(token) for token in tokenize(text)] == expected
    again = tokenize(f"  {text}")  # cached chunks, shifted
    assert [(t.norm, t.start - 2, t.end - 2) for t in again] == [e[:3] for e in expected]


def test_offsets_point_at_the_surface() -> None:
    text = "Sanctioned\u00a0tanker «Ocean Star»\n\nsaid  N. Korea’s envoy."
    for token in tokenize(text):
        surface = text[token.start : token.end]
        assert surface and not surface.isspace()
        assert surface.replace(".", "").lower().startswith(token.norm[:1])
