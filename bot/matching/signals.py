"""The scorer's inputs for one alert (``scorer`` says what each means): all of them, always
in 0..1, computed from the alert, its evidence sentences and the article around them."""

from __future__ import annotations

from collections.abc import Sequence

from .analysis import Analysis
from .groups import EntityGroup
from .model import Alert, Feature, Severity
from .regimes import regime_of
from .rules import Rule, RuleSet
from .scorer import DOC_CLASSES, SCORED_CLASSES


def alert_signals(
    rules: RuleSet,
    rule: Rule,
    alert: Alert,
    analysis: Analysis,
    sentences: set[int],
    evidence_groups: Sequence[EntityGroup],
    layout: dict[str, float],
) -> tuple[Feature, ...]:
    """Every signal of ``alert``; ``layout`` holds the ones only its maker knows (how its
    evidence windows lie in the article)."""
    evidence = alert.entities if rule.mention else alert.entities[: alert.evidence_parties]
    values = {
        "rule_high": 1.0 if rule.severity is Severity.HIGH and not rule.mention else 0.0,
        "mention": 1.0 if rule.mention else 0.0,
        "fallback": 1.0 if rule.fallback else 0.0,
        "party": max((m.score for m in evidence), default=0.0),
        "party_regime": 1.0
        if any(regime_of(rules, [g]) == alert.regime for g in evidence_groups)
        else 0.0,
        "party_country": 1.0
        if any(g.linked_countries & {c.code for c in alert.countries} for g in evidence_groups)
        else 0.0,
        "identifier": 1.0
        if any(f.name == "identifier" for m in evidence for f in m.features)
        else 0.0,
        "country": 1.0 if any(c.code in rules.country_regimes for c in alert.countries) else 0.0,
        "role": 1.0 if any(c.role for c in alert.countries) else 0.0,
        "term_groups": min(1.0, len({t.group for t in alert.terms}) / 3),
        **layout,
    }
    for cls in SCORED_CLASSES:
        values[f"ev_{cls}"] = sum(cls in analysis.cues[s] for s in sentences) / max(
            1, len(sentences)
        )
    for cls in DOC_CLASSES:
        # sentences, not a share of them: a long analysis piece reports a breach as
        # surely as a short wire story, with more sentences around it; a text of one or
        # two sentences (a pasted paragraph) can only hold that many
        enough = max(1, min(3, len(analysis.cues)))
        values[f"doc_{cls}"] = min(1.0, sum(cls in cues for cues in analysis.cues) / enough)
    return tuple(Feature(name, round(value, 4)) for name, value in values.items())
