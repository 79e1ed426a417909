"""Chat watchlists: which watched parties and terms an analysed article names. Pure.

A chat watches either a listed party (by its entity key, picked from ``suggest``'s fuzzy
matches) or a free-text name or term. Both are matched with the engine's own machinery:

* entity items are looked up in the parties the engine already found (``Analysis.parties``),
  so they are found exactly as the rules would find them, coreferences and IMO numbers included;
* free-text items get a small ``NameIndex`` of their own (built once per set of terms, cached)
  run through ``find_parties``, so "Prigoschin" finds a watched "Prigozhin"; and, because that
  machinery only anchors on capitalised words and asks ordinary words for support, every term is
  also matched as an exact phrase of normalised tokens in any case ("uranium hexafluoride").

``watch_alerts`` turns the hits into alert dicts in the scan JSON schema (``bot.report``):
rule ``watchlist``, title ``Watchlist: <name>``, severity ``low``, regime ``watchlist``, plus
``watch_items`` (the watch item ids that matched) and ``watch_key`` (what was watched; part of the
alert's identity, so two parties watched in one story are two alerts, and the key of the alert's
first entity, which is how a stored watchlist alert is routed: ``db.delivery.enqueue_alert``
sends it to the chats watching that key).

What a watch target is (``WatchTarget``, ``term_key``...) is defined in ``bot.domain.watch``,
which ``db.chats`` shares. Nothing here touches the network, Telegram or the database: the
pipeline's hook that reads the watch items and calls this module is
``bot.watchalerts.watch_alerts_for``.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from bot.domain.watch import MAX_NAME_CHARS, RULE_ID, TERM_PREFIX, WatchTarget
from bot.matching.engine import Analysis
from bot.matching.index import NameIndex, english_rarity
from bot.matching.model import (
    Alert,
    CountryMention,
    Entity,
    EntityMatch,
    EntityType,
    Evidence,
    Feature,
    Name,
    NameKind,
    Severity,
    Span,
)
from bot.matching.normalize import Token, norm_tokens, skeleton
from bot.matching.parties import find_parties
from bot.matching.text import sentence_index, sentence_of
from bot.report import alert_to_dict

REGIME = "watchlist"
MAX_EVIDENCE = 4
SUGGEST_MIN_SCORE = 70.0


@dataclass(frozen=True)
class WatchHit:
    """Where an article names a watched target."""

    target: WatchTarget
    match: EntityMatch  # entity (listed, or one made from the term), matched text, span, score

    @property
    def sentence(self) -> int:
        return self.match.sentence


# --- free-text terms ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchIndex:
    """The free-text targets as engine entities, in a ``NameIndex`` of their own."""

    phrases: dict[str, tuple[str, ...]]  # key -> normalised tokens
    entities: dict[str, Entity]
    index: NameIndex = field(repr=False)


def _term_entity(key: str, name: str) -> Entity:
    return Entity(
        key=key,
        source="watchlist",
        list_id=key[len(TERM_PREFIX) :],
        type=EntityType.OTHER,
        names=(Name(name[:MAX_NAME_CHARS], NameKind.PRIMARY),),
    )


@lru_cache(maxsize=8)
def watch_index(terms: tuple[tuple[str, str], ...]) -> WatchIndex:
    """The index for a set of ``(key, name)`` terms; cached, so it is rebuilt only when they change."""
    entities = {key: _term_entity(key, name) for key, name in terms}
    phrases = {key: tuple(key[len(TERM_PREFIX) :].split()) for key, _ in terms}
    return WatchIndex(
        phrases={k: v for k, v in phrases.items() if v},
        entities=entities,
        index=NameIndex(entities.values()),
    )


def _sentence_layout(analysis: Analysis) -> tuple[list[int], list[tuple[int, int]]]:
    """Sentence of every token and token bounds of every sentence (what ``find_parties`` needs)."""
    starts = sentence_index(analysis.sentences)
    of_token = [sentence_of(starts, token.start) for token in analysis.tokens]
    bounds = [(0, -1)] * len(analysis.sentences)
    for position, sentence in enumerate(of_token):
        lo, hi = bounds[sentence]
        bounds[sentence] = (position if hi < lo else lo, position)
    return of_token, bounds


def _phrase_hits(
    analysis: Analysis, phrase: tuple[str, ...], of_token: Sequence[int]
) -> list[tuple[int, int]]:
    """Token ranges (first, last) where the phrase's normalised words appear in a row."""
    tokens: list[Token] = analysis.tokens
    size = len(phrase)
    found = []
    for start in range(len(tokens) - size + 1):
        if (
            tokens[start].norm == phrase[0]
            and all(tokens[start + i].norm == phrase[i] for i in range(1, size))
            and of_token[start] == of_token[start + size - 1]
        ):
            found.append((start, start + size - 1))
    return found


