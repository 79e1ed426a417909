"""Identifiers of listed parties as news and reports write them: IMO and MMSI numbers of ships,
SWIFT/BIC codes of banks, aircraft registrations (tail numbers) and manufacturer serial numbers.

An identifier names one party whatever it is called today: a tanker renamed three times keeps
its IMO number, a bank's SWIFT code survives its rebranding. So a listed identifier found in
text counts as much as the party's full name. The price is that a wrong reading is a confident
false alarm, so every scheme is recognised only where its shape and its context make a misreading
unlikely (a label, a check digit, capitals), and the caller (``parties``) then keeps only values
that are exactly on a list.

Everything here is pure: text in, ``IdentifierMention``s out. ``normalise`` is the one place
that decides how a value is written, and the list parsers use it too, so a value read from a
list and the same value read from an article always meet in the index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from operator import attrgetter

from .normalize import Token, tokenize
from .refdata import load_yaml

SCHEMES = ("imo", "mmsi", "swift", "aircraft", "msn")
LABELS = {
    "imo": "IMO",
    "mmsi": "MMSI",
    "swift": "SWIFT/BIC",
    "aircraft": "aircraft registration",
    "msn": "aircraft MSN",
}

# Shorter serial numbers repeat across manufacturers (Airbus and ATR both built an MSN 391).
MSN_MIN_LEN = 5


@dataclass(frozen=True, slots=True)
class IdentifierMention:
    """One identifier written in a text: its scheme, the values to look up, and where it is.

    ``keys`` are normalised values to try in order; there is more than one only when a code
    may also stand for a listed parent (a SWIFT branch code for its bank). ``start``/``end``
    cover the value itself, not its label, so the highlight shows what identifies the party.
    ``labelled`` says whether the text introduced it ("IMO 9191278") or wrote it bare.
    """

    scheme: str
    keys: tuple[str, ...]
    start: int
    end: int
    labelled: bool

    @property
    def value(self) -> str:
        return self.keys[0]

    def detail(self, key: str | None = None) -> str:
        """What an analyst reads as the match's reason: "IMO 9191278", "SWIFT/BIC KKBCKPPY"."""
        return f"{LABELS[self.scheme]} {key or self.value}"


# --- normalisation (shared with the list parsers) ---------------------------------------------


def normalise(scheme: str, value: str) -> str:
    """The form in which lists and texts store an identifier: upper case without spaces; IMO
    and MMSI numbers as digits only ("IMO 9191278" -> "9191278"); a SWIFT code without the
    "XXX" that marks a bank's head office (KKBCKPPYXXX is KKBCKPPY). "" if nothing is left."""
    scheme = scheme.lower()
    if scheme in ("imo", "imo_company", "mmsi"):
        return "".join(ch for ch in value if ch.isdigit())
    compact = "".join(value.split()).upper().strip(".,;:")
    if scheme == "swift" and len(compact) == 11 and compact.endswith("XXX"):
        return compact[:8]
    return compact


# --- validity of each scheme -------------------------------------------------------------------


def valid_imo(number: str) -> bool:
    """An IMO ship number is seven digits whose last is a check digit: the first six weighted
    7, 6, 5, 4, 3, 2, summed, modulo 10. Most mistyped or invented numbers fail it, and so do
    most IMO *company* numbers, which is why the check decides whether a number is a ship's."""
    if len(number) != 7 or not number.isdigit():
        return False
    digits = [int(d) for d in number]
    return sum(d * w for d, w in zip(digits[:6], range(7, 1, -1), strict=True)) % 10 == digits[6]


def valid_mmsi(number: str) -> bool:
    """A ship station's MMSI is nine digits starting with its flag's MID (201-775), so with a
    digit from 2 to 7; numbers of coast stations (00), groups (0), handhelds (8) and SAR aircraft
    or beacons (111, 970...) never identify a listed ship."""
    return len(number) == 9 and number.isdigit() and number[0] in "234567"


@lru_cache(maxsize=1)
def iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (and XK), from the engine's own country data."""
    return frozenset(load_yaml("countries.yaml"))


_BIC_RE = re.compile(r"[A-Z]{4}([A-Z]{2})[A-Z0-9]{2}(?:[A-Z0-9]{3})?")


def valid_bic(code: str) -> bool:
    """A SWIFT/BIC code: 4 letters of bank, the ISO code of the bank's country, 2 letters or
    digits of location and optionally 3 of branch. Requiring a real country rejects most
    capitalised 8-letter words that happen to have the shape (SANCTION: "TI" is no country)."""
    match = _BIC_RE.fullmatch(code)
    return match is not None and match.group(1) in iso_countries()


_REGISTRATION_RE = re.compile(r"[A-Z0-9]{1,2}-[A-Z0-9]{1,5}|[A-Z]{1,2}[0-9][A-Z0-9]{1,4}")


