"""Custom lists: a company's own watch list, written by hand as CSV or YAML.

CSV needs a header; the columns are ``id,name,type,aliases,countries,programs,identifiers``
(``id``, ``name`` and ``type`` required, the others optional, plus an optional ``remarks``).
Aliases, countries and programs are separated by ``;``, identifiers are ``scheme:value`` pairs
separated by ``;`` (``imo:9191278;swift:KOMDKPPY``). YAML is a mapping
``{source: acme, entities: [{id, name, type, aliases: [...], countries: [...], programs: [...],
identifiers: {imo: "9191278"}, remarks}]}``.

The source: the caller's ``source`` wins; without one the YAML ``source`` key is used (a CSV
has no place for it, so the caller must name it). Either way it is written ``custom-<slug>``
("acme" becomes "custom-acme"), so a custom list can never pose as ``ofac-sdn`` or ``un``.

These files are typed by people, so the reader is strict and precise about where: an unknown
column or key, an empty name, a repeated id, an unknown type or country, or an identifier that
cannot be right (an IMO number failing its check digit) raises ``ListFormatError`` with the file
and line, instead of importing a list that silently misses the party it was written for.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.domain.lists import ParsedList
from bot.lists.types import (
    ListFormatError,
    comma_family,
    country_code,
    file_digest,
    identifier_pairs,
    is_short_acronym,
    mtime_version,
    read_utf8,
    squash,
    unique,
    unique_names,
    unique_pairs,
)
from bot.matching.identifiers import iso_countries, valid_imo, valid_mmsi
from bot.matching.model import Entity, EntityType, Name, NameKind
from bot.matching.refdata import YAML_LOADER

COLUMNS = ("id", "name", "type", "aliases", "countries", "programs", "identifiers", "remarks")
REQUIRED = ("id", "name", "type")
TOP_KEYS = ("source", "entities")
TYPES = {member.value: member for member in EntityType}

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_SWIFT_RE = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class _Record:
    """One entity as written, with the line of each field for error messages."""

    line: int
    fields: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


def parse_custom(path: Path, source: str | None = None) -> ParsedList:
    """Parse a custom list; ``.yaml``/``.yml`` files are YAML, everything else CSV."""
    if path.suffix.lower() in YAML_SUFFIXES:
        file_source, records = _read_yaml(path)
    else:
        file_source, records = None, list(_read_csv(path))
    name = source_name(path, source or file_source)
    warnings: list[str] = []
    if source and file_source and source_name(path, file_source) != name:
        warnings.append(f"{path}: the file says source {file_source!r}; {name!r} was asked for")
    entities: dict[str, Entity] = {}
    for record in records:
        entity = _entity(path, name, record)
        if entity.key in entities:
            raise ListFormatError(
                path, f"id {entity.list_id!r} appears twice", record.line_of("id")
            )
        entities[entity.key] = entity
    if not entities:
        raise ListFormatError(path, "the list has no entities")
    return ParsedList(
        source=name,
        version=mtime_version([path]),
        sha256=file_digest([path]),
        files=(str(path),),
        entities=tuple(entities.values()),
        warnings=tuple(warnings),
    )


def source_name(path: Path, source: str | None) -> str:
    """``custom-<slug>`` from "acme" or "custom-acme"; a missing or odd name is an error."""
    if not source:
        raise ListFormatError(
            path, "no source name: pass one (e.g. custom-acme) or set 'source:' in the YAML file"
        )
    slug = source.strip().lower().removeprefix("custom-")
    if not _SLUG_RE.match(slug):
        raise ListFormatError(path, f"source {source!r} must be letters, digits and '-'")
    return f"custom-{slug}"


# ---------------------------------------------------------------------------------------------
# CSV


def _read_csv(path: Path) -> Iterator[_Record]:
    """Rows as records; the header must name the required columns and no unknown ones."""
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
        _check_header(path, header)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ListFormatError(
                    path, f"expected {len(header)} columns, found {len(row)}", reader.line_num
                )
            yield _csv_record(path, reader.line_num, dict(zip(header, row, strict=True)))
    except csv.Error as exc:
        raise ListFormatError(path, f"malformed CSV: {exc}", reader.line_num) from exc


def _decode(path: Path) -> str:
    text = read_utf8(path)
    if not text.strip():
        raise ListFormatError(path, "file is empty")
    if text.lstrip().startswith("<"):
        raise ListFormatError(path, "starts with '<': an HTML/XML page, not a CSV list", 1)
    return text


def _check_header(path: Path, header: list[str]) -> None:
    unknown = [column for column in header if column not in COLUMNS]
    if unknown:
        raise ListFormatError(
            path, f"unknown column(s) {', '.join(unknown)}; the columns are {','.join(COLUMNS)}", 1
        )
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise ListFormatError(
            path,
            f"missing required column(s) {', '.join(missing)} (the first row must be the header)",
            1,
        )
    repeated = unique(c for c in header if header.count(c) > 1)
    if repeated:
        raise ListFormatError(path, f"column(s) {', '.join(repeated)} appear twice", 1)


def _csv_record(path: Path, line: int, row: dict[str, str]) -> _Record:
    record = _Record(line)
    for key in ("id", "name", "type", "remarks"):
        record.fields[key] = squash(row.get(key, ""))
    for key in ("aliases", "countries", "programs"):
        record.lists[key] = [squash(v) for v in row.get(key, "").split(";") if v.strip()]
    for pair in (p.strip() for p in row.get("identifiers", "").split(";")):
        if not pair:
            continue
        scheme, sep, value = pair.partition(":")
        if not sep or not value.strip():
            raise ListFormatError(
                path, f"identifier {pair!r} is not scheme:value (e.g. imo:9191278)", line
            )
        record.identifiers.append((scheme.strip().lower(), value.strip()))
    return record


# ---------------------------------------------------------------------------------------------
# YAML, read from the node tree so every value keeps its line


def _read_yaml(path: Path) -> tuple[str | None, list[_Record]]:
    text = read_utf8(path)
    try:
        root = yaml.compose(text, Loader=YAML_LOADER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise ListFormatError(
            path, f"YAML syntax error: {error.problem}", mark.line + 1 if mark else None
        ) from error
    if not isinstance(root, yaml.MappingNode):
        raise ListFormatError(
            path,
            "expected a mapping with 'source' and 'entities' keys",
            _line(root) if root is not None else 1,
        )
    top = _mapping(path, root, TOP_KEYS)
    source = _scalar(path, top["source"]) if "source" in top else None
    entities = top.get("entities")
    if not isinstance(entities, yaml.SequenceNode):
        raise ListFormatError(
            path,
            "'entities' must be a list of entities",
            _line(entities) if entities is not None else _line(root),
        )
    return source, [_yaml_record(path, node) for node in entities.value]


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(path: Path, node: yaml.Node, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
    """A mapping node's values by key; unknown keys are errors (a typo would drop data)."""
    if not isinstance(node, yaml.MappingNode):
        raise ListFormatError(path, "expected a mapping", _line(node))
    found: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = str(key.value)
        if name not in allowed:
            raise ListFormatError(
                path, f"unknown key {name!r}; allowed: {', '.join(allowed)}", _line(key)
            )
        if name in found:
            raise ListFormatError(path, f"key {name!r} appears twice", _line(key))
        found[name] = value
    return found


