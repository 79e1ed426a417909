"""OFAC's legacy CSV lists: the SDN set (``sdn.csv``) and the consolidated non-SDN set
(``cons_prim.csv``), each with its alias, address and comment files joined on ``ent_num``.

The legacy format is used because it is small and stable; its quirks are handled here so that
nothing downstream sees them: ``-0- `` for empty fields, CRLF line ends, a trailing Ctrl-Z,
programs packed as ``DPRK3] [NPWMD``, remarks longer than the column overflowing into
``sdn_comments.csv``, and OFAC's *weak* a.k.a.s, which the legacy files only carry inside the
remarks (``a.k.a. 'BNC'.``), never in ``alt.csv``.

Finding a set's files is ``ofacfiles``, reading them ``ofaccsv``, and turning a joined row into
an entity ``ofacentity``; this module joins the files of a set on ``ent_num``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.domain.lists import ParsedList
from bot.lists.ofaccsv import (
    ADD_COLUMNS,
    ALT_COLUMNS,
    COMMENT_COLUMNS,
    PRIMARY_COLUMNS,
    ent_num,
    read_rows,
)
from bot.lists.ofacentity import Row, row_entity, split_programs
from bot.lists.ofacfiles import OfacFiles, collect_sets, file_role
from bot.lists.types import ListFormatError, file_digest, mtime_version

# Format detection and the tests import these from here.
__all__ = ["PRIMARY_COLUMNS", "file_role", "parse_ofac", "parse_set", "split_programs"]


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
    entities = tuple(row_entity(files.source, row) for row in rows.values())
    return ParsedList(
        source=files.source,
        version=mtime_version(files.paths),
        sha256=file_digest(files.paths),
        files=tuple(str(p) for p in sorted(files.paths, key=lambda p: p.name)),
        entities=entities,
        warnings=tuple(warnings),
    )


def _read_primary(path: Path) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for line, fields in read_rows(path, PRIMARY_COLUMNS):
        number = ent_num(path, line, fields[0])
        if number in rows:
            raise ListFormatError(path, f"ent_num {number} appears twice", line)
        if not fields[1]:
            raise ListFormatError(path, f"ent_num {number} has no name", line)
        rows[number] = Row(number, fields)
    if not rows:
        raise ListFormatError(path, "no rows")
    return rows


def _join_aliases(files: OfacFiles, rows: dict[str, Row], warnings: list[str]) -> None:
    if files.alt is None:
        warnings.append(
            f"{files.primary.parent}: no alias file beside {files.primary.name}; "
            "only primary names and remark a.k.a.s are imported"
        )
        return
    orphans = 0
    for line, fields in read_rows(files.alt, ALT_COLUMNS):
        row = rows.get(ent_num(files.alt, line, fields[0]))
        if row is None:
            orphans += 1
        elif fields[3]:
            row.aliases.append((fields[2].lower(), fields[3], fields[4].lower()))
    _warn_orphans(files.alt, orphans, "aliases", warnings)


def _join_addresses(files: OfacFiles, rows: dict[str, Row], warnings: list[str]) -> None:
    if files.add is None:
        warnings.append(
            f"{files.primary.parent}: no address file beside {files.primary.name}; "
            "countries come from remarks and vessel flags only"
        )
        return
    orphans = 0
    for line, fields in read_rows(files.add, ADD_COLUMNS):
        row = rows.get(ent_num(files.add, line, fields[0]))
        if row is None:
            orphans += 1
        elif fields[4]:
            row.countries.append(fields[4])
    _warn_orphans(files.add, orphans, "addresses", warnings)


def _join_comments(files: OfacFiles, rows: dict[str, Row], warnings: list[str]) -> None:
    """Append remark overflow: OFAC cuts long remarks mid-word and continues them here."""
    if files.comments is None:
        return
    orphans = 0
    for line, fields in read_rows(files.comments, COMMENT_COLUMNS):
        row = rows.get(ent_num(files.comments, line, fields[0]))
        if row is None:
            orphans += 1
        else:
            row.overflow += fields[1]
    _warn_orphans(files.comments, orphans, "remark continuations", warnings)


def _warn_orphans(path: Path, count: int, what: str, warnings: list[str]) -> None:
    if count:
        warnings.append(f"{path}: {count} {what} refer to an ent_num missing from the list")
