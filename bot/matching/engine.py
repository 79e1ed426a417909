"""The matching engine: a text and a rule set in, explained alerts out. No I/O.

``Matcher`` is built once per (rule set, list version): it owns the name index, the term index
and the country finder. ``scan`` then runs in a few milliseconds per article:

1. split the text into sentences and tokens (offsets into the text, so evidence can be shown);
2. find countries, terms and listed parties (``countries``, ``terms``, ``parties``);
3. for every rule, slide its window over the sentences and evaluate its condition on the
   findings inside; every window where it holds is evidence;
4. build one alert per rule: the best evidence windows, the parties, countries and terms
   involved, and a plain-language explanation of each.

Possible-violation alerts (high/medium) list every listed party the article names, those in
the evidence first. "Mention" rules report listed parties only when no possible-violation
alert already covers them, so an article produces one alert for a party, not several.
"""

from __future__ import annotations

import copy
import fnmatch
import gc
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from .countries import CountryFinder
from .cues import CLASSES, sentence_cues
from .index import EntityGroup, NameIndex
from .model import (
    Alert,
    CountryMention,
    Document,
    Entity,
    EntityMatch,
    Evidence,
    Feature,
    Severity,
    Span,
    TermMatch,
)
from .normalize import Token, tokenize
from .parties import PartyMention, find_parties
from .rules import ListSelector, Rule, RuleSet, Selection, evaluate, positive_names, required_names
from .scorer import DOC_CLASSES, WEAK_MENTION_SCORE, Scorer, assess
from .terms import TermIndex
from .text import Sentence, split_sentences

MAX_EVIDENCE = 4
NEAR_FACTOR = 0.9  # a rule satisfied across sentences is a little less certain than in one
DEFAULT_MAX_CHARS = 200_000  # about 30,000 words: ten long articles; a 5 MB page costs 20 s


@dataclass(frozen=True)
class Analysis:
    """Everything found in one text; rules are evaluated on this."""

    text: str
    sentences: list[Sentence]
    tokens: list[Token]
    countries: list[CountryMention]
    terms: list[TermMatch]
    parties: list[PartyMention]
    total_chars: int = 0  # length of the whole text; more than len(text) when it was cut
    cues: list[frozenset[str]] = field(default_factory=list)  # cue classes per sentence

    @property
    def cut(self) -> bool:
        """Whether only the start of the text was matched (``Matcher.max_chars``)."""
        return self.total_chars > len(self.text)


@dataclass
class _Finding:
    sentence: int
    span: Span
    score: float
    label: str
    party: PartyMention | None = None
    country: CountryMention | None = None
    term: TermMatch | None = None


@dataclass
class _Window:
    first: int
    last: int
    findings: dict[str, list[_Finding]] = field(default_factory=dict)


