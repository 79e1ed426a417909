"""Validated rule-file specs -> the engine's ``RuleSet``, with every cross-reference checked.

Each file is valid on its own by now (``ruleschema``); what is checked here is what files say
about each other: a selection naming an unknown term group, party or list selection, a
condition naming an unknown selection, ids used twice. Problems are collected, not raised, so a
reviewer sees all of them in one run.
"""

from __future__ import annotations

from pathlib import Path

from bot.matching.model import Entity, EntityType, Name, NameKind, Reference
from bot.matching.rules import (
    Condition,
    ConditionError,
    Example,
    ListSelector,
    Rule,
    RuleSet,
    Selection,
    names_in,
    parse_condition,
)
from bot.ruleschema import PartySpec, RuleFileSpec, RuleSpec, SelectionSpec
from bot.rulesource import Located

_TYPES = {t.value: t for t in EntityType}


class RuleSetBuilder:
    """Turns validated file specs into engine objects, collecting cross-reference problems."""

    def __init__(
        self,
        terms: dict[str, tuple[str, ...]],
        regimes: list[tuple[str, str, str]],
        country_regimes: dict[str, str],
    ) -> None:
        self.terms = terms
        self.regimes = regimes
        self.country_regimes = country_regimes
        self.problems: list[str] = []
        self.rules: list[Rule] = []
        self.parties: list[Entity] = []
        self.party_ids: dict[str, str] = {}
        self.ambiguous_ids: set[str] = set()
        self.selectors: dict[str, tuple[ListSelector, ...]] = {}
        self.rule_origin: dict[str, str] = {}
        self._pending: list[tuple[Located, RuleFileSpec]] = []

    def add_file(self, located: Located, spec: RuleFileSpec) -> None:
        """Take a file's parties and list selections now; its rules wait for ``rule_set``, when
        every file's parties are known."""
        for position, party in enumerate(spec.parties):
            entity = party_entity(spec, party)
            self.parties.append(entity)
            scoped = f"{spec.id}/{party.id}"
            if scoped in self.party_ids:
                self.problems.append(
                    located.problem(["parties", position, "id"], f"duplicate party id {party.id!r}")
                )
            self.party_ids[scoped] = entity.key
            if party.id in self.party_ids and self.party_ids[party.id] != entity.key:
                self.ambiguous_ids.add(party.id)
            self.party_ids.setdefault(party.id, entity.key)
        for name, selectors in spec.lists.items():
            if name in self.selectors:
                self.problems.append(
                    located.problem(["lists", name], f"list selection {name!r} defined twice")
                )
            self.selectors[name] = tuple(
                ListSelector(tuple(s.programs), tuple(s.sources), tuple(s.types)) for s in selectors
            )
        self._pending.append((located, spec))

    def rule_set(self) -> RuleSet:
        """Every rule that could be built; ``problems`` says why the others could not."""
        for located, spec in self._pending:
            positions = located.rule_positions or list(range(len(spec.rules)))
            for position, rule in zip(positions, spec.rules, strict=True):
                built = self._rule(located, spec, position, rule)
                if built is not None:
                    self.rules.append(built)
        for ambiguous in self.ambiguous_ids:
            self.party_ids.pop(ambiguous, None)
        return RuleSet(
            rules=tuple(self.rules),
            terms=dict(self.terms),
            parties=tuple(self.parties),
            list_selectors=dict(self.selectors),
            party_ids=dict(self.party_ids),
            regimes=tuple(self.regimes),
            country_regimes=dict(self.country_regimes),
        )

    def _rule(
        self, located: Located, spec: RuleFileSpec, position: int, rule: RuleSpec
    ) -> Rule | None:
        """The engine's rule, or None once a problem says why it cannot be one."""
        where: list[str | int] = ["rules", position]
        if rule.id in self.rule_origin:
            self.problems.append(
                located.problem(
                    [*where, "id"],
                    f"rule id {rule.id!r} already used in {self.rule_origin[rule.id]}",
                )
            )
            return None
        self.rule_origin[rule.id] = str(located.path)
        selections = self._selections(located, spec, where, rule)
        condition = self._condition(located, where, rule, selections)
        regime = rule.regime or spec.regime
        if condition is None or not self._fits(located, where, rule, regime, selections):
            return None
        return Rule(
            id=rule.id,
            title=rule.title,
            regime=regime,
            severity=rule.severity,
            selections=selections,
            condition=condition,
            condition_text=rule.condition,
            window=rule.window,
            description=rule.description.strip(),
            references=tuple(
                Reference(r.text, r.url) for r in (rule.references or spec.references)
            ),
            status=rule.status,
            mention=rule.mention,
            fallback=rule.fallback,
            tags=tuple(rule.tags),
            falsepositives=tuple(rule.falsepositives),
            must_match=_examples(located, [*where, "examples", "match"], rule.examples.match),
            must_not_match=_examples(
                located, [*where, "examples", "no_match"], rule.examples.no_match
            ),
            source=str(located.path.name),
            line=located.line(where),
        )

    def _selections(
        self, located: Located, spec: RuleFileSpec, where: list[str | int], rule: RuleSpec
    ) -> dict[str, Selection]:
        selections = {}
        for name, selection in rule.selections.items():
            line = located.line([*where, "selections", name])
            self._check_selection(located.path, line, spec, name, selection)
            selections[name] = Selection(
                name=name,
                countries=frozenset(selection.countries),
                role=selection.role,
                terms=tuple(selection.terms),
                parties=tuple(self._party_ref(spec, ref) for ref in selection.parties),
                party_types=tuple(selection.party_types),
                min_score=selection.min_score,
                scope=selection.scope,
            )
        return selections

    def _condition(
        self,
        located: Located,
        where: list[str | int],
        rule: RuleSpec,
        selections: dict[str, Selection],
    ) -> Condition | None:
        """The parsed condition, naming only the rule's own selections."""
        line = located.line([*where, "condition"])
        try:
            condition = parse_condition(rule.condition)
        except ConditionError as error:
            self.problems.append(f"{located.path}:{line}: condition: {error}")
            return None
        unknown = names_in(condition) - set(selections)
        if unknown:
            self.problems.append(
                f"{located.path}:{line}: condition names unknown selection(s): {', '.join(sorted(unknown))}"
            )
            return None
        return condition

    def _fits(
        self,
        located: Located,
        where: list[str | int],
        rule: RuleSpec,
        regime: str,
        selections: dict[str, Selection],
    ) -> bool:
        """Whether the rule's regime and kind can work: a regime read from countries needs the
        country map, and a mention rule reports the parties of exactly one selection."""
        if regime == "from-countries" and not self.country_regimes:
            self.problems.append(
                located.problem(
                    [*where, "id"],
                    "regime from-countries needs a countries: map in a regimes file",
                )
            )
            return False
        if rule.mention and len(selections) != 1:
            self.problems.append(
                located.problem(where, "a mention rule has exactly one (parties) selection")
            )
            return False
        return True

    def _check_selection(
        self, path: Path, line: int, spec: RuleFileSpec, name: str, selection: SelectionSpec
    ) -> None:
        for group in selection.terms:
            if group not in self.terms:
                self.problems.append(
                    f"{path}:{line}: selection {name!r}: unknown term group {group!r}"
                )
        for ref in selection.parties:
            if ref == "any" or ref in self.selectors:
                continue
            if f"{spec.id}/{ref}" in self.party_ids or (
                ref in self.party_ids and ref not in self.ambiguous_ids
            ):
                continue
            if "/" in ref and ref in self.party_ids:
                continue
            self.problems.append(
                f"{path}:{line}: selection {name!r}: unknown party or list selection {ref!r}"
            )

    def _party_ref(self, spec: RuleFileSpec, ref: str) -> str:
        """Party references are resolved within the file first, then globally."""
        scoped = f"{spec.id}/{ref}"
        return scoped if scoped in self.party_ids else ref


def _examples(located: Located, where: list[str | int], texts: list[str]) -> tuple[Example, ...]:
    return tuple(Example(text, located.line([*where, i])) for i, text in enumerate(texts))


def party_entity(spec: RuleFileSpec, party: PartySpec) -> Entity:
    """A rule file's own party as the engine's entity, keyed ``rules:<file id>/<party id>``."""
    names = [Name(party.name, NameKind.PRIMARY, party.family)]
    names += [
        Name(alias, NameKind.ALIAS, party.family if party.type == "person" else None)
        for alias in party.aliases
    ]
    names += [Name(alias, NameKind.WEAK) for alias in party.weak_aliases]
    identifiers = []
    for scheme, values in party.identifiers.items():
        for value in [values] if isinstance(values, str) else values:
            identifiers.append((scheme, str(value)))
    return Entity(
        key=f"rules:{spec.id}/{party.id}",
        source=f"rules:{spec.id}",
        list_id=party.id,
        type=_TYPES[party.type],
        names=tuple(names),
        programs=tuple(party.programs or [spec.regime]),
        countries=tuple(party.countries),
        identifiers=tuple(identifiers),
        same_as=tuple(party.same_as),
        remarks=party.notes,
        context=tuple(party.context),
    )
