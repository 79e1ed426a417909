"""Single calls from many tasks, run together as batches in a worker thread: ``Batcher``.

Why: the pipeline stores each article in one transaction (its alerts, story, sources and the
feed entry marked handled, all or nothing). One transaction per article made storing the most
expensive step of a cycle: a commit, the story look-ups and a dozen statements for each
article, and every article waiting for the one before it (one writer keeps the story index
true). Articles that finish matching while a batch is being written now wait for the next
batch together. A batch that is not full waits ``linger_s`` for company first (the pipeline
waits a tenth of a second: writing an article alone cost several times its share of a batch of
thirty, and an alert a tenth of a second later is no worse); nothing waits longer for a batch
to fill.

What a caller is promised is unchanged: ``submit`` returns its own item's result once the
batch holding it is committed, or raises its own item's error. When a batch fails, its items
are run again one by one, so one bad item fails alone and the others are still stored; unless
the error says that every item would fail alike (``retry_alone``: the database is away), when
every caller gets it at once.

No task runs while nothing is waiting: the first ``submit`` after a quiet spell starts a
drain task, which ends when the queue is empty; so a ``Batcher`` needs no closing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 32


class Batcher(Generic[T, R]):
    """Runs ``run(items) -> results`` (one result per item, in order) in a worker thread, on
    every item waiting, at most ``max_batch`` at a time."""

    def __init__(
        self,
        run: Callable[[Sequence[T]], list[R]],
        *,
        max_batch: int = MAX_BATCH,
        linger_s: float = 0.0,
        retry_alone: Callable[[Exception], bool] = lambda error: True,
    ) -> None:
        self._run = run
        self.max_batch = max_batch
        self.linger_s = linger_s  # how long a batch waits for company before it is run
        self._retry_alone = retry_alone  # False: every item would fail alike (the database is away)
        self._waiting: deque[tuple[T, asyncio.Future[R]]] = deque()
        self._drain: asyncio.Task[None] | None = None
        self.batches = 0  # how many times ``run`` was called: for tests and benchmarks

    async def submit(self, item: T) -> R:
        """``item``'s result, once the batch holding it has been run."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._drain_all(), name="batcher")
        return await future

    async def _drain_all(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._waiting:
                if self.linger_s and len(self._waiting) < self.max_batch:
                    await asyncio.sleep(self.linger_s)
                count = min(self.max_batch, len(self._waiting))
                batch = [self._waiting.popleft() for _ in range(count)]
                outcomes = await asyncio.to_thread(self._run_batch, [item for item, _ in batch])
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    _settle(future, outcome)
                batch = []
        except asyncio.CancelledError:  # the loop is closing: nobody will run what is left
            self._fail_all(batch, RuntimeError("stopped before the batch was run"))
            raise
        except Exception as error:  # a bug here: every waiting caller hears of it
            log.exception("batcher failed")
            self._fail_all(batch, error)

    def _fail_all(self, batch: list[tuple[T, asyncio.Future[R]]], error: Exception) -> None:
        for _, future in [*batch, *self._waiting]:
            _settle(future, error)
        self._waiting.clear()

    def _run_batch(self, items: list[T]) -> list[R | Exception]:
        """In the worker thread: the batch at once, or on failure each item alone."""
        self.batches += 1
        try:
            results = self._run(items)
        except Exception as error:  # noqa: BLE001 - raised again in the caller that sent the item
            if len(items) == 1 or not self._retry_alone(error):
                return [error] * len(items)
            log.warning(
                "a batch of %d failed (%s); running its items one by one", len(items), error
            )
            return [self._run_alone(item) for item in items]
        if len(results) != len(items):
            raise RuntimeError(f"{len(items)} items gave {len(results)} results")
        return list(results)

    def _run_alone(self, item: T) -> R | Exception:
        self.batches += 1
        try:
            return self._run([item])[0]
        except Exception as error:  # noqa: BLE001 - raised again in the caller that sent the item
            return error


def _settle(future: asyncio.Future[R], outcome: R | Exception) -> None:
    """Hand the outcome over, unless the caller stopped waiting (its task was cancelled)."""
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
