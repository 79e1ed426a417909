"""Finding the bot's own message in a chat when the outcome of its send was lost.

Every alert message carries a keyboard unique to it (its callback data holds the alert id).
``editMessageReplyMarkup`` with exactly that keyboard on a message id answers "message is not
modified" only for the message that already has it: ours. The ids after a starting point are
tried in order: user messages answer "can't be edited", missing ids "not found", and a run of
"not found" ends the search (past the chat's last message). Why only our own message can
follow the starting point, and what remains uncertain, is in ``bot.tg.delivery``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest
from telegram.ext import ExtBot

log = logging.getLogger("bot.tg.delivery")  # the delivery worker logs under one name

PROBE_SPAN = 30  # message ids looked at after probe_after
PROBE_MISSES = 3  # consecutive "not found" that end the search (past the chat's last message)


async def find_message(
    bot: ExtBot[Any],
    tg_chat_id: int,
    starts: Sequence[int],
    keyboard: InlineKeyboardMarkup,
    stats: Counter[str],
) -> int | None:
    """The id of the message carrying exactly ``keyboard`` among the ``PROBE_SPAN`` ids after
    each of ``starts`` (a run of misses ends the search only after the first), or None.

    Other Telegram errors than a bad request (forbidden, network) reach the caller; ``stats``
    counts the ids tried (``probes``).
    """
    for start in starts:
        found, done = await _probe_from(bot, tg_chat_id, start, keyboard, stats, start == starts[0])
        if done:
            return found
    return None


async def _probe_from(
    bot: ExtBot[Any],
    tg_chat_id: int,
    start: int,
    keyboard: InlineKeyboardMarkup,
    stats: Counter[str],
    stop_on_misses: bool,
) -> tuple[int | None, bool]:
    """Try the ids after ``start``: (the id found or None, whether the search is over)."""
    misses = 0
    for message_id in range(start + 1, start + 1 + PROBE_SPAN):
        stats["probes"] += 1
        try:
            await bot.edit_message_reply_markup(
                chat_id=tg_chat_id, message_id=message_id, reply_markup=keyboard
            )
        except BadRequest as error:
            text = str(error).lower()
            if "not modified" in text:
                return message_id, True
            if "not found" in text:
                misses += 1
                if misses >= PROBE_MISSES and stop_on_misses:
                    break
            else:
                misses = 0
            continue
        # The edit went through: a bot message without this keyboard followed
        # probe_after, which the chat lock rules out. Say so loudly.
        log.error(
            "probe changed the buttons of message %s in chat %s, which is not the alert's",
            message_id,
            tg_chat_id,
        )
        return None, True
    return None, False
