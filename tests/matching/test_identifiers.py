"""Identifiers of listed parties in text: the recognisers alone (golden cases), then every IMO,
MMSI, SWIFT/BIC code, aircraft registration and serial number of the real OFAC 2021 SDN set and
UN list found by the identifier alone, then alerts through the bundled rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.matching.engine import Matcher
from bot.matching.identifiers import (
    find_identifiers,
    looks_like_registration,
    normalise,
    valid_bic,
    valid_imo,
    valid_mmsi,
)
from bot.matching.model import Document, Entity, EntityType
from bot.matching.parties import PartyMention

# --- the recognisers ---------------------------------------------------------------------------

FOUND = [
    # (text, scheme, keys, the text the span covers)
    ("The tanker (IMO 9191278) sailed.", "imo", ("9191278",), "9191278"),
    ("The tanker, IMO: 9191278, sailed.", "imo", ("9191278",), "9191278"),
    ("Its IMO number 9191278 was painted over.", "imo", ("9191278",), "9191278"),
    ("Its IMO No. 9191278 was painted over.", "imo", ("9191278",), "9191278"),
    ("Its IMO number is 9191278.", "imo", ("9191278",), "9191278"),
    ("Registry entry IMO9191278.", "imo", ("9191278",), "9191278"),
    (
        "Its International Maritime Organization (IMO) number 9191278 stayed.",
        "imo",
        ("9191278",),
        "9191278",
    ),
    ("The ship's MMSI 354412000 went dark.", "mmsi", ("354412000",), "354412000"),
    ("Its MMSI was 354412000 until May.", "mmsi", ("354412000",), "354412000"),
    ("It broadcast 354412000 (MMSI) for a week.", "mmsi", ("354412000",), "354412000"),
    ("Funds went to SWIFT/BIC KKBCKPPY.", "swift", ("KKBCKPPY",), "KKBCKPPY"),
    ("Funds went to SWIFT code: DCBK KP PY.", "swift", ("DCBKKPPY",), "DCBK KP PY"),
    ("Funds went to BIC FTBDKPPYXXX.", "swift", ("FTBDKPPY",), "FTBDKPPYXXX"),  # XXX: head office
    ("Funds went to SWIFT KKBCKPPY123.", "swift", ("KKBCKPPY123", "KKBCKPPY"), "KKBCKPPY123"),
    ("Funds went through KKBCKPPY in May.", "swift", ("KKBCKPPY",), "KKBCKPPY"),
    ("The Ilyushin EP-MNX landed.", "aircraft", ("EP-MNX",), "EP-MNX"),
    ("The Boeing UP-A3001 landed.", "aircraft", ("UP-A3001",), "UP-A3001"),
    ("The Tupolev RA-64001 landed.", "aircraft", ("RA-64001",), "RA-64001"),
    ("The Air Koryo jet P-532 landed.", "aircraft", ("P-532",), "P-532"),
    ("The jet N200VR landed.", "aircraft", ("N200VR",), "N200VR"),
    ("The jet with registration EP-MNX landed.", "aircraft", ("EP-MNX",), "EP-MNX"),
    ("Its tail number was YV3360.", "aircraft", ("YV3360",), "YV3360"),
    ("The jet, MSN 1023409321, landed.", "msn", ("1023409321",), "1023409321"),
    (
        "Its manufacturer's serial number (MSN) 45-12345 was altered.",
        "msn",
        ("45-12345",),
        "45-12345",
    ),
]


@pytest.mark.parametrize(("text", "scheme", "keys", "span"), FOUND, ids=[f[0][:40] for f in FOUND])
def test_recognised(text: str, scheme: str, keys: tuple[str, ...], span: str) -> None:
    found = [(m.scheme, m.keys, text[m.start : m.end]) for m in find_identifiers(text)]
    assert (scheme, keys, span) in found


def test_a_list_after_one_label() -> None:
    text = "The vessels (IMO numbers 9191278, 8905490 and 8660313) and IMO 9191278 / IMO 8905490."
    values = [m.value for m in find_identifiers(text) if m.scheme == "imo"]
    assert values == ["9191278", "8905490", "8660313", "9191278", "8905490"]


REFUSED = [
    ("IMO 9191279 was reported.", "imo"),  # check digit 9, not 8
    ("Imo State said 9191278 people voted.", "imo"),  # the Nigerian state, not the IMO
    ("It carried 9191278 barrels.", "imo"),  # no label
    ("IMO 2020 rules cut sulphur; 9191278 tonnes.", "imo"),  # the label is for another number
    ("Call 354412000 for details.", "mmsi"),  # nine digits, no MMSI
    ("The MMSI was 054412000.", "mmsi"),  # a coast station, never a ship
    ("Its swift action used kkbckppy.", "swift"),  # lower case
    ("SANCTION TEAMS MET TODAY.", "swift"),  # "TI" is no country
    ("MSN 391 landed.", "msn"),  # too short to name one aircraft
    ("Scores of 12-345 were seen.", "aircraft"),  # no letter
]


@pytest.mark.parametrize(("text", "scheme"), REFUSED, ids=[r[0][:40] for r in REFUSED])
def test_refused(text: str, scheme: str) -> None:
    assert [m for m in find_identifiers(text) if m.scheme == scheme] == []


def test_validity_and_normalisation() -> None:
    assert valid_imo("9191278") and valid_imo("8660313") and not valid_imo("9191279")
    assert not valid_imo("919127")
    assert valid_mmsi("354412000") and not valid_mmsi("054412000") and not valid_mmsi("35441200")
    assert valid_bic("KKBCKPPY") and valid_bic("MELIGB2L") and valid_bic("KKBCKPPYXXX")
    assert not valid_bic("SANCTION") and not valid_bic("KKBC")
    assert looks_like_registration("EP-MNX") and looks_like_registration("YV3360")
    assert not looks_like_registration("12-345") and not looks_like_registration("EPMNX")
    assert normalise("imo", "IMO 9191278") == "9191278"
    assert normalise("swift", " kkbc kp py xxx ") == "KKBCKPPY"
    assert normalise("aircraft", "ep-mnx.") == "EP-MNX"


# --- the real lists ----------------------------------------------------------------------------


def _listed(
    entities: list[Entity], scheme: str, valid: Callable[[str], bool] = lambda value: True
) -> list[tuple[str, str]]:
    """(entity key, value) of every listed identifier of a scheme, each value once."""
    seen: dict[str, str] = {}
    for entity in entities:
        for s, value in entity.identifiers:
            if s == scheme and valid(value):
                seen.setdefault(value, entity.key)
    return [(key, value) for value, key in seen.items()]


def _by_identifier(matcher: Matcher, text: str, scheme: str, value: str) -> list[PartyMention]:
    """Mentions of a party holding (scheme, value), found by that identifier."""
    return [
        m
        for m in matcher.analyze(Document(text)).parties
        if any((scheme, value) in member.identifiers for member in m.group.members)
        and m.match.score == 1.0
        and m.match.features[0].name == "identifier"
    ]


def test_every_listed_vessel_found_by_imo_alone(
    real_matcher: Matcher, real_entities: list[Entity]
) -> None:
    vessels = _listed(real_entities, "imo", valid_imo)
    assert (
        len(vessels) == 399
    )  # OFAC 2021's 400 vessel IMOs less BONU 5's "15411"; the UN lists none
    missed = []
    for key, imo in vessels:
        text = f"Port records show the ship, IMO {imo}, arrived on Tuesday."
        found = _by_identifier(real_matcher, text, "imo", imo)
        if (
            not found
            or found[0].match.matched != imo
            or found[0].match.features[0].detail != f"IMO {imo}"
        ):
            missed.append(key)
    assert missed == []


def test_every_listed_mmsi_found_with_its_label(
    real_matcher: Matcher, real_entities: list[Entity]
) -> None:
    numbers = _listed(real_entities, "mmsi")
    assert len(numbers) == 51
    missed = [
        key
        for key, mmsi in numbers
        if not _by_identifier(
            real_matcher, f"The transponder broadcast MMSI {mmsi} near the port.", "mmsi", mmsi
        )
    ]
    assert missed == []


def test_every_listed_swift_code_found_bare_and_labelled(
    real_matcher: Matcher, real_entities: list[Entity]
) -> None:
    codes = _listed(real_entities, "swift")
    assert len(codes) == 82  # 77 OFAC banks' 82 codes; the UN's 5 DPRK banks' codes are among them
    missed = []
    for key, code in codes:
        for text in (
            f"The transfer went through {code} on Monday.",
            f"Its SWIFT/BIC code is {code}.",
        ):
            found = _by_identifier(real_matcher, text, "swift", code)
            if not found or found[0].match.features[0].detail != f"SWIFT/BIC {code}":
                missed.append((key, text))
    assert missed == []


def test_every_listed_registration_found_bare(
    real_matcher: Matcher, real_entities: list[Entity]
) -> None:
    registrations = _listed(real_entities, "aircraft")
    assert len(registrations) == 269
    missed = []
    for key, registration in registrations:
        text = f"Flight trackers showed {registration} over the Gulf on Friday."
        parties = real_matcher.analyze(Document(text)).parties
        # Aircraft named by their registration are found by name too; either way, at the value.
        if not any(
            key in m.group.keys and m.match.matched == registration and m.match.score == 1.0
            for m in parties
        ):
            missed.append(key)
    assert missed == []


def test_long_serial_numbers_found_after_msn(
    real_matcher: Matcher, real_entities: list[Entity]
) -> None:
    serials = _listed(real_entities, "msn", lambda v: len(v) >= 5)
    assert len(serials) >= 100
    missed = [
        key
        for key, msn in serials
        if not _by_identifier(
            real_matcher, f"The airliner, MSN {msn}, was repainted in Tehran.", "msn", msn
        )
    ]
    assert missed == []


def test_bank_found_by_swift_code_in_a_neutral_sentence(real_matcher: Matcher) -> None:
    (mention,) = _by_identifier(
        real_matcher, "Payments were cleared through FTBDKPPY last year.", "swift", "FTBDKPPY"
    )
    assert mention.group.keys & {"ofac-sdn:15603", "un:KPe.047"}
    assert mention.match.matched == "FTBDKPPY"


NOT_FOUND = [
    "IMO 8660314 was seen off Nampo.",  # CHON MA SAN is IMO 8660313; 8660314 fails the check
    "The company paid 572469210 rubles for the cargo.",  # ARTAVIL's MMSI without "MMSI"
    "OVERSEAS SHIPPING CONTRACTS SURGED.",  # the shape of a SWIFT code, listed nowhere
    "The transfer went through ftbdkppy on Monday.",  # a listed code, but not in capitals
    "The jet EP-QQQ landed; an F-16 escorted it.",  # tail numbers on no list
    "Its MSN 391 was altered.",  # a listed but short serial number
]


@pytest.mark.parametrize("text", NOT_FOUND, ids=[t[:40] for t in NOT_FOUND])
def test_not_found(real_matcher: Matcher, real_entities: list[Entity], text: str) -> None:
    listed = {value for entity in real_entities for _, value in entity.identifiers}
    assert "EP-QQQ" not in listed and "OVERSEAS" not in listed
    parties = real_matcher.analyze(Document(text)).parties
    assert [
        m for m in parties if m.match.features and m.match.features[0].name == "identifier"
    ] == []


# --- alerts through the bundled rules ----------------------------------------------------------


SAME_AS_NAME = [
    # (sentence, full name, identifier): CHON MA SAN is OFAC DPRK4 with IMO 8660313; the
    # Foreign Trade Bank is on both lists with SWIFT/BIC FTBDKPPY.
    (
        "Payments for {} were made through a front company in Hong Kong.",
        "CHON MA SAN",
        "IMO 8660313",
    ),
    ("The tanker {} loaded coal at Nampo.", "CHON MA SAN", "IMO 8660313"),
    (
        "Payments for Pyongyang went through {} last year.",
        "Foreign Trade Bank",
        "SWIFT/BIC FTBDKPPY",
    ),
    ("Funds were routed through {} to a front company.", "Foreign Trade Bank", "FTBDKPPY"),
]


@pytest.mark.parametrize(
    ("frame", "name", "identifier"),
    SAME_AS_NAME,
    ids=[c[2] + " " + c[0][:20] for c in SAME_AS_NAME],
)
def test_identifier_alerts_like_the_full_name(
    real_matcher: Matcher, frame: str, name: str, identifier: str
) -> None:
    """The same sentence with the identifier instead of the name raises the same alerts, at least
    as severe: an exact identifier is as strong as the full name, stronger than a name of common
    words ("Foreign Trade Bank", distinctiveness below 1)."""
    by_name = real_matcher.scan(Document(frame.format(name)))
    by_identifier = real_matcher.scan(Document(frame.format(identifier)))
    assert by_name and [a.rule_id for a in by_identifier] == [a.rule_id for a in by_name]
    assert all(
        i.severity.rank >= n.severity.rank for i, n in zip(by_identifier, by_name, strict=True)
    )


def test_dprk_vessel_by_imo_dealing_is_a_possible_violation(real_matcher: Matcher) -> None:
    alerts = real_matcher.scan(
        Document("Payments for the tanker (IMO 8660313) were made through a front company.")
    )
    assert alerts and alerts[0].severity.is_violation
    assert alerts[0].rule_id == "un-dprk-designated-dealing"
    (vessel,) = [m for m in alerts[0].entities if m.entity.key == "ofac-sdn:23729"]
    assert vessel.matched == "8660313" and vessel.entity.type is EntityType.VESSEL
    assert [(f.name, f.value, f.detail) for f in vessel.features] == [
        ("identifier", 1.0, "IMO 8660313")
    ]


def test_listed_dprk_vessel_by_imo_loading_coal_at_nampo(real_matcher: Matcher) -> None:
    alerts = real_matcher.scan(Document("The tanker (IMO 8660313) loaded coal at Nampo."))
    assert any(
        a.severity.is_violation and "ofac-sdn:23729" in {m.entity.key for m in a.entities}
        for a in alerts
    )
