"""Sentences naming an identifiable actor: the shapes, and what is not one."""

from __future__ import annotations

import pytest

from bot.matching.actors import actor_sentences
from bot.matching.normalize import tokenize


def _named(text: str) -> bool:
    tokens = tokenize(text)
    return actor_sentences(text, tokens, [0] * len(tokens)) == {0}


@pytest.mark.parametrize(
    "text",
    [
        "Prosecutors said Kesh Air International Corp shipped the parts through Dubai.",
        "The firm, Dandong Hongxiang Industrial Development Co. Ltd., paid the invoices.",
        "A patrol plane photographed the tanker Ji Song 6 alongside another ship.",
        "The vessel (IMO 8660313) loaded coal at Nampo.",
        "Keshari, 48, admitted the charge in Miami.",
        "Investigators questioned Mr Ivanov about the payments.",
    ],
)
def test_shapes_that_name_an_actor(text: str) -> None:
    assert _named(text)


@pytest.mark.parametrize(
    "text",
    [
        "The Security Council voted to extend the mandate of the panel of experts.",
        "The company said it complied with every rule.",  # a legal form with no name
        "The tanker was seen off the coast at night.",  # a ship with no name
        "Exports rose by 48, officials said, after the ban.",  # a number, not an age
        "In 2017, the government suspended imports.",
    ],
)
def test_policy_and_unnamed_sentences_name_no_actor(text: str) -> None:
    assert not _named(text)


def test_each_sentence_is_judged_on_its_own() -> None:
    text = "Officials met in Geneva. Kesh Air International Corp pleaded guilty."
    tokens = tokenize(text)
    sentence_of_token = [0 if t.start < text.index("Kesh") else 1 for t in tokens]
    assert actor_sentences(text, tokens, sentence_of_token) == {1}
