"""Finding the files of an OFAC set: the primary file and its alias, address and comment
files, by their conventional names.

A caller may hand over just ``sdn.csv`` or a folder; the set is completed from the same folder,
because a primary file without its aliases would lose most of the names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.lists.types import ListFormatError


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
