"""Recall of listed names under misspelling: scan every variant sentence, count who is found.

The measuring half of ``bot.variants``: a variant counts as found when the engine reports a
party whose group holds the entity the name belongs to. Results are kept per kind and per
entity type, with a few misses of each kind for a reviewer to read. ``given_exact`` counts only
names that are found when spelt as listed: names of ordinary words ("Red Hand Defenders")
need support from the article that a neutral sentence does not give, whatever the spelling,
and would hide what typos cost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.matching.engine import Matcher
from bot.matching.model import Document, Entity
from bot.variants import KINDS, ONE_EDIT_KINDS, Variant, variants

MISSES_KEPT = 5


@dataclass
class Tally:
    found: int = 0
    total: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.total if self.total else 1.0


@dataclass
class NameRecall:
    by_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_kind_type: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    given_exact: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    misses: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, variant: Variant, found: bool, exact_found: bool) -> None:
        """``exact_found``: whether the same name spelt as listed was found in the same sentence."""
        tallies = [
            self.by_kind[variant.kind],
            self.by_kind_type[(variant.kind, variant.entity_type.value)],
        ]
        if exact_found:
            tallies.append(self.given_exact[variant.kind])
        for tally in tallies:
            tally.total += 1
            tally.found += found
        if exact_found and not found and len(self.misses[variant.kind]) < MISSES_KEPT:
            self.misses[variant.kind].append(
                f"{variant.written} (listed {variant.listed}, {variant.entity_key})"
            )

    def one_edit(self, tallies: dict[str, Tally] | None = None) -> Tally:
        """The one-typo kinds together: swap, drop, double, substitute."""
        source = self.by_kind if tallies is None else tallies
        total = Tally()
        for kind in ONE_EDIT_KINDS:
            total.found += source[kind].found
            total.total += source[kind].total
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "one_edit_recall": round(self.one_edit().recall, 4),
            "one_edit_recall_given_exact": round(self.one_edit(self.given_exact).recall, 4),
            "recall": {k: round(t.recall, 4) for k, t in self.by_kind.items()},
            "recall_given_exact": {k: round(t.recall, 4) for k, t in self.given_exact.items()},
            "variants": {k: t.total for k, t in self.by_kind.items()},
            "recall_by_type": {
                f"{k}/{etype}": round(t.recall, 4)
                for (k, etype), t in sorted(self.by_kind_type.items())
            },
            "misses": dict(self.misses),
        }


def measure(
    matcher: Matcher, entities: Iterable[Entity], kinds: tuple[str, ...] = KINDS
) -> NameRecall:
    """Scan every variant; misses are kept only for names found when spelt as listed."""
    result = NameRecall()
    for entity in entities:
        exact_found = False
        for variant in variants(entity, ("exact", *(k for k in kinds if k != "exact"))):
            parties = matcher.analyze(Document(variant.sentence)).parties
            found = any(entity.key in mention.group.keys for mention in parties)
            if variant.kind == "exact":
                exact_found = found
            if variant.kind in kinds:
                result.add(variant, found, exact_found)
    return result
