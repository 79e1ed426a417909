"""/scan URL or text, a pasted text or a forwarded message (private chats): scanned now.

URLs go through the guarded fetcher (private and loopback addresses refused unless
``ALLOW_PRIVATE_URLS``; size and time limits); the matching runs in a worker thread; each chat
may scan ``SCAN_RATE_PER_CHAT`` times per ``SCAN_RATE_WINDOW_S``, one at a time. The text goes
through the scan service every door uses (``bot.services.scan``), told not to store: an
on-demand scan is the user's business, not an article of the feeds.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot.domain.watch import targets_from_items
from bot.ingest.errors import IngestError
from bot.inputs import InputError, ScanInput, from_bytes, is_url, read_url
from bot.services.scan import ArticleText, scan_and_store
from bot.tg.deps import Deps, deps
from bot.tg.handlers.common import reply, usage
from bot.tg.messages import esc, render_scan
from bot.watch import find_watch_hits, watch_alerts
from db import chats as chats_db

MAX_URL_CHARS = 2048


def _message_text(message: Message | None) -> str:
    if message is None:
        return ""
    return message.text or message.caption or ""


async def scan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/scan URL, /scan TEXT, or /scan in reply to a message."""
    message = update.effective_message
    assert message is not None
    text = message.text or ""
    payload = text.split(maxsplit=1)[1].strip() if len(text.split(maxsplit=1)) > 1 else ""
    if not payload:
        payload = _message_text(message.reply_to_message).strip()
    if not payload:
        await usage(update, "scan")
        return
    await _scan(update, context, payload)


async def scan_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A text pasted or forwarded in a private chat."""
    payload = _message_text(update.effective_message).strip()
    if payload:
        await _scan(update, context, payload)


async def _scan(update: Update, context: ContextTypes.DEFAULT_TYPE, payload: str) -> None:
    d = deps(context)
    chat = update.effective_chat
    assert chat is not None
    if chat.id in d.scans.running:
        await reply(update, "⏳ A scan is already running here; one at a time.")
        return
    wait = d.scans.allow(chat.id)
    if wait > 0:
        await reply(
            update,
            f"⏳ Too many scans: {d.scans.count} per {d.scans.window_s // 60:g} min. Try again in {int(wait) + 1} s.",
        )
        return
    d.scans.running.add(chat.id)
    try:
        item = await _read(d, payload)
        alerts, hits = await _match(d, chat.id, item)
        answer = render_scan(item.source, item.title, alerts, hits)
    except (InputError, IngestError) as error:
        answer = f"⚠️ Cannot scan that: {esc(str(error)[:300])}"
    finally:
        # Done before answering: whoever reads the answer may send the next scan at once.
        d.scans.running.discard(chat.id)
    await reply(update, answer)


async def _read(d: Deps, payload: str) -> ScanInput:
    words = payload.split()
    if len(words) == 1 and is_url(words[0]):
        if len(words[0]) > MAX_URL_CHARS:
            raise InputError("the URL is too long")
        if d.fetcher is None:
            raise InputError("fetching is not available")
        item = await read_url(words[0], d.fetcher)
    else:
        item = await asyncio.to_thread(from_bytes, "message", payload.encode("utf-8"))
    limit = d.settings.scan_max_chars
    if len(item.text) > limit:
        item = ScanInput(item.source, item.title, item.text[:limit], item.url)
    return item


async def _match(
    d: Deps, chat_id: int, item: ScanInput
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rules' alerts, and hits of this chat's own watchlist, computed off the event loop."""
    matcher = await asyncio.to_thread(d.app.matcher)
    watched = await d.db(partial(chats_db.list_watch, tg_chat_id=chat_id))
    targets = targets_from_items((w.id or 0, w.key, w.name) for w in watched)

    def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        text = ArticleText(item.source, item.text, item.title, item.url)
        ((matched, _),) = scan_and_store(
            d.app, [text], matcher=matcher, store=False, keep_analysis=True
        )
        analysis = matched.analysis
        assert analysis is not None
        hits = watch_alerts(analysis, find_watch_hits(analysis, targets)) if targets else []
        return matched.alerts, hits

    return await asyncio.to_thread(run)
