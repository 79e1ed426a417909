"""Reference data the engine consults: word frequencies, company words, context words.

Loaded once per process and cached; these are package data, not I/O on behalf of a caller, so
the engine stays a pure function of (text, rules, lists) in everything a caller can observe.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).with_name("data")


def word_set(words: str) -> frozenset[str]:
    """The whitespace-separated words of ``words``: a long word list reads as a paragraph
    instead of a column of one quoted word a line."""
    return frozenset(words.split())


# Words that make up company and group names without identifying anyone: "Korea Ryonbong
# General Corporation" is identified by "Ryonbong", not by "General Corporation".
ORG_WEAK_WORDS = word_set(
    """
    ag as asa bv co company companies corp corporation cjsc establishment fze fzc fzco gmbh group
    holding holdings inc incorporated jsc jv kg llc llp lp ltd limited nv oao ojsc ooo pao pjsc plc
    pmc pte pty sa sae sarl sas sdn bhd spa srl zao general trading trade international industrial
    industries industry import export enterprise enterprises firm firms partners commercial service
    services shipping management bureau center centre office branch agency joint stock liability
    public private closed open type society association department the of and for in on at de la le
    du des el al da di do dos das del y et und der die das
    """
)

# Function words never count as evidence of a name.
STOPWORDS = word_set(
    """
    a an the of and or for in on at to by from with as is are was were be been de la le el al du
    des da di do dos das del y et und der die
    """
)

# Words next to a name that say which kind of party the text is talking about. They are the
# "support" a weak or common-word name needs before it may count (see ``score``).
TYPE_CONTEXT = {
    "vessel": word_set(
        """
        vessel vessels ship ships tanker tankers freighter bulker bulkers carrier carriers cargo mv
        m/v mt m/t ss boat trawler barge tug dredger yacht superyacht megayacht containership
        flagged imo sailed crew hull
        """
    ),
    "organization": word_set(
        """
        group company corporation corp firm bank pmc mercenary mercenaries fighters militia network
        conglomerate enterprise agency ministry organization organisation outfit contractor
        contractors subsidiary front operatives forces
        """
    ),
    "aircraft": frozenset(["aircraft", "airliner", "plane", "jet", "tail", "registration"]),
}

# Titles that introduce a person's name; a capitalised word before a surname that is not one
# of these is taken as that person's own given name (Richard Wagner is not the Wagner Group).
TITLES = word_set(
    """
    mr mrs ms miss dr prof sir lord lady general gen col colonel lt captain capt commander cmdr
    admiral adm sgt president pres minister premier leader chairman chairwoman chief director ceo
    founder tycoon oligarch businessman businesswoman head boss secretary ambassador envoy senator
    rep governor marshal comrade
    """
)


# Countries a sanctions program is about: a party listed under the DPRK program is linked to
# North Korea even when its address is in Iran (the engine's namesake check uses this).
PROGRAM_COUNTRIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("DPRK", ("KP",)),
    ("NKSPEA", ("KP",)),
    ("IRAN", ("IR",)),
    ("IRGC", ("IR",)),
    ("IFSR", ("IR",)),
    ("IFCA", ("IR",)),
    ("HRIT-IR", ("IR",)),
    ("SYRIA", ("SY",)),
    ("FSE-SY", ("SY",)),
    ("HRIT-SY", ("SY",)),
    ("VENEZUELA", ("VE",)),
    ("UKRAINE", ("RU", "UA")),
    ("RUSSIA", ("RU",)),
    ("CAATSA - RUSSIA", ("RU",)),
    ("ELECTION", ("RU",)),
    ("CUBA", ("CU",)),
    ("BELARUS", ("BY",)),
    ("BURMA", ("MM",)),
    ("LIBYA", ("LY",)),
    ("IRAQ", ("IQ",)),
    ("SOMALIA", ("SO",)),
    ("SUDAN", ("SD",)),
    ("SOUTH SUDAN", ("SS",)),
    ("DARFUR", ("SD",)),
    ("ZIMBABWE", ("ZW",)),
    ("NICARAGUA", ("NI",)),
    ("HK-EO13936", ("HK", "CN")),
    ("DRCONGO", ("CD",)),
    ("CAR", ("CF",)),
    ("YEMEN", ("YE",)),
    ("LEBANON", ("LB",)),
    ("MALI", ("ML",)),
    ("BURUNDI", ("BI",)),
    ("BALKANS", ("RS", "BA", "XK", "MK", "ME")),
    ("Iran", ("IR",)),
    ("Libya", ("LY",)),
    ("Iraq", ("IQ",)),
    ("Somalia", ("SO",)),
    ("DRC", ("CD",)),
    ("SouthSudan", ("SS",)),
    ("Sudan", ("SD",)),
    ("Yemen", ("YE",)),
    ("Taliban", ("AF",)),
    ("Haiti", ("HT",)),
    ("GB", ("GW",)),
)


def program_countries(program: str) -> tuple[str, ...]:
    """Countries a program tag is about (OFAC "DPRK3" -> KP, UN "Iran" -> IR), or ().

    The EU and UK lists name their regimes by country ("EU:PRK", "UK:Russia", "UK:Iran
    (Nuclear)"), tagged by their parsers with the list's prefix.
    """
    if program.startswith(("EU:", "UK:")):
        return _regime_country(program[3:])
    for prefix, codes in PROGRAM_COUNTRIES:
        if (
            program == prefix
            or program.startswith(prefix + "-")
            or (
                prefix.isupper() and program.startswith(prefix) and program[len(prefix) :].isdigit()
            )
        ):
            return codes
    return ()


@lru_cache(maxsize=1024)
def _regime_country(regime: str) -> tuple[str, ...]:
    import countrynames

    name = re.sub(r"\s*\(.*?\)\s*", " ", regime).strip().removeprefix("The ").strip()
    code = countrynames.to_code(name)
    return (code,) if code else ()


@lru_cache(maxsize=1)
def _frequencies() -> dict[str, float]:
    from wordfreq import get_frequency_dict

    return get_frequency_dict("en", wordlist="large")


def rarer_than(max_zipf: float) -> Callable[[str], bool]:
    """A test "is this word's Zipf frequency below ``max_zipf``?" that skips the logarithm:
    hot loops ask it of every capitalised word of an article."""
    limit = 10 ** (max_zipf - 9.0)
    get = _frequencies().get
    return lambda word: get(word, 0.0) < limit


def zipf(word: str) -> float:
    """English Zipf frequency of a normalised word: 7 for "the", 4 for "ocean", 0 if unseen."""
    frequency = _frequencies().get(word)
    if not frequency:
        return 0.0
    return max(0.0, math.log10(frequency) + 9.0)


# libyaml's safe loader when PyYAML was built with it (the wheels are): the rule files and the
# engine's data load in a tenth of the time; the pure-Python one otherwise, same results.
YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def load_yaml(name: str) -> Any:
    """A YAML file from the engine's package data, parsed once."""
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=YAML_LOADER)
