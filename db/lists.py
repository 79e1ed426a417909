"""Imported sanctions lists: storing a parsed list, and loading every entity for the engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, delete, func, insert, select

from bot.domain.lists import ParsedList
from bot.errors import DataError
from bot.matching.engine import collector_paused
from bot.matching.model import Entity, EntityType, Name, NameKind
from db.models import EntityName, ListedEntity, ListSource, ListSync, utcnow
from db.queries import select_columns

DEFAULT_MAX_SHRINK = 0.2


class ListShrankError(DataError):
    """A new version that would drop too many of a source's entities: refused, old one kept.

    Truncation is the most common way a download fails, and a cut file can still be
    well-formed (a JSON-lines file cut at a line end, a CSV cut at a row end). Comparing
    with the version in force catches what no parser can see.
    """

    def __init__(self, source: str, old: int, new: int, max_shrink: float) -> None:
        self.source, self.old, self.new, self.max_shrink = source, old, new, max_shrink
        lost = 1 - new / old if old else 0.0
        super().__init__(
            f"{source}: the new version has {new:,} entities where the one in force has {old:,} "
            f"({lost:.0%} fewer, more than the {max_shrink:.0%} allowed): refused, the previous "
            "version is kept. A truncated download? If the list really shrank, import it again "
            "with --force (or raise LIST_MAX_SHRINK)."
        )


@dataclass(frozen=True)
class ImportResult:
    source: str
    version: str
    entities: int
    added: int
    removed: int
    unchanged: bool
    changed_keys: frozenset[str] = (
        frozenset()
    )  # new entries and entries with new names or identifiers
    added_keys: frozenset[str] = frozenset()  # new entries only


def import_list(
    *,
    session: Session,
    parsed: ParsedList,
    max_shrink: float = DEFAULT_MAX_SHRINK,
    force: bool = False,
) -> ImportResult:
    """Replace a source's entities with a newly parsed list; same bytes again changes nothing.

    The whole replacement happens in the caller's transaction, so a failed import leaves the
    previous list in place rather than half a list. A version that loses more than
    ``max_shrink`` of the entities in force is refused unless ``force``: every door that
    replaces a list (import, sync) goes through here, so none can skip the guard.
    """
    current = session.exec(select(ListSource).where(ListSource.source == parsed.source)).first()
    if current is not None and current.sha256 == parsed.sha256:
        return ImportResult(parsed.source, parsed.version, current.entity_count, 0, 0, True)
    if current is not None and not force:
        check_shrink(parsed.source, current.entity_count, len(parsed.entities), max_shrink)
    old = _fingerprints(session, parsed.source)
    old_keys = set(old)
    session.exec(delete(ListedEntity).where(col(ListedEntity.source) == parsed.source))
    session.flush()
    _add_entities(session, parsed.entities)
    if current is None:
        current = ListSource(source=parsed.source, version=parsed.version, sha256=parsed.sha256)
    current.version = parsed.version
    current.sha256 = parsed.sha256
    current.files = list(parsed.files)
    current.warnings = list(parsed.warnings)[:200]
    current.entity_count = len(parsed.entities)
    current.imported_at = utcnow()
    session.add(current)
    session.flush()
    new_keys = {entity.key for entity in parsed.entities}
    changed = frozenset(e.key for e in parsed.entities if old.get(e.key) != _fingerprint_of(e))
    return ImportResult(
        parsed.source,
        parsed.version,
        len(parsed.entities),
        added=len(new_keys - old_keys),
        removed=len(old_keys - new_keys),
        unchanged=False,
        changed_keys=changed,
        added_keys=frozenset(new_keys - old_keys),
    )


def _fingerprint_of(entity: Entity) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """What a re-screen cares about: the names (as stored, cut to the column) and identifiers."""
    return frozenset(n.text[:512] for n in entity.names), frozenset(
        (scheme, value) for scheme, value in entity.identifiers
    )


def _fingerprints(
    session: Session, source: str
) -> dict[str, tuple[frozenset[str], frozenset[tuple[str, str]]]]:
    """Each stored entity of a source by key, with its names and identifiers."""
    names: dict[int, set[str]] = defaultdict(set)
    rows = session.exec(
        select(EntityName.entity_id, EntityName.name)
        .join(ListedEntity, col(ListedEntity.id) == EntityName.entity_id)
        .where(ListedEntity.source == source)
    )
    for entity_id, name in rows:
        names[entity_id].add(name)
    entities = session.exec(
        select(ListedEntity.id, ListedEntity.key, ListedEntity.identifiers).where(
            ListedEntity.source == source
        )
    )
    return {
        key: (
            frozenset(names.get(row_id or 0, ())),
            frozenset((scheme, value) for scheme, value in identifiers),
        )
        for row_id, key, identifiers in entities
    }


def check_shrink(source: str, old: int, new: int, max_shrink: float) -> None:
    """Raise ``ListShrankError`` when ``new`` is below ``old`` by more than ``max_shrink``."""
    if old and new < old * (1 - max_shrink):
        raise ListShrankError(source, old, new, max_shrink)


def _add_entities(session: Session, entities: Sequence[Entity]) -> None:
    """Bulk insert: tens of thousands of rows in a few statements, not one round trip each."""
    for start in range(0, len(entities), 2000):
        chunk = entities[start : start + 2000]
        rows = [
            {
                "key": e.key,
                "source": e.source,
                "list_id": e.list_id,
                "type": e.type.value,
                "caption": e.caption[:512],
                "programs": list(e.programs),
                "countries": list(e.countries),
                "identifiers": [list(pair) for pair in e.identifiers],
                "same_as": list(e.same_as),
                "remarks": e.remarks,
            }
            for e in chunk
        ]
        session.exec(insert(ListedEntity), params=rows)
        ids = dict(
            session.exec(
                select(ListedEntity.key, ListedEntity.id).where(
                    col(ListedEntity.key).in_([e.key for e in chunk])
                )
            ).all()
        )
        names = [
            {
                "entity_id": ids[e.key],
                "position": i,
                "name": n.text[:512],
                "kind": n.kind.value,
                "family": n.family,
            }
            for e in chunk
            for i, n in enumerate(e.names)
        ]
        if names:
            session.exec(insert(EntityName), params=names)


def list_sources(*, session: Session) -> list[ListSource]:
    return list(session.exec(select(ListSource).order_by(col(ListSource.source))))


def load_entities(*, session: Session) -> list[Entity]:
    """Every imported entity with its names, read with two plain queries (fast for 10^4 rows)."""
    with collector_paused():  # tens of thousands of long-lived objects: see the engine's build
        return _load_entities(session)


def _load_entities(session: Session) -> list[Entity]:
    names = _names_by_entity(session)
    versions = {
        source: f"{version}/{sha[:8]}"
        for source, version, sha in session.exec(
            select(ListSource.source, ListSource.version, ListSource.sha256)
        )
    }
    rows = session.exec(
        select_columns(
            ListedEntity.id,
            ListedEntity.key,
            ListedEntity.source,
            ListedEntity.list_id,
            ListedEntity.type,
            ListedEntity.programs,
            ListedEntity.countries,
            ListedEntity.identifiers,
            ListedEntity.same_as,
            ListedEntity.remarks,
        ).order_by(col(ListedEntity.id))
    )
    return [
        Entity(
            key=key,
            source=source,
            list_id=list_id,
            type=EntityType(etype),
            names=tuple(names.get(row_id, ())),
            programs=tuple(programs),
            countries=tuple(countries),
            identifiers=tuple((scheme, value) for scheme, value in identifiers),
            same_as=tuple(same_as),
            remarks=remarks,
            version=versions.get(source, ""),
        )
        for (
            row_id,
            key,
            source,
            list_id,
            etype,
            programs,
            countries,
            identifiers,
            same_as,
            remarks,
        ) in rows
    ]


def _names_by_entity(session: Session) -> dict[int, list[Name]]:
    """Entity row id -> its names, in their order."""
    names: dict[int, list[Name]] = defaultdict(list)
    name_rows = session.exec(
        select(EntityName.entity_id, EntityName.name, EntityName.kind, EntityName.family).order_by(
            col(EntityName.entity_id), col(EntityName.position)
        )
    )
    for entity_id, text, kind, family in name_rows:
        names[entity_id].append(Name(text, NameKind(kind), family))
    return names


def lists_fingerprint(*, session: Session) -> str:
    """Changes whenever any list changes: the key under which a built index may be reused."""
    rows = session.exec(
        select(ListSource.source, ListSource.sha256).order_by(col(ListSource.source))
    )
    return ";".join(f"{source}={sha}" for source, sha in rows)


# --- sync state ---------------------------------------------------------------------------------


def sync_state(*, session: Session, source: str) -> ListSync:
    """The source's sync record (a new, unsaved one before its first sync)."""
    found = session.exec(select(ListSync).where(ListSync.source == source)).first()
    return found if found is not None else ListSync(source=source)


