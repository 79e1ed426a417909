"""/subscribe, /unsubscribe, /settings and the settings buttons."""

from __future__ import annotations

from functools import partial
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.tg.args import ArgError, parse_filters, parse_settings
from bot.tg.deps import Deps, deps
from bot.tg.handlers.common import chat_fields, reply, require_manager, usage, who
from bot.tg.keyboards import (
    MODE_CYCLE,
    QUIET_PRESETS,
    SEVERITY_CYCLE,
    regimes_keyboard,
    settings_keyboard,
)
from bot.tg.messages import render_settings
from db import chats as chats_db
from db import delivery as outbox
from db.chatsettings import ChatSettings, chat_settings


async def _show(update: Update, d: Deps, prefix: str = "", edit: bool = False) -> None:
    fields = chat_fields(update)
    view = await d.db(partial(chat_settings, tg_chat_id=fields["tg_chat_id"]))
    text = (prefix + "\n\n" if prefix else "") + render_settings(
        view, str(fields["title"]) if fields["chat_type"] != "private" else ""
    )
    query = update.callback_query
    if edit and query is not None and query.message is not None:
        await query.edit_message_text(text, reply_markup=settings_keyboard(view))
    else:
        await reply(update, text, settings_keyboard(view))


async def _change(
    update: Update, d: Deps, changes: dict[str, Any], subscribe: bool | None = None
) -> None:
    """Apply changes (raises ChatError), then re-filter what is still queued for the chat."""
    fields = chat_fields(update)
    tg_chat_id, by = fields["tg_chat_id"], who(update)
    if subscribe is True:
        await d.db(
            partial(
                chats_db.subscribe,
                changes=changes,
                chat_type=fields["chat_type"],
                title=fields["title"],
                tg_chat_id=tg_chat_id,
                by=by,
            )
        )
    elif subscribe is False:
        await d.db(partial(chats_db.unsubscribe, tg_chat_id=tg_chat_id, by=by))
    elif changes:
        await d.db(
            partial(
                chats_db.update_subscription,
                changes=changes,
                chat_type=fields["chat_type"],
                title=fields["title"],
                tg_chat_id=tg_chat_id,
                by=by,
            )
        )
    await d.db(partial(outbox.refilter_chat, tg_chat_id=tg_chat_id))


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Alerts for this chat, with optional filters."""
    if not await require_manager(update, context):
        return
    try:
        changes = parse_filters(list(context.args or []))
        await _change(update, deps(context), changes, subscribe=True)
    except (ArgError, chats_db.ChatError) as error:
        await usage(update, "subscribe", str(error))
        return
    await _show(update, deps(context), "✅ Subscribed: alerts will arrive here.")


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop alerts for this chat (settings and watchlist are kept)."""
    if not await require_manager(update, context):
        return
    d = deps(context)
    await _change(update, d, {}, subscribe=False)
    await reply(
        update,
        "⏸ Unsubscribed: no more alerts here, watchlist alerts included. Settings and watchlist are kept; /subscribe to resume.",
    )


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the settings with buttons, or change one: /settings countries KP,IR."""
    args = list(context.args or [])
    d = deps(context)
    if not args:
        await _show(update, d)
        return
    if not await require_manager(update, context):
        return
    try:
        await _change(update, d, parse_settings(args))
    except (ArgError, chats_db.ChatError) as error:
        await usage(update, "settings", str(error))
        return
    await _show(update, d, "✅ Saved.")


def _next(values: tuple[Any, ...], current: Any) -> Any:
    return values[(values.index(current) + 1) % len(values)] if current in values else values[0]


async def settings_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A settings button: cycle a value, toggle a regime, (un)subscribe."""
    query = update.callback_query
    assert query is not None and query.data is not None
    d = deps(context)
    parts = query.data.split(":")
    action = parts[1] if len(parts) > 1 else ""
    # Buttons change the message first and answer the query after, so that when the user's
    # spinner stops, what they see is already the new state.
    if action in ("show", "help"):
        if action == "show":
            await _show(update, d, edit=True)
        await query.answer("Type e.g. /settings countries KP,IR" if action == "help" else None)
        return
    if not await require_manager(update, context):
        return
    view = await d.db(partial(chat_settings, tg_chat_id=chat_fields(update)["tg_chat_id"]))
    try:
        if action in ("rg", "rt"):
            await _regimes_button(update, d, view, parts)
            return
        if not await _setting_button(update, d, view, action):
            await query.answer("Unknown button")
            return
    except chats_db.ChatError as error:
        await query.answer(str(error)[:190], show_alert=True)
        return
    await _show(update, d, edit=True)
    await query.answer("Saved")


async def _setting_button(update: Update, d: Deps, view: ChatSettings, action: str) -> bool:
    """Apply one settings button (raises ChatError); False for a button not known here."""
    if action == "sev":
        await _change(update, d, {"min_severity": _next(SEVERITY_CYCLE, view.min_severity)})
    elif action == "mode":
        await _change(update, d, {"mode": _next(MODE_CYCLE, view.mode)})
    elif action == "quiet":
        current = None if view.quiet_start is None else (view.quiet_start, view.quiet_end)
        await _change(update, d, {"quiet": _next(QUIET_PRESETS, current)})
    elif action == "wl":
        await _change(update, d, {"watchlist_only": not view.watchlist_only})
    elif action == "unmute":
        await d.db(partial(chats_db.unmute_all, tg_chat_id=view.tg_chat_id))
    elif action in ("on", "off"):
        await _change(update, d, {}, subscribe=action == "on")
    elif action == "rall":
        await _change(update, d, {"regimes": []})
    else:
        return False
    return True


async def _regimes_button(update: Update, d: Deps, view: ChatSettings, parts: list[str]) -> None:
    """A page of the regime buttons (``rg``), or a regime toggled on it (``rt``)."""
    query = update.callback_query
    assert query is not None
    action = parts[1]
    page = int(parts[-1]) if parts[-1].isdigit() else 0
    if action == "rt" and parts[2].isdigit() and int(parts[2]) < len(d.regimes):
        regime = d.regimes[int(parts[2])]
        chosen = (
            [r for r in view.regimes if r != regime]
            if regime in view.regimes
            else [*view.regimes, regime]
        )
        await _change(update, d, {"regimes": chosen})
    view = await d.db(partial(chat_settings, tg_chat_id=view.tg_chat_id))
    await query.edit_message_reply_markup(reply_markup=regimes_keyboard(view, d.regimes, page))
    await query.answer()


def regime_names(app_rules: Any) -> list[str]:
    """Regimes worth offering as buttons: the rules' own and the countries' (no templates)."""
    names = {rule.regime for rule in app_rules.rules}
    names |= set(app_rules.country_regimes.values())
    names |= {regime for _, _, regime in app_rules.regimes}
    return sorted(n for n in names if not n.startswith("from-") and "{" not in n and len(n) <= 40)
