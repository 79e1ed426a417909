"""Rule files on disk -> a validated ``RuleSet`` for the engine; errors name file, line and problem.

A rules directory holds three kinds of YAML file, told apart by ``kind``:

``kind: rules`` (the default)
    A regime or resolution family: an ``id``, ``title``, ``regime``, legal ``references``,
    inline ``parties``, named ``lists`` selections, local ``terms`` and its ``rules``.
``kind: terms``
    Term groups shared by every rule file (arms, transfer verbs, petroleum ...).
``kind: regimes``
    How list programs map to regimes (OFAC ``DPRK3`` -> ``US-DPRK``, UN ``DPRK`` ->
    ``UN-DPRK-1718``), for rules whose regime comes from the matched party.

Files under ``deprecated/`` are not loaded (withdrawn rules are kept for the record, as Sigma
does). Validation happens in two steps: pydantic checks the shape of each file (unknown keys,
wrong types, missing fields), then cross-references are checked (a condition naming an
unknown selection, a selection naming an unknown term group or party, duplicate ids). Every
error is reported as ``path:line: message`` and loading stops with ``RuleFileError`` listing
them all, so a broken rule never half-loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.matching.model import Entity, EntityType, Name, NameKind, Reference, Severity
from bot.matching.refdata import YAML_LOADER
from bot.matching.rules import (
    ConditionError,
    Example,
    ListSelector,
    Rule,
    RuleSet,
    Selection,
    names_in,
    parse_condition,
)


class RuleFileError(ValueError):
    """One or more rule files are invalid; ``problems`` holds ``path:line: message`` strings."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid rule files:\n" + "\n".join(f"  {p}" for p in self.problems))


# --- file schema -----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReferenceSpec(_Strict):
    text: str = Field(min_length=3)
    url: str = ""


class PartySpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=2)
    type: Literal["person", "organization", "vessel", "aircraft", "other"] = "organization"
    aliases: list[str] = []
    weak_aliases: list[str] = []
    family: str | None = None
    countries: list[str] = []
    programs: list[str] = []
    same_as: list[str] = []
    identifiers: dict[str, str | list[str]] = {}
    context: list[str] = []
    notes: str = ""


class ListSelectorSpec(_Strict):
    programs: list[str] = []
    sources: list[str] = []
    types: list[Literal["person", "organization", "vessel", "aircraft", "other"]] = []


class SelectionSpec(_Strict):
    countries: list[str] = []
    role: Literal["origin", "destination"] | None = None
    terms: list[str] = []
    parties: list[str] = []
    party_types: list[Literal["person", "organization", "vessel", "aircraft", "other"]] = []
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    scope: Literal["window", "document"] = "window"

    @model_validator(mode="after")
    def _one_kind(self) -> SelectionSpec:
        kinds = [k for k in ("countries", "terms", "parties") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("a selection needs exactly one of countries, terms or parties")
        if self.role and not self.countries:
            raise ValueError("role applies to countries only")
        return self

    @field_validator("countries")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if len(code) != 2 or not code.isalpha() or not code.isupper():
                raise ValueError(f"{code!r} is not an ISO 3166 alpha-2 code such as KP")
        return value


class ExamplesSpec(_Strict):
    match: list[str] = Field(min_length=1, description="texts the rule must fire on")
    no_match: list[str] = []

    @field_validator("match", "no_match")
    @classmethod
    def _texts(cls, value: list[str]) -> list[str]:
        if any(not text.strip() for text in value):
            raise ValueError("examples must not be empty strings")
        return value


class RuleSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=5)
    status: Literal["stable", "test", "experimental"] = "stable"
    severity: Severity
    regime: str | None = None
    description: str = Field(min_length=10)
    references: list[ReferenceSpec] = []
    window: int = Field(default=0, ge=0, le=5)
    selections: dict[str, SelectionSpec] = Field(min_length=1)
    condition: str
    mention: bool = False
    fallback: bool = False
    tags: list[str] = []
    falsepositives: list[str] = []
    examples: ExamplesSpec
    author: str = ""
    date: str = ""
    modified: str = ""

    @model_validator(mode="after")
    def _kinds(self) -> RuleSpec:
        if self.mention and self.fallback:
            raise ValueError("a rule is either a mention rule or a fallback rule, not both")
        return self


