"""/lists: the sanctions lists in force and their last sync, for the bot's administrators.

The same figures as ``sanctions-bot lists status``: an admin who is told an alert was missed
first asks whether the lists behind the bot are current.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.tg.auth import is_bot_admin
from bot.tg.deps import deps
from bot.tg.handlers.common import reply
from bot.tg.markup import esc
from db.lists import ListStatus, list_status


async def lists(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    d = deps(context)
    if not is_bot_admin(d.settings.bot_admin_ids, update.effective_user):
        await reply(update, "Only the bot's administrators see the lists' status.")
        return
    rows = await d.db(list_status)
    if not rows:
        await reply(
            update, "No sanctions list imported yet: run <code>sanctions-bot lists sync</code>."
        )
        return
    await reply(update, "📚 <b>Sanctions lists</b>\n" + "\n".join(_line(row) for row in rows))


def _line(row: ListStatus) -> str:
    version = f"version {esc(row.version)}" if row.version else "not imported"
    synced = f"synced {row.last_sync:%Y-%m-%d %H:%M} UTC" if row.last_sync else "never synced"
    line = f"• <b>{esc(row.source)}</b>: {version}, {row.entities:,} entities, {row.names:,} names, {synced}"
    if row.last_error:
        line += f"\n  ⚠️ last sync failed {row.last_error_at:%Y-%m-%d %H:%M} UTC: {esc(row.last_error[:300])}"
    return line