def _term_hits(analysis: Analysis, targets: Sequence[WatchTarget]) -> list[WatchHit]:
    terms = tuple(sorted((t.key, t.name) for t in targets if t.is_term))
    if not terms or not analysis.tokens:
        return []
    by_key = {t.key: t for t in targets}
    built = watch_index(terms)
    of_token, bounds = _sentence_layout(analysis)
    hits: list[WatchHit] = []
    for mention in find_parties(
        built.index, analysis.text, analysis.tokens, of_token, bounds, analysis.countries
    ):
        for key in mention.group.keys:
            if key in by_key:
                hits.append(WatchHit(by_key[key], mention.match))
    for key, phrase in built.phrases.items():
        target = by_key[key]
        entity = built.entities[key]
        for first, last in _phrase_hits(analysis, phrase, of_token):
            span = Span(analysis.tokens[first].start, analysis.tokens[last].end)
            match = EntityMatch(
                entity=entity,
                name=entity.names[0],
                matched=analysis.text[span.start : span.end],
                span=span,
                sentence=of_token[first],
                score=1.0,
                features=(Feature("watch", 1.0, "the watched words, as written"),),
            )
            hits.append(WatchHit(target, match))
    return hits


# --- all targets ---------------------------------------------------------------------------------


def find_watch_hits(analysis: Analysis, targets: Sequence[WatchTarget]) -> list[WatchHit]:
    """Every place the article names a watched target; one hit per (target, span), best score."""
    entity_targets = {t.key: t for t in targets if not t.is_term}
    hits: list[WatchHit] = []
    if entity_targets:
        for mention in analysis.parties:
            for key in sorted(mention.group.keys & entity_targets.keys()):
                # report the watched entry itself (its key routes the alert), not the group's
                member = next(m for m in mention.group.members if m.key == key)
                hits.append(WatchHit(entity_targets[key], replace(mention.match, entity=member)))
    hits.extend(_term_hits(analysis, targets))
    best: dict[tuple[str, int, int], WatchHit] = {}
    for hit in hits:
        slot = (hit.target.key, hit.match.span.start, hit.match.span.end)
        if slot not in best or hit.match.score > best[slot].match.score:
            best[slot] = hit
    # a span inside a longer hit of the same target adds nothing ("Acme" inside "Acme Sons")
    kept = [
        h
        for h in best.values()
        if not any(
            o is not h
            and o.target.key == h.target.key
            and o.match.span.start <= h.match.span.start
            and h.match.span.end <= o.match.span.end
            for o in best.values()
        )
    ]
    return sorted(kept, key=lambda h: (h.target.key, h.match.span.start))


def watch_alerts(analysis: Analysis, hits: Sequence[WatchHit]) -> list[dict[str, Any]]:
    """One alert dict per watched target found (scan JSON schema + ``watch_items``/``watch_key``)."""
    by_target: dict[str, list[WatchHit]] = defaultdict(list)
    for hit in hits:
        by_target[hit.target.key].append(hit)
    return [_watch_alert(analysis, key, found) for key, found in sorted(by_target.items())]


def _watch_alert(analysis: Analysis, key: str, found: list[WatchHit]) -> dict[str, Any]:
    """The alert dict of one watched target, from its hits (``found``, sorted here best first)."""
    target = found[0].target
    found.sort(key=lambda h: (-h.match.score, h.match.span.start))
    sentences = sorted({h.sentence for h in found})[:MAX_EVIDENCE]
    countries: dict[tuple[str, str | None], CountryMention] = {}
    for country in analysis.countries:
        if country.sentence in sentences:
            countries.setdefault((country.code, country.role), country)
    best = found[0].match
    # the first entity is the watched one (its key is ``watch_key``); term hits share it
    matches = [best]
    alert = Alert(
        rule_id=RULE_ID,
        title=f"Watchlist: {target.name}"[:512],
        severity=Severity.LOW,
        score=round(best.score, 3),
        regime=REGIME,
        references=(),
        entities=tuple(matches),
        countries=tuple(sorted(countries.values(), key=lambda c: c.span.start)),
        terms=(),
        evidence=_evidence(analysis, found, sentences),
        explanation=tuple(
            f"watchlist: '{target.name}' found as '{h.match.matched}' score {h.match.score:g}"
            for h in found[:MAX_EVIDENCE]
        ),
        source="watchlist",
        evidence_parties=len(matches),
    )
    data = alert_to_dict(alert)
    data["watch_items"] = list(target.item_ids)
    data["watch_key"] = key
    return data


