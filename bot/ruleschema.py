"""The shape of a rule file, checked by pydantic before anything is built from it.

Unknown keys, wrong types and missing fields are refused here, file by file, so that a typo in
a rule ("windwo: 1") is an error naming its line instead of a silently ignored key. What one
file refers to in another (term groups, parties, list selections) is checked afterwards, by
``rulebuilder``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.matching.model import Severity

PartyType = Literal["person", "organization", "vessel", "aircraft", "other"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReferenceSpec(_Strict):
    text: str = Field(min_length=3)
    url: str = ""


class PartySpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=2)
    type: PartyType = "organization"
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
    types: list[PartyType] = []


class SelectionSpec(_Strict):
    countries: list[str] = []
    role: Literal["origin", "destination"] | None = None
    terms: list[str] = []
    parties: list[str] = []
    party_types: list[PartyType] = []
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
