"""``SendLimiter`` on a fake clock: overall window, 1/s per chat, 20/min per group, RetryAfter."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.tg.ratelimit import SendLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def limiter(clock: Clock, **kwargs: Any) -> SendLimiter:
    return SendLimiter(clock=clock, sleep=clock.sleep, **kwargs)


async def send(
    lim: SendLimiter,
    clock: Clock,
    chat: int,
    log: list[tuple[int, float]],
    endpoint: str = "sendMessage",
) -> Any:
    async def callback() -> dict[str, Any]:
        log.append((chat, clock.now))
        return {"message_id": len(log), "chat": {"id": chat}}

    return await lim.process_request(callback, (), {}, endpoint, {"chat_id": chat}, None)


async def test_one_message_per_second_per_private_chat() -> None:
    clock, log = Clock(), []
    lim = limiter(clock)
    for _ in range(3):
        await send(lim, clock, 42, log)
    times = [t for _, t in log]
    assert [round(b - a, 2) for a, b in itertools.pairwise(times)] == [1.1, 1.1]  # 1 s + the margin
    assert lim.last_message_id(42) == 3


async def test_twenty_per_minute_per_group() -> None:
    clock, log = Clock(), []
    lim = limiter(clock)
    for _ in range(21):
        await send(lim, clock, -100, log)
    times = [t for _, t in log]
    assert times[20] - times[0] >= 60.0
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))


async def test_thirty_per_second_overall() -> None:
    clock, log = Clock(), []
    lim = limiter(clock)
    await asyncio.gather(*(send(lim, clock, chat, log) for chat in range(1, 91)))
    times = sorted(t for _, t in log)
    for index in range(len(times) - 30):
        assert times[index + 30] - times[index] >= 1.0  # never 31 in a second
    assert times[-1] - times[0] < 3.5


async def test_retry_after_pauses_everything_and_retries() -> None:
    clock, calls = Clock(), []
    lim = limiter(clock)

    async def flaky() -> dict[str, Any]:
        calls.append(clock.now)
        if len(calls) == 1:
            raise RetryAfter(5)
        return {"message_id": 1}

    await lim.process_request(flaky, (), {}, "sendMessage", {"chat_id": 7}, None)
    assert calls[1] - calls[0] >= 5.0 and lim.stats["retry_after"] == 1
    log: list[tuple[int, float]] = []
    await send(lim, clock, 8, log)  # another chat waited too
    assert log[0][1] >= calls[0] + 5.0

    async def always() -> dict[str, Any]:
        raise RetryAfter(1)

    with pytest.raises(RetryAfter):
        await lim.process_request(always, (), {}, "sendMessage", {"chat_id": 9}, {"max_retries": 1})


async def test_unthrottled_calls_pass_at_once_and_ids_are_recorded() -> None:
    clock = Clock()
    lim = limiter(clock)
    seen: list[tuple[int, int]] = []

    async def record(chat: int, message_id: int) -> None:
        seen.append((chat, message_id))

    lim.on_message = record
    log: list[tuple[int, float]] = []
    for _ in range(5):
        await send(lim, clock, 1, log, endpoint="getChatMember")
    assert clock.now == 1000.0
    await send(lim, clock, 1, log)
    await lim.process_request(
        lambda: _result(77), (), {}, "sendMessage", {"chat_id": 2}, {"chat_locked": True}
    )
    assert seen == [(1, 6)]  # the worker (chat_locked) records its own ids with the row
    assert lim.last_message_id(2) == 77
    lim.note_message_id(2, 50)
    assert lim.last_message_id(2) == 77


async def _result(message_id: int) -> dict[str, Any]:
    return {"message_id": message_id}


async def test_a_reservation_is_counted_when_the_request_really_leaves() -> None:
    clock, log = Clock(), []
    lim = limiter(clock)
    await lim.reserve(5)
    clock.now += 0.5  # the worker claims its row meanwhile
    await send(lim, clock, 5, log)  # goes at once: the slot was reserved
    assert log == [(5, 1000.5)]
    await send(lim, clock, 5, log)  # the next one keeps its distance from the real send
    assert log[1][1] == pytest.approx(1000.5 + 1.1)
    await lim.reserve(6)
    lim.release(6)  # not used: its slot counts no more
    assert lim._reserved == {} and all(t != clock.now for t in lim._chat_sends.get(6, ()))