def record_sync(
    *,
    session: Session,
    source: str,
    error: str = "",
    validators: dict[str, dict[str, str]] | None = None,
    body_sha256: str | None = None,
    changed: bool = False,
) -> None:
    """Write one attempt's outcome: a success keeps the new validators and hash and clears the
    error; a failure keeps everything of the last good sync and records why."""
    state = sync_state(session=session, source=source)
    now = utcnow()
    state.last_attempt_at = now
    if error:
        state.last_error, state.last_error_at = error[:4000], now
    else:
        state.last_error = ""
        state.last_success_at = now
        if validators is not None:
            state.validators = validators
        if body_sha256 is not None:
            state.body_sha256 = body_sha256
        if changed:
            state.last_change_at = now
    session.add(state)
    session.flush()


@dataclass(frozen=True)
class ListStatus:
    """One line of ``lists status``: the list in force and its last sync."""

    source: str
    version: str
    entities: int
    names: int
    imported_at: datetime | None
    last_sync: datetime | None
    last_error: str
    last_error_at: datetime | None

    def as_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "version": self.version,
            "entities": self.entities,
            "names": self.names,
            "imported_at": _iso(self.imported_at),
            "last_sync": _iso(self.last_sync),
            "last_error": self.last_error or None,
            "last_error_at": _iso(self.last_error_at),
        }


def list_status(*, session: Session, sources: Sequence[str] = ()) -> list[ListStatus]:
    """Every list in force or configured (``sources``), with its counts and its last sync."""
    in_force = {row.source: row for row in list_sources(session=session)}
    syncs = {row.source: row for row in session.exec(select(ListSync))}
    names = dict(
        session.exec(
            select(ListedEntity.source, func.count(col(EntityName.id)))
            .join(EntityName, col(EntityName.entity_id) == ListedEntity.id)
            .group_by(col(ListedEntity.source))
        ).all()
    )
    result = []
    for source in sorted(set(in_force) | set(syncs) | set(sources)):
        listed, sync = in_force.get(source), syncs.get(source)
        result.append(
            ListStatus(
                source=source,
                version=listed.version if listed else "",
                entities=listed.entity_count if listed else 0,
                names=int(names.get(source, 0)),
                imported_at=listed.imported_at if listed else None,
                last_sync=sync.last_success_at if sync else None,
                last_error=sync.last_error if sync else "",
                last_error_at=sync.last_error_at if sync else None,
            )
        )
    return result


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
