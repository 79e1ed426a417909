"""OFAC's legacy CSV lists: the SDN set (``sdn.csv``) and the consolidated non-SDN set
(``cons_prim.csv``), each with its alias, address and comment files joined on ``ent_num``.

The legacy format is used because it is small and stable; its quirks are handled here so that
nothing downstream sees them: ``-0- `` for empty fields, CRLF line ends, a trailing Ctrl-Z,
programs packed as ``DPRK3] [NPWMD``, remarks longer than the column overflowing into
``sdn_comments.csv``, and OFAC's *weak* a.k.a.s, which the legacy files only carry inside the
remarks (``a.k.a. 'BNC'.``), never in ``alt.csv``.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.lists.types import (
    IMO_RE,
    MMSI_RE,
    MSN_RE,
    SWIFT_RE,
    TAIL_NUMBER_RE,
    ListFormatError,
    ParsedList,
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
from bot.matching.identifiers import looks_like_registration
from bot.matching.model import Entity, EntityType, Name, NameKind

EMPTY = "-0-"
CTRL_Z = "\x1a"

PRIMARY_COLUMNS = 12
ALT_COLUMNS = 5
ADD_COLUMNS = 6
COMMENT_COLUMNS = 2

TYPES = {
    "individual": EntityType.PERSON,
    "vessel": EntityType.VESSEL,
    "aircraft": EntityType.AIRCRAFT,
    "": EntityType.ORGANIZATION,
}

# One remark item is "a.k.a. 'NAME'" (sometimes "''NAME''" or "'AL-'AFRI, Abu'").
REMARK_AKA_RE = re.compile(r"^(?:alt\.\s+)?([afn])\.k\.a\.,?\s+'(.*)'\.?$")
COUNTRY_REMARK_RE = re.compile(r"^(?:alt\.\s+)?(?:nationality|citizen)\s+(.+?)\.?$")


@dataclass(frozen=True)
class OfacFiles:
    """The files of one OFAC set; only ``primary`` is required."""

    source: str
    primary: Path
    alt: Path | None = None
    add: Path | None = None
    comments: Path | None = None

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.primary, self.alt, self.add, self.comments) if p)


@dataclass
class _Row:
    """Everything known about one ``ent_num`` while the files are being joined."""

    ent_num: str
    fields: list[str]
    aliases: list[tuple[str, str, str]] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    overflow: str = ""


# ---------------------------------------------------------------------------------------------
# Finding the files of a set


def file_role(path: Path) -> tuple[str, str] | None:
    """(source, role) of an OFAC file by its name, role one of primary/alt/add/comments.

    Names may carry a suffix (``sdn_2021.csv``) but ``sdn_comments.csv`` is not a primary file.
    """
    name = path.name.lower()
    if not name.endswith(".csv"):
        return None
    stem = name[: -len(".csv")]
    source = "ofac-cons" if stem.startswith("cons") else "ofac-sdn"
    bare = stem[len("cons_") :] if stem.startswith("cons_") else stem
    if "comments" in bare:
        return source, "comments"
    for role, prefix in (("alt", "alt"), ("add", "add"), ("primary", "prim"), ("primary", "sdn")):
        if bare.startswith(prefix):
            return source, role
    return None


def _sibling(directory: Path, source: str, role: str) -> Path | None:
    """The conventional name of a set member, if that file exists beside the primary file."""
    prefix = "cons_" if source == "ofac-cons" else ""
    names = {
        "alt": f"{prefix}alt.csv",
        "add": f"{prefix}add.csv",
        "comments": "cons_comments.csv" if prefix else "sdn_comments.csv",
    }
    candidate = directory / names[role]
    return candidate if candidate.is_file() else None


def collect_sets(
    paths: Sequence[Path], roles: Mapping[Path, tuple[str, str]] | None = None
) -> list[OfacFiles]:
    """Group OFAC files (or directories holding them) into sets keyed by folder and source.

    A caller may hand over just ``sdn.csv``; its siblings are then picked up from the same
    folder, because a primary file without its aliases would lose most of the names. ``roles``
    gives (source, role) for files whose names do not say it (found by content sniffing).
    """
    members: dict[tuple[Path, str], dict[str, Path]] = defaultdict(dict)
    for path in _expand(paths):
        role = (roles or {}).get(path) or file_role(path)
        if role is None:
            raise ListFormatError(
                path,
                "not an OFAC CSV file name (expected sdn.csv, "
                "cons_prim.csv or their alt/add/comments files)",
            )
        source, kind = role
        other = members[(path.parent, source)].get(kind)
        if other is not None and other.resolve() != path.resolve():
            raise ListFormatError(path, f"two {kind} files for one OFAC set ({other.name})")
        members[(path.parent, source)][kind] = path
    return [_complete_set(folder, source, found) for (folder, source), found in members.items()]


def _expand(paths: Sequence[Path]) -> Iterator[Path]:
    """Files as given; directories replaced by their OFAC CSV files."""
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and file_role(p))
            if not found:
                raise ListFormatError(path, "directory holds no OFAC CSV files")
            yield from found
        else:
            yield path


def _complete_set(folder: Path, source: str, found: dict[str, Path]) -> OfacFiles:
    primary = found.get("primary")
    if primary is None:
        need = "cons_prim.csv" if source == "ofac-cons" else "sdn.csv"
        given = ", ".join(sorted(p.name for p in found.values()))
        raise ListFormatError(
            folder,
            f"{need} is required but missing; {given} only extend its rows "
            "with aliases, addresses and remarks",
        )
    return OfacFiles(
        source=source,
        primary=primary,
        alt=found.get("alt") or _sibling(folder, source, "alt"),
        add=found.get("add") or _sibling(folder, source, "add"),
        comments=found.get("comments") or _sibling(folder, source, "comments"),
    )


# ---------------------------------------------------------------------------------------------
# Reading the CSV files


def read_rows(path: Path, columns: int) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every row, with ``-0-`` turned into "" and Ctrl-Z dropped.

    The column count is checked on every row: a short row means a truncated or foreign file,
    and importing it would shift fields into the wrong columns. The reader is strict because
    the lenient one accepts a quoted field left open at the end of the file, which is exactly
    what a download cut short inside a remark looks like.
    """
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != columns:
                raise ListFormatError(
                    path, f"expected {columns} columns, found {len(row)}", reader.line_num
                )
            yield reader.line_num, [_clean(value) for value in row]
    except csv.Error as exc:
        raise ListFormatError(path, f"malformed CSV: {exc}", reader.line_num) from exc


