"""Alerts as Telegram messages: one alert, everything about it (/alert), digests, scan results.

Alerts fit the 4096-character limit by trimming their long parts (evidence sentences around the
matched words, then fewer parties, sources and references); whole sections are never split and
the HTML stays balanced (``bot.tg.markup``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup

from bot.tg.keyboards import alert_keyboard, digest_keyboard
from bot.tg.markup import (
    MAX_TEXT,
    domain,
    esc,
    fit,
    highlighted,
    link,
    pack,
    short,
    visible_length,
    when,
)
from db.history import FullAlert, MarkView

SEVERITY_MARK = {"high": "🔴", "medium": "🟠", "low": "🟡", "info": "⚪"}
WATCH_MARK = "👁"
VERDICT_LABEL = {"relevant": "✅ relevant", "false_positive": "🚫 false positive"}


def is_watch(alert: dict[str, Any]) -> bool:
    return alert.get("rule") == "watchlist"


# --- one alert -----------------------------------------------------------------------------------


def _header(alert: dict[str, Any]) -> str:
    severity = str(alert.get("severity", ""))
    if is_watch(alert):
        return f"{WATCH_MARK} <b>{esc(alert.get('title', 'Watchlist'))}</b>"
    mark = SEVERITY_MARK.get(severity, "•")
    return f"{mark} <b>{esc(severity.upper())}</b> · <b>{esc(alert.get('title', ''))}</b>"


def _meta(alert: dict[str, Any]) -> str:
    if is_watch(alert):
        return f"<i>watchlist match · score {float(alert.get('score', 0)):.2f}</i>"
    return (
        f"<i>rule</i> <code>{esc(alert.get('rule', ''))}</code> · {esc(alert.get('regime', ''))}"
        f" · score {float(alert.get('score', 0)):.2f}"
    )


def _party(entity: dict[str, Any], detail: bool = False) -> str:
    source = f"{entity.get('source', '')} {entity.get('id', '')}".strip()
    line = f"• <b>{esc(entity.get('name', ''))}</b> ({esc(source)}, {esc(entity.get('type', ''))})"
    line += f" as “{esc(entity.get('matched', ''))}”, score {float(entity.get('score', 0)):.2f}"
    if not entity.get("in_evidence", True):
        line += " <i>(elsewhere in the article)</i>"
    if detail:
        features = entity.get("features") or []
        if features:
            line += "\n   " + "; ".join(
                esc(
                    f"{f.get('name')} {float(f.get('value', 0)):g}"
                    + (f" ({f.get('detail')})" if f.get("detail") else "")
                )
                for f in features
            )
        if entity.get("programs"):
            line += f"\n   programs: {esc(', '.join(entity['programs']))}"
    return line


def _countries(alert: dict[str, Any]) -> str:
    parts = []
    for country in alert.get("countries") or []:
        role = f" ({country['role']})" if country.get("role") else ""
        parts.append(
            f"{esc(country.get('code', ''))}{esc(role)} “{esc(country.get('matched', ''))}”"
        )
    return " · ".join(dict.fromkeys(parts))


def _sources(alert: dict[str, Any], limit: int) -> list[str]:
    lines = []
    for source in (alert.get("sources") or [])[:limit]:
        url = str(source.get("url") or "")
        title = short(source.get("title") or domain(url) or "article", 120)
        outlet = source.get("outlet") or domain(url)
        lines.append(f"• {link(url, title)}" + (f" — {esc(outlet)}" if outlet else ""))
    more = len(alert.get("sources") or []) - limit
    if more > 0:
        lines.append(f"<i>+{more} more source{'s' if more > 1 else ''}</i>")
    return lines


def _references(alert: dict[str, Any], limit: int) -> list[str]:
    links = alert.get("reference_links") or [
        {"text": r, "url": ""} for r in alert.get("references") or []
    ]
    return [f"• {link(ref.get('url'), ref.get('text', ''))}" for ref in links[:limit]]


def render_alert(alert: dict[str, Any]) -> str:
    """An alert message: severity, rule, parties, countries, evidence in bold, links, references.

    Always under 4096 visible characters: long parts are trimmed first, whole sections never
    split, the HTML always balanced.
    """
    for evidence_chars, sentences, parties, sources, references in (
        (600, 2, 5, 3, 4),
        (300, 2, 3, 2, 2),
        (160, 1, 2, 1, 1),
        (80, 1, 1, 1, 1),
    ):
        text = _render_alert(alert, evidence_chars, sentences, parties, sources, references)
        if visible_length(text) <= MAX_TEXT:
            return text
    return fit(text)


def _render_alert(
    alert: dict[str, Any],
    evidence_chars: int,
    sentences: int,
    parties: int,
    sources: int,
    references: int,
) -> str:
    lines = [_header(alert), _meta(alert)]
    entities = alert.get("entities") or []
    if entities:
        lines += ["", "<b>Parties</b>"] + [_party(e) for e in entities[:parties]]
        if len(entities) > parties:
            lines.append(f"<i>+{len(entities) - parties} more</i>")
    countries = _countries(alert)
    if countries:
        lines += ["", f"<b>Countries</b>: {countries}"]
    evidence = alert.get("evidence") or []
    if evidence:
        lines += ["", "<b>Evidence</b>"]
        for item in evidence[:sentences]:
            lines.append(
                f"<blockquote>{highlighted(str(item.get('text', '')), item.get('highlights') or [], evidence_chars)}</blockquote>"
            )
    source_lines = _sources(alert, sources)
    if source_lines:
        lines += ["", "<b>Sources</b>", *source_lines]
    reference_lines = _references(alert, references)
    if reference_lines:
        lines += ["", "<b>References</b>", *reference_lines]
    if alert.get("id") is not None:
        lines += [
            "",
            f"<i>Alert #{esc(alert['id'])} · /alert {esc(alert['id'])} for everything</i>",
        ]
    return "\n".join(lines)


def render_alert_full(full: FullAlert) -> list[str]:
    """Everything about one alert (for /alert), as one or more messages split between sections."""
    alert = full.alert
    first = f"{_header(alert)}\n{_meta(alert)}\n<i>Alert #{esc(alert.get('id'))} · {esc(alert.get('created_at', '')[:16])} UTC</i>"
    if full.status:
        first += f"\n<i>In this chat: {esc(_state_in_chat(full))}</i>"
    sections = [first, *_findings(alert), _rule_section(alert)]
    sections.append("\n".join(["<b>Sources</b>", *_sources(alert, 50)]))
    if full.marks:
        sections.append("\n".join(["<b>Review</b>", *(_mark_line(m) for m in full.marks)]))
    return pack(sections)


def _state_in_chat(full: FullAlert) -> str:
    state = {
        "sent": f"sent {when(full.sent_at)}",
        "pending": "waiting (digest or quiet hours)",
        "sending": "being sent",
        "failed": "could not be delivered",
    }
    return state.get(full.status, full.status)


def _findings(alert: dict[str, Any]) -> list[str]:
    """The sections of what was found: parties, countries, terms, each evidence, why."""
    sections = []
    entities = alert.get("entities") or []
    if entities:
        sections.append(
            "\n".join(
                [
                    "<b>Parties</b> (matched text, list entry, scores)",
                    *(_party(e, detail=True) for e in entities),
                ]
            )
        )
    if alert.get("countries"):
        sections.append(f"<b>Countries</b>: {_countries(alert)}")
    if alert.get("terms"):
        terms = ", ".join(
            dict.fromkeys(f"{t.get('matched')} ({t.get('group')})" for t in alert["terms"])
        )
        sections.append(f"<b>Terms</b>: {esc(terms)}")
    for index, item in enumerate(alert.get("evidence") or [], 1):
        spans = item.get("highlights") or []
        where = f"characters {item.get('start')}–{item.get('end')}"
        sections.append(
            f"<b>Evidence {index}</b> <i>({esc(where)})</i>\n<blockquote>{highlighted(str(item.get('text', '')), spans, 3000)}</blockquote>"
        )
    if alert.get("explanation"):
        sections.append(
            "\n".join(["<b>Why</b>", *(f"• {esc(line)}" for line in alert["explanation"])])
        )
    return sections


def _rule_section(alert: dict[str, Any]) -> str:
    rule_line = (
        f"<b>Rule</b> <code>{esc(alert.get('rule', ''))}</code> · {esc(alert.get('regime', ''))}"
    )
    if alert.get("rule_file"):
        rule_line += f" · <i>{esc(alert['rule_file'])}</i>"
    references = _references(alert, 50)
    return "\n".join([rule_line, *(["<b>References</b>", *references] if references else [])])


def _mark_line(mark: MarkView) -> str:
    entity = f" on {esc(mark.entity_key)}" if mark.entity_key else ""
    return f"• {VERDICT_LABEL.get(mark.verdict, esc(mark.verdict))}{entity} by {esc(mark.author)}, {esc(when(mark.at))}"


# --- digests -------------------------------------------------------------------------------------


def digest_entry(alert: dict[str, Any]) -> str:
    mark = WATCH_MARK if is_watch(alert) else SEVERITY_MARK.get(str(alert.get("severity")), "•")
    parties = ", ".join(
        dict.fromkeys(str(e.get("name", "")) for e in (alert.get("entities") or [])[:2])
    )
    sources = alert.get("sources") or []
    url = str(sources[0].get("url") or "") if sources else ""
    where = link(url, sources[0].get("outlet") or domain(url)) if sources else ""
    line = f"{mark} <b>{esc(short(alert.get('title', ''), 120))}</b>"
    if parties:
        line += f"\n   {esc(short(parties, 100))}"
    line += f"\n   {where + ' · ' if where else ''}/alert {esc(alert.get('id'))}"
    return line


def render_digest(alerts: Sequence[dict[str, Any]], total: int | None = None) -> str:
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[str(alert.get("severity"))] = counts.get(str(alert.get("severity")), 0) + 1
    summary = ", ".join(
        f"{counts[s]} {s}" for s in ("high", "medium", "low", "info") if counts.get(s)
    )
    header = f"🗞 <b>Digest</b>: {len(alerts)} alert{'s' if len(alerts) != 1 else ''}" + (
        f" ({esc(summary)})" if summary else ""
    )
    if total is not None and total > len(alerts):
        header += f" <i>(part of {total})</i>"
    return fit("\n\n".join([header, *(digest_entry(a) for a in alerts)]))


def digest_batches(
    alerts: Sequence[dict[str, Any]], per_message: int = 8
) -> list[list[dict[str, Any]]]:
    """Alerts in groups that each make one digest message under the limit."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for alert in alerts:
        if current and (
            len(current) >= per_message
            or visible_length(render_digest([*current, alert])) >= MAX_TEXT - 10
        ):
            batches.append(current)
            current = []
        current.append(alert)
    if current:
        batches.append(current)
    return batches


