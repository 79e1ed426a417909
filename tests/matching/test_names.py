"""Golden cases for finding listed names as real articles write them."""

from __future__ import annotations

import pytest

from bot.matching.engine import Matcher
from bot.matching.model import Document, Entity, EntityType, Name, NameKind
from bot.matching.rules import RuleSet

PRIGOZHIN = Entity(
    key="test:prigozhin",
    source="test",
    list_id="1",
    type=EntityType.PERSON,
    names=(Name("PRIGOZHIN, Yevgeniy Viktorovich", NameKind.PRIMARY),),
    countries=("RU",),
)
WAGNER = Entity(
    key="test:wagner",
    source="test",
    list_id="2",
    type=EntityType.ORGANIZATION,
    names=(Name("PMC WAGNER", NameKind.PRIMARY), Name("Wagner Group")),
    countries=("RU",),
)
KIM = Entity(
    key="test:kim",
    source="test",
    list_id="3",
    type=EntityType.PERSON,
    names=(Name("KIM, Jong Un", NameKind.PRIMARY),),
    countries=("KP",),
)
RYONBONG = Entity(
    key="test:ryonbong",
    source="test",
    list_id="4",
    type=EntityType.ORGANIZATION,
    names=(Name("KOREA RYONBONG GENERAL CORPORATION", NameKind.PRIMARY),),
    countries=("KP",),
)
KOMID = Entity(
    key="test:komid",
    source="test",
    list_id="5",
    type=EntityType.ORGANIZATION,
    names=(
        Name("KOREA MINING DEVELOPMENT TRADING CORPORATION", NameKind.PRIMARY),
        Name("KOMID", NameKind.WEAK),
    ),
    countries=("KP",),
)
OCEAN = Entity(
    key="test:ocean-freight",
    source="test",
    list_id="6",
    type=EntityType.VESSEL,
    names=(Name("OCEAN FREIGHT", NameKind.PRIMARY),),
)
RUSAL = Entity(
    key="test:rusal",
    source="test",
    list_id="7",
    type=EntityType.ORGANIZATION,
    names=(Name("UNITED COMPANY RUSAL PLC", NameKind.PRIMARY), Name("RUSAL")),
    countries=("RU",),
)
IRISL = Entity(
    key="test:irisl",
    source="test",
    list_id="8",
    type=EntityType.ORGANIZATION,
    names=(
        Name("ISLAMIC REPUBLIC OF IRAN SHIPPING LINES", NameKind.PRIMARY),
        Name("IRISL", NameKind.WEAK),
    ),
    countries=("IR",),
)
TANKER = Entity(
    key="test:wise-honest",
    source="test",
    list_id="9",
    type=EntityType.VESSEL,
    names=(Name("WISE HONEST", NameKind.PRIMARY),),
    identifiers=(("imo", "8905490"),),
)

ENTITIES = [PRIGOZHIN, WAGNER, KIM, RYONBONG, KOMID, OCEAN, RUSAL, IRISL, TANKER]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(RuleSet(rules=(), terms={}, parties=(), list_selectors={}), ENTITIES)


def found(matcher: Matcher, text: str) -> dict[str, str]:
    """entity key -> the text that matched it (best mention)."""
    result: dict[str, str] = {}
    for mention in matcher.analyze(Document(text)).parties:
        result.setdefault(mention.match.entity.key, mention.match.matched)
    return result