def _decode(path: Path) -> str:
    text = read_utf8(path)
    complete = text.endswith((CTRL_Z, "\n"))  # OFAC's end marker, or at least a whole last row
    text = text.rstrip("\r\n" + CTRL_Z)
    if not text.strip():
        raise ListFormatError(path, "file is empty")
    if not complete:
        line = text.count("\n") + 1
        raise ListFormatError(path, "the last row has no line end: the file was cut short", line)
    if text.lstrip().startswith("<"):
        raise ListFormatError(path, "starts with '<': an HTML/XML page, not an OFAC CSV", 1)
    return text


def _clean(value: str) -> str:
    value = value.strip()
    return "" if value == EMPTY else value


def _ent_num(path: Path, line: int, value: str) -> str:
    if not value.isdigit():
        raise ListFormatError(path, f"ent_num {value!r} is not a number", line)
    return value


# ---------------------------------------------------------------------------------------------
# Building entities


def parse_ofac(
    paths: Sequence[Path], roles: Mapping[Path, tuple[str, str]] | None = None
) -> list[ParsedList]:
    """Parse every OFAC set among ``paths`` (files or folders), one ``ParsedList`` per set."""
    return [parse_set(files) for files in collect_sets(paths, roles)]


def parse_set(files: OfacFiles) -> ParsedList:
    """Join one set's files on ``ent_num`` and build its entities."""
    warnings: list[str] = []
    rows = _read_primary(files.primary)
    _join_aliases(files, rows, warnings)
    _join_addresses(files, rows, warnings)
    _join_comments(files, rows, warnings)
    entities = tuple(_entity(files.source, row) for row in rows.values())
    return ParsedList(
        source=files.source,
        version=mtime_version(files.paths),
        sha256=file_digest(files.paths),
        files=tuple(str(p) for p in sorted(files.paths, key=lambda p: p.name)),
        entities=entities,
        warnings=tuple(warnings),
    )


