"""What an alert shows an analyst: its parties, countries and terms, the evidence sentences
with the findings highlighted, and a plain-language explanation of each finding.

Every alert carries this, so a stored alert still says *why* long after the article is gone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from .analysis import Analysis
from .mentions import PartyMention
from .model import CountryMention, EntityMatch, Evidence, Span, TermMatch
from .rules import Rule
from .selections import Finding
from .windows import Window

MAX_EVIDENCE = 4


def parties_of(
    in_evidence: list[Finding], all_parties: Sequence[PartyMention]
) -> list[PartyMention]:
    """Each party once: its best mention; parties in the evidence first, then the rest."""
    best: dict[str, PartyMention] = {}
    for mention in all_parties:
        key = mention.match.entity.key
        if key not in best or mention.match.score > best[key].match.score:
            best[key] = mention
    evidence_keys = {f.party.match.entity.key for f in in_evidence if f.party}
    return sorted(
        best.values(),
        key=lambda m: (m.match.entity.key not in evidence_keys, -m.match.score, m.match.span.start),
    )


def unique_countries(mentions: Iterable[CountryMention]) -> list[CountryMention]:
    seen: dict[tuple[str, str | None], CountryMention] = {}
    for mention in mentions:
        seen.setdefault((mention.code, mention.role), mention)
    return sorted(seen.values(), key=lambda c: c.span.start)


def countries_in(analysis: Analysis, windows: Sequence[Window]) -> list[CountryMention]:
    """Every country in the evidence sentences, not only those a selection asked for."""
    sentences = {f.sentence for w in windows for fs in w.findings.values() for f in fs}
    return [c for c in analysis.countries if c.sentence in sentences]


def unique_terms(terms: Iterable[TermMatch]) -> list[TermMatch]:
    seen: dict[tuple[str, str], TermMatch] = {}
    for term in terms:
        seen.setdefault((term.group, term.matched.lower()), term)
    return sorted(seen.values(), key=lambda t: t.span.start)


def first_mention_window(found: list[Finding], party: PartyMention) -> Window:
    """The sentence where a merely mentioned party is first named."""
    mine = [f for f in found if f.party and f.party.match.entity.key == party.match.entity.key]
    first = min(mine, key=lambda f: f.span.start)
    return Window(first.sentence, first.sentence, {"party": [first]})


def evidence(analysis: Analysis, windows: Sequence[Window]) -> list[Evidence]:
    """The sentences of each window that hold findings, with the findings highlighted."""
    by_sentence: dict[int, set[Span]] = defaultdict(set)
    for window in windows:
        for found in window.findings.values():
            for finding in found:
                if window.first <= finding.sentence <= window.last:
                    by_sentence[finding.sentence].add(finding.span)
    shown = []
    for sentence_index in sorted(by_sentence)[: MAX_EVIDENCE * 2]:
        sentence = analysis.sentences[sentence_index]
        spans = tuple(sorted(by_sentence[sentence_index], key=lambda s: (s.start, s.end)))
        shown.append(
            Evidence(
                analysis.text[sentence.start : sentence.end], sentence.start, sentence.end, spans
            )
        )
    return shown


def explain(rule: Rule, window: Window) -> list[str]:
    """The rule, then one line per selection: its best finding and why it counts."""
    lines = [f"{rule.id}: {rule.condition_text} (within {rule.window + 1} sentence(s))"]
    for name, found in window.findings.items():
        finding = max(found, key=lambda f: f.score)
        if finding.party:
            match: EntityMatch = finding.party.match
            detail = "; ".join(
                f"{f.name} {f.value:g}" + (f" ({f.detail})" if f.detail else "")
                for f in match.features
            )
            lines.append(
                f"{name}: {match.entity.caption} [{match.entity.source}] as '{match.matched}' score {match.score:g}: {detail}"
            )
        elif finding.country:
            country = finding.country
            role = f", {country.role}" if country.role else ""
            lines.append(f"{name}: {country.code} as '{country.matched}' ({country.form}{role})")
        elif finding.term:
            lines.append(
                f"{name}: '{finding.term.matched}' (term '{finding.term.term}' of {finding.term.group})"
            )
    return lines
