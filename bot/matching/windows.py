"""Where a rule holds: windows of neighbouring sentences in which its condition is met.

A rule such as "North Korea + arms + a transfer verb within one sentence" slides a window of
``rule.window + 1`` sentences over the text, starting only where one of its positive selections
found something; every window where the condition holds is evidence, and the richest windows
are shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .analysis import Analysis
from .rules import Rule, evaluate, positive_names
from .selections import Finding

NEAR_FACTOR = 0.9  # a rule satisfied across sentences is a little less certain than in one


@dataclass
class Window:
    """Sentences ``first..last`` and, by selection name, what each found inside them."""

    first: int
    last: int
    findings: dict[str, list[Finding]] = field(default_factory=dict)


def find_windows(
    rule: Rule, findings: dict[str, list[Finding]], document_wide: set[str], sentence_count: int
) -> list[Window]:
    """Every window of ``rule.window + 1`` sentences in which the condition holds."""
    positive = positive_names(rule.condition)
    by_sentence: dict[str, dict[int, list[Finding]]] = {}
    for name, found in findings.items():
        grouped: dict[int, list[Finding]] = defaultdict(list)
        for finding in found:
            grouped[finding.sentence].append(finding)
        by_sentence[name] = grouped
    anchors = {f.sentence for name in positive - document_wide for f in findings[name]}
    starts = sorted({s - k for s in anchors for k in range(rule.window + 1) if s - k >= 0})
    held: list[Window] = []
    for first in starts:
        last = min(first + rule.window, max(sentence_count - 1, 0))
        inside: dict[str, list[Finding]] = {}
        for name in rule.selections:
            if name in document_wide:
                if findings[name]:
                    inside[name] = findings[name]
                continue
            hits = [f for s in range(first, last + 1) for f in by_sentence[name].get(s, ())]
            if hits:
                inside[name] = hits
        if evaluate(rule.condition, inside.__contains__):  # bound now, not a closure over the loop
            window = Window(
                first,
                last,
                {n: inside[n] for n in positive if n in inside and n not in document_wide},
            )
            if window.findings and not any(w.first <= first and last <= w.last for w in held):
                held.append(window)
    return held


def richness(window: Window, analysis: Analysis) -> tuple[int, int, int]:
    """Rank evidence: more conditions met, then more findings (parties and roles count too)."""
    findings = {(f.span.start, f.span.end) for fs in window.findings.values() for f in fs}
    parties = sum(1 for p in analysis.parties if window.first <= p.match.sentence <= window.last)
    roles = sum(1 for fs in window.findings.values() for f in fs if f.country and f.country.role)
    return (len(window.findings), len(findings) + parties + roles, -window.first)


def window_score(window: Window) -> float:
    """The mean of each selection's best finding, a little less when spread over sentences."""
    best = [max(f.score for f in fs) for fs in window.findings.values()]
    score = sum(best) / len(best) if best else 0.0
    sentences = {f.sentence for fs in window.findings.values() for f in fs}
    return score * (1.0 if len(sentences) <= 1 else NEAR_FACTOR)
