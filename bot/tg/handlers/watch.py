"""/watch (with suggestion buttons), /unwatch, /watchlist and their buttons."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.domain.watch import MAX_NAME_CHARS
from bot.tg.deps import Deps, deps
from bot.tg.handlers.common import chat_fields, int_arg, reply, require_manager, usage, who
from bot.tg.keyboards import suggestions_keyboard, watchlist_keyboard
from bot.tg.markup import esc
from bot.tg.messages import render_watchlist
from bot.watch import Suggestion, suggest
from db import chats as chats_db
from db import delivery as outbox
from db import history as history_db

MAX_OFFERS = 20  # open suggestion messages remembered per chat


@dataclass(frozen=True)
class Offer:
    """The suggestions shown in one message: what its buttons mean."""

    typed: str
    suggestions: tuple[Suggestion, ...]


def _offers(context: ContextTypes.DEFAULT_TYPE) -> dict[int, Offer]:
    assert context.chat_data is not None
    offers: dict[int, Offer] = context.chat_data.setdefault("watch_offers", {})
    return offers


async def _add(update: Update, d: Deps, name: str, entity_key: str | None) -> str:
    fields = chat_fields(update)
    try:
        item, created = await d.db(
            partial(
                chats_db.add_watch,
                tg_chat_id=fields["tg_chat_id"],
                name=name,
                entity_key=entity_key,
                by=who(update),
                limit=d.settings.watchlist_max_items,
                chat_type=fields["chat_type"],
                title=fields["title"],
            )
        )
    except chats_db.ChatError as error:
        return f"⚠️ {esc(error)}"
    what = "the listed party" if item.kind == "entity" else "the name"
    if not created:
        return f"Already watching {what} <b>{esc(item.name)}</b>."
    return f"👁 Now watching {what} <b>{esc(item.name)}</b>: articles naming it will raise an alert here. /watchlist"


async def watch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Watch a name: offers the closest listed parties as buttons, or takes it as typed."""
    name = " ".join(context.args or []).strip()
    if not name or len(name) > MAX_NAME_CHARS:
        await usage(update, "watch")
        return
    if not await require_manager(update, context):
        return
    d = deps(context)
    matcher = await asyncio.to_thread(d.app.matcher)
    found = await asyncio.to_thread(suggest, matcher.index, name, 5)
    if not found:
        await reply(update, await _add(update, d, name, None))
        return
    labels = [f"{s.caption} · {s.source} {s.type}" for s in found]
    lines = [f"Which one do you mean by “{esc(name)}”?"]
    lines += [
        f"• <b>{esc(s.caption)}</b> — {esc(s.source)}, {esc(s.type)} (as “{esc(s.alias)}”, {s.score:.0f}%)"
        for s in found
    ]
    sent = await reply(update, "\n".join(lines), suggestions_keyboard(labels, name))
    if sent is not None:
        offers = _offers(context)
        offers[sent.message_id] = Offer(name, tuple(found))
        for old in sorted(offers)[:-MAX_OFFERS]:
            del offers[old]


async def watch_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A suggestion (or "as typed") was picked."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if not await require_manager(update, context):
        return
    message = query.message
    offer = await _offer_for(context, message.message_id) if message is not None else None
    if message is None or offer is None:
        await query.answer("This offer has expired; send /watch again.", show_alert=True)
        return
    parts = query.data.split(":")
    if parts[1] == "x":
        await query.edit_message_text("Cancelled.")
        await query.answer("Cancelled")
        return
    if parts[1] == "e":
        index = int_arg(parts[2]) if len(parts) > 2 else None
        if index is None or index >= len(offer.suggestions):
            await query.answer("Unknown choice", show_alert=True)
            return
        chosen = offer.suggestions[index]
        text = await _add(update, deps(context), chosen.caption, chosen.key)
    else:
        text = await _add(update, deps(context), offer.typed, None)
    _offers(context).pop(message.message_id, None)
    await query.edit_message_text(text)
    await query.answer()


