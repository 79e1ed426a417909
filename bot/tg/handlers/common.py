"""What every handler needs: replying in HTML, the permission check, usage texts."""

from __future__ import annotations

from typing import TypedDict

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.tg.auth import author_of
from bot.tg.deps import deps
from bot.tg.markup import esc

COMMANDS: list[tuple[str, str]] = [
    ("start", "what this bot does"),
    ("help", "the commands"),
    ("subscribe", "alerts in this chat, optionally filtered"),
    ("unsubscribe", "stop alerts in this chat"),
    ("settings", "filters, digest, quiet hours"),
    ("watch", "watch a listed party or any name"),
    ("unwatch", "stop watching a name"),
    ("watchlist", "what this chat watches"),
    ("history", "past alerts, searchable"),
    ("alert", "one alert in full: /alert ID"),
    ("export", "this chat's history as CSV and JSON"),
    ("scan", "scan a URL or a text now"),
    ("stats", "counts"),
]

USAGE = {
    "subscribe": (
        "Usage: /subscribe [high|medium|low|info] [regime=UN-DPRK-1718,…] [rule=wagner-arms,…] "
        "[country=KP,IR,…] [watchlist] [instant|hourly|daily] [quiet=22:00-07:00] [tz=Europe/Berlin]\n"
        "Example: /subscribe high country=KP,RU daily"
    ),
    "settings": (
        "Usage: /settings (buttons) or /settings NAME VALUE: severity high · regimes UN-DPRK-1718,US-Russia · "
        "rules wagner-arms · countries KP,IR · watchlist on · digest daily 8 · quiet 22:00-07:00 · tz Europe/Berlin"
    ),
    "watch": "Usage: /watch NAME (a listed party, a company, a vessel, a person, a term; up to 100 characters)",
    "unwatch": "Usage: /unwatch NAME or /unwatch NUMBER (as numbered in /watchlist)",
    "history": "Usage: /history [words] [--since 7d] [--severity high] (words: a party, a country, a rule or any text)",
    "alert": "Usage: /alert ID (the number shown with every alert)",
    "scan": "Usage: /scan URL, /scan TEXT, or reply /scan to a message (in a private chat just paste the text)",
    "feeds": "Usage: /feeds · /feeds add URL [minutes] · /feeds remove URL|ID",
}

REFUSED = "Only this group's administrators can change its alerts."


async def reply(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Answer in the chat of the update, as HTML (callers escape every dynamic string)."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=markup, do_quote=False
    )


async def usage(update: Update, command: str, problem: str = "") -> None:
    prefix = f"⚠️ {esc(problem)}\n" if problem else ""
    await reply(update, prefix + esc(USAGE[command]))


async def may_manage(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """May the sender change this chat's alerts? In groups: administrators only."""
    return await deps(context).admins.can_manage(
        context.bot, update.effective_chat, update.effective_user, update.effective_message
    )


async def require_manager(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """``may_manage``, telling the sender when not (a message, or a button's pop-up)."""
    if await may_manage(update, context):
        return True
    if update.callback_query is not None:
        await update.callback_query.answer(REFUSED, show_alert=True)
    else:
        await reply(update, REFUSED)
    return False


def who(update: Update) -> str:
    return author_of(update.effective_user, update.effective_chat)


class ChatFields(TypedDict):
    tg_chat_id: int
    chat_type: str
    title: str


def chat_fields(update: Update) -> ChatFields:
    """tg_chat_id, chat_type and title of the update's chat, for ``db.chats`` calls."""
    chat = update.effective_chat
    assert chat is not None
    return {
        "tg_chat_id": chat.id,
        "chat_type": chat.type,
        "title": chat.title or chat.full_name or "",
    }


def int_arg(value: str, limit: int = 2**53) -> int | None:
    value = value.strip().lstrip("#")
    return int(value) if value.isdigit() and int(value) < limit else None