class Matcher:
    """Rules and listed parties, ready to scan texts. Safe to share between threads."""

    def __init__(
        self,
        rules: RuleSet,
        listed: Iterable[Entity] = (),
        max_chars: int = DEFAULT_MAX_CHARS,
        scorer: Scorer | str | None = "bundled",
    ) -> None:
        """``scorer``: the fitted table shipped with the engine by default; ``None`` keeps each
        rule's own severity (the hand-tuned behaviour, and what the fitting script reads)."""
        self.rules = rules
        self.max_chars = max_chars
        self.scorer = Scorer.bundled() if scorer == "bundled" else scorer
        with collector_paused():
            self.index = NameIndex([*rules.parties, *listed])
            self.terms = TermIndex(rules.terms)
            self.countries = CountryFinder()
        self._selected: dict[tuple[str, str, int], bool] = {}
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
        whole = _scan_text(document)
        text = bounded(whole, self.max_chars)
        sentences = split_sentences(text)
        tokens = tokenize(text)
        sentence_of_token = _sentence_of_tokens(sentences, tokens)
        bounds = _sentence_bounds(len(sentences), sentence_of_token)
        countries = self.countries.find(text, tokens, sentence_of_token)
        terms = self.terms.find(text, tokens, sentence_of_token)
        parties = find_parties(self.index, text, tokens, sentence_of_token, bounds, countries)
        cues = sentence_cues(tokens, sentence_of_token, len(sentences))
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

    # --- selections ---------------------------------------------------------------------------

    def _findings(self, selection: Selection, analysis: Analysis) -> list[_Finding]:
        if selection.parties:
            return [
                _Finding(
                    p.match.sentence, p.match.span, p.match.score, p.group.entity.caption, party=p
                )
                for p in analysis.parties
                if p.match.score >= selection.min_score and self._selects(selection, p.group)
            ]
        if selection.countries:
            return [
                _Finding(
                    c.sentence,
                    c.span,
                    0.9 if c.form in ("capital", "port") else 1.0,
                    c.code,
                    country=c,
                )
                for c in analysis.countries
                if c.code in selection.countries
                and (selection.role is None or c.role == selection.role)
            ]
        return [
            _Finding(t.sentence, t.span, 1.0, t.group, term=t)
            for t in analysis.terms
            if t.group in selection.terms
        ]

    def _selects(self, selection: Selection, group: EntityGroup) -> bool:
        key = (id(selection), selection.name, group.gid)
        cached = self._selected.get(key)
        if cached is None:
            cached = self._selected[key] = self._match_selection(selection, group)
        return cached

    def _match_selection(self, selection: Selection, group: EntityGroup) -> bool:
        if selection.party_types and group.type.value not in selection.party_types:
            return False
        for ref in selection.parties:
            if ref == "any":
                return True
            key = self.rules.party_ids.get(ref)
            if key is not None and key in group.keys:
                return True
            for selector in self.rules.list_selectors.get(ref, ()):
                for member in group.members:
                    if _selector_matches(selector, member):
                        return True
        return False

    # --- rules --------------------------------------------------------------------------------

    def _evaluate(self, rule: Rule, analysis: Analysis) -> list[Alert]:
        findings: dict[str, list[_Finding]] = {}
        required = self._required.get(rule.id)
        if required is None:
            required = self._required[rule.id] = required_names(rule.condition)
        for name in sorted(rule.selections, key=lambda n: n not in required):
            findings[name] = self._findings(rule.selections[name], analysis)
            if name in required and not findings[name]:
                return []  # a selection the condition cannot do without found nothing
        document_wide = {name for name, sel in rule.selections.items() if sel.scope == "document"}
        windows = _windows(rule, findings, document_wide, len(analysis.sentences))
        if not windows:
            return []
        return [self._alert(rule, analysis, windows)]

    def _alert(self, rule: Rule, analysis: Analysis, windows: list[_Window]) -> Alert:
        windows.sort(key=lambda w: _richness(w, analysis), reverse=True)
        best = windows[0]
        evidence_windows = windows[:MAX_EVIDENCE]
        in_evidence = [f for w in evidence_windows for fs in w.findings.values() for f in fs]
        in_evidence += [
            _Finding(p.match.sentence, p.match.span, p.match.score, p.group.entity.caption, party=p)
            for p in analysis.parties
            if any(w.first <= p.match.sentence <= w.last for w in evidence_windows)
        ]
        parties = _parties(in_evidence, analysis.parties)
        score = _window_score(best)
        regime = rule.regime
        if regime == "from-parties":
            regime = self._regime_of([p.group for p in parties[:1]]) or "unknown"
        elif regime == "from-countries":
            regime = self._country_regime(analysis, in_evidence) or "unknown"
        alert = Alert(
            rule_id=rule.id,
            title=rule.title,
            severity=rule.severity,
            score=round(score, 3),
            regime=regime,
            references=rule.references,
            entities=tuple(p.match for p in parties),
            countries=tuple(_unique_countries(_countries_in(analysis, evidence_windows))),
            terms=tuple(_unique_terms(f.term for f in in_evidence if f.term)),
            evidence=tuple(_evidence(analysis, evidence_windows)),
            explanation=tuple(_explain(rule, best)),
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
            alert, signals=self._signals(rule, alert, analysis, sentences, evidence_groups, layout)
        )

    def _signals(
        self,
        rule: Rule,
        alert: Alert,
        analysis: Analysis,
        sentences: set[int],
        evidence_groups: Sequence[EntityGroup],
        layout: dict[str, float],
    ) -> tuple[Feature, ...]:
        """The scorer's inputs for one alert (see ``scorer``): all of them, always in 0..1."""
        evidence = alert.entities if rule.mention else alert.entities[: alert.evidence_parties]
        values = {
            "rule_high": 1.0 if rule.severity is Severity.HIGH and not rule.mention else 0.0,
            "mention": 1.0 if rule.mention else 0.0,
            "fallback": 1.0 if rule.fallback else 0.0,
            "party": max((m.score for m in evidence), default=0.0),
            "party_regime": 1.0
            if any(self._regime_of([g]) == alert.regime for g in evidence_groups)
            else 0.0,
            "party_country": 1.0
            if any(g.linked_countries & {c.code for c in alert.countries} for g in evidence_groups)
            else 0.0,
            "identifier": 1.0
            if any(f.name == "identifier" for m in evidence for f in m.features)
            else 0.0,
            "country": 1.0
            if any(c.code in self.rules.country_regimes for c in alert.countries)
            else 0.0,
            "role": 1.0 if any(c.role for c in alert.countries) else 0.0,
            "term_groups": min(1.0, len({t.group for t in alert.terms}) / 3),
            **layout,
        }
        for cls in CLASSES:
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

    def _mentions(self, rule: Rule, analysis: Analysis, covered: set[str]) -> list[Alert]:
        """One alert per regime for listed parties merely mentioned."""
        selection = next(iter(rule.selections.values()))
        by_regime: dict[str, list[_Finding]] = defaultdict(list)
        for finding in self._findings(selection, analysis):
            assert finding.party is not None
            if finding.party.match.entity.key in covered:
                continue
            regime = self._regime_of([finding.party.group]) or "unknown"
            by_regime[regime].append(finding)
        alerts = []
        for regime, found in sorted(by_regime.items()):
            parties = _parties(found, [f.party for f in found if f.party])
            top = max(p.match.score for p in parties)
            window = _Window(found[0].sentence, found[0].sentence, {"party": found})
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
                    _evidence(
                        analysis, [_first_mention_window(found, p) for p in parties[:MAX_EVIDENCE]]
                    )
                ),
                explanation=tuple(_explain(rule, window)),
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
                    alert, signals=self._signals(rule, alert, analysis, sentences, groups, layout)
                )
            )
        return alerts

    def _country_regime(self, analysis: Analysis, in_evidence: Sequence[_Finding]) -> str | None:
        """The regime of the sanctioned country the evidence (else the article) names most."""
        mapping = self.rules.country_regimes
        for mentions in ([f.country for f in in_evidence if f.country], analysis.countries):
            counts: dict[str, int] = defaultdict(int)
            for mention in mentions:
                if mention is not None and mention.code in mapping:
                    counts[mention.code] += 1
            if counts:
                return mapping[max(counts, key=lambda code: (counts[code], code))]
        return None

    def _regime_of(self, groups: Sequence[EntityGroup]) -> str | None:
        for group in groups:
            for member in group.members:
                for program in member.programs:
                    for source_glob, program_glob, regime in self.rules.regimes:
                        if fnmatch.fnmatchcase(member.source, source_glob) and fnmatch.fnmatchcase(
                            program, program_glob
                        ):
                            return regime.replace("{program}", program)
        return None


