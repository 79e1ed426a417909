"""Which way goods move: the origin or destination role of a country mention."""

from __future__ import annotations

import pytest

from bot.matching.countries import CountryFinder
from bot.matching.normalize import tokenize


@pytest.fixture(scope="module")
def finder() -> CountryFinder:
    return CountryFinder()


def _roles(finder: CountryFinder, text: str, code: str) -> set[str | None]:
    tokens = tokenize(text)
    found = finder.find(text, tokens, [0] * len(tokens))
    return {mention.role for mention in found if mention.code == code}


@pytest.mark.parametrize(
    "text",
    [
        "He arranged sales of aircraft parts to buyers in Iran.",
        "The chips were resold to a front company in Russia.",
        "Workers were sent to work in Russia.",
        "The drones went to end users inside Iran.",
        "Parts were shipped to Iran.",
    ],
)
def test_what_goes_to_someone_in_a_country_goes_to_the_country(
    finder: CountryFinder, text: str
) -> None:
    code = "IR" if "Iran" in text else "RU"
    assert _roles(finder, text, code) == {"destination"}


@pytest.mark.parametrize(
    "text",
    [
        "Talks were held in Iran last week.",  # no "to" before the place
        "He sold parts To Buyers in Iran.",  # capitalised words are a name, not a recipient
        "He wanted to say that exports from the five largest suppliers in Iran fell.",  # too far
    ],
)
def test_a_place_alone_is_no_destination(finder: CountryFinder, text: str) -> None:
    assert "destination" not in _roles(finder, text, "IR")
