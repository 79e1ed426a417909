"""Which sanctions regime an alert is about, when its rule leaves that to the findings: the
regime of the matched party's listing program, or of the sanctioned country the evidence names.

The mapping (OFAC ``DPRK3`` -> ``US-DPRK``, UN ``DPRK`` -> ``UN-DPRK-1718``, KP -> a country's
regime) comes from the rules' regimes file.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Sequence

from .analysis import Analysis
from .groups import EntityGroup
from .rules import RuleSet
from .selections import Finding


def regime_of(rules: RuleSet, groups: Sequence[EntityGroup]) -> str | None:
    """The regime of the first listing program the regimes file maps, in group order."""
    for group in groups:
        for member in group.members:
            for program in member.programs:
                for source_glob, program_glob, regime in rules.regimes:
                    if fnmatch.fnmatchcase(member.source, source_glob) and fnmatch.fnmatchcase(
                        program, program_glob
                    ):
                        return regime.replace("{program}", program)
    return None


def country_regime(
    rules: RuleSet, analysis: Analysis, in_evidence: Sequence[Finding]
) -> str | None:
    """The regime of the sanctioned country the evidence (else the article) names most."""
    mapping = rules.country_regimes
    for mentions in ([f.country for f in in_evidence if f.country], analysis.countries):
        counts: dict[str, int] = defaultdict(int)
        for mention in mentions:
            if mention is not None and mention.code in mapping:
                counts[mention.code] += 1
        if counts:
            return mapping[max(counts, key=lambda code: (counts[code], code))]
    return None
