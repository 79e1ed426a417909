"""Measuring detection against labelled news: precision, recall, and every mistake explained.

An article counts as *predicted positive* when it raises at least one high or medium alert
("possible violation"); low and info mentions do not count. Recall is also reported per
labelled regime, precision per predicted regime, and entity-level recall over the labelled
entities that are listed parties (a labelled name counts as listed when the index finds it on
its own), so a reviewer sees both whether an article was caught and whether its parties were.

Every false positive and false negative comes with the alerts' explanations, so a reviewer
sees *why* without rerunning anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import DataError
from bot.matching.engine import Matcher
from bot.matching.model import Alert, Document
from bot.matching.normalize import norm_tokens


class EvalInputError(DataError):
    """An articles or labels file that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Label:
    id: str
    is_positive: bool
    entities: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    regime: str | None = None
    rationale: str = ""


@dataclass(frozen=True)
class Outcome:
    label: Label
    title: str
    alerts: tuple[Alert, ...]
    listed_entities: tuple[str, ...]  # labelled entities that are listed parties
    found_entities: tuple[str, ...]  # ... and were found in the article

    @property
    def predicted(self) -> bool:
        return any(alert.severity.is_violation for alert in self.alerts)

    @property
    def kind(self) -> str:
        if self.predicted:
            return "tp" if self.label.is_positive else "fp"
        return "fn" if self.label.is_positive else "tn"


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass
class Report:
    outcomes: list[Outcome]
    overall: Scores = field(default_factory=Scores)
    recall_by_regime: dict[str, Scores] = field(default_factory=dict)
    precision_by_regime: dict[str, Scores] = field(default_factory=dict)
    entities_listed: int = 0
    entities_found: int = 0

    @property
    def entity_recall(self) -> float:
        return self.entities_found / self.entities_listed if self.entities_listed else 1.0


# --- reading ---------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise EvalInputError(f"{path}:{number}: not JSON: {error.msg}") from error
            if not isinstance(row, dict) or "id" not in row:
                raise EvalInputError(f"{path}:{number}: expected an object with an id")
            rows.append(row)
    return rows


def read_labels(path: Path) -> list[Label]:
    labels = []
    for row in read_jsonl(path):
        if not isinstance(row.get("is_positive"), bool):
            raise EvalInputError(f"{path}: label {row['id']!r} has no boolean is_positive")
        labels.append(
            Label(
                id=row["id"],
                is_positive=row["is_positive"],
                entities=tuple(row.get("entities") or ()),
                countries=tuple(row.get("countries") or ()),
                regime=row.get("regime"),
                rationale=row.get("rationale", ""),
            )
        )
    return labels


# --- measuring -------------------------------------------------------------------------------


def evaluate(
    matcher: Matcher, articles: Mapping[str, Mapping[str, Any]], labels: Sequence[Label]
) -> Report:
    """Scan every labelled article and score the predictions."""
    missing = [label.id for label in labels if label.id not in articles]
    if missing:
        raise EvalInputError(f"labels without an article: {', '.join(missing[:5])}")
    report = Report(outcomes=[])
    for label in labels:
        article = articles[label.id]
        outcome = _outcome(
            matcher, label, str(article.get("title", "")), str(article.get("text", ""))
        )
        report.outcomes.append(outcome)
        _count(report, outcome)
    return report


def _outcome(matcher: Matcher, label: Label, title: str, text: str) -> Outcome:
    document = Document(text, title)
    alerts = tuple(matcher.scan(document))
    listed = tuple(name for name in label.entities if _is_listed(matcher, name))
    found_words = [set(norm_tokens(m.match.matched)) for m in matcher.analyze(document).parties]
    found = tuple(name for name in listed if _found(name, found_words))
    return Outcome(label, title, alerts, listed, found)


def _is_listed(matcher: Matcher, name: str) -> bool:
    return bool(matcher.analyze(Document(f"{name}.")).parties)


def _found(name: str, found_words: Iterable[set[str]]) -> bool:
    wanted = set(norm_tokens(name))
    return any(wanted <= words or (words and words <= wanted) for words in found_words)


