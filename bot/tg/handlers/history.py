"""/history (paged with buttons), /alert ID, /export."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from functools import partial
from typing import Any

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import ContextTypes

from bot.tg.alertmessages import render_alert_full
from bot.tg.args import ArgError, HistoryArgs, parse_history
from bot.tg.auth import is_bot_admin
from bot.tg.deps import Deps, deps
from bot.tg.handlers.common import int_arg, reply, usage
from bot.tg.keyboards import history_keyboard
from bot.tg.markup import esc
from bot.tg.messages import render_history
from db import history as history_db
from db.models import utcnow

PAGE_SIZE = 5
MAX_SEARCHES = 20  # paged searches remembered per chat (their buttons expire after that)


def _searches(context: ContextTypes.DEFAULT_TYPE) -> dict[str, HistoryArgs]:
    assert context.chat_data is not None
    searches: dict[str, HistoryArgs] = context.chat_data.setdefault("history_searches", {})
    return searches


async def _page(
    d: Deps, chat_id: int, args: HistoryArgs, offset: int, token: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    since = utcnow() - args.since if args.since is not None else None
    page = await d.db(
        partial(
            history_db.chat_history,
            tg_chat_id=chat_id,
            query=args.query,
            since=since,
            min_severity=args.severity,
            offset=offset,
            limit=PAGE_SIZE,
        )
    )
    text = render_history(page, PAGE_SIZE, args.describe())
    return text, history_keyboard(
        offset, page.total, PAGE_SIZE, token, [item.alert_id for item in page.items]
    )


async def history(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The chat's alerts, newest first, searchable; pages with buttons."""
    try:
        args = parse_history(list(context.args or []))
    except ArgError as error:
        await usage(update, "history", str(error))
        return
    chat = update.effective_chat
    assert chat is not None
    searches = _searches(context)
    chat_data = context.chat_data
    assert chat_data is not None
    token = str(int(chat_data.get("history_seq", 0)) + 1)
    chat_data["history_seq"] = int(token)
    searches[token] = args
    for old in sorted(searches, key=int)[:-MAX_SEARCHES]:
        del searches[old]
    text, keyboard = await _page(deps(context), chat.id, args, 0, token)
    await reply(update, text, keyboard)


async def history_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """‹ Newer / Older ›."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_chat is not None
    _, offset_text, token = [*query.data.split(":"), "", ""][:3]
    args = _searches(context).get(token)
    offset = int_arg(offset_text, 10**6)
    if args is None or offset is None:
        await query.answer("This list has expired; send /history again.", show_alert=True)
        return
    text, keyboard = await _page(deps(context), update.effective_chat.id, args, offset, token)
    await query.edit_message_text(text, reply_markup=keyboard)
    await query.answer()


async def _send_alert(update: Update, context: ContextTypes.DEFAULT_TYPE, alert_id: int) -> bool:
    d = deps(context)
    chat = update.effective_chat
    assert chat is not None
    admin = is_bot_admin(d.settings.bot_admin_ids, update.effective_user)
    full = await d.db(
        partial(history_db.alert_for_chat, tg_chat_id=chat.id, alert_id=alert_id, any_chat=admin)
    )
    if full is None:
        return False
    for text in render_alert_full(full):
        await context.bot.send_message(chat.id, text)
    return True


async def alert(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """One alert in full: every source, evidence, matched spans and scores, rule, references."""
    args = list(context.args or [])
    alert_id = int_arg(args[0]) if len(args) == 1 else None
    if alert_id is None:
        await usage(update, "alert")
        return
    if not await _send_alert(update, context, alert_id):
        await reply(update, f"No alert #{alert_id} in this chat's history. /history lists them.")


async def alert_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """#ID buttons of digests and history pages."""
    query = update.callback_query
    assert query is not None and query.data is not None
    alert_id = int_arg(query.data.split(":", 1)[1])
    if alert_id is None or not await _send_alert(update, context, alert_id):
        await query.answer("Not an alert of this chat", show_alert=True)
        return
    await query.answer()


CSV_FIELDS = [
    "alert_id", "created_at", "severity", "rule", "title", "regime", "score", "parties", "party_keys", "countries",
    "evidence", "sources", "references", "status", "sent_at", "marks",
]  # fmt: skip


def export_files(rows: list[dict[str, Any]]) -> tuple[bytes, bytes]:
    """(CSV, JSON) of a chat's history rows (``db.history.export_rows``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for row in rows:
        alert = row["alert"]
        writer.writerow(
            {
                "alert_id": alert["id"],
                "created_at": alert["created_at"],
                "severity": alert["severity"],
                "rule": alert["rule"],
                "title": alert["title"],
                "regime": alert["regime"],
                "score": alert["score"],
                "parties": "; ".join(str(e.get("name", "")) for e in alert["entities"]),
                "party_keys": "; ".join(str(e.get("key", "")) for e in alert["entities"]),
                "countries": "; ".join(
                    dict.fromkeys(str(c.get("code", "")) for c in alert["countries"])
                ),
                "evidence": " | ".join(str(e.get("text", "")) for e in alert["evidence"]),
                "sources": " ".join(str(s.get("url", "")) for s in alert["sources"]),
                "references": "; ".join(alert["references"]),
                "status": row["status"],
                "sent_at": row["sent_at"] or "",
                "marks": "; ".join(
                    f"{m['verdict']} by {m['author']} at {m['at']}" for m in row["marks"]
                ),
            }
        )
    data = json.dumps(
        {"exported_at": datetime.now().astimezone().isoformat(), "alerts": rows},
        ensure_ascii=False,
        indent=1,
    )
    return buffer.getvalue().encode("utf-8-sig"), data.encode("utf-8")


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The chat's history as a CSV file and a JSON file."""
    chat = update.effective_chat
    assert chat is not None
    rows = await deps(context).db(partial(history_db.export_rows, tg_chat_id=chat.id))
    if not rows:
        await reply(update, "Nothing to export yet: this chat has no alerts.")
        return
    csv_bytes, json_bytes = export_files(rows)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    caption = f"{len(rows)} alert{'s' if len(rows) != 1 else ''} of this chat" + (
        " (the newest 10,000)" if len(rows) >= history_db.EXPORT_LIMIT else ""
    )
    await context.bot.send_document(
        chat.id,
        InputFile(io.BytesIO(csv_bytes), filename=f"alerts-{stamp}.csv"),
        caption=esc(caption),
    )
    await context.bot.send_document(
        chat.id, InputFile(io.BytesIO(json_bytes), filename=f"alerts-{stamp}.json")
    )
