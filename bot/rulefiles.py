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
wrong types, missing fields: ``ruleschema``), then cross-references are checked (a condition
naming an unknown selection, a selection naming an unknown term group or party, duplicate ids:
``rulebuilder``). Every error is reported as ``path:line: message`` (``rulesource``) and
loading stops with ``RuleFileError`` listing them all, so a broken rule never half-loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.errors import DataError
from bot.matching.refdata import YAML_LOADER
from bot.matching.rules import RuleSet
from bot.rulebuilder import RuleSetBuilder
from bot.ruleschema import RegimesFileSpec, RuleFileSpec, RuleSpec, TermsFileSpec
from bot.rulesource import Located, pydantic_problems


class RuleFileError(DataError):
    """One or more rule files are invalid; ``problems`` holds ``path:line: message`` strings."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid rule files:\n" + "\n".join(f"  {p}" for p in self.problems))


_FileSpec = RuleFileSpec | TermsFileSpec | RegimesFileSpec
_SPEC_TYPES: dict[str, type[_FileSpec]] = {
    "rules": RuleFileSpec,
    "terms": TermsFileSpec,
    "regimes": RegimesFileSpec,
}


def load_rules(directory: Path) -> RuleSet:
    """Load and cross-check every rule file under ``directory``."""
    paths = sorted(
        p for p in directory.rglob("*.yaml") if "deprecated" not in p.relative_to(directory).parts
    )
    if not paths:
        raise RuleFileError([f"{directory}: no rule files (*.yaml) found"])
    return load_rule_files(paths, root=directory)


def load_rule_files(paths: Sequence[Path], root: Path | None = None) -> RuleSet:
    """Load and cross-check ``paths``; every problem of every file is reported at once."""
    problems: list[str] = []
    rule_files: list[tuple[Located, RuleFileSpec]] = []
    terms: dict[str, tuple[str, ...]] = {}
    term_origin: dict[str, str] = {}
    regimes: list[tuple[str, str, str]] = []
    country_regimes: dict[str, str] = {}
    for path in paths:
        read = _read_spec(path, problems)
        if read is None:
            continue
        located, spec = read
        if isinstance(spec, RegimesFileSpec):
            regimes.extend((r.source, r.program, r.regime) for r in spec.regimes)
            country_regimes.update(spec.countries)
            continue
        for group, words in spec.terms.items():
            if group in terms:
                problems.append(
                    located.problem(
                        ["terms", group],
                        f"term group {group!r} is already defined in {term_origin[group]}",
                    )
                )
                continue
            terms[group] = tuple(words)
            term_origin[group] = str(path)
        if isinstance(spec, RuleFileSpec):
            rule_files.append((located, spec))
    builder = RuleSetBuilder(terms, regimes, country_regimes)
    for located, spec in rule_files:
        builder.add_file(located, spec)
    rule_set = builder.rule_set()
    problems.extend(builder.problems)
    if problems:
        raise RuleFileError(problems)
    return rule_set


def _read_spec(path: Path, problems: list[str]) -> tuple[Located, _FileSpec] | None:
    """The file and its validated spec, or None with its problems added to ``problems``."""
    try:
        located = _read(path)
    except RuleFileError as error:
        problems.extend(error.problems)
        return None
    kind = located.data.get("kind", "rules")
    spec_type = _SPEC_TYPES.get(kind)
    if spec_type is None:
        problems.append(
            located.problem(["kind"], f"kind: {kind!r} is not one of rules, terms, regimes")
        )
        return None
    spec: _FileSpec | None
    if spec_type is RuleFileSpec:
        spec, found = _validate_rules_file(located)
        problems.extend(found)
    else:
        try:
            spec = spec_type.model_validate(located.data)
        except ValidationError as error:
            problems.extend(pydantic_problems(located, error))
            return None
    return None if spec is None else (located, spec)


def _read(path: Path) -> Located:
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
    return Located(path, data, node)


def _validate_rules_file(located: Located) -> tuple[RuleFileSpec | None, list[str]]:
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
        problems.extend(pydantic_problems(located, error))
        spec = None
    rules: list[RuleSpec] = []
    located.rule_positions = []
    for position, raw in enumerate(raw_rules):
        try:
            rules.append(RuleSpec.model_validate(raw))
            located.rule_positions.append(position)
        except ValidationError as error:
            problems.extend(pydantic_problems(located, error, prefix=["rules", position]))
    if spec is None:
        return None, problems
    return spec.model_copy(update={"rules": rules}), problems