def _scalar(path: Path, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise ListFormatError(path, "expected a single value", _line(node))
    return squash(str(node.value))


def _scalars(path: Path, node: yaml.Node) -> list[str]:
    """A list of values, or one value standing for a list of one."""
    if isinstance(node, yaml.ScalarNode):
        return [v for v in [_scalar(path, node)] if v]
    if not isinstance(node, yaml.SequenceNode):
        raise ListFormatError(path, "expected a list of values", _line(node))
    return [v for v in (_scalar(path, item) for item in node.value) if v]


def _yaml_record(path: Path, node: yaml.Node) -> _Record:
    values = _mapping(path, node, COLUMNS)
    record = _Record(_line(node), lines={k: _line(v) for k, v in values.items()})
    for key in ("id", "name", "type", "remarks"):
        record.fields[key] = _scalar(path, values[key]) if key in values else ""
    for key in ("aliases", "countries", "programs"):
        record.lists[key] = _scalars(path, values[key]) if key in values else []
    if "identifiers" in values:
        ids = values["identifiers"]
        if not isinstance(ids, yaml.MappingNode):
            raise ListFormatError(
                path, 'identifiers must be a mapping such as {imo: "9191278"}', _line(ids)
            )
        for key, value in ids.value:
            scheme = str(key.value).strip().lower()
            items = _scalars(path, value)
            if not items:
                raise ListFormatError(path, f"identifier {scheme!r} has no value", _line(key))
            record.identifiers.extend((scheme, item) for item in items)
            record.lines.setdefault(f"identifier:{scheme}", _line(key))
    for key in REQUIRED:
        if key not in values:
            raise ListFormatError(path, f"entity lacks required key {key!r}", record.line)
    return record


# ---------------------------------------------------------------------------------------------
# Building entities


def _entity(path: Path, source: str, record: _Record) -> Entity:
    list_id, name = record.fields["id"], record.fields["name"]
    if not list_id:
        raise ListFormatError(path, "empty id", record.line_of("id"))
    if not name:
        raise ListFormatError(path, f"{list_id}: empty name", record.line_of("name"))
    entity_type = TYPES.get(record.fields["type"].lower())
    if entity_type is None:
        raise ListFormatError(
            path,
            f"{list_id}: unknown type {record.fields['type']!r}; use one of {', '.join(TYPES)}",
            record.line_of("type"),
        )
    person = entity_type is EntityType.PERSON
    names = [Name(name, NameKind.PRIMARY, comma_family(name) if person else None)]
    for alias in record.lists["aliases"]:
        kind = NameKind.WEAK if is_short_acronym(alias) else NameKind.ALIAS
        names.append(Name(alias, kind, comma_family(alias) if person else None))
    return Entity(
        key=f"{source}:{list_id}",
        source=source,
        list_id=list_id,
        type=entity_type,
        names=unique_names(names),
        programs=unique(record.lists["programs"]),
        countries=_countries(path, record),
        identifiers=_identifiers(path, record),
        remarks=record.fields["remarks"],
    )


def _countries(path: Path, record: _Record) -> tuple[str, ...]:
    """ISO2 codes ("KP") or names ("North Korea"); one that is neither is an error."""
    codes: list[str] = []
    for value in record.lists["countries"]:
        upper = value.upper()
        code = upper if len(value) == 2 and upper in iso_countries() else country_code(value)
        if code is None:
            raise ListFormatError(
                path,
                f"{record.fields['id']}: unknown country {value!r}",
                record.line_of("countries"),
            )
        codes.append(code)
    return unique(codes)


def _identifiers(path: Path, record: _Record) -> tuple[tuple[str, str], ...]:
    """Pairs written as the matcher writes them, so "IMO 9191278" in an article meets
    ``imo:9191278`` here; IMO, MMSI and SWIFT values that cannot be right are refused."""
    pairs: list[tuple[str, str]] = []
    for scheme, value in record.identifiers:
        line = record.lines.get(f"identifier:{scheme}", record.line_of("identifiers"))
        if not _SCHEME_RE.match(scheme):
            raise ListFormatError(
                path,
                f"{record.fields['id']}: identifier scheme {scheme!r} "
                "must be lower-case letters, digits and '_'",
                line,
            )
        found = identifier_pairs(scheme, [value])
        problem = _problem(scheme, found[0][1] if found else "")
        if problem:
            raise ListFormatError(path, f"{record.fields['id']}: {scheme}:{value}: {problem}", line)
        pairs.extend(found)
    return unique_pairs(pairs)


def _problem(scheme: str, value: str) -> str:
    """Why a normalised identifier cannot be right, or "" if it may be."""
    if not value:
        return "no value left after normalising"
    if scheme == "imo" and not valid_imo(value):
        return (
            "not a valid IMO ship number (7 digits with a check digit; a company number "
            "goes under imo_company)"
        )
    if scheme == "mmsi" and not valid_mmsi(value):
        return "not a valid MMSI (9 digits)"
    if scheme == "swift" and not _SWIFT_RE.match(value):
        return "not a SWIFT/BIC code (8 or 11 letters and digits)"
    return ""