CASES = [
    # transliterations, order and partial names of people
    ("Evgenii Prigozhin runs the group.", "test:prigozhin", "Evgenii Prigozhin"),
    ("Yevgeniy Prigozhin runs the group.", "test:prigozhin", "Yevgeniy Prigozhin"),
    ("Yevgeny Prigozhin runs the group.", "test:prigozhin", "Yevgeny Prigozhin"),
    ("Jewgeni Prigoschin leitet die Gruppe, sagte er.", "test:prigozhin", "Jewgeni Prigoschin"),
    ("Prigozhin, Yevgeny, was named in the order.", "test:prigozhin", "Prigozhin, Yevgeny"),
    ("Yevgeny Viktorovich Prigozhin was named.", "test:prigozhin", "Yevgeny Viktorovich Prigozhin"),
    # hyphenation and spacing
    ("Kim Jong-un inspected the site.", "test:kim", "Kim Jong-un"),
    ("Kim Jong Un inspected the site.", "test:kim", "Kim Jong Un"),
    ("KIM JONG UN INSPECTED THE SITE.", "test:kim", "KIM JONG UN"),
    # possessives
    ("Wagner Group's fighters moved north.", "test:wagner", "Wagner Group"),
    ("PMC Wagner's fighters moved north.", "test:wagner", "PMC Wagner"),
    # typos in long names
    (
        "Korea Ryongbong General Corporation signed the contract.",
        "test:ryonbong",
        "Korea Ryongbong General Corporation",
    ),
    (
        "Korea Ryonbong General Corp. signed the contract.",
        "test:ryonbong",
        "Korea Ryonbong General Corp",
    ),
    # acronyms where the context supports them
    ("KOMID, North Korea's main arms dealer, shipped the parts.", "test:komid", "KOMID"),
    (
        "The Korea Mining Development Trading Corporation, known as KOMID, shipped parts.",
        "test:komid",
        "Korea Mining Development Trading Corporation",
    ),
    ("IRISL renamed its ships to dodge sanctions on Iran.", "test:irisl", "IRISL"),
    # vessels of ordinary words need a ship word
    ("The tanker Wise Honest was seized off Indonesia.", "test:wise-honest", "Wise Honest"),
    ("The vessel, IMO 8905490, turned off its transponder.", "test:wise-honest", "8905490"),
    # a party named in full, then by its short form
    ("The Wagner Group arrived. Later Wagner withdrew.", "test:wagner", "Wagner Group"),
]


@pytest.mark.parametrize(("text", "key", "matched"), CASES, ids=[c[2] for c in CASES])
def test_finds_names_as_articles_write_them(
    matcher: Matcher, text: str, key: str, matched: str
) -> None:
    assert found(matcher, text).get(key) == matched


NOT_CASES = [
    ("Richard Wagner composed the Ring cycle.", "test:wagner"),
    ("Captain Virginia A. Wagner took command of the cutter.", "test:wagner"),
    ("Honus Wagner played shortstop for Pittsburgh.", "test:wagner"),
    ("The company offers ocean freight and air cargo services.", "test:ocean-freight"),
    ("Ocean Freight Rates Rise Again", "test:ocean-freight"),
    ("The envoy flew to Jerusalem on Tuesday.", "test:rusal"),
    ("The piranha is a fish of South American rivers.", "test:irisl"),
    ("Kim said he would attend.", "test:kim"),
    ("Jong Un is not a name anyone writes alone.", "test:kim"),
    ("Yevgeniy said hello.", "test:prigozhin"),
    ("KOMID is a word in this sentence with no context.", "test:komid"),
    ("They gave a wise honest answer.", "test:wise-honest"),
    ("Komid the cat slept.", "test:komid"),
]


@pytest.mark.parametrize(("text", "key"), NOT_CASES, ids=[c[0][:40] for c in NOT_CASES])
def test_does_not_fire_on_ordinary_words_and_namesakes(
    matcher: Matcher, text: str, key: str
) -> None:
    assert key not in found(matcher, text)


def test_coreference_needs_the_full_name_first(matcher: Matcher) -> None:
    text = "Prigozhin spoke. Yevgeny Prigozhin then left, and Prigozhin returned."
    mentions = [
        m for m in matcher.analyze(Document(text)).parties if m.match.entity.key == "test:prigozhin"
    ]
    matched = [m.match.matched for m in mentions]
    assert matched == ["Prigozhin", "Yevgeny Prigozhin", "Prigozhin"]
    assert any(f.name == "coreference" for f in mentions[0].match.features)


