"""The one error every list parser raises, and the helpers they share.

A parser's output is a frozen ``ParsedList`` (a domain type, ``bot.domain.lists``, so that
``db.lists`` can store it without importing the parsers; re-exported here) so the importer can
compare ``sha256`` with the last import and skip unchanged files, and so the entities can be
shared between threads. The helpers live here (not in each parser) because OFAC, the UN and OpenSanctions need the same
country, IMO and name clean-ups, and they must agree for one party to look the same everywhere.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import countrynames

from bot.domain.lists import ParsedList as ParsedList  # re-exported: its old home
from bot.errors import DataError
from bot.matching.identifiers import SCHEMES as TEXT_SCHEMES
from bot.matching.identifiers import normalise as normalise_identifier
from bot.matching.identifiers import valid_imo
from bot.matching.model import Entity, EntityType, Name, NameKind

SOURCES = ("ofac-sdn", "ofac-cons", "un", "opensanctions")


class ListFormatError(DataError):
    """A list file that cannot be trusted; the message names the file and, if known, the line.

    Raised instead of importing half a list, because a silently shortened sanctions list
    means silently missed alerts.
    """

    def __init__(self, path: Path | str, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


# ---------------------------------------------------------------------------------------------
# Helpers shared by the parsers


def read_utf8(path: Path) -> str:
    """A list file's text (a BOM dropped); bytes that are not UTF-8 are refused with the line
    they are on, since a list in another encoding would import with mangled names."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ListFormatError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line) from exc


