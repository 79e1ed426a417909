"""The engine's vocabulary: listed parties going in, explained alerts coming out.

Everything here is a frozen dataclass so that an index or a rule set built once can be
shared between threads and articles without anyone changing it under another's feet.
Adapters (list parsers, rule-file loader, database, Telegram) convert to and from these
types; the engine never sees a database row or a YAML node.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class EntityType(StrEnum):
    """What kind of party a listed entity is; it decides which context makes a match trustworthy."""

    PERSON = "person"
    ORGANIZATION = "organization"
    VESSEL = "vessel"
    AIRCRAFT = "aircraft"
    OTHER = "other"


class NameKind(StrEnum):
    """How much a listed name can be trusted on its own.

    ``PRIMARY`` and ``ALIAS`` are names the list gives with confidence. ``WEAK`` names
    (OFAC's "weak aka", the UN's "Low" quality aliases, acronyms and very short names) only count
    when the article supports them with other evidence.
    """

    PRIMARY = "primary"
    ALIAS = "alias"
    WEAK = "weak"


class Severity(StrEnum):
    """``HIGH``/``MEDIUM`` mean a possible violation; ``LOW``/``INFO`` a listed party merely mentioned."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @property
    def is_violation(self) -> bool:
        return self in (Severity.HIGH, Severity.MEDIUM)


_SEVERITY_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}


class PickledByFields:
    """Pickled as a call of the class with its field values, for the frozen dataclasses a
    built index holds by the hundred thousand (names, their words, entities).

    A frozen dataclass with slots is otherwise unpickled by ``dataclasses``' own
    ``__setstate__``, which looks up the class's fields anew for every object: that was half
    of reading a cached matcher (``bot.matchercache``) at every command's start.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return type(self), tuple(map(self.__getattribute__, _field_names(type(self))))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclass -> its fields, in order


def _field_names(cls: Any) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


@dataclass(frozen=True, slots=True)
class Name(PickledByFields):
    """One way a list writes a party's name.

    ``family`` is set for people when the source says which part is the surname (OFAC's
    "SURNAME, Given" form, the UN's first-name field for Korean names); the engine uses it to
    accept "surname + given name" in any order but never a lone given name.
    """

    text: str
    kind: NameKind = NameKind.ALIAS
    family: str | None = None


@dataclass(frozen=True, slots=True)
class Entity(PickledByFields):
    """A listed party: from an imported sanctions list or written inline in a rule file.

    ``key`` is unique across sources (``"ofac-sdn:22543"``, ``"un:KPe.001"``,
    ``"rules:russia-wagner/wagner-group"``). ``programs`` are the list's own program tags
    (OFAC ``DPRK3``, the UN ``UN_LIST_TYPE`` such as ``DPRK``) and decide which regime an alert
    about the party belongs to. ``same_as`` links a rule-file entity to list entries describing
    the same party, so one party is reported once.
    """

    key: str
    source: str
    list_id: str
    type: EntityType
    names: tuple[Name, ...]
    programs: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    identifiers: tuple[tuple[str, str], ...] = ()
    same_as: tuple[str, ...] = ()
    remarks: str = ""
    context: tuple[str, ...] = ()  # words that, next to a name, say the text means this party
    version: str = (
        ""  # the list version it was read from ("2026-12-01/3f9a0c1e"); "" for rule files
    )

    @property
    def caption(self) -> str:
        return self.names[0].text if self.names else self.list_id


@dataclass(frozen=True, slots=True)
class Span:
    """Character offsets into the scanned text, end exclusive."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Feature:
    """One reason a score went up or down, shown to the analyst as-is."""

    name: str
    value: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class EntityMatch:
    """A listed party found in the text, with the name variant that matched and why."""

    entity: Entity
    name: Name
    matched: str
    span: Span
    sentence: int
    score: float
    features: tuple[Feature, ...] = ()


@dataclass(frozen=True, slots=True)
class CountryMention:
    """A country named in the text (name, code, demonym or capital) and, if the text says, its role."""

    code: str
    matched: str
    span: Span
    sentence: int
    form: str  # "name" | "code" | "demonym" | "capital" | "port"
    role: str | None = None  # "origin" | "destination" | None


@dataclass(frozen=True, slots=True)
class TermMatch:
    """A word from a rule's term group (arms, petroleum, ship-to-ship ...)."""

    group: str
    term: str
    matched: str
    span: Span
    sentence: int


@dataclass(frozen=True, slots=True)
class Reference:
    """A legal reference: ``text`` is what analysts cite ("UNSCR 1718 (2006), para 8")."""

    text: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class Evidence:
    """A sentence that made the rule fire, with offsets into the scanned text."""

    text: str
    start: int
    end: int
    highlights: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule that fired on a text, with everything needed to judge it without rereading."""

    rule_id: str
    title: str
    severity: Severity
    score: float
    regime: str
    references: tuple[Reference, ...]
    entities: tuple[EntityMatch, ...]
    countries: tuple[CountryMention, ...]
    terms: tuple[TermMatch, ...]
    evidence: tuple[Evidence, ...]
    explanation: tuple[str, ...] = ()
    source: str = ""  # the rule file the rule came from
    evidence_parties: int = 0  # the first N entities are named in the evidence itself
    signals: tuple[Feature, ...] = ()  # the scorer's inputs (``scorer.SIGNAL_NAMES``), 0..1
    scoring: tuple[Feature, ...] = ()  # each signal's contribution to the scorer's log-odds


@dataclass(frozen=True, slots=True)
class Document:
    """A text to scan: an article's title and body. Title and body are scanned as one text."""

    text: str
    title: str = ""
    meta: dict[str, str] = field(default_factory=dict)