def _count(report: Report, outcome: Outcome) -> None:
    setattr(report.overall, outcome.kind, getattr(report.overall, outcome.kind) + 1)
    if outcome.label.is_positive:
        scores = report.recall_by_regime.setdefault(outcome.label.regime or "unknown", Scores())
        if outcome.predicted:
            scores.tp += 1
        else:
            scores.fn += 1
    if outcome.predicted:
        regimes = {a.regime for a in outcome.alerts if a.severity.is_violation}
        for regime in regimes:
            scores = report.precision_by_regime.setdefault(regime, Scores())
            if outcome.label.is_positive:
                scores.tp += 1
            else:
                scores.fp += 1
    report.entities_listed += len(outcome.listed_entities)
    report.entities_found += len(outcome.found_entities)


# --- reporting -------------------------------------------------------------------------------


def report_dict(report: Report, details: bool = True) -> dict[str, Any]:
    """The figures, and unless ``details`` is off every mistake with its alerts."""
    data: dict[str, Any] = {
        "articles": len(report.outcomes),
        "overall": report.overall.as_dict(),
        "recall_by_regime": {k: v.as_dict() for k, v in sorted(report.recall_by_regime.items())},
        "precision_by_regime": {
            k: v.as_dict() for k, v in sorted(report.precision_by_regime.items())
        },
        "entity_recall": {
            "listed": report.entities_listed,
            "found": report.entities_found,
            "recall": round(report.entity_recall, 4),
        },
    }
    if details:
        data["mistakes"] = [_mistake(o) for o in report.outcomes if o.kind in {"fp", "fn"}]
        data["missed_entities"] = [
            {"id": o.label.id, "missed": sorted(set(o.listed_entities) - set(o.found_entities))}
            for o in report.outcomes
            if set(o.listed_entities) - set(o.found_entities)
        ]
    return data


def _mistake(outcome: Outcome) -> dict[str, Any]:
    return {
        "kind": outcome.kind,
        "id": outcome.label.id,
        "title": outcome.title,
        "label_regime": outcome.label.regime,
        "rationale": outcome.label.rationale,
        "alerts": [
            {
                "rule": a.rule_id,
                "severity": a.severity.value,
                "regime": a.regime,
                "score": a.score,
                "entities": [m.matched for m in a.entities],
                "evidence": [e.text for e in a.evidence],
                "explanation": list(a.explanation),
            }
            for a in outcome.alerts
        ],
    }


def render_report(report: Report, details: bool = True) -> str:
    data = report_dict(report, details)
    overall = data["overall"]
    lines = [
        f"articles: {data['articles']}   possible violation = a high or medium alert",
        f"overall: precision {overall['precision']:.3f}  recall {overall['recall']:.3f}  F1 {overall['f1']:.3f}"
        f"  (tp {overall['tp']}, fp {overall['fp']}, fn {overall['fn']}, tn {overall['tn']})",
        "recall by labelled regime:",
    ]
    lines += [
        f"  {k}: {v['recall']:.3f} ({v['tp']} of {v['tp'] + v['fn']})"
        for k, v in data["recall_by_regime"].items()
    ]
    lines.append("precision by predicted regime:")
    lines += [
        f"  {k}: {v['precision']:.3f} ({v['tp']} of {v['tp'] + v['fp']})"
        for k, v in data["precision_by_regime"].items()
    ]
    entity = data["entity_recall"]
    lines.append(
        f"entity recall (labelled listed parties found): {entity['recall']:.3f} ({entity['found']} of {entity['listed']})"
    )
    for mistake in data.get("mistakes", []):
        kind = "FALSE POSITIVE" if mistake["kind"] == "fp" else "FALSE NEGATIVE"
        lines.append(f"\n{kind} {mistake['id']}: {mistake['title']}")
        lines.append(f"  label: {mistake['label_regime'] or 'negative'}: {mistake['rationale']}")
        if not mistake["alerts"]:
            lines.append("  no alert")
        for alert in mistake["alerts"]:
            lines.append(
                f"  alert {alert['rule']} ({alert['severity']}, {alert['regime']}, score {alert['score']:.2f})"
            )
            lines += [f"    > {text}" for text in alert["evidence"][:3]]
            lines += [f"    why: {text}" for text in alert["explanation"]]
    for missed in data.get("missed_entities", []):
        lines.append(f"missed listed entities in {missed['id']}: {', '.join(missed['missed'])}")
    return "\n".join(lines)


def group_by_id(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    grouped: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        grouped[str(row["id"])] = row
    return grouped


__all__ = [
    "EvalInputError",
    "Label",
    "Outcome",
    "Report",
    "Scores",
    "evaluate",
    "group_by_id",
    "read_jsonl",
    "read_labels",
    "render_report",
    "report_dict",
]