def looks_like_registration(value: str) -> bool:
    """An aircraft registration: a national prefix of one or two letters or digits, a hyphen and
    up to five letters or digits (EP-MNX, UP-A3001, RA-64001, P-532, 2-WGLP), or the hyphenless
    forms of the United States and Venezuela (N200VR, YV3360), which always contain a digit."""
    return _REGISTRATION_RE.fullmatch(value) is not None and any(ch.isalpha() for ch in value)


# --- recognisers, one per scheme ---------------------------------------------------------------
#
# Each runs on every article, so each first asks whether its label occurs at all (a substring
# test costs a few microseconds, a regular expression over a page a few hundred), and bare codes
# are looked for only among the words the tokeniser already found written in capitals.

# A list of values after one label: "IMO 9191278, 8905490 and 9123456".
_SEPARATOR = r"\s*(?:,\s*and|,\s*or|,|;|/|&|\band\b|\bor\b)\s*"


def _mentions_any(text: str, labels: tuple[str, ...]) -> bool:
    return any(label in text for label in labels)


_IMO_LABELS = ("IMO", "aritime Organ")
_IMO_RE = re.compile(
    r"(?:\bIMO(?:s\b|\b|(?=\d))|(?i:\bInternational\s+Maritime\s+Organi[sz]ation\b)(?:\s*\(IMO\))?)"
    r"[^\d;!?\n]{0,24}?"  # "number", "No.", ":", "number of", "is"
    rf"(?<!\d)(\d{{7}}(?:{_SEPARATOR}(?:IMO\s*)?\d{{7}})*)(?!\d)"
)
_SEVEN_DIGITS_RE = re.compile(r"(?<!\d)\d{7}(?!\d)")


def find_imo(text: str) -> Iterator[IdentifierMention]:
    """IMO numbers after their label: "IMO 9191278", "IMO: 9191278", "IMO No. 9191278",
    "(IMO number 9191278)", "IMO numbers 9191278 and 8905490".

    The label is required because a bare seven-digit number is far more often an amount, a
    phone number or a case number; the check digit then refuses typos and company numbers.
    "IMO" must be in capitals: "Imo" is also a Nigerian state.
    """
    if not _mentions_any(text, _IMO_LABELS):
        return
    for match in _IMO_RE.finditer(text):
        base = match.start(1)
        for number in _SEVEN_DIGITS_RE.finditer(match.group(1)):
            if valid_imo(number.group()):
                start = base + number.start()
                yield IdentifierMention("imo", (number.group(),), start, start + 7, True)


_MMSI_LABELS = ("MMSI", "obile Service")
_MMSI_BEFORE_RE = re.compile(
    r"(?:\bMMSIs?\b|(?i:\bMaritime\s+Mobile\s+Service\s+Identity\b))"
    r"[^\d;!?\n]{0,24}?"  # "number", ":", "was", "of"
    rf"(?<!\d)(\d{{9}}(?:{_SEPARATOR}\d{{9}})*)(?!\d)"
)
_MMSI_AFTER_RE = re.compile(r"(?<!\d)(\d{9})(?!\d)\s*(?:\(\s*MMSI\s*\)|MMSI\b)")
_NINE_DIGITS_RE = re.compile(r"(?<!\d)\d{9}(?!\d)")


def find_mmsi(text: str) -> Iterator[IdentifierMention]:
    """MMSI numbers with "MMSI" right before them ("MMSI 354412000", "its MMSI was 354412000")
    or right after ("354412000 (MMSI)"). Nine-digit numbers are everywhere (phone numbers,
    amounts in dollars), so without the word next to it a number is never read as an MMSI."""
    if not _mentions_any(text, _MMSI_LABELS):
        return
    seen: set[int] = set()
    for match in _MMSI_BEFORE_RE.finditer(text):
        base = match.start(1)
        for number in _NINE_DIGITS_RE.finditer(match.group(1)):
            if valid_mmsi(number.group()):
                start = base + number.start()
                seen.add(start)
                yield IdentifierMention("mmsi", (number.group(),), start, start + 9, True)
    for match in _MMSI_AFTER_RE.finditer(text):
        if match.start(1) not in seen and valid_mmsi(match.group(1)):
            yield IdentifierMention("mmsi", (match.group(1),), match.start(1), match.end(1), True)


_SWIFT_LABELS = ("SWIFT", "Swift", "BIC")
_SWIFT_LABELLED_RE = re.compile(
    r"\b(?:SWIFT|Swift|BIC)(?:\s*/\s*(?:BIC|SWIFT))?"
    r"(?:\s+(?i:code|number|no\.?|address|ID))?(?:\s+(?i:is|of))?[\s:#.\-]*"
    r"(?<![A-Za-z0-9])([A-Z]{4}\s?[A-Z]{2}\s?[A-Z0-9]{2}(?:\s?[A-Z0-9]{3})?)(?![\w-])"
)


