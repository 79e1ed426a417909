"""The engine against the real OFAC 2021 SDN set and the UN Consolidated List."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.matching.engine import Matcher
from bot.matching.model import Document, Entity, NameKind


@pytest.fixture(scope="module")
def entities(real_entities: list[Entity]) -> list[Entity]:
    return real_entities


@pytest.fixture(scope="module")
def matcher(real_matcher: Matcher) -> Matcher:
    return real_matcher


def _dprk_names(entities: list[Entity]) -> list[tuple[str, str, str]]:
    return [
        (entity.key, name.text, name.kind.value)
        for entity in entities
        if entity.source == "un" and "DPRK" in entity.programs
        for name in entity.names
    ]


def test_every_un_dprk_name_and_alias_is_found(matcher: Matcher, entities: list[Entity]) -> None:
    """Each of the 155 DPRK entries, by its name and separately by each alias, in a sentence."""
    names = _dprk_names(entities)
    assert len({key for key, _, _ in names}) == 155
    missed = []
    for key, text, kind in names:
        sentence = f"A UN panel said {text} helped North Korea evade sanctions last year."
        found = {
            m.group.gid for m in matcher.analyze(Document(sentence)).parties if key in m.group.keys
        }
        if not found:
            missed.append((key, text, kind))
    assert missed == [], f"{len(missed)} of {len(names)} names missed"


def test_strong_dprk_names_need_no_context(matcher: Matcher, entities: list[Entity]) -> None:
    """Full names that are not weak are found even in a sentence that says nothing about Korea."""
    names = [n for n in _dprk_names(entities) if n[2] != NameKind.WEAK.value]
    found = 0
    for key, text, _ in names:
        sentence = f"Investigators said {text} was involved, according to the report."
        if any(key in m.group.keys for m in matcher.analyze(Document(sentence)).parties):
            found += 1
    # Names made only of ordinary words ("Bank of East Land", "Third Floor") need context.
    assert found / len(names) >= 0.9, f"{found} of {len(names)}"


VARIANTS = [
    ("Evgenii Prigozhin visited the base.", "ofac-sdn:21171"),
    ("Yevgeniy Prigozhin visited the base.", "ofac-sdn:21171"),
    ("Jewgeni Prigoschin besuchte die Basis.", "ofac-sdn:21171"),
    ("Prigozhin, Yevgeny, visited the base.", "ofac-sdn:21171"),
    ("The Wagner Group's fighters visited the base.", "ofac-sdn:22543"),
    ("PMC Wagner fighters visited the base.", "ofac-sdn:22543"),
    ("Korea Ryongbong General Corporation visited the base.", "un:KPe.002"),
    ("KOMID, North Korea's arms exporter, visited the base.", "un:KPe.001"),
    ("North Korea's Daedong Credit Bank, known as DCB, moved funds.", "un:KPe.023"),
    ("Ocean Maritime Management (OMM) ran the ships for North Korea.", "un:KPe.020"),
]


@pytest.mark.parametrize(("text", "key"), VARIANTS, ids=[v[0][:40] for v in VARIANTS])
def test_name_variants_against_real_lists(matcher: Matcher, text: str, key: str) -> None:
    keys = {k for m in matcher.analyze(Document(text)).parties for k in m.group.keys}
    assert key in keys


NEGATIVES = [
    "Richard Wagner's Ring cycle returns to Bayreuth.",
    "The envoy arrived in Jerusalem for talks.",
    "Piranha populations thrive in the Amazon.",
    "Ocean freight rates rose for the third week as ports clogged.",
    "Nicolas Cage starred in the film.",
]


@pytest.mark.parametrize("text", NEGATIVES, ids=[n[:30] for n in NEGATIVES])
def test_no_alert_on_namesakes_and_ordinary_words(matcher: Matcher, text: str) -> None:
    assert matcher.scan(Document(text)) == []


def test_seed_article(matcher: Matcher, seed_article: Path) -> None:
    """The article the project was born from: a high UN DPRK arms alert naming Wagner and Prigozhin."""
    text = seed_article.read_text(encoding="utf-8")
    alerts = matcher.scan(Document(text))
    arms = next(a for a in alerts if a.rule_id == "un-dprk-arms")
    assert arms.severity.value == "high"
    assert any(c.code == "KP" and c.role == "origin" for c in arms.countries)
    assert any("rockets and missiles" in e.text for e in arms.evidence)
    named = {m.entity.key: m.matched for m in arms.entities}
    assert named["ofac-sdn:22543"].startswith("Wagner")
    assert named["ofac-sdn:21171"] == "Evgenii Prigozhin"
    assert any("UNSCR 1718" in r.text for r in arms.references)
    teaser_start = text.index("Next Post")
    assert all(e.start < teaser_start for alert in alerts for e in alert.evidence)
    assert matcher.scan(Document(text[teaser_start:])) == []


FULL_SCALE_NEGATIVES = [
    # vessel names that are ordinary words (OFAC 2021 lists vessels AMBER, COURAGE, CRYSTAL, DESTINY ...)
    "Amber Rudd said the Home Office would review the decision.",
    "Crystal Palace beat Arsenal on Saturday with a late goal.",
    "Destiny and Courage are the themes of the new exhibition.",
    # person names that are only common first or last names
    "Mohammed Ali won the title in 1964.",
    "Ahmed said the market opened late.",
    "Hassan scored twice for the visitors.",
    # acronyms and short aliases without their party's context
    "The OMM said the storm would reach the coast by Friday.",
    "MID and RGB cables were sold out at the electronics fair.",
]


@pytest.mark.parametrize("text", FULL_SCALE_NEGATIVES, ids=[t[:30] for t in FULL_SCALE_NEGATIVES])
def test_full_list_scale_ordinary_words_need_support(matcher: Matcher, text: str) -> None:
    assert matcher.analyze(Document(text)).parties == []


def test_ordinary_word_vessel_found_with_a_ship_word(
    matcher: Matcher, entities: list[Entity]
) -> None:
    vessels = {e.caption: e.key for e in entities if e.type.value == "vessel"}
    assert "AMBER" in vessels
    found = {
        m.match.entity.key
        for m in matcher.analyze(Document("The tanker Amber switched off its transponder.")).parties
    }
    assert vessels["AMBER"] in found
