"""The matching engine: a text and a rule set in, explained alerts out. No I/O.

``Matcher`` is built once per (rule set, list version): it owns the name index, the term index
and the country finder. ``scan`` then runs in a few milliseconds per article:

1. split the text into sentences and tokens (offsets into the text, so evidence can be shown:
   ``analysis``);
2. find countries, terms and listed parties (``countries``, ``terms``, ``parties``);
3. for every rule, pick out what each of its selections names (``selections``), slide its
   window over the sentences and evaluate its condition on the findings inside; every window
   where it holds is evidence (``windows``);
4. build one alert per rule: the best evidence windows, the parties, countries and terms
   involved, and a plain-language explanation of each (``evidence``), its regime
   (``regimes``) and the scorer's inputs (``signals``).

Possible-violation alerts (high/medium) list every listed party the article names, those in
the evidence first. "Mention" rules report listed parties only when no possible-violation
alert already covers them, so an article produces one alert for a party, not several.
"""

from __future__ import annotations

import copy
import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Literal

from .actors import ACTOR, actor_sentences
from .analysis import Analysis, bounded, scan_text, sentence_bounds, sentence_of_tokens
from .countries import CountryFinder
from .cues import sentence_cues
from .evidence import (
    MAX_EVIDENCE,
    countries_in,
    evidence,
    explain,
    first_mention_window,
    parties_of,
    unique_countries,
    unique_terms,
)
from .groups import EntityGroup
from .index import NameIndex
from .model import Alert, Document, Entity, Severity
from .normalize import tokenize
from .parties import find_parties
from .regimes import country_regime, regime_of
from .rules import Rule, RuleSet, Selection, required_names
from .scorer import WEAK_MENTION_SCORE, Scorer, assess
from .selections import Finding, findings_of, party_finding, selects_group
from .signals import alert_signals
from .terms import TermIndex
from .text import split_sentences
from .windows import Window, find_windows, richness, window_score

# What the rest of the bot imports from here (``Analysis`` lives in ``analysis``).
__all__ = ["Analysis", "Matcher", "collector_paused", "replace_scorer"]

_ACTOR = frozenset({ACTOR})
DEFAULT_MAX_CHARS = 200_000  # about 30,000 words: ten long articles; a 5 MB page costs 20 s