def test_every_match_explains_itself(matcher: Matcher) -> None:
    mention = matcher.analyze(Document("Korea Ryongbong General Corporation signed.")).parties[0]
    names = [f.name for f in mention.match.features]
    assert names == ["similarity", "coverage", "distinctiveness", "support"]
    similarity = mention.match.features[0]
    assert "ryongbong~ryonbong" in similarity.detail
    assert 0.7 <= mention.match.score < 1.0


# --- a misspelt word standing beside the rest of its name ("slot" typos) -----------------------

HAVIN = Entity(
    key="test:havin",
    source="test",
    list_id="20",
    type=EntityType.ORGANIZATION,
    names=(Name("HAVIN BANK LIMITED", NameKind.PRIMARY),),
)
HIJAZI = Entity(
    key="test:hijazi",
    source="test",
    list_id="21",
    type=EntityType.PERSON,
    names=(Name("HIJAZI, Riad", NameKind.PRIMARY),),
)
PLA = Entity(
    key="test:pla",
    source="test",
    list_id="22",
    type=EntityType.ORGANIZATION,
    names=(Name("PEOPLE'S LIBERATION ARMY", NameKind.PRIMARY),),
)


@pytest.fixture(scope="module")
def slot_matcher() -> Matcher:
    return Matcher(RuleSet(rules=(), terms={}, parties=(), list_selectors={}), [HAVIN, HIJAZI, PLA])


@pytest.mark.parametrize(
    ("text", "key", "matched"),
    [
        # a dropped letter leaves an everyday or short word, found only beside the rare one
        ("Payments went through Havin Ban Limited in London.", "test:havin", "Havin Ban Limited"),
        # a swap that makes an English word ("raid"), in the listed position before the surname
        (
            "Investigators said Raid Hijazi had organised the transfers.",
            "test:hijazi",
            "Raid Hijazi",
        ),
    ],
)
def test_a_misspelt_word_beside_the_rest_of_its_name_is_found(
    slot_matcher: Matcher, text: str, key: str, matched: str
) -> None:
    assert found(slot_matcher, text).get(key) == matched


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Payments went through Havin and the Ban Limited fund.", "test:havin"),  # not beside it
        ("Reporters met Hijazi, and Raid was mentioned later.", "test:hijazi"),  # not adjacent
        ("Peoples Liberation Army units moved south.", "test:pla"),  # pinned by everyday words
    ],
)
def test_a_slot_typo_needs_its_place_and_a_rare_neighbour(
    slot_matcher: Matcher, text: str, key: str
) -> None:
    assert key not in found(slot_matcher, text)


# --- scripts without capitals ---------------------------------------------------------------------

HAJJI = Entity(
    key="test:hajji",
    source="test",
    list_id="30",
    type=EntityType.PERSON,
    names=(Name("Hajji Iman", NameKind.PRIMARY),),
)
KIM_HANGUL = Entity(
    key="test:kim-hangul",
    source="test",
    list_id="31",
    type=EntityType.PERSON,
    names=(Name("KIM Jong Un", NameKind.PRIMARY), Name("김정은")),
)


def test_a_word_of_a_caseless_script_is_not_taken_for_a_misspelt_name() -> None:
    """Hangul has no capitals, so every word of it looked capitalised: "하지만" ("however", read
    "hajiman") was found as "Hajji Iman" written as one word. A name written in such a script
    is still found when it is spelt as listed."""
    matcher = Matcher(
        RuleSet(rules=(), terms={}, parties=(), list_selectors={}), [HAJJI, KIM_HANGUL]
    )
    assert found(matcher, "하지만 그는 말했다. 하지만 이것은 문제다.") == {}
    assert found(matcher, "Reporters met Hajjiiman in Mosul.") == {
        "test:hajji": "Hajjiiman"
    }  # Latin: still joined
    assert found(matcher, "김정은 위원장이 말했다.") == {"test:kim-hangul": "김정은"}
