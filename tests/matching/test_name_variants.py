"""Listed names written with typos, run together or in another romanisation are still found.

The generator (``bot.variants``) makes one variant per kind of every entity's main name; the
floors below hold on a tenth of the OFAC 2021 SDN set and the UN list (every program), a
sample fixed by position so every run measures the same names. ``benchmarks/bench_names.py``
measures them all.
"""

from __future__ import annotations

import pytest

from bot.matching.engine import Matcher
from bot.matching.model import Entity, EntityType, Name, NameKind
from bot.namecheck import NameRecall, measure
from bot.variants import KINDS, natural, variants

FLOORS = {  # recall among names found when spelt as listed (see bot.namecheck)
    "swap": 0.94,
    "drop": 0.88,
    "double": 0.95,
    "substitute": 0.94,
    "two-edits": 0.85,
    "join": 0.86,
    "transliteration": 0.93,
}


def test_every_kind_makes_one_real_change() -> None:
    entity = Entity(
        key="t:1",
        source="t",
        list_id="1",
        type=EntityType.ORGANIZATION,
        names=(Name("KOREA RYONBONG GENERAL CORPORATION", NameKind.PRIMARY),),
    )
    made = {v.kind: v for v in variants(entity)}
    assert made["exact"].written == "Korea Ryonbong General Corporation"
    for kind in ("swap", "drop", "double", "substitute", "two-edits", "join"):
        assert made[kind].written != made["exact"].written, kind
        assert made[kind].written in made[kind].sentence
    assert len(made["drop"].written) == len(made["exact"].written) - 1
    assert len(made["double"].written) == len(made["exact"].written) + 1
    assert made["join"].written.count(" ") == 2
    assert [v.written for v in variants(entity)] == [v.written for v in variants(entity)]  # seeded


def test_person_names_are_written_given_names_first() -> None:
    assert (
        natural(Name("PRIGOZHIN, Yevgeniy Viktorovich", NameKind.PRIMARY), EntityType.PERSON)
        == "Yevgeniy Viktorovich Prigozhin"
    )


@pytest.fixture(scope="module")
def recall(real_matcher: Matcher, real_entities: list[Entity]) -> NameRecall:
    return measure(real_matcher, real_entities[::10], KINDS)


def test_names_spelt_as_listed_are_found(recall: NameRecall) -> None:
    assert recall.by_kind["exact"].total > 900
    assert recall.by_kind["exact"].recall >= 0.93


@pytest.mark.parametrize("kind", sorted(FLOORS))
def test_recall_per_variant_kind(recall: NameRecall, kind: str) -> None:
    tally = recall.given_exact[kind]
    assert tally.total > 100, kind
    assert tally.recall >= FLOORS[kind], (kind, tally, recall.misses.get(kind))


def test_one_typo_recall(recall: NameRecall) -> None:
    assert recall.one_edit(recall.given_exact).recall >= 0.95
