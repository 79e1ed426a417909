"""The buttons under every alert: relevant / false positive, mute its party or its rule."""

from __future__ import annotations

from collections.abc import Container
from functools import partial
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.tg.deps import deps
from bot.tg.handlers.common import int_arg, require_manager, who
from bot.tg.keyboards import reviewed_keyboard
from db import chats as chats_db
from db import delivery as outbox
from db import history as history_db
from db.review import ReviewError, mark_alert

VERDICTS = {"r": "relevant", "f": "false_positive"}


async def review_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """✅ / 🚫: store the verdict with who and when; a false positive also stops repeats of the
    same party in the same story for this chat (and drops them if still queued)."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    code, alert_id, full = await _button_alert(update, context, VERDICTS)
    if full is None or alert_id is None:
        return
    verdict = VERDICTS[code]
    d = deps(context)
    chat_id = update.effective_chat.id
    author = who(update)
    try:
        await d.db(
            partial(mark_alert, alert_id=alert_id, verdict=verdict, author=author, chat_id=chat_id)
        )
    except ReviewError as error:
        await query.answer(str(error)[:190], show_alert=True)
        return
    await d.db(partial(outbox.refilter_chat, tg_chat_id=chat_id))
    name = update.effective_user.first_name if update.effective_user else author
    await query.edit_message_reply_markup(reply_markup=reviewed_keyboard(full.alert, verdict, name))
    if verdict == "false_positive":
        await query.answer(
            "Marked false positive: this party will not be reported again for this story here."
        )
    else:
        await query.answer("Marked relevant. Thank you.")


async def mute_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """🔕: no more alerts here about this party (all its evidence parties muted) or this rule."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    kind_code, _, full = await _button_alert(update, context, ("e", "r"))
    if full is None:
        return
    d = deps(context)
    chat_id = update.effective_chat.id
    alert = full.alert
    if kind_code == "e":
        entities = alert.get("entities") or []
        if not entities:
            await query.answer("This alert names no party", show_alert=True)
            return
        kind, value, label = "entity", str(entities[0]["key"]), str(entities[0].get("name", ""))
    else:
        kind, value, label = "rule", str(alert["rule"]), str(alert.get("title", ""))
    await d.db(
        partial(
            chats_db.mute, tg_chat_id=chat_id, kind=kind, value=value, label=label, by=who(update)
        )
    )
    await d.db(partial(outbox.refilter_chat, tg_chat_id=chat_id))
    await query.answer(f"Muted {label[:80]} for this chat. /settings to unmute.", show_alert=True)


async def _button_alert(
    update: Update, context: ContextTypes.DEFAULT_TYPE, codes: Container[str]
) -> tuple[str, int | None, Any]:
    """(code, alert id, the chat's alert) of a "<kind>:<code>:<alert id>" button, or answers why not.

    The alert is None when the button is unknown, the user may not manage this chat, or the
    alert is not one of this chat's; the query has then been answered.
    """
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_chat is not None
    _, code, alert_text = [*query.data.split(":"), "", ""][:3]
    alert_id = int_arg(alert_text)
    if code not in codes or alert_id is None:
        await query.answer("Unknown button", show_alert=True)
        return code, None, None
    if not await require_manager(update, context):
        return code, alert_id, None
    full = await deps(context).db(
        partial(history_db.alert_for_chat, tg_chat_id=update.effective_chat.id, alert_id=alert_id)
    )
    if full is None:
        await query.answer("Not an alert of this chat", show_alert=True)
    return code, alert_id, full
