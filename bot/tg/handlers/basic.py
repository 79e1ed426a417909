"""/start, /help, /stats, and the chat's own lifecycle (migration, the bot added or removed)."""

from __future__ import annotations

from functools import partial

from telegram import ChatMemberUpdated, Update
from telegram.constants import ChatMemberStatus
from telegram.ext import ContextTypes

from bot.tg.auth import is_bot_admin
from bot.tg.deps import deps
from bot.tg.handlers.common import COMMANDS, chat_fields, reply
from bot.tg.markup import esc
from bot.tg.messages import render_help, render_stats
from db import chatrecords
from db import history as history_db
from db.chatsettings import chat_settings


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What the bot does and the main commands; says so if this chat was switched off."""
    d = deps(context)
    fields = chat_fields(update)
    view = await d.db(partial(chat_settings, tg_chat_id=fields["tg_chat_id"]))
    await d.db(
        partial(
            chatrecords.ensure_chat,
            tg_chat_id=fields["tg_chat_id"],
            type=fields["chat_type"],
            title=fields["title"],
        )
    )
    text = render_help(COMMANDS, is_bot_admin(d.settings.bot_admin_ids, update.effective_user))
    if view.exists and not view.subscribed and view.inactive_reason:
        text += f"\n\n⏸ Alerts here were switched off ({esc(view.inactive_reason)}). /subscribe to resume."
    elif not view.subscribed:
        text += "\n\nStart with /subscribe (all possible violations) or /subscribe high country=KP."
    await reply(update, text)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The commands."""
    await reply(
        update,
        render_help(
            COMMANDS, is_bot_admin(deps(context).settings.bot_admin_ids, update.effective_user)
        ),
    )


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Counts for this chat, and overall for the bot's admins."""
    d = deps(context)
    chat = update.effective_chat
    assert chat is not None
    mine = await d.db(partial(history_db.chat_stats, tg_chat_id=chat.id))
    overall = (
        await d.db(history_db.global_stats)
        if is_bot_admin(d.settings.bot_admin_ids, update.effective_user)
        else None
    )
    await reply(update, render_stats(mine, overall))


async def migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group became a supergroup: its subscription moves to the new id."""
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    await deps(context).db(
        partial(chatrecords.migrate_chat, old_id=message.chat_id, new_id=message.migrate_to_chat_id)
    )


async def membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot was blocked, removed, added back: (de)activate the chat."""
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None:
        return
    status = change.new_chat_member.status
    d = deps(context)
    if status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
        await d.db(
            partial(chatrecords.deactivate_chat, tg_chat_id=change.chat.id, reason=f"bot {status}")
        )
    elif status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR):
        await d.db(
            partial(
                chatrecords.ensure_chat,
                tg_chat_id=change.chat.id,
                type=change.chat.type,
                title=change.chat.title or "",
            )
        )


async def note_incoming(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every message seen tells the delivery worker how far a chat's message ids have got."""
    message = update.effective_message
    if message is not None and update.effective_chat is not None:
        deps(context).limiter.note_message_id(update.effective_chat.id, message.message_id)
