"""Rules as data: named selections combined by a short condition, like Sigma rules.

A rule says *what combination of findings close together* is worth an analyst's attention::

    selections:
      dprk:     {countries: [KP]}
      arms:     {terms: [arms]}
      transfer: {terms: [transfer]}
    condition: dprk and arms and transfer
    window: 0          # 0 = the same sentence; 1 = this sentence or the next ...

Selections are of three kinds: ``countries`` (ISO codes, optionally a ``role``: origin or
destination), ``terms`` (term groups) and ``parties`` (inline parties of the rule file by id,
named selections of imported lists, or ``any``). A selection with ``scope: document`` is
satisfied anywhere in the article (e.g. "the article is about sanctions at all").

The condition language is ``and``, ``or``, ``not`` and parentheses over selection names;
``parse_condition`` turns it into a tree once, when the rule is loaded, and reports errors with
their position so a rule author sees what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.errors import DataError

from .model import Entity, Reference, Severity


class ConditionError(DataError):
    """A rule's condition does not parse; the message says where."""


# --- condition -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ref:
    name: str


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Condition, ...]


Condition = Ref | Not | And | Or

_TOKEN_RE = re.compile(r"\s*(\(|\)|[A-Za-z_][A-Za-z0-9_\-]*)")


def parse_condition(source: str) -> Condition:
    """Parse ``a and (b or not c)``; ``and`` binds tighter than ``or``."""
    tokens: list[tuple[str, int]] = []
    position = 0
    while position < len(source):
        if source[position:].strip() == "":
            break
        match = _TOKEN_RE.match(source, position)
        if match is None:
            raise ConditionError(
                f"unexpected character {source[position:].strip()[0]!r} at column {position + 1}"
            )
        tokens.append((match.group(1), match.start(1)))
        position = match.end()
    parser = _Parser(tokens, source)
    tree = parser.parse_or()
    if parser.index != len(tokens):
        word, column = tokens[parser.index]
        raise ConditionError(f"unexpected {word!r} at column {column + 1}")
    return tree


class _Parser:
    def __init__(self, tokens: list[tuple[str, int]], source: str) -> None:
        self.tokens = tokens
        self.source = source
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index][0].lower() if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, int]:
        if self.index >= len(self.tokens):
            raise ConditionError(f"condition {self.source!r} ends too early")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse_or(self) -> Condition:
        operands = [self.parse_and()]
        while self.peek() == "or":
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Condition:
        operands = [self.parse_not()]
        while self.peek() == "and":
            self.take()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self) -> Condition:
        if self.peek() == "not":
            self.take()
            return Not(self.parse_not())
        return self.parse_atom()

    def parse_atom(self) -> Condition:
        word, column = self.take()
        if word == "(":
            inner = self.parse_or()
            closing, closing_column = self.take()
            if closing != ")":
                raise ConditionError(
                    f"expected ')' at column {closing_column + 1}, found {closing!r}"
                )
            return inner
        if word == ")" or word.lower() in {"and", "or", "not"}:
            raise ConditionError(f"unexpected {word!r} at column {column + 1}")
        return Ref(word)


def names_in(condition: Condition) -> set[str]:
    """Selection names a condition refers to."""
    if isinstance(condition, Ref):
        return {condition.name}
    if isinstance(condition, Not):
        return names_in(condition.operand)
    return set().union(*(names_in(operand) for operand in condition.operands))


def positive_names(condition: Condition, negated: bool = False) -> set[str]:
    """Selections whose findings are evidence for the rule (not under a ``not``)."""
    if isinstance(condition, Ref):
        return set() if negated else {condition.name}
    if isinstance(condition, Not):
        return positive_names(condition.operand, not negated)
    return set().union(*(positive_names(operand, negated) for operand in condition.operands))


def required_names(condition: Condition) -> set[str]:
    """Selections the condition can never be true without (the top-level conjuncts)."""
    if isinstance(condition, Ref):
        return {condition.name}
    if isinstance(condition, And):
        return set().union(*(required_names(operand) for operand in condition.operands))
    if isinstance(condition, Or):
        return set.intersection(*(required_names(operand) for operand in condition.operands))
    return set()


def evaluate(condition: Condition, truth: Callable[[str], bool]) -> bool:
    if isinstance(condition, Ref):
        return truth(condition.name)
    if isinstance(condition, Not):
        return not evaluate(condition.operand, truth)
    if isinstance(condition, And):
        return all(evaluate(operand, truth) for operand in condition.operands)
    return any(evaluate(operand, truth) for operand in condition.operands)


# --- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListSelector:
    """A named selection of imported list entries: by program (glob) and, optionally, source."""

    programs: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Selection:
    name: str
    countries: frozenset[str] = frozenset()
    role: str | None = None
    terms: tuple[str, ...] = ()
    parties: tuple[str, ...] = ()  # inline party ids, list selection names, or "any"
    party_types: tuple[str, ...] = ()
    min_score: float = 0.0
    scope: str = "window"  # "window" | "document"

    @property
    def kind(self) -> str:
        if self.parties:
            return "parties"
        if self.countries:
            return "countries"
        return "terms"


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    regime: str  # a regime name; "from-parties" (the parties' programs); "from-countries"
    severity: Severity
    selections: Mapping[str, Selection]
    condition: Condition
    condition_text: str
    window: int = 0
    description: str = ""
    references: tuple[Reference, ...] = ()
    status: str = "stable"
    mention: bool = False  # reports listed parties not already in a possible-violation alert
    fallback: bool = False  # fires only if no more specific alert already names its parties
    tags: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    must_match: tuple[Example, ...] = ()
    must_not_match: tuple[Example, ...] = ()
    source: str = ""  # the rule file
    line: int = 0


@dataclass(frozen=True)
class RuleSet:
    """Everything the engine needs from rule files: rules, terms, inline parties, regimes."""

    rules: tuple[Rule, ...]
    terms: Mapping[str, tuple[str, ...]]
    parties: tuple[Entity, ...]
    list_selectors: Mapping[str, tuple[ListSelector, ...]]
    party_ids: Mapping[str, str] = field(
        default_factory=dict
    )  # "<file>/<id>" and "<id>" -> entity key
    regimes: tuple[tuple[str, str, str], ...] = ()  # (source glob, program glob, regime)
    country_regimes: Mapping[str, str] = field(default_factory=dict)  # ISO code -> regime
