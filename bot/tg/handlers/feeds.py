"""/feeds: the global feeds and their health; adding and removing them (bot admins only)."""

from __future__ import annotations

from functools import partial

from telegram import Update
from telegram.ext import ContextTypes

from bot.ingest.errors import BlockedURL
from bot.ingest.urlguard import refuse_blocked
from bot.tg.auth import author_of, is_bot_admin
from bot.tg.deps import Deps, deps
from bot.tg.handlers.common import reply, usage
from bot.tg.markup import esc
from bot.tg.messages import render_feeds
from db import feeds as feeds_db
from db.models import utcnow

MAX_URL_CHARS = 2048


async def feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List feeds with their health; ``add URL [minutes]``; ``remove URL|ID``."""
    d = deps(context)
    if not is_bot_admin(d.settings.bot_admin_ids, update.effective_user):
        await reply(update, "Only the bot's administrators manage feeds.")
        return
    args = list(context.args or [])
    if not args or args[0].lower() == "list":
        await reply(update, render_feeds(await d.db(feeds_db.list_feeds), utcnow()))
        return
    action = args[0].lower()
    if action == "add" and len(args) in (2, 3) and len(args[1]) <= MAX_URL_CHARS:
        await _add(update, d, args)
        return
    if action in ("remove", "rm", "delete") and len(args) == 2 and len(args[1]) <= MAX_URL_CHARS:
        removed = await d.db(partial(feeds_db.remove_feed, url_or_id=args[1]))
        await reply(
            update,
            f"Removed feed {esc(args[1])}."
            if removed
            else f"No feed {esc(args[1])}. /feeds lists them.",
        )
        return
    await usage(update, "feeds")


async def _add(update: Update, d: Deps, args: list[str]) -> None:
    """``/feeds add URL [minutes]``: the URL checked against the address guard first."""
    minutes = args[2] if len(args) == 3 else str(max(1, d.settings.default_feed_interval_s // 60))
    if not minutes.isdigit() or not 1 <= int(minutes) <= 7 * 24 * 60:
        await usage(update, "feeds", "minutes: a whole number")
        return
    try:
        await refuse_blocked(args[1], allow_private=d.settings.allow_private_urls)
    except BlockedURL as error:
        await reply(update, f"⚠️ {esc(error)}")
        return
    try:
        feed = await d.db(
            partial(
                feeds_db.add_feed,
                url=args[1],
                interval_s=int(minutes) * 60,
                origin="telegram",
                added_by=author_of(update.effective_user),
            )
        )
    except ValueError as error:  # FeedInputError
        await reply(update, f"⚠️ {esc(error)}")
        return
    await reply(
        update,
        f"📡 Watching feed #{feed.id} {esc(feed.url)} every {feed.interval_s // 60} min.",
    )