class RuleFileSpec(_Strict):
    kind: Literal["rules"] = "rules"
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    regime: str
    description: str = ""
    references: list[ReferenceSpec] = []
    terms: dict[str, list[str]] = {}
    parties: list[PartySpec] = []
    lists: dict[str, list[ListSelectorSpec]] = {}
    rules: list[RuleSpec] = []


class TermsFileSpec(_Strict):
    kind: Literal["terms"]
    description: str = ""
    terms: dict[str, list[str]]


class RegimeSpec(_Strict):
    source: str
    program: str
    regime: str


class RegimesFileSpec(_Strict):
    kind: Literal["regimes"]
    description: str = ""
    regimes: list[RegimeSpec]
    countries: dict[str, str] = {}


# --- YAML with line numbers ------------------------------------------------------------------


@dataclass
class _Located:
    """A parsed YAML file plus a way to find the line of any path inside it."""

    path: Path
    data: Any
    node: yaml.Node
    rule_positions: list[int] | None = None  # file positions of the rules that validated

    def line(self, location: Iterable[str | int]) -> int:
        node: yaml.Node | None = self.node
        line = node.start_mark.line + 1 if node else 1
        for key in location:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if k.value == key), None)
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(key, int)
                and key < len(node.value)
            ):
                node = node.value[key]
            else:
                break
            if node is None:
                break
            line = node.start_mark.line + 1
        return line