def replace_scorer(matcher: Matcher, scorer: Scorer | None) -> Matcher:
    """The same rules and index judged by another scorer (``None``: each rule's own severity).

    A shallow copy: the expensive index is shared, so comparing scorers costs no rebuild.
    """
    other = copy.copy(matcher)
    other.scorer = scorer
    return other


# --- helpers ---------------------------------------------------------------------------------


def _scan_text(document: Document) -> str:
    """Title and body as one text; the title is its own first sentence."""
    title = document.title.strip()
    body = document.text
    if not title or body.lstrip().startswith(title):
        return body
    return f"{title}\n\n{body}"


def bounded(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at the last line end or space so no word is halved."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    for mark in ("\n", " "):
        cut = head.rfind(mark)
        if cut > limit // 2:
            return head[:cut]
    return head


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


def _sentence_of_tokens(sentences: Sequence[Sentence], tokens: Sequence[Token]) -> list[int]:
    """Sentence index of every token (a token before the first sentence counts as in it): one
    binary search per sentence, then runs of equal numbers, instead of a search per token."""
    token_starts = [token.start for token in tokens]
    ends = [bisect_left(token_starts, sentence.start) for sentence in sentences[1:]] + [len(tokens)]
    result: list[int] = []
    done = 0
    for index, end in enumerate(ends):
        result.extend([index] * (end - done))
        done = max(done, end)
    return result


def _sentence_bounds(count: int, sentence_of_token: Sequence[int]) -> list[tuple[int, int]]:
    """First and last token of every sentence ((0, -1) for a sentence without tokens); the
    token sentences are in order, so each bound is one binary search."""
    bounds = []
    for sentence in range(count):
        lo = bisect_left(sentence_of_token, sentence)
        hi = bisect_right(sentence_of_token, sentence, lo) - 1
        bounds.append((lo, hi) if hi >= lo else (0, -1))
    return bounds


def _selector_matches(selector: ListSelector, entity: Entity) -> bool:
    if selector.sources and not any(
        fnmatch.fnmatchcase(entity.source, s) for s in selector.sources
    ):
        return False
    if selector.types and entity.type.value not in selector.types:
        return False
    if not selector.programs:
        return True
    return any(fnmatch.fnmatchcase(p, glob) for p in entity.programs for glob in selector.programs)


def _windows(
    rule: Rule, findings: dict[str, list[_Finding]], document_wide: set[str], sentence_count: int
) -> list[_Window]:
    """Every window of ``rule.window + 1`` sentences in which the condition holds."""
    positive = positive_names(rule.condition)
    by_sentence: dict[str, dict[int, list[_Finding]]] = {}
    for name, found in findings.items():
        grouped: dict[int, list[_Finding]] = defaultdict(list)
        for finding in found:
            grouped[finding.sentence].append(finding)
        by_sentence[name] = grouped
    anchors = {f.sentence for name in positive - document_wide for f in findings[name]}
    starts = sorted({s - k for s in anchors for k in range(rule.window + 1) if s - k >= 0})
    windows: list[_Window] = []
    for first in starts:
        last = min(first + rule.window, max(sentence_count - 1, 0))
        inside: dict[str, list[_Finding]] = {}
        for name in rule.selections:
            if name in document_wide:
                if findings[name]:
                    inside[name] = findings[name]
                continue
            hits = [f for s in range(first, last + 1) for f in by_sentence[name].get(s, ())]
            if hits:
                inside[name] = hits
        if evaluate(rule.condition, inside.__contains__):  # bound now, not a closure over the loop
            window = _Window(
                first,
                last,
                {n: inside[n] for n in positive if n in inside and n not in document_wide},
            )
            if window.findings and not any(w.first <= first and last <= w.last for w in windows):
                windows.append(window)
    return windows


def _richness(window: _Window, analysis: Analysis) -> tuple[int, int, int]:
    """Rank evidence: more conditions met, then more findings (parties and roles count too)."""
    findings = {(f.span.start, f.span.end) for fs in window.findings.values() for f in fs}
    parties = sum(1 for p in analysis.parties if window.first <= p.match.sentence <= window.last)
    roles = sum(1 for fs in window.findings.values() for f in fs if f.country and f.country.role)
    return (len(window.findings), len(findings) + parties + roles, -window.first)


def _window_score(window: _Window) -> float:
    best = [max(f.score for f in fs) for fs in window.findings.values()]
    score = sum(best) / len(best) if best else 0.0
    sentences = {f.sentence for fs in window.findings.values() for f in fs}
    return score * (1.0 if len(sentences) <= 1 else NEAR_FACTOR)


def _parties(
    in_evidence: list[_Finding], all_parties: Sequence[PartyMention]
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


def _unique_countries(mentions: Iterable[CountryMention]) -> list[CountryMention]:
    seen: dict[tuple[str, str | None], CountryMention] = {}
    for mention in mentions:
        seen.setdefault((mention.code, mention.role), mention)
    return sorted(seen.values(), key=lambda c: c.span.start)


def _countries_in(analysis: Analysis, windows: Sequence[_Window]) -> list[CountryMention]:
    """Every country in the evidence sentences, not only those a selection asked for."""
    sentences = {f.sentence for w in windows for fs in w.findings.values() for f in fs}
    return [c for c in analysis.countries if c.sentence in sentences]


def _unique_terms(terms: Iterable[TermMatch]) -> list[TermMatch]:
    seen: dict[tuple[str, str], TermMatch] = {}
    for term in terms:
        seen.setdefault((term.group, term.matched.lower()), term)
    return sorted(seen.values(), key=lambda t: t.span.start)


def _first_mention_window(found: list[_Finding], party: PartyMention) -> _Window:
    mine = [f for f in found if f.party and f.party.match.entity.key == party.match.entity.key]
    first = min(mine, key=lambda f: f.span.start)
    return _Window(first.sentence, first.sentence, {"party": [first]})


def _evidence(analysis: Analysis, windows: Sequence[_Window]) -> list[Evidence]:
    """The sentences of each window that hold findings, with the findings highlighted."""
    by_sentence: dict[int, set[Span]] = defaultdict(set)
    for window in windows:
        for found in window.findings.values():
            for finding in found:
                if window.first <= finding.sentence <= window.last:
                    by_sentence[finding.sentence].add(finding.span)
    evidence = []
    for sentence_index in sorted(by_sentence)[: MAX_EVIDENCE * 2]:
        sentence = analysis.sentences[sentence_index]
        spans = tuple(sorted(by_sentence[sentence_index], key=lambda s: (s.start, s.end)))
        evidence.append(
            Evidence(
                analysis.text[sentence.start : sentence.end], sentence.start, sentence.end, spans
            )
        )
    return evidence


def _explain(rule: Rule, window: _Window) -> list[str]:
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
