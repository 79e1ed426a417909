"""Checks of the hand-written country reference data ``bot/matching/data/countries.yaml``.

The structural tests need nothing but the file. Two cross-checks compare it with outside
opinions: the mledoze countries dataset (read in place from ``../shared``, never copied) and the
``countrynames`` package. Where we deliberately differ from them, the difference is listed below
with the reason; a new difference, or a listed one that no longer exists, fails the test so that
someone reviews it. Run with ``-s`` to print the comparison report.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import cache
from importlib import resources
from typing import Any

import countrynames
import pytest
import yaml

from tests.conftest import require_shared

LISTS = ("names", "codes", "demonyms", "capitals")
REQUIRED_KEYS = {"name", *LISTS, "ambiguous"}
OPTIONAL_KEYS = {"case_sensitive", "ports"}

# Forms that keep a leading "The" because it is part of a town's name.
THE_FORMS = {"The Hague", "The Valley"}

# The only bare ISO alpha-2 code allowed as a form, and only case-sensitively.
ISO2_CODES_ALLOWED = {"US"}

# Entries without any demonym, and why.
UNINHABITED = {"AQ", "BV", "GS", "HM", "TF", "UM"}
NO_DEMONYM = {
    **dict.fromkeys(UNINHABITED, "no permanent population"),
    "BL": "no English demonym in use",
    "MF": "no English demonym in use",
    "SJ": "residents are Norwegians; no demonym of its own",
    "VA": "the adjective is 'Vatican', already listed as a name",
    "CD": "'Congolese' is shared with CG and listed under ambiguous",
    "CG": "'Congolese' is shared with CD and listed under ambiguous",
    "DM": "'Dominican' is shared with DO and listed under ambiguous",
    "DO": "'Dominican' is shared with DM and listed under ambiguous",
}
SHARED_DEMONYM = {"CD": "Congolese", "CG": "Congolese", "DM": "Dominican", "DO": "Dominican"}

# mledoze English (male) demonyms we reviewed and deliberately do not list. Their demonym for
# a territory that is really the sovereign state's (French for TF, Dutch for BQ, Indian for IO,
# American for MP, Norwegian for SJ) is detected by the test itself: that form belongs to another
# entry here. So are forms we list as shared under `ambiguous` (Congolese, Virgin Islander ...).
REVIEWED_DEMONYM_DIFFERENCES = {
    "BL": "'Saint Barthélemy Islander' is a constructed form, not used in English text",
    "CV": "'Cape Verdian' is a misspelling; we list Cape Verdean and Cabo Verdean",
    "DJ": "'Djibouti' is the name used attributively; the demonym is Djiboutian",
    "GF": "'Guianan' alone also means Guyana or the Guiana region; we list French Guianan",
    "GI": "'Gibraltar' is the name used attributively; the demonym is Gibraltarian",
    "KG": "'Kirghiz' is an obsolete spelling, now mostly used for the ethnic group elsewhere",
    "MF": "'Saint Martin Islander' is constructed, and the island is shared with Sint Maarten",
    "MV": "'Maldivan' is a misspelling; the demonym is Maldivian",
    "TJ": "'Tadzhik' is an obsolete Soviet-era transliteration; we list Tajik",
    "VA": "'Vatican' is listed once, as a name",
}

# mledoze English common names we reviewed and deliberately do not list as a name.
REVIEWED_NAME_DIFFERENCES: dict[str, str] = {}

# countrynames answers we reviewed and consider wrong for the form. Forms listed only under
# `ambiguous` are not compared (countrynames picks one country for "Korea", "Congo" ...).
COUNTRYNAMES_REVIEWED = {
    "Barbudan": ("BB", "AG", "Barbuda is part of Antigua and Barbuda, not Barbados"),
    "Mauritian": ("MR", "MU", "Mauritian is Mauritius; Mauritania's is Mauritanian"),
    "Malé": ("ML", "MV", "Malé is the capital of the Maldives, not Mali"),
    "Male": ("ML", "MV", "Malé is the capital of the Maldives, not Mali"),
    "Guyane": ("GY", "GF", "Guyane is the French name of French Guiana, not Guyana"),
    "Diego Garcia": ("DG", "IO", "DG is exceptionally reserved; ISO 3166-1 has it under IO"),
    "Ascension Island": ("AC", "SH", "AC is exceptionally reserved; ISO 3166-1 has it under SH"),
    "Tristan da Cunha": ("TA", "SH", "TA is exceptionally reserved; ISO 3166-1 has it under SH"),
}


def data_path() -> Any:
    return resources.files("bot.matching").joinpath("data", "countries.yaml")


@cache
def load() -> dict[Any, Any]:
    with data_path().open("r", encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert isinstance(data, dict), "countries.yaml must be a mapping of ISO2 code to entry"
    return data


def countries() -> dict[str, dict[str, Any]]:
    return {str(code): entry for code, entry in load().items()}


def fold(text: str) -> str:
    return text.casefold()


def listed(entry: dict[str, Any]) -> list[str]:
    """The forms that identify this country (everything except `ambiguous`)."""
    return [form for key in LISTS for form in entry[key]]


def all_forms(entry: dict[str, Any]) -> set[str]:
    return {fold(form) for form in [*listed(entry), *entry["ambiguous"]]}


@cache
def owners() -> dict[str, set[str]]:
    """Case-folded form -> the codes of every entry that lists it anywhere."""
    result: dict[str, set[str]] = defaultdict(set)
    for code, entry in countries().items():
        for form in all_forms(entry):
            result[form].add(code)
    return result


# --- structure ---------------------------------------------------------------------------------


def test_file_loads_and_has_every_country() -> None:
    data = load()
    assert len(data) >= 249, f"only {len(data)} entries: ISO 3166-1 has 249 codes, plus XK"
    for code in ("XK", "KP", "KR", "US", "GB", "NO", "RU", "IR"):
        assert code in data, code


def test_keys_are_iso2_codes_in_order() -> None:
    keys = list(load())
    bad = [key for key in keys if not (isinstance(key, str) and re.fullmatch(r"[A-Z]{2}", key))]
    assert not bad, f"keys that are not 2-letter upper-case strings (quote NO!): {bad}"
    assert keys == sorted(keys), "entries must be sorted by ISO2 code"


@pytest.mark.parametrize("code", sorted(countries()))
def test_entry_shape(code: str) -> None:
    entry = countries()[code]
    assert isinstance(entry, dict)
    keys = set(entry)
    assert keys >= REQUIRED_KEYS, f"{code} lacks {REQUIRED_KEYS - keys}"
    assert keys <= REQUIRED_KEYS | OPTIONAL_KEYS, f"{code} has unknown keys {keys - REQUIRED_KEYS}"
    assert isinstance(entry["name"], str) and entry["name"], code
    assert entry["name"] in entry["names"], f"{code}: the primary name must be among names"
    for key in [*LISTS, "ambiguous", *(OPTIONAL_KEYS & keys)]:
        values = entry[key]
        assert isinstance(values, list), f"{code}.{key} must be a list"
        for value in values:
            assert isinstance(value, str), f"{code}.{key}: {value!r} is not a string"
            assert value == value.strip() and value, f"{code}.{key}: {value!r} has stray spaces"
            assert "  " not in value, f"{code}.{key}: {value!r} has a double space"
            typographic = re.search(r"[’‘ʻ`´]", value)
            assert not typographic, f"{code}.{key}: {value!r}: write ' as ASCII"
            if value.lower().startswith("the "):
                assert value in THE_FORMS, f"{code}.{key}: {value!r}: the engine adds 'the'"


@pytest.mark.parametrize("code", sorted(countries()))
def test_no_duplicate_within_an_entry(code: str) -> None:
    entry = countries()[code]
    forms = [fold(form) for form in listed(entry)]
    duplicates = {form for form in forms if forms.count(form) > 1}
    assert not duplicates, f"{code}: listed twice (case-folded): {duplicates}"
    ambiguous = [fold(form) for form in entry["ambiguous"]]
    assert len(ambiguous) == len(set(ambiguous)), f"{code}: duplicate in ambiguous"


@pytest.mark.parametrize("code", sorted(countries()))
def test_case_sensitive_forms_exist(code: str) -> None:
    entry = countries()[code]
    exact = set(listed(entry)) | set(entry["ambiguous"])
    missing = [form for form in entry.get("case_sensitive", []) if form not in exact]
    assert not missing, f"{code}: case_sensitive forms not listed in this exact case: {missing}"


def test_no_bare_iso2_codes() -> None:
    iso2 = set(countries())
    for code, entry in countries().items():
        for form in [*listed(entry), *entry["ambiguous"]]:
            if form in iso2:
                assert form in ISO2_CODES_ALLOWED, f"{code}: {form!r} is a bare ISO2 code"
                sensitive = entry.get("case_sensitive", [])
                assert form in sensitive, f"{code}: {form!r} must be case-sensitive"
    assert countries()["US"]["case_sensitive"] == ["US"]


def test_shared_forms_are_ambiguous_everywhere() -> None:
    """A form under two countries must be under `ambiguous` in both, and in no other list."""
    problems = []
    for form, codes in sorted(owners().items()):
        if len(codes) < 2:
            continue
        for code in sorted(codes):
            entry = countries()[code]
            if form not in {fold(f) for f in entry["ambiguous"]}:
                problems.append(f"{form!r} ({sorted(codes)}) is not ambiguous in {code}")
            if form in {fold(f) for f in listed(entry)}:
                problems.append(f"{form!r} ({sorted(codes)}) is shared but listed in {code}")
    assert not problems, "\n".join(problems)


def test_north_and_south_korea_are_kept_apart() -> None:
    kp, kr = countries()["KP"], countries()["KR"]
    shared = {"korea", "korean", "koreans"}
    common = all_forms(kp) & all_forms(kr)
    assert common == shared, f"KP and KR share {sorted(common)}, not only {sorted(shared)}"
    for code, entry in (("KP", kp), ("KR", kr)):
        ambiguous = {fold(form) for form in entry["ambiguous"]}
        assert shared <= ambiguous, f"{code} must list {sorted(shared - ambiguous)} as ambiguous"
        wrong = shared & {fold(form) for form in listed(entry)}
        assert not wrong, f"{code} lists {sorted(wrong)} outside ambiguous"
    for form in all_forms(kr):
        assert not re.search(r"north|dpr|d\.p\.r|pyongyang|people's", form), f"KR has {form!r}"
    for form in all_forms(kp):
        assert not re.search(r"south|\brok\b|r\.o\.k|seoul|blue house", form), f"KP has {form!r}"
    assert {"DPRK", "D.P.R.K."} <= set(kp["codes"]) and {"ROK", "R.O.K."} <= set(kr["codes"])
    assert "Pyongyang" in kp["capitals"] and "Seoul" in kr["capitals"]
    assert {"North Korean", "North Koreans"} <= set(kp["demonyms"])
    assert {"South Korean", "South Koreans"} <= set(kr["demonyms"])


@pytest.mark.parametrize("code", sorted(countries()))
def test_demonym_where_one_exists(code: str) -> None:
    entry = countries()[code]
    if code in NO_DEMONYM:
        assert not entry["demonyms"], f"{code} now has demonyms: remove it from NO_DEMONYM"
        if code in SHARED_DEMONYM:
            assert SHARED_DEMONYM[code] in entry["ambiguous"], code
    else:
        assert entry["demonyms"], f"{code} has no demonym"


@pytest.mark.parametrize(
    ("form", "code", "kind"),
    [
        ("DPRK", "KP", "codes"),
        ("PRC", "CN", "codes"),
        ("UAE", "AE", "codes"),
        ("U.S.", "US", "codes"),
        ("UK", "GB", "codes"),
        ("KSA", "SA", "codes"),
        ("DRC", "CD", "codes"),
        ("Burma", "MM", "names"),
        ("Ivory Coast", "CI", "names"),
        ("Côte d'Ivoire", "CI", "names"),
        ("Cote d'Ivoire", "CI", "names"),
        ("Czech Republic", "CZ", "names"),
        ("Türkiye", "TR", "names"),
        ("Swaziland", "SZ", "names"),
        ("Russian Federation", "RU", "names"),
        ("Emirati", "AE", "demonyms"),
        ("Filipinos", "PH", "demonyms"),
        ("Swiss", "CH", "demonyms"),
        ("Kremlin", "RU", "capitals"),
        ("Zhongnanhai", "CN", "capitals"),
        ("Downing Street", "GB", "capitals"),
        ("White House", "US", "capitals"),
        ("Kiev", "UA", "capitals"),
        ("Kyiv", "UA", "capitals"),
        ("Teheran", "IR", "capitals"),
        ("Georgia", "GE", "ambiguous"),
        ("Jordan", "JO", "ambiguous"),
        ("Chad", "TD", "ambiguous"),
        ("Turkey", "TR", "ambiguous"),
        ("Washington", "US", "ambiguous"),
        ("Congo", "CD", "ambiguous"),
        ("Congolese", "CG", "ambiguous"),
        ("CAR", "CF", "ambiguous"),
        ("Guinea", "GN", "ambiguous"),
        ("Niger", "NE", "ambiguous"),
    ],
)
def test_known_forms(form: str, code: str, kind: str) -> None:
    assert form in countries()[code][kind]


@pytest.mark.parametrize("form", ["US", "China", "Turkey", "CAR"])
def test_known_case_sensitive_forms(form: str) -> None:
    assert any(form in entry.get("case_sensitive", []) for entry in countries().values()), form


# --- cross-check: mledoze countries dataset (read in place from ../shared) ---------------------


@cache
def mledoze() -> list[dict[str, Any]]:
    path = require_shared("data", "countries", "mledoze_countries.json")
    with path.open(encoding="utf-8") as handle:
        data = json.load(handle)
    assert isinstance(data, list) and data
    return data


def their_demonym(country: dict[str, Any]) -> str | None:
    value = (country.get("demonyms") or {}).get("eng", {}).get("m")
    return value or None


def classify_demonym(code: str, theirs: str) -> str:
    """'match', 'shared' (we list it as ambiguous), 'elsewhere' (ours gives it to another
    country), 'uninhabited', or 'differs'. Theirs may join several forms ("Antiguan, Barbudan",
    "Kittitian or Nevisian"): every part must be ours."""
    parts = [fold(part) for part in re.split(r",\s*|\s+or\s+", theirs) if part.strip()]
    entry = countries()[code]
    demonyms = {fold(form) for form in entry["demonyms"]}
    ambiguous = {fold(form) for form in entry["ambiguous"]}
    if all(part in demonyms for part in parts):
        return "match"
    if all(part in demonyms | ambiguous for part in parts):
        return "shared"
    if any(owners().get(part, set()) - {code} for part in parts):
        return "elsewhere"
    if code in UNINHABITED:
        return "uninhabited"
    return "differs"


@cache
def demonym_report() -> dict[str, list[tuple[str, str]]]:
    report: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for country in mledoze():
        code, theirs = country.get("cca2"), their_demonym(country)
        if code in countries() and theirs:
            report[classify_demonym(code, theirs)].append((code, theirs))
    return report


@pytest.mark.shared
def test_every_mledoze_country_is_here() -> None:
    theirs = {country["cca2"] for country in mledoze() if country.get("cca2")}
    missing = sorted(theirs - set(countries()))
    assert not missing, f"countries in the mledoze dataset missing here: {missing}"
    extra = sorted(set(countries()) - theirs)
    assert not extra, f"codes here that the dataset does not know (check them): {extra}"


@pytest.mark.shared
def test_demonyms_agree_with_mledoze() -> None:
    report = demonym_report()
    total = sum(len(rows) for rows in report.values())
    # "elsewhere": theirs is the sovereign's nationality (French for TF ...), not a demonym of
    # the territory; "uninhabited": theirs is constructed. Neither is a demonym we could list.
    comparable = total - len(report["elsewhere"]) - len(report["uninhabited"])
    agreeing = len(report["match"]) + len(report["shared"])
    assert agreeing / comparable >= 0.95, f"{agreeing}/{comparable} demonyms agree: {dict(report)}"
    differs = dict(report["differs"])
    reviewed = REVIEWED_DEMONYM_DIFFERENCES
    unreviewed = {c: theirs for c, theirs in differs.items() if c not in reviewed}
    assert not unreviewed, f"new demonym differences, review them (ours or theirs?): {unreviewed}"
    stale = sorted(set(REVIEWED_DEMONYM_DIFFERENCES) - set(differs))
    assert not stale, f"reviewed differences that no longer differ, drop them: {stale}"


@pytest.mark.shared
def test_names_agree_with_mledoze() -> None:
    agreeing, differs = 0, {}
    for country in mledoze():
        code, common = country.get("cca2"), country["name"]["common"]
        entry = countries()[code]
        names = {fold(form) for form in entry["names"]}
        shared = {fold(form) for form in entry["ambiguous"]} - names
        if fold(common) in names:
            agreeing += 1
        elif fold(common) in shared and len(owners()[fold(common)]) > 1:
            agreeing += 1  # a name of several countries ("Congo"), listed as ambiguous in each
        else:
            differs[code] = common
    assert agreeing / len(mledoze()) >= 0.95, f"{agreeing}/{len(mledoze())} names agree"
    unreviewed = {c: name for c, name in differs.items() if c not in REVIEWED_NAME_DIFFERENCES}
    assert not unreviewed, f"common names not among ours, review them: {unreviewed}"


@pytest.mark.shared
def test_print_mledoze_report() -> None:
    """Prints the comparison (shown with ``-s``); fails only if the dataset cannot be read."""
    report = demonym_report()
    print("\nmledoze demonym comparison:")
    for kind in ("shared", "elsewhere", "uninhabited", "differs"):
        print(f"  {kind:12} {report[kind]}")
    print(f"  match        {len(report['match'])} countries")
    assert report["match"]


# --- cross-check: countrynames -------------------------------------------------------------------


def countrynames_code(form: str) -> str | None:
    code = countrynames.to_code(form)
    return code.split("-")[0] if code else None  # CN-BJ (Beijing) -> CN


def test_primary_names_agree_with_countrynames() -> None:
    disagreements = {}
    for code, entry in countries().items():
        theirs = countrynames_code(entry["name"])
        if theirs is not None and theirs != code:
            disagreements[entry["name"]] = (theirs, code)
    assert not disagreements, f"countrynames disagrees (theirs, ours): {disagreements}"


def test_listed_forms_agree_with_countrynames() -> None:
    """Every form that identifies one country: countrynames may not know it, but if it does it
    must agree, unless we reviewed its answer and found it wrong."""
    disagreements = {}
    for code, entry in countries().items():
        for form in listed(entry):
            theirs = countrynames_code(form)
            if theirs is None or theirs == code:
                continue
            if COUNTRYNAMES_REVIEWED.get(form, (None, None))[:2] == (theirs, code):
                continue
            disagreements[form] = (theirs, code)
    assert not disagreements, f"countrynames disagrees (theirs, ours): {disagreements}"
    stale = [
        form
        for form, (theirs, _, _) in COUNTRYNAMES_REVIEWED.items()
        if countrynames_code(form) != theirs
    ]
    assert not stale, f"countrynames no longer gives the reviewed answer for {stale}"