class Matcher:
    """Rules and listed parties, ready to scan texts. Safe to share between threads."""

    def __init__(
        self,
        rules: RuleSet,
        listed: Iterable[Entity] = (),
        max_chars: int = DEFAULT_MAX_CHARS,
        scorer: Scorer | Literal["bundled"] | None = "bundled",
    ) -> None:
        """``scorer``: the fitted table shipped with the engine by default; ``None`` keeps each
        rule's own severity (the hand-tuned behaviour, and what the fitting script reads)."""
        self.rules = rules
        self.max_chars = max_chars
        self.scorer = Scorer.bundled() if isinstance(scorer, str) else scorer
        with collector_paused():
            self.index = NameIndex([*rules.parties, *listed])
            self.terms = TermIndex(rules.terms)
            self.countries = CountryFinder()
        self._selected: dict[tuple[int, str, int], bool] = {}
        self._required: dict[str, set[str]] = {}  # rule id -> selections its condition needs

    @property
    def names_indexed(self) -> int:
        return self.index.names_indexed

    def __getstate__(self) -> dict[str, object]:
        """Pickled without the per-selection cache: it is keyed by ``id()`` of rule objects,
        which mean other objects once unpickled."""
        state = dict(self.__dict__)
        state["_selected"] = {}
        return state

    def analyze(self, document: Document) -> Analysis:
        """Find countries, terms and parties; only the first ``max_chars`` are read.

        The bound is here, not in each door, so that no door (a feed page, a file, a pasted
        message) can make one article cost seconds and hundreds of megabytes.
        """
        whole = scan_text(document)
        text = bounded(whole, self.max_chars)
        sentences = split_sentences(text)
        tokens = tokenize(text)
        sentence_of_token = sentence_of_tokens(sentences, tokens)
        bounds = sentence_bounds(len(sentences), sentence_of_token)
        capitals = [i for i, token in enumerate(tokens) if token.cap]  # where names can start
        countries = self.countries.find(text, tokens, sentence_of_token, capitals)
        terms = self.terms.find(text, tokens, sentence_of_token)
        parties = find_parties(
            self.index, text, tokens, sentence_of_token, bounds, countries, capitals
        )
        cues = sentence_cues(tokens, sentence_of_token, len(sentences))
        actors = actor_sentences(text, tokens, sentence_of_token)
        cues = [c | _ACTOR if i in actors else c for i, c in enumerate(cues)]
        return Analysis(text, sentences, tokens, countries, terms, parties, len(whole), cues)

    def scan(self, document: Document) -> list[Alert]:
        return self.alerts(self.analyze(document))

    def alerts(self, analysis: Analysis) -> list[Alert]:
        """The rules' alerts on an analysed text (``scan`` = ``analyze`` then this).

        Violation rules first; a fallback rule only for parties no violation alert names; and
        mentions only when nothing is a possible violation. The scorer judges each alert as it
        is made, so a violation rule it finds weak leaves room for the mentions.
        """
        alerts: list[Alert] = []
        for rule in self.rules.rules:
            if not rule.mention and not rule.fallback:
                alerts.extend(self._scored(self._evaluate(rule, analysis)))
        named = {
            m.entity.key for alert in alerts if alert.severity.is_violation for m in alert.entities
        }
        for rule in self.rules.rules:
            if rule.fallback:
                for alert in self._scored(self._evaluate(rule, analysis)):
                    if not {m.entity.key for m in alert.entities[: alert.evidence_parties]} & named:
                        alerts.append(alert)
        if not any(alert.severity.is_violation for alert in alerts):
            covered = {m.entity.key for alert in alerts for m in alert.entities}
            for rule in self.rules.rules:
                if rule.mention:
                    found = self._scored(self._mentions(rule, analysis, covered))
                    covered |= {m.entity.key for alert in found for m in alert.entities}
                    alerts.extend(found)
        alerts.sort(key=lambda a: (-a.severity.rank, -a.score, a.rule_id))
        return alerts

    def candidates(self, analysis: Analysis) -> list[Alert]:
        """Every alert any rule makes, mentions included, before the scorer: what it is fitted on."""
        found: list[Alert] = []
        for rule in self.rules.rules:
            found.extend(
                self._mentions(rule, analysis, set())
                if rule.mention
                else self._evaluate(rule, analysis)
            )
        return found

    def _scored(self, alerts: list[Alert]) -> list[Alert]:
        """The scorer's severity and explanation; alerts it judges to be nothing are dropped."""
        if self.scorer is None:
            return alerts
        kept = []
        for alert in alerts:
            signals = {f.name: f.value for f in alert.signals}
            severity, probability, scoring, line = assess(self.scorer, alert, signals)
            if severity is not None:
                kept.append(
                    replace(
                        alert,
                        severity=severity,
                        score=round(probability, 3),
                        scoring=scoring,
                        explanation=(*alert.explanation, line),
                    )
                )
        return kept

    # --- rules --------------------------------------------------------------------------------

    def _selects(self, selection: Selection, group: EntityGroup) -> bool:
        """``selects_group``, remembered: the answer depends on the rules and the group only,
        and every article asks it again for the parties it names."""
        key = (id(selection), selection.name, group.gid)
        cached = self._selected.get(key)
        if cached is None:
            cached = self._selected[key] = selects_group(self.rules, selection, group)
        return cached

    def _evaluate(self, rule: Rule, analysis: Analysis) -> list[Alert]:
        findings: dict[str, list[Finding]] = {}
        required = self._required.get(rule.id)
        if required is None:
            required = self._required[rule.id] = required_names(rule.condition)
        for name in sorted(rule.selections, key=lambda n: n not in required):
            findings[name] = findings_of(rule.selections[name], analysis, self._selects)
            if name in required and not findings[name]:
                return []  # a selection the condition cannot do without found nothing
        document_wide = {name for name, sel in rule.selections.items() if sel.scope == "document"}
        windows = find_windows(rule, findings, document_wide, len(analysis.sentences))
        if not windows:
            return []
        return [self._alert(rule, analysis, windows)]

    def _alert(self, rule: Rule, analysis: Analysis, windows: list[Window]) -> Alert:
        windows.sort(key=lambda w: richness(w, analysis), reverse=True)
        best = windows[0]
        evidence_windows = windows[:MAX_EVIDENCE]
        in_evidence = [f for w in evidence_windows for fs in w.findings.values() for f in fs]
        in_evidence += [
            party_finding(p)
            for p in analysis.parties
            if any(w.first <= p.match.sentence <= w.last for w in evidence_windows)
        ]
        parties = parties_of(in_evidence, analysis.parties)
        score = window_score(best)
        regime = rule.regime
        if regime == "from-parties":
            regime = regime_of(self.rules, [p.group for p in parties[:1]]) or "unknown"
        elif regime == "from-countries":
            regime = country_regime(self.rules, analysis, in_evidence) or "unknown"
        alert = Alert(
            rule_id=rule.id,
            title=rule.title,
            severity=rule.severity,
            score=round(score, 3),
            regime=regime,
            references=rule.references,
            entities=tuple(p.match for p in parties),
            countries=tuple(unique_countries(countries_in(analysis, evidence_windows))),
            terms=tuple(unique_terms(f.term for f in in_evidence if f.term)),
            evidence=tuple(evidence(analysis, evidence_windows)),
            explanation=tuple(explain(rule, best)),
            source=rule.source,
            evidence_parties=len({f.party.match.entity.key for f in in_evidence if f.party}),
        )
        sentences = {f.sentence for w in evidence_windows for fs in w.findings.values() for f in fs}
        layout = {
            "one_sentence": 1.0 if best.first == best.last else 0.0,
            "windows": min(1.0, (len(windows) - 1) / 3),
            "lead": 1.0 if min(sentences, default=99) <= 1 else 0.0,
        }
        evidence_groups = [p.group for p in parties[: alert.evidence_parties]]
        return replace(
            alert,
            signals=alert_signals(
                self.rules, rule, alert, analysis, sentences, evidence_groups, layout
            ),
        )

    def _mentions(self, rule: Rule, analysis: Analysis, covered: set[str]) -> list[Alert]:
        """One alert per regime for listed parties merely mentioned."""
        selection = next(iter(rule.selections.values()))
        by_regime: dict[str, list[Finding]] = defaultdict(list)
        for finding in findings_of(selection, analysis, self._selects):
            assert finding.party is not None
            if finding.party.match.entity.key in covered:
                continue
            regime = regime_of(self.rules, [finding.party.group]) or "unknown"
            by_regime[regime].append(finding)
        alerts = []
        for regime, found in sorted(by_regime.items()):
            parties = parties_of(found, [f.party for f in found if f.party])
            top = max(p.match.score for p in parties)
            window = Window(found[0].sentence, found[0].sentence, {"party": found})
            sentences = {f.sentence for f in found}
            alert = Alert(
                rule_id=rule.id,
                title=rule.title,
                severity=rule.severity if top >= WEAK_MENTION_SCORE else Severity.INFO,
                score=round(top, 3),
                regime=regime,
                references=rule.references,
                entities=tuple(p.match for p in parties),
                countries=(),
                terms=(),
                evidence=tuple(
                    evidence(
                        analysis, [first_mention_window(found, p) for p in parties[:MAX_EVIDENCE]]
                    )
                ),
                explanation=tuple(explain(rule, window)),
                source=rule.source,
            )
            layout = {
                "one_sentence": 1.0,
                "windows": min(1.0, (len(sentences) - 1) / 3),
                "lead": 1.0 if min(sentences) <= 1 else 0.0,
            }
            groups = [p.group for p in parties]
            alerts.append(
                replace(
                    alert,
                    signals=alert_signals(
                        self.rules, rule, alert, analysis, sentences, groups, layout
                    ),
                )
            )
        return alerts


def replace_scorer(matcher: Matcher, scorer: Scorer | None) -> Matcher:
    """The same rules and index judged by another scorer (``None``: each rule's own severity).

    A shallow copy: the expensive index is shared, so comparing scorers costs no rebuild.
    """
    other = copy.copy(matcher)
    other.scorer = scorer
    return other


@contextmanager
def collector_paused() -> Iterator[None]:
    """Building an index makes hundreds of thousands of long-lived objects, and each batch of
    them sets off the cyclic garbage collector, which rescans all the ones before: paused, the
    build takes half the time (2.1 s instead of 4.9 for the OFAC and UN lists). Nothing built
    here is garbage; the collector is restored as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