def _evidence(
    analysis: Analysis, found: Sequence[WatchHit], sentences: Sequence[int]
) -> tuple[Evidence, ...]:
    """Each of ``sentences`` as evidence, with the spans of the hits in it."""
    evidence = []
    for index in sentences:
        sentence = analysis.sentences[index]
        spans = tuple(
            sorted(
                {h.match.span for h in found if h.sentence == index},
                key=lambda s: (s.start, s.end),
            )
        )
        evidence.append(
            Evidence(
                analysis.text[sentence.start : sentence.end],
                sentence.start,
                sentence.end,
                spans,
            )
        )
    return tuple(evidence)


# --- suggestions for /watch --------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """A listed party a typed name may mean."""

    key: str
    caption: str
    source: str
    type: str
    alias: str  # the list's spelling that came closest
    score: float


@dataclass(frozen=True)
class _SuggestTable:
    norms: list[str]
    skeletons: list[str]
    groups: list[int]
    aliases: list[str]


_TABLES: weakref.WeakKeyDictionary[NameIndex, _SuggestTable] = weakref.WeakKeyDictionary()


def _table(index: NameIndex) -> _SuggestTable:
    table = _TABLES.get(index)
    if table is None:
        norms, skeletons, groups, aliases = [], [], [], []
        for name in index.names:
            words = [token.norm for token in name.tokens]
            norms.append(" ".join(words))
            skeletons.append(" ".join(skeleton(w) for w in words))
            groups.append(name.group)
            aliases.append(name.name.text)
        table = _TABLES[index] = _SuggestTable(norms, skeletons, groups, aliases)
    return table


def suggest(
    index: NameIndex, query: str, limit: int = 5, min_score: float = SUGGEST_MIN_SCORE
) -> list[Suggestion]:
    """The listed parties closest to ``query`` (fuzzy, transliteration-aware), best first.

    Every name of every party is compared on its normalised words and on their skeletons
    (rapidfuzz WRatio, so "Ryongbong" finds "KOREA RYONBONG GENERAL CORPORATION"); each party is
    offered once, under its best-matching name. A name must also contain the query's
    distinctive words: "Acme Trading" does not suggest "TNK TRADING" for sharing "trading"
    (words weighed by the engine's own rarity, the measure it scores names with).
    """
    words = norm_tokens(query[:MAX_NAME_CHARS])
    if not words or not index.names:
        return []
    table = _table(index)
    best: dict[int, tuple[float, int]] = {}
    for needle, haystack in (
        (" ".join(words), table.norms),
        (" ".join(skeleton(w) for w in words), table.skeletons),
    ):
        for _, score, position in process.extract(
            needle, haystack, scorer=fuzz.WRatio, limit=limit * 20, score_cutoff=min_score
        ):
            group = table.groups[position]
            if group not in best or score > best[group][0]:
                best[group] = (score, position)
    weights = [english_rarity(w) * (0.5 if len(w) <= 2 else 1.0) for w in words]
    scored = []
    for gid, (score, position) in best.items():
        coverage = _coverage(words, weights, table.norms[position].split())
        if coverage >= 0.6:
            scored.append((score * coverage, gid, position))
    scored.sort(key=lambda item: (-item[0], len(table.norms[item[2]])))
    suggestions = []
    for score, gid, position in scored[:limit]:
        entity = index.groups[gid].entity
        suggestions.append(
            Suggestion(
                entity.key,
                entity.caption,
                entity.source,
                entity.type.value,
                table.aliases[position],
                round(score, 1),
            )
        )
    return suggestions


def _coverage(words: Sequence[str], weights: Sequence[float], name_words: Sequence[str]) -> float:
    """Share of the query's weight whose words appear (closely spelt) in the name."""
    total = sum(weights) or 1.0
    found = 0.0
    for word, weight in zip(words, weights, strict=True):
        if any(
            fuzz.ratio(word, other) >= 80 or skeleton(word) == skeleton(other)
            for other in name_words
        ):
            found += weight
    return found / total
