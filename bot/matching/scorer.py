"""How sure is an alert? Fitted weights over small, named signals; no I/O.

Rules decide *what* an alert is about (a regime, its parties, countries and activity). This
module decides *how strong* it is: high, medium, low, or nothing. Each signal is one small pure
function of the alert's evidence and the article (``SIGNALS``); ``Scorer`` combines them with
one weights table (``data/scorer.yaml``), a logistic model fitted on the fitting part of the
labelled corpus by ``scripts/fit_scorer.py``, so no weight is set by hand. Every alert's
explanation lists each signal's contribution, so an analyst sees why it is high or low.

Signals are values in 0..1:

``rule_high``, ``mention``, ``fallback``
    what kind of rule fired: a specific violation rule, a rule about any listed party, or a
    mere mention.
``party``, ``party_regime``, ``party_country``, ``identifier``
    the best listed party in the evidence (its match score), whether its own sanctions program
    is the alert's regime, whether it belongs to the sanctioned country the evidence names, and
    whether it was named by an IMO/MMSI/SWIFT identifier.
``country``, ``role``
    a sanctioned country in the evidence, and whether the sentence says it is the origin or
    destination.
``one_sentence``, ``windows``, ``lead``, ``term_groups``
    how tightly the evidence hangs together: one sentence, how many places in the article
    satisfy the rule, whether the headline or lede does, how many kinds of activity words.
``ev_*``, ``doc_*``
    the cue classes of ``cues`` (enforcement, breach, policy, hedge, future, negation): the share
    of evidence sentences that carry them, and for the two classes that report a breach, how
    many of the article's sentences do (three or more count as 1, or all of a shorter text).

Mentions (a listed party merely named) are scored too, but only between low, info and nothing:
a name alone is no violation, and the fit does not see them (a party named in a court report
would otherwise borrow the report's enforcement words).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from .cues import CLASSES
from .model import Alert, Feature, Severity
from .refdata import YAML_LOADER

# Article-wide, only the classes that say a breach is being reported: how densely an article
# speaks of policy, possibilities or denials depends on its style and length far more than on
# whether it reports a breach (measured: those signals helped on the corpus and hurt on real news).
DOC_CLASSES = ("enforcement", "breach", "actor")
SCORED_CLASSES = (*CLASSES, "actor")
SIGNAL_NAMES: tuple[str, ...] = (
    "rule_high",
    "mention",
    "fallback",
    "party",
    "party_regime",
    "party_country",
    "identifier",
    "country",
    "role",
    "one_sentence",
    "windows",
    "lead",
    "term_groups",
    *(f"ev_{cls}" for cls in SCORED_CLASSES),
    *(f"doc_{cls}" for cls in DOC_CLASSES),
)
WEIGHTS_RESOURCE = "scorer.yaml"
WEAK_MENTION_SCORE = 0.85  # a mention below this match score is "info", not "low"


@dataclass(frozen=True)
class Thresholds:
    """Probabilities from which an alert is high, medium (possible violations), or low."""

    high: float = 0.8
    medium: float = 0.5
    low: float = 0.25


@dataclass(frozen=True)
class Scorer:
    """A logistic model over ``SIGNAL_NAMES``; ``weights`` missing a signal count it as 0."""

    weights: Mapping[str, float]
    bias: float
    thresholds: Thresholds = Thresholds()
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def bundled(cls) -> Scorer:
        """The fitted table shipped with the engine."""
        text = (
            resources.files("bot.matching")
            .joinpath("data", WEIGHTS_RESOURCE)
            .read_text(encoding="utf-8")
        )
        return cls.from_dict(yaml.load(text, Loader=YAML_LOADER))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scorer:
        unknown = set(data.get("weights", {})) - set(SIGNAL_NAMES)
        if unknown:
            raise ValueError(f"scorer weights name unknown signals: {', '.join(sorted(unknown))}")
        return cls(
            weights={k: float(v) for k, v in data["weights"].items()},
            bias=float(data["bias"]),
            thresholds=Thresholds(**data.get("thresholds", {})),
            meta=dict(data.get("meta", {})),
        )

    def probability(self, signals: Mapping[str, float]) -> float:
        return _sigmoid(self.bias + sum(self.weights.get(k, 0.0) * v for k, v in signals.items()))

    def contributions(self, signals: Mapping[str, float]) -> list[tuple[str, float]]:
        """Each signal's share of the log-odds, largest first (the explanation)."""
        parts = [(k, self.weights.get(k, 0.0) * v) for k, v in signals.items()]
        return sorted((p for p in parts if abs(p[1]) >= 0.01), key=lambda p: -abs(p[1]))

    def severity(self, probability: float, alert: Alert, mention: bool = False) -> Severity | None:
        """High/medium from the probability; below that (and always for a mere mention) a
        listed party is still a mention, low or info."""
        t = self.thresholds
        if probability >= t.high and not mention:
            return Severity.HIGH
        if probability >= t.medium and not mention:
            return Severity.MEDIUM
        if not alert.entities:
            return None  # no party and no violation: nothing to report
        top = max(m.score for m in alert.entities)
        return Severity.LOW if probability >= t.low and top >= WEAK_MENTION_SCORE else Severity.INFO


def assess(
    scorer: Scorer, alert: Alert, signals: Mapping[str, float]
) -> tuple[Severity | None, float, tuple[Feature, ...], str]:
    """(severity or None for nothing, probability, features, one line of explanation)."""
    probability = scorer.probability(signals)
    parts = scorer.contributions(signals)
    features = tuple(
        Feature(
            name, round(value, 3), f"{signals[name]:.2f} x {scorer.weights.get(name, 0.0):+.2f}"
        )
        for name, value in parts
    )
    shown = ", ".join(f"{name} {value:+.2f}" for name, value in parts[:6])
    line = f"scorer: p={probability:.2f} (bias {scorer.bias:+.2f}; {shown})"
    return (
        scorer.severity(probability, alert, mention=signals.get("mention", 0.0) > 0),
        probability,
        features,
        line,
    )


def _sigmoid(x: float) -> float:
    if x < -30:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))