def _read_primary(path: Path) -> dict[str, _Row]:
    rows: dict[str, _Row] = {}
    for line, fields in read_rows(path, PRIMARY_COLUMNS):
        ent_num = _ent_num(path, line, fields[0])
        if ent_num in rows:
            raise ListFormatError(path, f"ent_num {ent_num} appears twice", line)
        if not fields[1]:
            raise ListFormatError(path, f"ent_num {ent_num} has no name", line)
        rows[ent_num] = _Row(ent_num, fields)
    if not rows:
        raise ListFormatError(path, "no rows")
    return rows


def _join_aliases(files: OfacFiles, rows: dict[str, _Row], warnings: list[str]) -> None:
    if files.alt is None:
        warnings.append(
            f"{files.primary.parent}: no alias file beside {files.primary.name}; "
            "only primary names and remark a.k.a.s are imported"
        )
        return
    orphans = 0
    for line, fields in read_rows(files.alt, ALT_COLUMNS):
        row = rows.get(_ent_num(files.alt, line, fields[0]))
        if row is None:
            orphans += 1
        elif fields[3]:
            row.aliases.append((fields[2].lower(), fields[3], fields[4].lower()))
    _warn_orphans(files.alt, orphans, "aliases", warnings)


def _join_addresses(files: OfacFiles, rows: dict[str, _Row], warnings: list[str]) -> None:
    if files.add is None:
        warnings.append(
            f"{files.primary.parent}: no address file beside {files.primary.name}; "
            "countries come from remarks and vessel flags only"
        )
        return
    orphans = 0
    for line, fields in read_rows(files.add, ADD_COLUMNS):
        row = rows.get(_ent_num(files.add, line, fields[0]))
        if row is None:
            orphans += 1
        elif fields[4]:
            row.countries.append(fields[4])
    _warn_orphans(files.add, orphans, "addresses", warnings)


def _join_comments(files: OfacFiles, rows: dict[str, _Row], warnings: list[str]) -> None:
    """Append remark overflow: OFAC cuts long remarks mid-word and continues them here."""
    if files.comments is None:
        return
    orphans = 0
    for line, fields in read_rows(files.comments, COMMENT_COLUMNS):
        row = rows.get(_ent_num(files.comments, line, fields[0]))
        if row is None:
            orphans += 1
        else:
            row.overflow += fields[1]
    _warn_orphans(files.comments, orphans, "remark continuations", warnings)


def _warn_orphans(path: Path, count: int, what: str, warnings: list[str]) -> None:
    if count:
        warnings.append(f"{path}: {count} {what} refer to an ent_num missing from the list")


def _entity(source: str, row: _Row) -> Entity:
    f = row.fields
    entity_type = TYPES.get(f[2].lower(), EntityType.OTHER)
    remarks = f[11] + row.overflow
    items = _remark_items(remarks)
    return Entity(
        key=f"{source}:{row.ent_num}",
        source=source,
        list_id=row.ent_num,
        type=entity_type,
        names=_names(f[1], entity_type, row.aliases, items),
        programs=split_programs(f[3]),
        countries=_countries(row, items),
        identifiers=_identifiers(entity_type, f[5], remarks, f[1]),
        remarks=_remarks_text(f, remarks),
    )


def split_programs(value: str) -> tuple[str, ...]:
    """``"DPRK3] [NPWMD"`` -> ``("DPRK3", "NPWMD")``: the legacy file packs tags this way."""
    return unique(p.strip(" []") for p in value.split("] ["))


def _remark_items(remarks: str) -> list[str]:
    """Remarks are ``; ``-separated items ending in a full stop."""
    return [item.strip() for item in remarks.split("; ") if item.strip()]


