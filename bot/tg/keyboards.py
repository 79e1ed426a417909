"""Inline keyboards and their callback data (1-64 bytes each).

Callback data is only ever an opaque reference checked again on arrival (a client can send
any data): ``rv:r|f:<alert>`` review marks, ``mu:e|r:<alert>`` mutes, ``uw:<alert>`` stop
watching, ``al:<alert>`` show an alert, ``st:<setting>:<value>`` settings, ``h:<offset>:<token>``
history pages, ``w:e:<n>`` / ``w:t`` watch the n-th suggestion or the typed name (the offer
itself is kept with the chat),
``wl:<item>`` unwatch.

An alert's keyboard is a pure function of the alert (its id makes it unique): the delivery
worker relies on that to recognise its own message after a crash (see ``bot.tg.delivery``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.tg.markup import short
from db.chatsettings import ChatSettings

MAX_DATA = 64
QUIET_PRESETS: tuple[tuple[int, int] | None, ...] = (
    None,
    (22 * 60, 7 * 60),
    (23 * 60, 8 * 60),
    (0, 6 * 60),
)
SEVERITY_CYCLE = ("info", "low", "medium", "high")
MODE_CYCLE = ("instant", "hourly", "daily")


def button(text: str, data: str) -> InlineKeyboardButton:
    assert 1 <= len(data.encode()) <= MAX_DATA, data
    return InlineKeyboardButton(text, callback_data=data)


def alert_keyboard(alert: dict[str, Any]) -> InlineKeyboardMarkup:
    """Review buttons under an alert: relevant / false positive; mute its party or rule."""
    alert_id = alert["id"]
    rows = [
        [button("✅ Relevant", f"rv:r:{alert_id}"), button("🚫 False positive", f"rv:f:{alert_id}")]
    ]
    if alert.get("rule") == "watchlist":
        rows.append([button("👁 Stop watching", f"uw:{alert_id}")])
    else:
        entities = alert.get("entities") or []
        second = []
        if entities:
            second.append(
                button(f"🔕 Mute {short(entities[0].get('name', 'party'), 22)}", f"mu:e:{alert_id}")
            )
        second.append(button("🔕 Mute rule", f"mu:r:{alert_id}"))
        rows.append(second)
    return InlineKeyboardMarkup(rows)


def reviewed_keyboard(alert: dict[str, Any], verdict: str, author: str) -> InlineKeyboardMarkup:
    """The alert's keyboard once reviewed: the verdict (who) replaces the two review buttons."""
    label = "✅ Relevant" if verdict == "relevant" else "🚫 False positive"
    keyboard = alert_keyboard(alert)
    rows = [list(row) for row in keyboard.inline_keyboard]
    rows[0] = [
        button(
            f"{label} · {short(author, 24)}",
            f"rv:{'r' if verdict == 'relevant' else 'f'}:{alert['id']}",
        )
    ]
    return InlineKeyboardMarkup(rows)


def digest_keyboard(alert_ids: Sequence[int]) -> InlineKeyboardMarkup:
    """One button per alert of a digest (opens it in full); unique to the digest's alerts."""
    buttons = [button(f"#{alert_id}", f"al:{alert_id}") for alert_id in alert_ids]
    return InlineKeyboardMarkup([buttons[i : i + 4] for i in range(0, len(buttons), 4)])


def settings_keyboard(view: ChatSettings) -> InlineKeyboardMarkup:
    quiet = (
        "off"
        if view.quiet_start is None
        else f"{view.quiet_start // 60:02d}–{(view.quiet_end or 0) // 60:02d}"
    )
    rows = [
        [button(f"Severity ≥ {view.min_severity} ▸", "st:sev")],
        [button(f"Delivery: {view.mode} ▸", "st:mode"), button(f"Quiet: {quiet} ▸", "st:quiet")],
        [button(f"Only my watchlist: {'on' if view.watchlist_only else 'off'}", "st:wl")],
        [
            button("Regimes ▸", "st:rg:0"),
            button("Countries: " + (",".join(view.countries[:3]) or "all"), "st:help"),
        ],
    ]
    if view.mutes:
        rows.append([button(f"🔔 Unmute all ({len(view.mutes)})", "st:unmute")])
    rows.append(
        [
            button(
                "⏸ Unsubscribe" if view.subscribed else "▶️ Subscribe",
                "st:off" if view.subscribed else "st:on",
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def regimes_keyboard(
    view: ChatSettings, regimes: Sequence[str], page: int, per_page: int = 10
) -> InlineKeyboardMarkup:
    chosen = set(view.regimes)
    start = page * per_page
    rows: list[list[InlineKeyboardButton]] = []
    current: list[InlineKeyboardButton] = []
    for index, regime in enumerate(regimes[start : start + per_page], start):
        current.append(
            button(("☑ " if regime in chosen else "☐ ") + regime, f"st:rt:{index}:{page}")
        )
        if len(current) == 2:
            rows.append(current)
            current = []
    if current:
        rows.append(current)
    nav = []
    if page > 0:
        nav.append(button("‹ Back", f"st:rg:{page - 1}"))
    if start + per_page < len(regimes):
        nav.append(button("More ›", f"st:rg:{page + 1}"))
    rows.append([*nav, button("All regimes", "st:rall"), button("Done", "st:show")])
    return InlineKeyboardMarkup(rows)


def history_keyboard(
    offset: int, total: int, page_size: int, token: str, alert_ids: Sequence[int]
) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    if alert_ids:
        rows.append([button(f"#{alert_id}", f"al:{alert_id}") for alert_id in alert_ids])
    nav = []
    if offset > 0:
        nav.append(button("‹ Newer", f"h:{max(0, offset - page_size)}:{token}"))
    if offset + page_size < total:
        nav.append(button("Older ›", f"h:{offset + page_size}:{token}"))
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(rows) if rows else None


def suggestions_keyboard(labels: Sequence[str], typed: str) -> InlineKeyboardMarkup:
    """One button per suggested listed party (``w:e:<n>``, the n-th offered), then the typed name."""
    rows = [[button(short(label, 60), f"w:e:{index}")] for index, label in enumerate(labels)]
    rows.append([button(f"✏️ Watch “{short(typed, 30)}” as typed", "w:t")])
    rows.append([button("Cancel", "w:x")])
    return InlineKeyboardMarkup(rows)


def watchlist_keyboard(items: Sequence[Any]) -> InlineKeyboardMarkup | None:
    if not items:
        return None
    buttons = [button(f"✖ {short(item.name, 28)}", f"wl:{item.id}") for item in items[:40]]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
