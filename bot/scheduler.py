"""When feeds are polled: per-feed intervals with jitter, leases, back-off, clean shutdown.

The loop claims due feeds from the database (a lease, so no feed is polled twice at once, in
this process or another one sharing PostgreSQL), polls them with bounded concurrency, and
sleeps until the next feed is due. State lives in the ``feed`` table, so a restart picks up
where the last run stopped; leases of a crashed run expire by themselves.

Feeds that keep failing back off exponentially (interval x 2^failures, at most six hours,
never sooner than a server's ``Retry-After``) and are logged as failing from the third
failure on; ``sanctions-bot feeds list`` shows the last success and the last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from sqlmodel import col, func, select

from bot.pipeline import Pipeline, PollResult
from db.engine import session_scope
from db.feeds import claim_feeds, release_claims, renew_claims
from db.models import Feed, utcnow

log = logging.getLogger(__name__)

LEASE_S = 120.0  # a claim runs out this long after its last renewal (a killed worker's feeds)
RENEW_S = 30.0  # how often the leases of polls in flight are renewed
IDLE_SLEEP_S = 5.0


@dataclass
class CycleReport:
    polled: int = 0
    failed: int = 0
    not_modified: int = 0
    new_items: int = 0
    articles: int = 0
    new_alerts: int = 0
    joined_alerts: int = 0
    results: list[PollResult] = field(default_factory=list)

    def add(self, result: PollResult) -> None:
        self.results.append(result)
        self.polled += 1
        self.failed += 0 if result.ok else 1
        self.not_modified += result.not_modified
        self.new_items += result.new_items
        self.articles += result.articles
        self.new_alerts += result.new_alerts
        self.joined_alerts += result.joined_alerts


class Scheduler:
    def __init__(self, pipeline: Pipeline, *, concurrency: int = 16, grace_s: float = 5.0) -> None:
        self.pipeline = pipeline
        self.concurrency = concurrency
        self.grace_s = grace_s  # how long polls in flight may finish after a stop

    async def run_once(self) -> CycleReport:
        """Poll every enabled feed once (except those backing off after failures)."""
        report = CycleReport()
        started = utcnow()
        while True:
            # Not polled since this cycle began: another process's cycle counts too.
            feeds = self._claim(
                due_only=False, exclude={r.feed_id for r in report.results}, since=started
            )
            if not feeds:
                return report
            batch = [f.id for f in feeds if f.id is not None]
            async with self._renewing(partial(list, batch)):
                results = await self._poll_all(feeds)
            for result in results:
                report.add(result)

    async def run(self, stop: asyncio.Event) -> CycleReport:
        """Poll due feeds until ``stop`` is set; returns what was done."""
        report = CycleReport()
        running: dict[int, asyncio.Task[PollResult]] = {}
        try:
            async with self._renewing(lambda: list(running)):
                await self._loop(stop, running, report)
        finally:
            await self._shutdown(running, report)
        return report

    async def _loop(
        self, stop: asyncio.Event, running: dict[int, asyncio.Task[PollResult]], report: CycleReport
    ) -> None:
        """Claim due feeds as polls finish, until ``stop``."""
        while not stop.is_set():
            for feed_id in [i for i, task in running.items() if task.done()]:
                report.add(running.pop(feed_id).result())
            free = self.concurrency - len(running)
            if free > 0:
                for feed in self._claim(due_only=True, limit=free):
                    assert feed.id is not None
                    running[feed.id] = asyncio.create_task(
                        self.pipeline.poll(feed), name=f"poll {feed.url}"
                    )
            await _wait(stop, running, self._sleep_for(running))

    @contextlib.asynccontextmanager
    async def _renewing(self, held: Callable[[], list[int]]) -> AsyncIterator[None]:
        """Renew the leases of the polls in flight every ``RENEW_S`` while the block runs: a
        long poll keeps its feed, and a killed worker's feeds come free within ``LEASE_S``."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(RENEW_S)
                ids = held()
                if ids:
                    with session_scope(self.pipeline.app.engine) as session:
                        renew_claims(session=session, feed_ids=ids, now=utcnow(), lease_s=LEASE_S)

        task = asyncio.create_task(renew(), name="feed-leases")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _claim(
        self,
        *,
        due_only: bool,
        limit: int | None = None,
        exclude: set[int] | None = None,
        since: datetime | None = None,
    ) -> list[Feed]:
        with session_scope(self.pipeline.app.engine) as session:
            return claim_feeds(
                session=session,
                now=utcnow(),
                lease_s=LEASE_S,
                limit=limit or self.concurrency,
                due_only=due_only,
                exclude_ids=exclude or (),
                not_polled_since=since,
            )

    async def _poll_all(self, feeds: list[Feed]) -> list[PollResult]:
        results = await asyncio.gather(*(self.pipeline.poll(feed) for feed in feeds))
        for result in results:
            _log_result(result)
        return list(results)

    def _sleep_for(self, running: dict[int, asyncio.Task[PollResult]]) -> float:
        """Until the next feed is due (at most a few seconds, so new feeds are noticed)."""
        if len(running) >= self.concurrency:
            return IDLE_SLEEP_S
        with session_scope(self.pipeline.app.engine) as session:
            next_due = session.exec(
                select(func.min(col(Feed.next_due_at))).where(col(Feed.enabled).is_(True))
            ).first()
        if next_due is None:
            return IDLE_SLEEP_S
        if next_due.tzinfo is None:
            next_due = next_due.replace(tzinfo=UTC)
        return max(0.05, min(IDLE_SLEEP_S, (next_due - utcnow()).total_seconds()))

    async def _shutdown(
        self, running: dict[int, asyncio.Task[PollResult]], report: CycleReport
    ) -> None:
        """Let polls in flight finish briefly, cancel the rest and give their leases back."""
        if not running:
            return
        done, pending = await asyncio.wait(running.values(), timeout=self.grace_s)
        for task in done:
            if not task.cancelled() and task.exception() is None:
                report.add(task.result())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        unfinished = [feed_id for feed_id, task in running.items() if task in pending]
        with session_scope(self.pipeline.app.engine) as session:
            release_claims(session=session, feed_ids=unfinished)
        log.info("scheduler stopped: %d polls finished, %d cancelled", len(done), len(pending))


async def _wait(
    stop: asyncio.Event, running: dict[int, asyncio.Task[PollResult]], timeout: float
) -> None:
    """Sleep until stop, a poll finishing, or the timeout, whichever comes first."""
    stopper = asyncio.ensure_future(stop.wait())
    polls = set(running.values())
    done, _ = await asyncio.wait(
        {stopper, *polls}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if stopper not in done:
        stopper.cancel()
    for task in polls:
        if task in done:
            _log_result(task.result())


def _log_result(result: PollResult) -> None:
    if result.ok:
        log.info(
            "feed %s: %d entries, %d new, %d articles, %d new alerts%s",
            result.url,
            result.items,
            result.new_items,
            result.articles,
            result.new_alerts,
            " (not modified)" if result.not_modified else "",
        )