def render_scan(
    source: str,
    title: str,
    alerts: Sequence[dict[str, Any]],
    watch_hits: Sequence[dict[str, Any]] = (),
) -> str:
    head = f"🔎 <b>Scan</b> of {esc(short(title or source, 120))}"
    if not alerts and not watch_hits:
        return head + "\nNo listed party and no prohibited activity found: no alert."
    parts = [head]
    for alert in [*alerts, *watch_hits][:5]:
        entry = [_header(alert), _meta(alert)]
        entities = alert.get("entities") or []
        if entities:
            entry.append(
                " · ".join(
                    f"<b>{esc(e.get('name'))}</b> as “{esc(e.get('matched'))}” {float(e.get('score', 0)):.2f}"
                    for e in entities[:3]
                )
            )
        if alert.get("countries"):
            entry.append(f"Countries: {_countries(alert)}")
        for item in (alert.get("evidence") or [])[:1]:
            entry.append(
                f"<blockquote>{highlighted(str(item.get('text', '')), item.get('highlights') or [], 300)}</blockquote>"
            )
        refs = alert.get("references") or []
        if refs:
            entry.append(f"<i>{esc(short('; '.join(refs[:2]), 200))}</i>")
        parts.append("\n".join(entry))
    more = len(alerts) + len(watch_hits) - 5
    if more > 0:
        parts.append(f"<i>+{more} more</i>")
    return fit("\n\n".join(parts))


@dataclass(frozen=True)
class Message:
    """One message to send: its rows, its alerts, its HTML and its keyboard."""

    delivery_ids: tuple[int, ...]
    alert_ids: tuple[int, ...]
    text: str
    keyboard: InlineKeyboardMarkup


def compose(
    alerts: Sequence[dict[str, Any]],
    delivery_ids: Sequence[int],
    digest: bool,
    total: int | None = None,
) -> Message:
    """The message for some rows: an alert, or a digest of several (pure, so a probe rebuilds
    exactly the keyboard that was sent)."""
    if not digest and len(alerts) == 1:
        alert = alerts[0]
        return Message(
            tuple(delivery_ids), (alert["id"],), render_alert(alert), alert_keyboard(alert)
        )
    ids = tuple(a["id"] for a in alerts)
    return Message(tuple(delivery_ids), ids, render_digest(alerts, total), digest_keyboard(ids))
