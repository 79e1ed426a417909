"""Cue classes of a sentence: how it speaks of the act, and a cited law is not policy news."""

from __future__ import annotations

import pytest

from bot.matching.cues import sentence_cues
from bot.matching.normalize import tokenize


def _cues(text: str) -> frozenset[str]:
    tokens = tokenize(text)
    return sentence_cues(tokens, [0] * len(tokens), 1)[0]


@pytest.mark.parametrize(
    "text",
    [
        # the instrument is each sentence's only policy word
        "The council's new resolution names eight ships and two banks.",
        "A regulation published on Friday covers Syrian banks.",
        "Diplomats in New York discussed the text of the resolutions.",
    ],
)
def test_an_instrument_being_made_is_policy(text: str) -> None:
    assert "policy" in _cues(text)


@pytest.mark.parametrize(
    "text",
    [
        "Any transfer of arms from North Korea is banned by UN Security Council resolutions.",
        "The shipments violate UN Security Council resolutions on North Korea.",
        "The cargo was sold in breach of EU regulations on Russian crude.",
        "Such sales are prohibited under the resolutions.",
    ],
)
def test_an_instrument_cited_as_the_law_broken_is_not_policy(text: str) -> None:
    assert "policy" not in _cues(text)


def test_a_citing_word_too_far_back_or_in_another_sentence_does_not_count() -> None:
    text = "The ship was banned. The council then wrote a resolution."
    tokens = tokenize(text)
    split = next(i for i, t in enumerate(tokens) if t.norm == "the" and i > 0)
    sentence_of_token = [0 if i < split else 1 for i in range(len(tokens))]
    assert "policy" in sentence_cues(tokens, sentence_of_token, 2)[1]
    far = "Banned goods aside, the ministers of the council discussed the new resolution."
    assert "policy" in _cues(far)
