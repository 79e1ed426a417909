"""HTML for Telegram: alerts, digests, history, settings, watchlists, scan results.

Telegram's HTML parse mode rejects a whole message over one unescaped ``<`` or ``&``, so every
dynamic string (titles, names, evidence, URLs, user input) goes through ``esc``; the only
markup is written here. A message is at most 4096 characters *after* parsing (counted in
UTF-16 code units, as the Bot API counts). Alerts fit by trimming their long parts (evidence
sentences around the matched words, then fewer parties, sources and references); ``fit`` is
the last resort and cuts only between a tag or an entity and the next, closing what is open.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from db.chats import ChatSettings
from db.history import FullAlert, HistoryItem, HistoryPage, MarkView
from db.models import Feed

MAX_TEXT = 4096  # telegram.constants.MessageLimit.MAX_TEXT_LENGTH
SEVERITY_MARK = {"high": "🔴", "medium": "🟠", "low": "🟡", "info": "⚪"}
WATCH_MARK = "👁"
ELLIPSIS = "…"
VERDICT_LABEL = {"relevant": "✅ relevant", "false_positive": "🚫 false positive"}
_TOKEN_RE = re.compile(r"<[^>]*>|&(?:#\d{1,8}|#[xX][0-9a-fA-F]{1,7}|[A-Za-z]+);|[^<&]+|[<&]", re.S)


def esc(value: object) -> str:
    """Escape any dynamic text for Telegram HTML (quotes too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_text(markup: str) -> str:
    """The text Telegram shows for our HTML: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def visible_length(markup: str) -> int:
    return utf16_len(visible_text(markup))


def fit(markup: str, limit: int = MAX_TEXT) -> str:
    """``markup`` cut to at most ``limit`` visible characters, never inside a tag or an entity.

    The cut falls between tokens (a tag, an entity, or a character), then every tag still open
    is closed in order, so the result parses whenever the input did.
    """
    if visible_length(markup) <= limit:
        return markup
    budget = limit - utf16_len(ELLIPSIS)
    out: list[str] = []
    stack: list[str] = []
    used = 0
    for match in _TOKEN_RE.finditer(markup):
        token = match.group()
        if token.startswith("<") and token.endswith(">") and len(token) > 2:
            if token.startswith("</"):
                if stack:
                    stack.pop()
            elif not token.endswith("/>"):
                stack.append(token[1:-1].split()[0].lower())
            out.append(token)
            continue
        if token.startswith("&") and token.endswith(";"):
            size = utf16_len(html.unescape(token))
            if used + size > budget:
                break
            out.append(token)
            used += size
            continue
        room = budget - used
        if room <= 0:
            break
        piece = _cut_utf16(token, room)
        out.append(piece)
        used += utf16_len(piece)
        if len(piece) < len(token):
            break
    # drop tags opened right at the cut (they would be empty) and close the rest
    while (
        out
        and out[-1].startswith("<")
        and not out[-1].startswith("</")
        and stack
        and out[-1][1:-1].split()[0].lower() == stack[-1]
    ):
        out.pop()
        stack.pop()
    return "".join(out) + ELLIPSIS + "".join(f"</{tag}>" for tag in reversed(stack))


def _cut_utf16(text: str, room: int) -> str:
    if utf16_len(text) <= room:
        return text
    out, used = [], 0
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > room:
            break
        out.append(char)
        used += size
    return "".join(out)


def link(url: str | None, label: str) -> str:
    """A link for http(s) URLs; anything else is shown as text."""
    if url and urlsplit(url).scheme in ("http", "https"):
        return f'<a href="{esc(url)}">{esc(label)}</a>'
    return esc(label)


def _domain(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or url[:40]


def short(text: str, size: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= size else text[: size - 1].rstrip() + ELLIPSIS


def highlighted(text: str, spans: Iterable[Sequence[int]], budget: int | None = None) -> str:
    """Escaped ``text`` with the spans in bold; trimmed around the first span to ``budget`` chars."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, int(s)), min(len(text), int(e))) for s, e in spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    lo, hi = 0, len(text)
    if budget is not None and len(text) > budget:
        anchor = merged[0][0] if merged else 0
        lo = max(0, min(anchor - budget // 3, len(text) - budget))
        hi = min(len(text), lo + budget)
        while lo > 0 and not text[lo - 1].isspace() and lo > anchor - budget // 2:
            lo -= 1
    out = [ELLIPSIS] if lo > 0 else []
    position = lo
    for start, end in merged:
        start, end = max(start, lo), min(end, hi)
        if end <= start:
            continue
        out.append(esc(text[position:start]))
        out.append(f"<b>{esc(text[start:end])}</b>")
        position = end
    out.append(esc(text[position:hi]))
    if hi < len(text):
        out.append(ELLIPSIS)
    return "".join(out)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


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
        title = short(source.get("title") or _domain(url) or "article", 120)
        outlet = source.get("outlet") or _domain(url)
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
    sections = [
        f"{_header(alert)}\n{_meta(alert)}\n<i>Alert #{esc(alert.get('id'))} · {esc(alert.get('created_at', '')[:16])} UTC</i>"
    ]
    if full.status:
        state = {
            "sent": f"sent {_when(full.sent_at)}",
            "pending": "waiting (digest or quiet hours)",
            "sending": "being sent",
            "failed": "could not be delivered",
        }
        sections[0] += f"\n<i>In this chat: {esc(state.get(full.status, full.status))}</i>"
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
    rule_line = (
        f"<b>Rule</b> <code>{esc(alert.get('rule', ''))}</code> · {esc(alert.get('regime', ''))}"
    )
    if alert.get("rule_file"):
        rule_line += f" · <i>{esc(alert['rule_file'])}</i>"
    references = _references(alert, 50)
    sections.append(
        "\n".join([rule_line, *(["<b>References</b>", *references] if references else [])])
    )
    sections.append("\n".join(["<b>Sources</b>", *_sources(alert, 50)]))
    if full.marks:
        sections.append("\n".join(["<b>Review</b>", *(_mark_line(m) for m in full.marks)]))
    return pack(sections)


def pack(sections: Sequence[str], limit: int = MAX_TEXT) -> list[str]:
    """Sections joined into as few messages as fit; a section too long alone is trimmed."""
    messages: list[str] = []
    current = ""
    for section in sections:
        section = fit(section, limit)
        candidate = f"{current}\n\n{section}" if current else section
        if visible_length(candidate) <= limit:
            current = candidate
        else:
            messages.append(current)
            current = section
    if current:
        messages.append(current)
    return messages


def _mark_line(mark: MarkView) -> str:
    entity = f" on {esc(mark.entity_key)}" if mark.entity_key else ""
    return f"• {VERDICT_LABEL.get(mark.verdict, esc(mark.verdict))}{entity} by {esc(mark.author)}, {esc(_when(mark.at))}"


# --- digests -------------------------------------------------------------------------------------


def digest_entry(alert: dict[str, Any]) -> str:
    mark = WATCH_MARK if is_watch(alert) else SEVERITY_MARK.get(str(alert.get("severity")), "•")
    parties = ", ".join(
        dict.fromkeys(str(e.get("name", "")) for e in (alert.get("entities") or [])[:2])
    )
    sources = alert.get("sources") or []
    url = str(sources[0].get("url") or "") if sources else ""
    where = link(url, sources[0].get("outlet") or _domain(url)) if sources else ""
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


# --- history -------------------------------------------------------------------------------------


def render_history(page: HistoryPage, page_size: int, description: str) -> str:
    if page.total == 0:
        return (
            "🗂 <b>History</b>"
            + (f" — {esc(description)}" if description else "")
            + "\nNo alerts yet."
            + ("" if description else " /subscribe or /watch to receive some.")
        )
    pages = (page.total + page_size - 1) // page_size
    number = page.offset // page_size + 1
    lines = [
        "🗂 <b>History</b>"
        + (f" — {esc(description)}" if description else "")
        + f" — {page.total} alert{'s' if page.total != 1 else ''}, page {number}/{pages}"
    ]
    for item in page.items:
        lines.append("")
        lines.append(_history_item(item))
    return fit("\n".join(lines))


def _history_item(item: HistoryItem) -> str:
    mark = WATCH_MARK if item.rule == "watchlist" else SEVERITY_MARK.get(item.severity, "•")
    line = f"<b>#{item.alert_id}</b> {mark} {esc(_when(item.created_at))} <b>{esc(short(item.title, 110))}</b>"
    details = []
    if item.parties:
        details.append(esc(short(", ".join(item.parties), 90)))
    if item.countries:
        details.append(esc(", ".join(item.countries[:6])))
    details.append(link(item.url, item.outlet or _domain(item.url) or "article"))
    line += "\n   " + " · ".join(details)
    state = {"pending": "⏳ waiting", "sending": "⏳ sending", "failed": "⚠️ not delivered"}.get(
        item.status
    )
    tail = [state] if state else []
    tail += [_mark_short(m) for m in item.marks[-2:]]
    tail.append(f"/alert {item.alert_id}")
    line += "\n   " + " · ".join(tail)
    return line


def _mark_short(mark: MarkView) -> str:
    return f"{VERDICT_LABEL.get(mark.verdict, esc(mark.verdict))} by {esc(short(mark.author, 40))} {esc(mark.at.astimezone(UTC).strftime('%m-%d %H:%M'))}"


# --- settings, watchlist, scan, feeds, stats, help -------------------------------------------


def _minutes(value: int | None) -> str:
    return "" if value is None else f"{value // 60:02d}:{value % 60:02d}"


def render_settings(view: ChatSettings, chat_title: str = "") -> str:
    if not view.chat_active:
        state = f"⛔ the bot cannot write here ({esc(view.inactive_reason or 'inactive')})"
    elif view.subscribed:
        state = "✅ subscribed"
    else:
        state = "⏸ not subscribed (/subscribe)" + (
            " — watchlist alerts only" if view.watch_items and not view.exists else ""
        )
    mode = {
        "instant": "instant",
        "hourly": "hourly digest",
        "daily": f"daily digest at {view.digest_hour:02d}:00",
    }.get(view.mode, view.mode)
    quiet = (
        f"{_minutes(view.quiet_start)}–{_minutes(view.quiet_end)}"
        if view.quiet_start is not None
        else "off"
    )
    topics = ", ".join([*view.regimes, *view.rules]) or "all"
    lines = [
        "⚙️ <b>Alert settings</b>" + (f" for {esc(chat_title)}" if chat_title else ""),
        state,
        "",
        f"Minimum severity: <b>{esc(view.min_severity)}</b>",
        f"Regimes and rules: <b>{esc(topics)}</b>",
        f"Countries: <b>{esc(', '.join(view.countries) or 'all')}</b>",
        f"Only my watchlist: <b>{'yes' if view.watchlist_only else 'no'}</b> ({view.watch_items} watched)",
        f"Delivery: <b>{esc(mode)}</b>",
        f"Quiet hours: <b>{esc(quiet)}</b> ({esc(view.timezone)})",
    ]
    if view.mutes:
        lines.append(
            "Muted: "
            + esc(", ".join(short(m.label or m.value, 40) for m in view.mutes[:8]))
            + (" …" if len(view.mutes) > 8 else "")
        )
    lines += [
        "",
        "<i>Typed changes: /settings countries KP,IR · /settings tz Europe/Berlin · /settings quiet 22:00-07:00 · "
        "/settings regimes UN-DPRK-1718 · /settings rules wagner-arms · /settings digest daily 8</i>",
    ]
    return fit("\n".join(lines))


def render_watchlist(items: Sequence[Any], limit: int) -> str:
    if not items:
        return "👁 <b>Watchlist</b>\nEmpty. /watch NAME adds a listed party or any name or term."
    lines = [f"👁 <b>Watchlist</b> ({len(items)} of {limit})"]
    for index, item in enumerate(items, 1):
        what = "listed party" if item.kind == "entity" else "name or term"
        key = f" <code>{esc(item.key)}</code>" if item.kind == "entity" else ""
        lines.append(f"{index}. <b>{esc(item.name)}</b> — {what}{key}")
    lines.append("\n<i>Tap a name below to stop watching it, or /unwatch NAME.</i>")
    return fit("\n".join(lines))


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


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def render_feeds(feeds: Sequence[Feed], now: datetime) -> str:
    if not feeds:
        return "📡 <b>Feeds</b>\nNone yet. /feeds add URL [minutes]"
    lines = [f"📡 <b>Feeds</b> ({len(feeds)})"]
    for feed in feeds:
        health = "⏸" if not feed.enabled else ("⚠️" if feed.consecutive_failures else "✅")
        title = feed.title or _domain(feed.url)
        line = f"{health} <b>#{feed.id}</b> {link(feed.url, short(title, 60))} · every {max(1, feed.interval_s // 60)} min"
        line += f"\n   last ok {esc(_ago(feed.last_success_at, now))} · {feed.items_seen} items, {feed.articles} articles, {feed.alerts} alerts"
        if feed.consecutive_failures:
            line += (
                f"\n   {feed.consecutive_failures} failure(s): {esc(short(feed.last_error, 150))}"
            )
        lines.append(line)
    lines.append("\n<i>/feeds add URL [minutes] · /feeds remove URL|ID</i>")
    return fit("\n".join(lines))


def render_stats(chat: dict[str, int], overall: dict[str, int] | None) -> str:
    lines = [
        "📊 <b>This chat</b>",
        f"alerts sent {chat['sent']} · waiting {chat['waiting']} · undeliverable {chat['failed']}",
        f"watched names {chat['watch_items']} · review marks {chat['marks']}",
    ]
    if overall is not None:
        lines += [
            "",
            "📊 <b>Overall</b>",
            f"chats {overall['chats_active']} · subscribed {overall['subscriptions_active']} · watched names {overall['watch_items']}",
            f"articles {overall['articles']} · alerts {overall['alerts']} ({overall['alerts_24h']} in 24 h)",
            f"messages sent {overall['sent']} · waiting {overall['waiting']} · failed {overall['failed']}",
            f"feeds {overall['feeds']} ({overall['feeds_failing']} failing)",
        ]
    return "\n".join(lines)


def render_help(commands: Sequence[tuple[str, str]], admin: bool) -> str:
    lines = [
        "🛰 <b>sanctions-bot</b> reads the news and alerts you when an article may describe a sanctions "
        "violation: which rule fired, the listed parties and countries, the evidence and the legal references.",
        "",
    ]
    lines += [f"/{esc(name)} — {esc(text)}" for name, text in commands]
    if admin:
        lines.append("/feeds — manage the watched feeds (bot admins)")
    lines += ["", "<i>In a private chat, paste text or forward a message to scan it.</i>"]
    return "\n".join(lines)