async def _offer_for(context: ContextTypes.DEFAULT_TYPE, message_id: int) -> Offer | None:
    """The offer behind a suggestion message.

    /watch runs concurrently with other updates (its fuzzy search takes a moment), so a quick
    press can arrive while /watch is still between sending the offer and recording it: wait
    briefly for the record before calling the offer expired.
    """
    for _ in range(50):
        offer = _offers(context).get(message_id)
        if offer is not None:
            return offer
        await asyncio.sleep(0.02)
    return None


async def unwatch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop watching a name (or the n-th of /watchlist)."""
    name = " ".join(context.args or []).strip()
    if not name or len(name) > 300:
        await usage(update, "unwatch")
        return
    if not await require_manager(update, context):
        return
    d = deps(context)
    tg_chat_id = chat_fields(update)["tg_chat_id"]
    number = int_arg(name)
    item_id = None
    if number is not None:
        items = await d.db(partial(chats_db.list_watch, tg_chat_id=tg_chat_id))
        if 1 <= number <= len(items):
            item_id = items[number - 1].id
    gone = await d.db(
        partial(
            chats_db.remove_watch,
            tg_chat_id=tg_chat_id,
            item_id=item_id,
            name=None if item_id else name,
        )
    )
    if not gone:
        await reply(
            update, f"Not on this chat's watchlist: “{esc(name)}”. /watchlist shows what is."
        )
        return
    await d.db(partial(outbox.refilter_chat, tg_chat_id=tg_chat_id))
    await reply(
        update, "Stopped watching " + ", ".join(f"<b>{esc(i.name)}</b>" for i in gone) + "."
    )


async def watchlist(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The chat's watchlist, with a button to remove each name."""
    d = deps(context)
    items = await d.db(partial(chats_db.list_watch, tg_chat_id=chat_fields(update)["tg_chat_id"]))
    await reply(
        update, render_watchlist(items, d.settings.watchlist_max_items), watchlist_keyboard(items)
    )


async def watchlist_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """✖ under /watchlist: remove that name."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if not await require_manager(update, context):
        return
    d = deps(context)
    tg_chat_id = chat_fields(update)["tg_chat_id"]
    item_id = int_arg(query.data.split(":", 1)[1])
    gone = (
        await d.db(partial(chats_db.remove_watch, tg_chat_id=tg_chat_id, item_id=item_id))
        if item_id is not None
        else []
    )
    await d.db(partial(outbox.refilter_chat, tg_chat_id=tg_chat_id))
    items = await d.db(partial(chats_db.list_watch, tg_chat_id=tg_chat_id))
    await query.edit_message_text(
        render_watchlist(items, d.settings.watchlist_max_items),
        reply_markup=watchlist_keyboard(items),
    )
    await query.answer(f"Stopped watching {gone[0].name}"[:190] if gone else "Already removed")


async def stop_watching_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """ "Stop watching" under a watchlist alert: remove the watched name that raised it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if not await require_manager(update, context):
        return
    d = deps(context)
    tg_chat_id = chat_fields(update)["tg_chat_id"]
    alert_id = int_arg(query.data.split(":", 1)[1])
    full = (
        await d.db(partial(history_db.alert_for_chat, tg_chat_id=tg_chat_id, alert_id=alert_id))
        if alert_id is not None
        else None
    )
    entities: list[dict[str, Any]] = full.alert.get("entities") or [] if full is not None else []
    if not entities:
        await query.answer("Not an alert of this chat", show_alert=True)
        return
    gone = await d.db(
        partial(chats_db.remove_watch, tg_chat_id=tg_chat_id, name=str(entities[0].get("key")))
    )
    await d.db(partial(outbox.refilter_chat, tg_chat_id=tg_chat_id))
    await query.answer(
        f"Stopped watching {gone[0].name}"[:190] if gone else "No longer on the watchlist"
    )