def file_digest(files: Iterable[Path]) -> str:
    """SHA-256 over the files' bytes in name order, so passing the same files in another order
    (or via their directory) gives the same fingerprint."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: (p.name, str(p))):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def mtime_version(files: Iterable[Path]) -> str:
    """The newest modification date: the best date a list without its own date has."""
    newest = max(path.stat().st_mtime for path in files)
    return datetime.fromtimestamp(newest, tz=UTC).date().isoformat()


def country_code(text: str | None) -> str | None:
    """ISO2 code for a country as lists write it ("Korea, North", "Iran (Islamic Republic of)").

    ``countrynames`` also returns historic and regional codes ("SUHH", "IQ-KR", "UA-CRI");
    those are cut to their country part or dropped, so ``Entity.countries`` only holds ISO2.
    """
    if not text:
        return None
    cleaned = text.strip()
    if cleaned.lower().startswith("region:"):
        cleaned = cleaned.split(":", 1)[1].strip()
    code = countrynames.to_code(cleaned)
    if not code:
        return None
    code = code.split("-", 1)[0]
    return code if len(code) == 2 and code.isalpha() else None


def iso2(code: str) -> str | None:
    """Upper-case an OpenSanctions code; sub-national ones ("gb-nir") keep their country part."""
    base = code.strip().split("-", 1)[0].upper()
    if len(base) != 2 or not base.isalpha() or base in ("ZZ", "EU", "XX"):
        return None
    return base


def is_ship_imo(number: str) -> bool:
    """IMO ship numbers carry a check digit; company numbers (IMO "5xxxxxx") usually fail it.

    Only a hint: UN entry KPe.020's company number happens to pass, so callers combine this
    with the entity type or name.
    """
    return valid_imo(number)


IMO_RE = re.compile(r"\bIMO\b[^0-9;]{0,16}?(\d{5,7})\b")
MMSI_RE = re.compile(r"\bMMSI\b[^0-9;]{0,4}?(\d{9})\b")
# "SWIFT/BIC KKBCKPPY" (OFAC), "SWIFT: DCBKKPPY" and "SWIFT/BIC: KUDBKPPY" (UN).
SWIFT_RE = re.compile(r"\bSWIFT(?:/BIC)?\b\s*:?\s*([A-Z0-9]{8}(?:[A-Z0-9]{3})?)\b")
# OFAC aircraft remarks; a *previous* tail number may since have been given to another aircraft.
TAIL_NUMBER_RE = re.compile(r"(?<!Previous )\bAircraft Tail Number ([A-Z0-9][A-Z0-9-]*[A-Z0-9])")
MSN_RE = re.compile(r"\bSerial Number \(MSN\) ([A-Z0-9][A-Z0-9-]*[A-Z0-9])")


def identifier_pairs(scheme: str, values: Iterable[str]) -> list[tuple[str, str]]:
    """(scheme, value) pairs, empty values dropped. Values of the schemes the matcher finds in
    text (IMO, MMSI, SWIFT/BIC, aircraft registration and MSN) are written as it writes them
    (``bot.matching.identifiers.normalise``), so a list's identifier and the same identifier in
    an article meet; others (passports, tax numbers) stay as the list writes them."""
    normalised = scheme in TEXT_SCHEMES or scheme == "imo_company"
    pairs = ((scheme, normalise_identifier(scheme, v) if normalised else squash(v)) for v in values)
    return [(s, v) for s, v in pairs if v]


ORG_WORDS = re.compile(
    r"\b(CO|CORP|CORPORATION|COMPANY|LTD|LIMITED|LLC|INC|JV|GROUP|SHIPPING|SHPG|MARITIME|"
    r"MANAGEMENT|TRADING|BANK|S\.?A|GMBH|PTE|PLC|HOLDINGS?)\b\.?",
    re.IGNORECASE,
)

_ACRONYM_RE = re.compile(r"^[A-Z0-9][A-Z0-9.&/-]*$")


def is_short_acronym(text: str) -> bool:
    """Very short names and all-caps tokens ("BNC", "AQI", "HESA", "Tek") collide with unrelated
    text too often to be trusted alone, so they become ``WEAK`` names (see ``NameKind``).

    Three Chinese or Korean characters are a full name, so the three-letter rule skips them.
    """
    compact = text.strip()
    letters = sum(ch.isalnum() for ch in compact)
    if letters <= 2:
        return True
    if letters == 3 and not is_logographic(compact):
        return True
    return " " not in compact and letters <= 4 and bool(_ACRONYM_RE.match(compact))


def is_logographic(text: str) -> bool:
    """Whether a name uses Han characters or Hangul syllables, where one character is a
    syllable of a name rather than a letter (三 / 남), so length rules do not apply."""
    return any(
        "\u3400" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff"
        for ch in text
    )


def squash(text: str) -> str:
    """Collapse the runs of spaces and line breaks the lists leave inside names."""
    return " ".join(text.split())


_QUOTES = "\"'“”‘’«»„"


def tidy_name(text: str) -> str:
    """A name without the wrapping quotes, stray brackets and separators that free-text alias
    fields leave behind (``"KOMID"``, ``Tahrir al-Sham Hay’at)``, ``:``); "" if none is left."""
    text = squash(text).strip(" ,;")
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    text = text.replace("（", "(").replace("）", ")")
    if text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1].rstrip()
    if text.startswith("(") and text.count("(") > text.count(")"):
        text = text[1:].lstrip()
    return text if any(ch.isalnum() for ch in text) else ""


_SUFFIX_RE = re.compile(r"^(jr|sr|i{1,3}|iv|v)\.?$", re.IGNORECASE)


def comma_family(text: str) -> str | None:
    """The surname of a name written "SURNAME, Given" (OFAC, some UN aliases), else None.

    "Hilarion Santos, III" is a generation suffix, not the surname-first form.
    """
    if "," not in text:
        return None
    family, rest = (part.strip() for part in text.split(",", 1))
    if not family or _SUFFIX_RE.match(rest.split(",", 1)[0].strip()):
        return None
    return family


_KIND_RANK = {NameKind.PRIMARY: 0, NameKind.ALIAS: 1, NameKind.WEAK: 2}


def unique_names(names: Iterable[Name]) -> tuple[Name, ...]:
    """Drop repeated spellings (ignoring case), keeping the strongest kind at its first place,
    so a remark a.k.a. that repeats an ``alt.csv`` alias does not demote it to weak."""
    best: dict[str, Name] = {}
    order: list[str] = []
    for name in names:
        key = name.text.casefold()
        if not key.strip():
            continue
        current = best.get(key)
        if current is None:
            order.append(key)
            best[key] = name
        elif _KIND_RANK[name.kind] < _KIND_RANK[current.kind]:
            best[key] = Name(name.text, name.kind, current.family or name.family)
        elif current.family is None and name.family is not None:
            best[key] = Name(current.text, current.kind, name.family)
    return tuple(best[key] for key in order)


def unique(values: Iterable[str | None]) -> tuple[str, ...]:
    """Order-preserving de-duplication that skips empty values."""
    return tuple(dict.fromkeys(v for v in values if v))


def unique_pairs(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Order-preserving de-duplication of identifier pairs."""
    return tuple(dict.fromkeys(pairs))


def entity_summary(entities: Sequence[Entity]) -> dict[str, int]:
    """The counts an admin wants to see after an import, to spot a list that shrank or lost
    its aliases (for the importer or CLI to print)."""
    names = [name for entity in entities for name in entity.names]
    return {
        "entities": len(entities),
        "names": len(names),
        "weak_names": sum(1 for name in names if name.kind is NameKind.WEAK),
        "vessels_with_imo": sum(
            1
            for entity in entities
            if entity.type is EntityType.VESSEL and any(s == "imo" for s, _ in entity.identifiers)
        ),
    }
