"""Alerts as the stable JSON contract (``scan --format json``) and as text for people.

The JSON shape is an interface other tools rely on: fields are added, never renamed. Stored
alerts are kept in this same shape, so ``alerts list`` prints what ``scan`` printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.matching.model import Alert, EntityMatch

SEVERITY_MARK = {"high": "[HIGH]", "medium": "[MEDIUM]", "low": "[low]", "info": "[info]"}


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """One alert in the published JSON schema."""
    return {
        "rule": alert.rule_id,
        "title": alert.title,
        "severity": alert.severity.value,
        "score": alert.score,
        "regime": alert.regime,
        "references": [ref.text for ref in alert.references],
        "reference_links": [{"text": ref.text, "url": ref.url} for ref in alert.references],
        "entities": [
            entity_to_dict(match, i < alert.evidence_parties)
            for i, match in enumerate(alert.entities)
        ],
        "countries": [
            {
                "code": c.code,
                "matched": c.matched,
                "role": c.role,
                "form": c.form,
                "start": c.span.start,
                "end": c.span.end,
            }
            for c in alert.countries
        ],
        "terms": [{"group": t.group, "term": t.term, "matched": t.matched} for t in alert.terms],
        "evidence": [
            {
                "text": e.text,
                "start": e.start,
                "end": e.end,
                "highlights": [[h.start - e.start, h.end - e.start] for h in e.highlights],
            }
            for e in alert.evidence
        ],
        "explanation": list(alert.explanation),
        "rule_file": alert.source,
    }


def entity_to_dict(match: EntityMatch, in_evidence: bool) -> dict[str, Any]:
    """One party of an alert in the published JSON schema (with the list version it came from)."""
    entity = match.entity
    return {
        "name": entity.caption,
        "matched": match.matched,
        "score": match.score,
        "source": entity.source,
        "id": entity.list_id,
        "key": entity.key,
        "list_version": entity.version,
        "type": entity.type.value,
        "programs": list(entity.programs),
        "alias": match.name.text,
        "in_evidence": in_evidence,
        "start": match.span.start,
        "end": match.span.end,
        "features": [
            {"name": f.name, "value": f.value, "detail": f.detail} for f in match.features
        ],
    }


def scan_result(
    source: str, title: str, alerts: Iterable[Alert], cut: tuple[int, int] | None = None
) -> dict[str, Any]:
    """The JSON contract of one scanned input; ``cut`` = (characters matched, characters in all)."""
    result: dict[str, Any] = {
        "source": source,
        "title": title,
        "alerts": [alert_to_dict(a) for a in alerts],
    }
    if cut is not None:
        result["truncated"] = {"matched_chars": cut[0], "total_chars": cut[1]}
    return result


def highlight(text: str, spans: Sequence[Sequence[int]], bold: bool) -> str:
    """Mark the matched words: ANSI bold on a terminal, «guillemets» elsewhere."""
    opened, closed = ("\033[1m", "\033[0m") if bold else ("«", "»")
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, last = [], 0
    for start, end in merged:
        out.append(text[last:start])
        out.append(f"{opened}{text[start:end]}{closed}")
        last = end
    out.append(text[last:])
    return "".join(out)


def render_text(result: Mapping[str, Any], bold: bool = False) -> str:
    """The human-readable report of one scanned input."""
    lines = [f"== {result['source']}" + (f": {result['title']}" if result.get("title") else "")]
    alerts = result["alerts"]
    if "truncated" in result:
        cut = result["truncated"]
        lines.append(
            f"   note: only the first {cut['matched_chars']:,} of {cut['total_chars']:,} characters were matched"
        )
    if not alerts:
        lines.append("   no alerts")
    for alert in alerts:
        lines.append(
            f"{SEVERITY_MARK.get(alert['severity'], alert['severity'])} {alert['title']}"
            f"  (rule {alert['rule']}, regime {alert['regime']}, score {alert['score']:.2f})"
        )
        for entity in alert["entities"]:
            where = "" if entity.get("in_evidence", True) else " (elsewhere in the article)"
            lines.append(
                f"   party: {entity['name']} [{entity['source']} {entity['id']}, {entity['type']}]"
                f" written '{entity['matched']}' score {entity['score']:.2f}{where}"
            )
        if alert["countries"]:
            countries = ", ".join(
                f"{c['code']} '{c['matched']}'" + (f" ({c['role']})" if c.get("role") else "")
                for c in alert["countries"]
            )
            lines.append(f"   countries: {countries}")
        for evidence in alert["evidence"]:
            lines.append(
                f"   > {highlight(evidence['text'], evidence.get('highlights', []), bold)}"
            )
        for reference in alert["references"]:
            lines.append(f"   ref: {reference}")
        for explanation in alert.get("explanation", []):
            lines.append(f"   why: {explanation}")
    return "\n".join(lines)
