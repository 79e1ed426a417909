"""Parties listed by several sources, merged into one group so an article names each once.

A rule file's Wagner Group and the OFAC entry for PMC Wagner are one party: entities say so
through ``Entity.same_as``, and every name of every member points at the same group.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from .model import Entity, EntityType
from .refdata import program_countries


@dataclass
class EntityGroup:
    """One real-world party, possibly listed by several sources.

    Members are fixed once the index is built, so the derived sets are computed once.
    """

    gid: int
    entity: Entity  # the one reported: a list entry when there is one
    members: list[Entity] = field(default_factory=list)

    @cached_property
    def keys(self) -> frozenset[str]:
        return frozenset(member.key for member in self.members)

    @cached_property
    def programs(self) -> frozenset[str]:
        return frozenset(p for member in self.members for p in member.programs)

    @cached_property
    def countries(self) -> frozenset[str]:
        return frozenset(c for member in self.members for c in member.countries)

    @cached_property
    def linked_countries(self) -> frozenset[str]:
        """Its own countries and those its sanctions programs are about."""
        linked = {
            c for member in self.members for p in member.programs for c in program_countries(p)
        }
        return self.countries | linked

    @cached_property
    def context(self) -> frozenset[str]:
        return frozenset(word.lower() for member in self.members for word in member.context)

    @property
    def type(self) -> EntityType:
        return self.entity.type


def group_entities(entities: list[Entity]) -> tuple[list[EntityGroup], dict[str, int]]:
    """Union entities that say they are the same party; list entries are reported first.

    Returns the groups by gid and the gid of every entity key.
    """
    parent = {entity.key: entity.key for entity in entities}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for entity in entities:
        for other in entity.same_as:
            if other in parent:
                parent[find(entity.key)] = find(other)
    by_root: dict[str, list[Entity]] = defaultdict(list)
    for entity in entities:
        by_root[find(entity.key)].append(entity)
    groups: list[EntityGroup] = []
    group_of: dict[str, int] = {}
    for members in by_root.values():
        members.sort(key=lambda e: (e.source.startswith("rules"), e.key))
        group = EntityGroup(gid=len(groups), entity=members[0], members=members)
        groups.append(group)
        for member in members:
            group_of[member.key] = group.gid
    return groups, group_of