def _names(
    primary: str, entity_type: EntityType, aliases: list[tuple[str, str, str]], items: list[str]
) -> tuple[Name, ...]:
    person = entity_type is EntityType.PERSON
    names = [_name(primary, NameKind.PRIMARY, person)]
    for alt_type, text, alt_remarks in aliases:
        names.append(_name(text, _alias_kind(alt_type, alt_remarks, text), person))
    for text in remark_aliases(items):
        names.append(_name(text, NameKind.WEAK, person))
    return unique_names(names)


def _name(text: str, kind: NameKind, person: bool) -> Name:
    """Keep the list's spelling; for people "SURNAME, Given" also tells the engine the surname."""
    return Name(text=text, kind=kind, family=comma_family(text) if person else None)


def _alias_kind(alt_type: str, alt_remarks: str, text: str) -> NameKind:
    """aka/fka/nka are names OFAC stands behind; "weak" ones and short acronyms need support."""
    if "weak" in alt_type or "weak" in alt_remarks or is_short_acronym(text):
        return NameKind.WEAK
    return NameKind.ALIAS


def remark_aliases(items: list[str]) -> list[str]:
    """Names from ``a.k.a. 'X'`` remark items: OFAC's weak a.k.a.s in the legacy format.

    Quotes inside names (``'AL-'AFRI, Abu Salah'``, ``''FOOPIE''``) are why this works on whole
    ``;``-separated items instead of matching quote pairs.
    """
    names: list[str] = []
    for item in items:
        match = REMARK_AKA_RE.match(item)
        if match:
            text = squash(match.group(2).strip("'"))
            if any(ch.isalnum() for ch in text):
                names.append(text)
    return names


def _countries(row: _Row, items: list[str]) -> tuple[str, ...]:
    """Address countries, then "nationality X"/"citizen X" remarks, then the vessel flag."""
    names = list(row.countries)
    for item in items:
        match = COUNTRY_REMARK_RE.match(item)
        if match:
            names.append(match.group(1))
    names.append(row.fields[9])
    return unique(country_code(name) for name in names)


def _identifiers(
    entity_type: EntityType, call_sign: str, remarks: str, primary: str = ""
) -> tuple[tuple[str, str], ...]:
    """Call sign, IMO, MMSI, SWIFT/BIC, aircraft registration and serial number (MSN).

    IMO numbers on non-vessels are the owner's *company* number. OFAC names most aircraft by
    their registration ("EP-MNX", "YV3360") and a few by their serial number ("MSN 391"), so
    an aircraft's primary name is also kept as the identifier it is.
    """
    scheme = "imo" if entity_type is EntityType.VESSEL else "imo_company"
    pairs: list[tuple[str, str]] = []
    if call_sign:
        pairs.append(("call_sign", call_sign))
    pairs.extend(identifier_pairs(scheme, IMO_RE.findall(remarks)))
    pairs.extend(identifier_pairs("mmsi", MMSI_RE.findall(remarks)))
    pairs.extend(identifier_pairs("swift", SWIFT_RE.findall(remarks)))
    if entity_type is EntityType.AIRCRAFT:
        name = primary.strip().upper()
        if looks_like_registration(name):
            pairs.append(("aircraft", name))
        elif name.startswith("MSN "):
            pairs.extend(identifier_pairs("msn", [name[4:]]))
    pairs.extend(identifier_pairs("aircraft", TAIL_NUMBER_RE.findall(remarks)))
    pairs.extend(identifier_pairs("msn", MSN_RE.findall(remarks)))
    return unique_pairs(pairs)


def _remarks_text(f: list[str], remarks: str) -> str:
    """The list's remarks, prefixed with the title and vessel columns an analyst wants to see."""
    extra = [
        f"Title: {f[4]}" if f[4] else "",
        f"Vessel type: {f[6]}" if f[6] else "",
        f"Vessel flag: {f[9]}" if f[9] else "",
        f"Vessel owner: {f[10]}" if f[10] else "",
    ]
    return "; ".join([e for e in extra if e] + ([remarks] if remarks else []))