def find_swift(text: str, tokens: Sequence[Token]) -> Iterator[IdentifierMention]:
    """SWIFT/BIC codes, labelled ("SWIFT/BIC KKBCKPPY", "SWIFT code: DCBK KP PY") or bare
    ("... through FTBDKPPY").

    Codes are written in capitals, and a bare one must be a listed code exactly (the caller
    looks it up) with a real country in it: eight capitals in a row are also acronyms and
    shouted headline words. After a label, a branch code (11 characters) also tries its
    bank's 8-character code, because a listed bank's branch is the listed bank.
    """
    labelled: set[int] = set()
    if _mentions_any(text, _SWIFT_LABELS):
        for match in _SWIFT_LABELLED_RE.finditer(text):
            code = normalise("swift", match.group(1))
            if not valid_bic(code):
                continue
            keys = (code, code[:8]) if len(code) == 11 else (code,)
            labelled.add(match.start(1))
            yield IdentifierMention("swift", keys, match.start(1), match.end(1), True)
    for token in _capitals(text, tokens):
        if token.end - token.start not in (8, 11) or token.start in labelled:
            continue
        code = normalise("swift", text[token.start : token.end])
        if valid_bic(code):
            yield IdentifierMention("swift", (code,), token.start, token.end, False)


_HYPHENATED_RE = re.compile(r"[A-Z0-9]{1,2}-[A-Z0-9]{1,5}(?![\w-])")


def find_aircraft(text: str, tokens: Sequence[Token]) -> Iterator[IdentifierMention]:
    """Aircraft registrations as written on the fuselage, alone or after "registration" or
    "tail number": "EP-MNX", "UP-A3001", "RA-64001", "P-532", and the hyphenless "N200VR" and
    "YV3360".

    Registrations are short and their shape is shared by model names (F-16, B-52) and codes of
    every kind, so only a value that is exactly a listed registration counts (the caller looks
    it up), and a registration without a letter ("12-345", a range) is none. A label adds
    nothing a listed value does not already say, so none is looked for: that keeps this
    recogniser to one pass over the hyphens and the words in capitals.
    """
    hyphen = text.find("-")
    while hyphen != -1:
        for start in (hyphen - 2, hyphen - 1):
            if start < 0 or (start > 0 and _is_word_or_hyphen(text[start - 1])):
                continue
            match = _HYPHENATED_RE.match(text, start)
            if match and looks_like_registration(value := match.group()):
                yield IdentifierMention("aircraft", (value,), match.start(), match.end(), False)
                break
        hyphen = text.find("-", hyphen + 1)
    for token in _capitals(text, tokens):
        value = text[token.start : token.end]
        if "-" not in value and looks_like_registration(value):
            yield IdentifierMention("aircraft", (value,), token.start, token.end, False)


_MSN_LABELS = ("MSN", "serial number", "Serial Number")
_MSN_RE = re.compile(
    r"(?:\bMSN\b|(?i:\bmanufacturer['’]?s\s+serial\s+number\b)(?:\s*\(MSN\))?)"
    r"(?:\s+(?i:is|of))?[\s:#.]*"
    r"(?<![\w-])([A-Z0-9](?:[A-Z0-9-]*[A-Z0-9])?)(?![\w-])"
)


def find_msn(text: str) -> Iterator[IdentifierMention]:
    """Manufacturer serial numbers of aircraft, only after "MSN" or "manufacturer's serial
    number", only with a digit and at least five characters: a bare number or a short serial
    says nothing about which aircraft (or gun, or engine) it belongs to."""
    if not _mentions_any(text, _MSN_LABELS):
        return
    for match in _MSN_RE.finditer(text):
        value = normalise("msn", match.group(1))
        if len(value) >= MSN_MIN_LEN and any(ch.isdigit() for ch in value):
            yield IdentifierMention("msn", (value,), match.start(1), match.end(1), True)


_UPPER = attrgetter("upper")


def _is_word_or_hyphen(char: str) -> bool:
    return char.isalnum() or char in "-_"


def _capitals(text: str, tokens: Sequence[Token]) -> Iterator[Token]:
    """Words written in capitals and standing alone (no hyphen either side), where a bare SWIFT
    code or a hyphenless registration can be: a few per article, so they are cheap to check."""
    for token in compress(tokens, map(_UPPER, tokens)):
        if (
            not token.dotted
            and (token.start == 0 or text[token.start - 1] not in "-_")
            and text[token.end : token.end + 1] not in ("-", "_")
        ):
            yield token


def find_identifiers(text: str, tokens: Sequence[Token] | None = None) -> list[IdentifierMention]:
    """Every identifier-shaped value in ``text``, in text order; one per place, a labelled
    reading preferred to a bare one. Whether it names a listed party is for the caller to say.

    ``tokens`` are ``tokenize(text)``, passed in by a caller that already has them.
    """
    capitals = list(_capitals(text, tokenize(text) if tokens is None else tokens))
    best: dict[tuple[int, int], IdentifierMention] = {}
    found = (
        find_imo(text),
        find_mmsi(text),
        find_swift(text, capitals),
        find_aircraft(text, capitals),
        find_msn(text),
    )
    for recogniser in found:
        for mention in recogniser:
            place = (mention.start, mention.end)
            other = best.get(place)
            if other is None or (mention.labelled and not other.labelled):
                best[place] = mention
    return sorted(best.values(), key=lambda m: (m.start, m.end))