def _read(path: Path) -> _Located:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=YAML_LOADER)
        data = yaml.load(text, Loader=YAML_LOADER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line = mark.line + 1 if mark else 0
        raise RuleFileError([f"{path}:{line}: YAML syntax error: {error.problem}"]) from error
    if node is None or not isinstance(data, dict):
        raise RuleFileError([f"{path}:1: expected a mapping at the top level"])
    return _Located(path, data, node)


def _pydantic_problems(
    located: _Located, error: ValidationError, prefix: Sequence[str | int] = ()
) -> list[str]:
    problems = []
    for item in error.errors():
        location = [
            *prefix,
            *(
                part
                for part in item["loc"]
                if not (isinstance(part, str) and part.startswith("function-"))
            ),
        ]
        where = ".".join(str(part) for part in location) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{located.path}:{located.line(location)}: {where}: {message}")
    return problems


# --- loading ---------------------------------------------------------------------------------


def load_rules(directory: Path) -> RuleSet:
    """Load and cross-check every rule file under ``directory``."""
    paths = sorted(
        p for p in directory.rglob("*.yaml") if "deprecated" not in p.relative_to(directory).parts
    )
    if not paths:
        raise RuleFileError([f"{directory}: no rule files (*.yaml) found"])
    return load_rule_files(paths, root=directory)


def _validate_rules_file(located: _Located) -> tuple[RuleFileSpec | None, list[str]]:
    """The file's spec with every rule that is valid, and the problems of the others.

    Rules are validated one by one so that a schema error in one rule does not hide the
    condition and reference errors of the rest: a reviewer sees every problem in one run.
    """
    raw_rules = located.data.get("rules", [])
    if not isinstance(raw_rules, list):
        raw_rules = []
    problems: list[str] = []
    try:
        spec = RuleFileSpec.model_validate({**located.data, "rules": []})
    except ValidationError as error:
        problems.extend(_pydantic_problems(located, error))
        spec = None
    rules: list[RuleSpec] = []
    located.rule_positions = []
    for position, raw in enumerate(raw_rules):
        try:
            rules.append(RuleSpec.model_validate(raw))
            located.rule_positions.append(position)
        except ValidationError as error:
            problems.extend(_pydantic_problems(located, error, prefix=["rules", position]))
    if spec is None:
        return None, problems
    return spec.model_copy(update={"rules": rules}), problems


def load_rule_files(paths: Sequence[Path], root: Path | None = None) -> RuleSet:
    problems: list[str] = []
    rule_files: list[tuple[_Located, RuleFileSpec]] = []
    terms: dict[str, tuple[str, ...]] = {}
    term_origin: dict[str, str] = {}
    regimes: list[tuple[str, str, str]] = []
    country_regimes: dict[str, str] = {}
    for path in paths:
        try:
            located = _read(path)
        except RuleFileError as error:
            problems.extend(error.problems)
            continue
        kind = located.data.get("kind", "rules")
        spec_type = {"rules": RuleFileSpec, "terms": TermsFileSpec, "regimes": RegimesFileSpec}.get(
            kind
        )
        if spec_type is None:
            problems.append(
                f"{path}:{located.line(['kind'])}: kind: {kind!r} is not one of rules, terms, regimes"
            )
            continue
        if spec_type is RuleFileSpec:
            spec, found = _validate_rules_file(located)
            problems.extend(found)
            if spec is None:
                continue
        else:
            try:
                spec = spec_type.model_validate(located.data)
            except ValidationError as error:
                problems.extend(_pydantic_problems(located, error))
                continue
        if isinstance(spec, RegimesFileSpec):
            regimes.extend((r.source, r.program, r.regime) for r in spec.regimes)
            country_regimes.update(spec.countries)
            continue
        for group, words in spec.terms.items():
            if group in terms:
                problems.append(
                    f"{path}:{located.line(['terms', group])}: term group {group!r} is already defined in {term_origin[group]}"
                )
                continue
            terms[group] = tuple(words)
            term_origin[group] = str(path)
        if isinstance(spec, RuleFileSpec):
            rule_files.append((located, spec))
    builder = _Builder(terms, regimes, country_regimes)
    for located, spec in rule_files:
        builder.add_file(located, spec)
    rule_set = builder.rule_set()
    problems.extend(builder.problems)
    if problems:
        raise RuleFileError(problems)
    return rule_set


class _Builder:
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
        self._pending: list[tuple[_Located, RuleFileSpec]] = []

    def add_file(self, located: _Located, spec: RuleFileSpec) -> None:
        for position, party in enumerate(spec.parties):
            entity = _entity(spec, party)
            self.parties.append(entity)
            scoped = f"{spec.id}/{party.id}"
            if scoped in self.party_ids:
                self.problems.append(
                    f"{located.path}:{located.line(['parties', position, 'id'])}: duplicate party id {party.id!r}"
                )
            self.party_ids[scoped] = entity.key
            if party.id in self.party_ids and self.party_ids[party.id] != entity.key:
                self.ambiguous_ids.add(party.id)
            self.party_ids.setdefault(party.id, entity.key)
        for name, selectors in spec.lists.items():
            if name in self.selectors:
                self.problems.append(
                    f"{located.path}:{located.line(['lists', name])}: list selection {name!r} defined twice"
                )
            self.selectors[name] = tuple(
                ListSelector(tuple(s.programs), tuple(s.sources), tuple(s.types)) for s in selectors
            )
        self._pending.append((located, spec))

    def rule_set(self) -> RuleSet:
        for located, spec in self._pending:
            positions = located.rule_positions or list(range(len(spec.rules)))
            for position, rule in zip(positions, spec.rules):
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
        self, located: _Located, spec: RuleFileSpec, position: int, rule: RuleSpec
    ) -> Rule | None:
        where = ["rules", position]
        if rule.id in self.rule_origin:
            self.problems.append(
                f"{located.path}:{located.line([*where, 'id'])}: rule id {rule.id!r} already used in {self.rule_origin[rule.id]}"
            )
            return None
        self.rule_origin[rule.id] = str(located.path)
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
        regime = rule.regime or spec.regime
        if regime == "from-countries" and not self.country_regimes:
            self.problems.append(
                f"{located.path}:{located.line([*where, 'id'])}: regime from-countries needs a countries: map in a regimes file"
            )
            return None
        if rule.mention and len(selections) != 1:
            self.problems.append(
                f"{located.path}:{located.line(where)}: a mention rule has exactly one (parties) selection"
            )
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
            must_match=self._examples(located, [*where, "examples", "match"], rule.examples.match),
            must_not_match=self._examples(
                located, [*where, "examples", "no_match"], rule.examples.no_match
            ),
            source=str(located.path.name),
            line=located.line(where),
        )

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

    @staticmethod
    def _examples(
        located: _Located, where: list[str | int], texts: list[str]
    ) -> tuple[Example, ...]:
        return tuple(Example(text, located.line([*where, i])) for i, text in enumerate(texts))


_TYPES = {t.value: t for t in EntityType}


def _entity(spec: RuleFileSpec, party: PartySpec) -> Entity:
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
