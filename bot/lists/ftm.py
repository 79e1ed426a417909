"""OpenSanctions data in FollowTheMoney JSON lines: full exports (one entity per line) and
delta files (``{"op": "ADD"|"MOD"|"DEL", "entity": {...}}``).

All files handed over together form one list and are applied in the order given, so a base
export followed by its deltas yields today's list (a ``DEL`` really removes the entity).
``Sanction`` records are not parties; they only lend their programs to the party they name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.domain.lists import ParsedList
from bot.lists.types import (
    ListFormatError,
    file_digest,
    identifier_pairs,
    is_logographic,
    is_short_acronym,
    iso2,
    mtime_version,
    squash,
    tidy_name,
    unique,
    unique_names,
    unique_pairs,
)
from bot.matching.model import Entity, EntityType, Name, NameKind

SOURCE = "opensanctions"

SCHEMA_TYPES = {
    "Person": EntityType.PERSON,
    "Organization": EntityType.ORGANIZATION,
    "Company": EntityType.ORGANIZATION,
    "LegalEntity": EntityType.ORGANIZATION,
    "PublicBody": EntityType.ORGANIZATION,
    "Vessel": EntityType.VESSEL,
    "Airplane": EntityType.AIRCRAFT,
}

NAME_KINDS = (
    ("name", NameKind.PRIMARY),
    ("alias", NameKind.ALIAS),
    ("previousName", NameKind.ALIAS),
    ("weakAlias", NameKind.WEAK),
)
COUNTRY_PROPS = ("country", "nationality", "citizenship", "jurisdiction", "flag")
IDENTIFIER_PROPS = {
    "imoNumber": "imo",
    "mmsi": "mmsi",
    "callSign": "call_sign",
    "registrationNumber": "registration",
    "taxNumber": "tax",
    "innCode": "inn",
    "ogrnCode": "ogrn",
    "leiCode": "lei",
    "swiftBic": "swift",
    "idNumber": "id",
    "passportNumber": "passport",
    "wikidataId": "wikidata",
}
# An Airplane's registration number is its tail number ("EP-MNX"), matched in text like an IMO
# number; the same property on a company is a register entry and stays "registration".
AIRPLANE_PROPS = {"registrationNumber": "aircraft", "serialNumber": "msn"}
OPS = ("ADD", "MOD", "DEL")
_LABEL_RE = re.compile(r"^\s*(also known as|a\.k\.a\.)\s*:?\s*", re.IGNORECASE)


@dataclass
class _State:
    """Parties and sanctions by id while files and delta operations are applied in order."""

    parties: dict[str, dict[str, Any]] = field(default_factory=dict)
    sanctions: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


def parse_ftm(paths: Sequence[Path]) -> ParsedList:
    """Apply FtM export and delta files in order and build the resulting entities."""
    if not paths:
        raise ValueError("parse_ftm needs at least one file")
    state = _State()
    for path in paths:
        for line, op, record in read_lines(path):
            _apply(state, path, line, op, record)
    programs = _programs_by_party(state.sanctions)
    entities = tuple(
        _entity(record, programs.get(record["id"], ())) for record in state.parties.values()
    )
    return ParsedList(
        source=SOURCE,
        version=mtime_version(paths),
        sha256=file_digest(paths),
        files=tuple(str(p) for p in sorted(paths, key=lambda p: p.name)),
        entities=entities,
        warnings=_warnings(state),
    )


def read_lines(path: Path) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(line, op, entity) per JSON line; a plain entity line counts as ``ADD``.

    Any line that is not a JSON object of either shape stops the import with its line number:
    a half-written download must not silently drop the entities after it.
    """
    empty = True
    with path.open("rb") as handle:  # bytes, so a bad byte is reported on its own line
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise ListFormatError(path, f"not UTF-8 text: {exc.reason}", number) from exc
            if not text.strip():
                continue
            empty = False
            yield (number, *_decode_line(path, number, text))
    if empty:
        raise ListFormatError(path, "file is empty")


def _decode_line(path: Path, line: int, raw: str) -> tuple[str, dict[str, Any]]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        reason = f"not a JSON line: {exc.msg} (column {exc.colno})"
        raise ListFormatError(path, reason, line) from exc
    if not isinstance(data, dict):
        raise ListFormatError(path, "JSON line is not an object", line)
    if "op" in data:
        op, entity = str(data.get("op", "")).upper(), data.get("entity")
        if op not in OPS or not isinstance(entity, dict) or not entity.get("id"):
            reason = f"delta line needs op ADD/MOD/DEL and an entity id, got op {op!r}"
            raise ListFormatError(path, reason, line)
        return op, entity
    if not data.get("id") or not data.get("schema"):
        raise ListFormatError(path, "FtM entity line needs 'id' and 'schema'", line)
    return "ADD", data


