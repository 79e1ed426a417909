"""HTML for Telegram: history pages, settings, watchlists, feeds, stats, help.

Alerts themselves (one alert, /alert in full, digests, scan results) are ``bot.tg.alertmessages``;
escaping and the length limit are ``bot.tg.markup``. The names other code imports from
here are re-exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.tg.alertmessages import SEVERITY_MARK, VERDICT_LABEL, WATCH_MARK
from bot.tg.alertmessages import digest_batches as digest_batches
from bot.tg.alertmessages import render_alert as render_alert
from bot.tg.alertmessages import render_alert_full as render_alert_full
from bot.tg.alertmessages import render_digest as render_digest
from bot.tg.alertmessages import render_scan as render_scan
from bot.tg.markup import MAX_TEXT as MAX_TEXT
from bot.tg.markup import domain, fit, link, short, when
from bot.tg.markup import esc as esc
from bot.tg.markup import highlighted as highlighted
from bot.tg.markup import utf16_len as utf16_len
from bot.tg.markup import visible_length as visible_length
from bot.tg.markup import visible_text as visible_text
from db.chatsettings import ChatSettings
from db.history import HistoryItem, HistoryPage, MarkView
from db.models import Feed

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
    line = f"<b>#{item.alert_id}</b> {mark} {esc(when(item.created_at))} <b>{esc(short(item.title, 110))}</b>"
    details = []
    if item.parties:
        details.append(esc(short(", ".join(item.parties), 90)))
    if item.countries:
        details.append(esc(", ".join(item.countries[:6])))
    details.append(link(item.url, item.outlet or domain(item.url) or "article"))
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


# --- settings, watchlist, feeds, stats, help --------------------------------------------------


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
        title = feed.title or domain(feed.url)
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
