"""Imported sanctions lists: storing a parsed list, and loading every entity for the engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlmodel import Session

from bot.lists import ParsedList
from bot.matching.model import Entity, EntityType, Name, NameKind
from db.models import EntityName, ListedEntity, ListSource, utcnow


DEFAULT_MAX_SHRINK = 0.2


class ListShrankError(ValueError):
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
    current = session.exec(select(ListSource).where(ListSource.source == parsed.source)).scalars().first()  # type: ignore[call-overload]
    if current is not None and current.sha256 == parsed.sha256:
        return ImportResult(parsed.source, parsed.version, current.entity_count, 0, 0, True)
    if current is not None and not force:
        check_shrink(parsed.source, current.entity_count, len(parsed.entities), max_shrink)
    old_keys = set(session.exec(select(ListedEntity.key).where(ListedEntity.source == parsed.source)).scalars())  # type: ignore[call-overload]
    session.exec(delete(ListedEntity).where(ListedEntity.source == parsed.source))  # type: ignore[call-overload]
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
    return ImportResult(
        parsed.source,
        parsed.version,
        len(parsed.entities),
        added=len(new_keys - old_keys),
        removed=len(old_keys - new_keys),
        unchanged=False,
    )


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
        session.execute(insert(ListedEntity), rows)
        ids = dict(
            session.execute(
                select(ListedEntity.key, ListedEntity.id).where(ListedEntity.key.in_([e.key for e in chunk]))  # type: ignore[attr-defined]
            ).all()
        )
        names = [
            {"entity_id": ids[e.key], "position": i, "name": n.text[:512], "kind": n.kind.value, "family": n.family}
            for e in chunk
            for i, n in enumerate(e.names)
        ]
        if names:
            session.execute(insert(EntityName), names)


def list_sources(*, session: Session) -> list[ListSource]:
    return list(session.exec(select(ListSource).order_by(ListSource.source)).scalars())  # type: ignore[call-overload]


def load_entities(*, session: Session) -> list[Entity]:
    """Every imported entity with its names, read with two plain queries (fast for 10^4 rows)."""
    names: dict[int, list[Name]] = defaultdict(list)
    name_rows = session.execute(
        select(EntityName.entity_id, EntityName.name, EntityName.kind, EntityName.family).order_by(
            EntityName.entity_id, EntityName.position
        )
    )
    for entity_id, text, kind, family in name_rows:
        names[entity_id].append(Name(text, NameKind(kind), family))
    entities = []
    rows = session.execute(
        select(
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
        ).order_by(ListedEntity.id)
    )
    for row_id, key, source, list_id, etype, programs, countries, identifiers, same_as, remarks in rows:
        entities.append(
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
            )
        )
    return entities


def lists_fingerprint(*, session: Session) -> str:
    """Changes whenever any list changes: the key under which a built index may be reused."""
    rows = session.execute(select(ListSource.source, ListSource.sha256).order_by(ListSource.source))
    return ";".join(f"{source}={sha}" for source, sha in rows)