def _apply(state: _State, path: Path, line: int, op: str, record: dict[str, Any]) -> None:
    entity_id = str(record["id"])
    if op == "DEL":
        state.parties.pop(entity_id, None)
        state.sanctions.pop(entity_id, None)
        return
    schema = record.get("schema")
    if not isinstance(schema, str):
        raise ListFormatError(path, f"entity {entity_id} has no schema", line)
    if not isinstance(record.get("properties", {}), dict):
        raise ListFormatError(path, f"entity {entity_id}: properties is not an object", line)
    if schema == "Sanction":
        state.sanctions[entity_id] = record
    elif schema in SCHEMA_TYPES:
        state.parties[entity_id] = record
    else:
        state.skipped[schema] = state.skipped.get(schema, 0) + 1


def _warnings(state: _State) -> tuple[str, ...]:
    if not state.skipped:
        return ()
    counts = ", ".join(f"{n} {schema}" for schema, n in sorted(state.skipped.items()))
    return (f"skipped records that are not listed parties: {counts}",)


def _props(record: Mapping[str, Any], name: str) -> list[str]:
    values = record.get("properties", {}).get(name, [])
    return [squash(str(v)) for v in values if v is not None] if isinstance(values, list) else []


def _programs_by_party(sanctions: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Program ids (or names) of every Sanction record, keyed by the party it names."""
    found: dict[str, list[str]] = {}
    for sanction in sanctions.values():
        programs = _props(sanction, "programId") or _props(sanction, "program")
        for party in _props(sanction, "entity"):
            found.setdefault(party, []).extend(programs)
    return {party: unique(programs) for party, programs in found.items()}


def _entity(record: Mapping[str, Any], sanction_programs: tuple[str, ...]) -> Entity:
    entity_id = str(record["id"])
    entity_type = SCHEMA_TYPES[str(record["schema"])]
    topics = [f"topic:{t}" for t in _props(record, "topics")]
    return Entity(
        key=f"{SOURCE}:{entity_id}",
        source=SOURCE,
        list_id=entity_id,
        type=entity_type,
        names=_names(record, entity_type),
        programs=unique([*_props(record, "programId"), *sanction_programs, *topics]),
        countries=unique(iso2(code) for prop in COUNTRY_PROPS for code in _props(record, prop)),
        identifiers=_identifiers(record),
        remarks=" | ".join(_props(record, "notes") + _props(record, "position"))[:4000],
    )


def _names(record: Mapping[str, Any], entity_type: EntityType) -> tuple[Name, ...]:
    """``name`` values are names the sources give as official (one per language or list), so
    they stay PRIMARY with the caption first; short acronyms ("ISI", "JTJ") and one-word person
    names other than the caption are demoted to WEAK because they collide with unrelated text."""
    caption = tidy_name(str(record.get("caption", "")))
    person = entity_type is EntityType.PERSON
    families = [f.casefold() for f in _props(record, "lastName")] if person else []
    names: list[Name] = []
    for prop, kind in NAME_KINDS:
        for text in _split_names(_props(record, prop)):
            weak = text != caption and (is_short_acronym(text) or (person and _lone_word(text)))
            names.append(Name(text, NameKind.WEAK if weak else kind, _family(text, families)))
    names.sort(key=lambda n: n.kind is not NameKind.PRIMARY or n.text != caption)
    return unique_names(names) or (Name(caption or str(record["id"]), NameKind.PRIMARY),)


def _lone_word(text: str) -> bool:
    """A one-word person name ("Mohammad", "Mighty", "Азиз"): merged sources put nicknames and
    given names into ``name``, and a lone given name must never identify a person. Katakana
    full names are joined by "・" and Chinese/Korean ones have no spaces at all."""
    return " " not in text and "・" not in text and not is_logographic(text)


def _split_names(values: list[str]) -> Iterator[str]:
    """Some merged values hold two names ("AL-QAIDA IN IRAQ; AQI") or a label ("Also known as:")."""
    for value in values:
        for piece in value.split(";"):
            text = tidy_name(_LABEL_RE.sub("", piece))
            if text and not (text.islower() and len(text) <= 3):  # "and" split off a list
                yield text


def _family(text: str, families: list[str]) -> str | None:
    """The ``lastName`` value that appears as a word of this name, spelled as in the name; a
    one-word name has no given name to pair it with, so no family either."""
    tokens = text.replace(",", " ").split()
    if len(tokens) < 2:
        return None
    for token in tokens:
        if token.casefold() in families:
            return token
    return None


def _identifiers(record: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Identifiers by property, written as the matcher writes them (``identifier_pairs``):
    "IMO 9191278" becomes "9191278", "kkbc kp py" becomes "KKBCKPPY"."""
    props = dict(IDENTIFIER_PROPS)
    if record.get("schema") == "Airplane":
        props.update(AIRPLANE_PROPS)
    return unique_pairs(
        pair
        for prop, scheme in props.items()
        for pair in identifier_pairs(scheme, _props(record, prop))
    )
