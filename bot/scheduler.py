"""When feeds are polled: per-feed intervals with jitter, leases, back-off, clean shutdown.

The loop claims due feeds from the database (a lease, so no feed is polled twice at once, in
this process or another one sharing PostgreSQL), polls them with bounded concurrency, and
sleeps until the next feed is due. State lives in the ``feed`` table, so a restart picks up
where the last run stopped; leases of a crashed run expire by themselves.

Feeds that keep failing back off exponentially (interval x 2^failures, at most six hours,
never sooner than a server's ``Retry-After``) and are logged as failing from the third
failure on; ``sanctions-bot feeds list`` shows the last success and the last error.

The database going away (a restart, read-only, a full disk: ``db.outage``) does not end the
loop: the outage is reported once, the pass is tried again with a growing pause, and feeds
whose poll was cut off keep no lease (it is given back when the database answers), so they
are polled again at once rather than after the lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, func, select

from bot.pipeline import Pipeline, PollResult
from db.engine import session_scope
from db.feeds import claim_feeds, release_claims, renew_claims
from db.models import Feed, utcnow

log = logging.getLogger(__name__)

LEASE_S = 120.0  # a claim runs out this long after its last renewal (a killed worker's feeds)
RENEW_S = 30.0  # how often the leases of polls in flight are renewed
IDLE_SLEEP_S = 5.0
OUTAGE_SLEEP_S = (0.5, 10.0)  # pause after a database outage: first, cap


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
        self.health = pipeline.app.db_health
        self._stranded: set[int] = set()  # feeds whose poll a database outage cut off

    async def run_once(self) -> CycleReport:
        """Poll every enabled feed once (except those backing off after failures).

        Up to ``concurrency`` polls run at a time, and new feeds take the places of polls that
        end (claimed whenever half the places are free, so claiming stays a few queries per
        cycle): a slow feed holds up one place, not the group it was claimed with (claiming
        sixteen and waiting for all sixteen left the workers idle behind the slowest).
        Whatever ends the cycle early (an error, Ctrl-C) lets polls in flight finish briefly
        and gives the other leases back.
        """
        report = CycleReport()
        started = utcnow()
        running: dict[int, asyncio.Task[PollResult]] = {}
        refill = max(1, self.concurrency // 2)
        exhausted = False
        try:
            async with self._renewing(lambda: list(running)):
                while True:
                    free = self.concurrency - len(running)
                    if not exhausted and (free >= refill or not running):
                        # Not polled since this cycle began: another process's cycle counts too.
                        exclude = {r.feed_id for r in report.results} | set(running)
                        # In this thread: two schedulers of one process must not claim at
                        # once (on SQLite a claim that loses every race returns nothing).
                        feeds = self._claim(
                            due_only=False, limit=free, exclude=exclude, since=started
                        )
                        exhausted = not feeds
                        for feed in feeds:
                            assert feed.id is not None
                            running[feed.id] = asyncio.create_task(
                                self.pipeline.poll(feed), name=f"poll {feed.url}"
                            )
                    if not running:
                        return report
                    await asyncio.wait(running.values(), return_when=asyncio.FIRST_COMPLETED)
                    for feed_id in [i for i, task in running.items() if task.done()]:
                        result = running[feed_id].result()  # a failed poll stays for _shutdown
                        del running[feed_id]
                        _log_result(result)
                        report.add(result)
        finally:
            await self._shutdown(running, report)

    async def run(self, stop: asyncio.Event) -> CycleReport:
        """Poll due feeds until ``stop`` is set; returns what was done."""
        report = CycleReport()
        running: dict[int, asyncio.Task[PollResult]] = {}
        try:
            async with self._renewing(lambda: list(running)):
                while not stop.is_set():
                    try:
                        pause = self._pass(running, report)
                    except Exception as error:
                        if not self.health.failed(error):
                            raise
                        pause = min(OUTAGE_SLEEP_S[1], OUTAGE_SLEEP_S[0] * 2**self.health.failures)
                    await _wait(stop, running, pause)
        finally:
            await self._shutdown(running, report)
        return report

    def _pass(self, running: dict[int, asyncio.Task[PollResult]], report: CycleReport) -> float:
        """Collect finished polls, start due ones; how long to sleep. Raises database outages."""
        wrote = self._collect(running, report)
        if self._stranded:
            with session_scope(self.pipeline.app.engine) as session:
                release_claims(session=session, feed_ids=self._stranded)
            self._stranded.clear()
            wrote = True
        free = self.concurrency - len(running)
        if free > 0:
            for feed in self._claim(due_only=True, limit=free):
                assert feed.id is not None
                wrote = True
                running[feed.id] = asyncio.create_task(
                    self.pipeline.poll(feed), name=f"poll {feed.url}"
                )
        pause = self._sleep_for(running)
        self.health.ok(wrote=wrote)
        return pause

    def _collect(self, running: dict[int, asyncio.Task[PollResult]], report: CycleReport) -> bool:
        """Finished polls into ``report``; True if one recorded its outcome (a write). A poll
        cut off by a database outage is reported and its feed's lease noted for release."""
        wrote = False
        for feed_id in [i for i, task in running.items() if task.done()]:
            task = running.pop(feed_id)
            error = task.exception()
            if error is None:
                report.add(task.result())
                wrote = True
            elif self.health.failed(error):
                self._stranded.add(feed_id)
            else:
                raise error
        return wrote

    @contextlib.asynccontextmanager
    async def _renewing(self, held: Callable[[], list[int]]) -> AsyncIterator[None]:
        """Renew the leases of the polls in flight every ``RENEW_S`` while the block runs: a
        long poll keeps its feed, and a killed worker's feeds come free within ``LEASE_S``."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(RENEW_S)
                ids = held()
                if not ids:
                    continue
                try:
                    with session_scope(self.pipeline.app.engine) as session:
                        renew_claims(session=session, feed_ids=ids, now=utcnow(), lease_s=LEASE_S)
                except SQLAlchemyError as error:  # an outage: the pass reports it; try again
                    log.debug("renewing feed leases failed: %s", error)

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
        done: set[asyncio.Task[PollResult]] = set()
        pending: set[asyncio.Task[PollResult]] = set()
        if running:
            done, pending = await asyncio.wait(running.values(), timeout=self.grace_s)
        for task in done:
            if not task.cancelled() and task.exception() is None:
                report.add(task.result())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        unfinished = {  # cancelled, or cut off by a database outage: leases still held
            i
            for i, task in running.items()
            if task in pending or task.cancelled() or task.exception() is not None
        }
        unfinished |= self._stranded
        if unfinished:
            self._give_back(unfinished)
        if running:
            log.info("scheduler stopped: %d polls finished, %d cancelled", len(done), len(pending))

    def _give_back(self, feed_ids: set[int]) -> None:
        """Release leases at shutdown; with the database away they are left to expire."""
        try:
            with session_scope(self.pipeline.app.engine) as session:
                release_claims(session=session, feed_ids=feed_ids)
        except Exception as error:
            if not self.health.failed(error):
                raise
            log.warning("leases of %d feed(s) left to expire: database unavailable", len(feed_ids))


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
        if task in done and task.exception() is None:  # a failed poll: see Scheduler._collect
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
