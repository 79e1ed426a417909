"""Who may change what.

* In a private chat the user owns the chat's settings and watchlist.
* In a group only its administrators (creator included) change the subscription, settings,
  watchlist, mutes and review verdicts: asked with ``getChatMember`` and cached for a short
  while (``ttl_s``), so a demoted admin loses the right within a minute. An anonymous admin
  writes as the group itself (``sender_chat`` is the chat): allowed.
* Global feeds are managed only by ``BOT_ADMIN_IDS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from telegram import Bot, Chat, Message, User
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})


class AdminCache:
    """getChatMember answers, remembered for ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._answers: dict[tuple[int, int], tuple[bool, float]] = {}

    async def is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        now = self._clock()
        cached = self._answers.get((chat_id, user_id))
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramError:
            return False  # cannot tell: refuse (not cached, so it is asked again next time)
        answer = member.status in ADMIN_STATUSES
        if len(self._answers) > 10_000:
            self._answers.clear()
        self._answers[(chat_id, user_id)] = (answer, now + self.ttl_s)
        return answer

    async def can_manage(
        self, bot: Bot, chat: Chat | None, user: User | None, message: Message | None = None
    ) -> bool:
        """May this user change this chat's alerts?"""
        if chat is None:
            return False
        if chat.type == Chat.PRIVATE:
            return user is not None and user.id == chat.id
        if (
            message is not None
            and message.sender_chat is not None
            and message.sender_chat.id == chat.id
        ):
            return True  # an anonymous administrator
        if user is None:
            return False
        return await self.is_admin(bot, chat.id, user.id)


def is_bot_admin(admin_ids: frozenset[int], user: User | None) -> bool:
    return user is not None and user.id in admin_ids


def author_of(user: User | None, chat: Chat | None = None) -> str:
    """How a review mark or a change names who made it: "Ann (@ann, 42)"."""
    if user is None:
        return f"{chat.title} (admin)" if chat is not None and chat.title else "unknown"
    name = user.full_name or str(user.id)
    return f"{name} (@{user.username}, {user.id})" if user.username else f"{name} ({user.id})"
