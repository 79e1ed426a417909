"""Single calls coalesced into batches: each caller gets its own result or its own error."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import App
from bot.batching import Batcher
from bot.services.scan import ArticleText, FeedEntry, Matched, Scans, Stored, match_text
from bot.settings import Settings
from db.engine import session_scope
from db.feeds import add_feed
from db.models import Article
from db.models import FeedEntry as HandledEntry
from tests.conftest import ROOT


class Doubler:
    """Doubles numbers, slowly, in whatever thread calls it; refuses negative ones."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.batches: list[list[int]] = []
        self.threads: set[int] = set()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.threads.add(threading.get_ident())
        time.sleep(self.delay_s)
        if any(n < 0 for n in items):
            raise ValueError(f"negative number in {list(items)}")
        return [2 * n for n in items]


async def test_calls_waiting_together_run_as_one_batch_off_the_loop() -> None:
    run = Doubler()
    batcher: Batcher[int, int] = Batcher(run)
    results = await asyncio.gather(*(batcher.submit(n) for n in range(10)))
    assert results == [2 * n for n in range(10)]
    assert run.batches == [list(range(10))]
    assert threading.get_ident() not in run.threads


async def test_batches_hold_at_most_max_batch_and_later_calls_wait_for_the_next() -> None:
    run = Doubler(delay_s=0.05)
    batcher: Batcher[int, int] = Batcher(run, max_batch=4)
    first = asyncio.gather(*(batcher.submit(n) for n in range(6)))
    await asyncio.sleep(0.01)  # the first batch is being run: these wait for the next one
    later = asyncio.gather(*(batcher.submit(n) for n in range(6, 9)))
    assert await first == [0, 2, 4, 6, 8, 10] and await later == [12, 14, 16]
    assert run.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]


async def test_a_batch_that_is_not_full_waits_for_company_first() -> None:
    run = Doubler()
    batcher: Batcher[int, int] = Batcher(run, max_batch=4, linger_s=0.2)
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0.05)
    second = asyncio.gather(*(batcher.submit(n) for n in range(2, 7)))
    assert await first == 2 and await second == [4, 6, 8, 10, 12]
    assert run.batches == [[1, 2, 3, 4], [5, 6]]


async def test_one_bad_item_fails_alone_and_the_others_get_their_results() -> None:
    run = Doubler()
    batcher: Batcher[int, int] = Batcher(run)
    outcomes = await asyncio.gather(
        *(batcher.submit(n) for n in (1, -2, 3)), return_exceptions=True
    )
    assert outcomes[0] == 2 and outcomes[2] == 6
    assert isinstance(outcomes[1], ValueError) and "[-2]" in str(outcomes[1])
    assert run.batches == [[1, -2, 3], [1], [-2], [3]]


async def test_an_error_every_item_would_meet_is_not_retried_one_by_one() -> None:
    run = Doubler()
    batcher: Batcher[int, int] = Batcher(run, retry_alone=lambda error: False)
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in (1, -2)), return_exceptions=True)
    assert all(isinstance(o, ValueError) for o in outcomes)
    assert run.batches == [[1, -2]]


async def test_a_caller_that_stops_waiting_does_not_stop_the_others() -> None:
    run = Doubler(delay_s=0.05)
    batcher: Batcher[int, int] = Batcher(run)
    impatient = asyncio.ensure_future(batcher.submit(1))
    patient = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0.01)
    impatient.cancel()
    assert await patient == 4
    assert run.batches == [[1, 2]]  # the cancelled caller's item was run all the same


async def test_nothing_runs_while_nothing_waits() -> None:
    batcher: Batcher[int, int] = Batcher(Doubler())
    assert await batcher.submit(1) == 2
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "batcher"]
    assert await batcher.submit(2) == 4  # a new drain starts for the next caller


def _matched(app: App, feed_id: int, n: int) -> Matched:
    text = f"Story {n}: the harbour of town {n} reopened after {n} weeks of repairs to its quay."
    entry = FeedEntry(feed_id, f"e{n}")
    item = ArticleText(f"s{n}", text, f"Harbour {n}", f"https://news.example/{n}", entry=entry)
    return match_text(app.matcher(), item)


async def test_storing_a_batch_keeps_every_article_with_its_entry(app: App) -> None:
    """The pipeline's use: ``Scans.store`` on a real database. A batch whose article names a
    feed that is gone (deleted mid-poll: a foreign key fails) is stored again one by one, so
    that article alone fails and every other one is stored with its entry marked, once."""
    with session_scope(app.engine) as session:
        feed_id = add_feed(session=session, url="https://news.example/rss").id
    assert feed_id is not None
    scans = Scans(app)
    batcher: Batcher[Matched, Stored] = Batcher(scans.store)
    good = [_matched(app, feed_id, n) for n in range(5)]
    gone = _matched(app, feed_id + 1000, 99)
    outcomes = await asyncio.gather(
        *(batcher.submit(m) for m in [*good[:2], gone, *good[2:]]), return_exceptions=True
    )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and "FOREIGN KEY" in str(errors[0])
    stored = [o for o in outcomes if isinstance(o, Stored)]
    assert len(stored) == 5 and all(s.article_id and not s.duplicate for s in stored)
    assert batcher.batches == 1 + 6
    with session_scope(app.engine) as session:
        assert len(session.exec(select(Article)).all()) == 5
        entries = session.exec(select(HandledEntry)).all()
        assert sorted(e.entry_id for e in entries) == [f"e{n}" for n in range(5)]
    again = await asyncio.gather(*(batcher.submit(m) for m in good))
    assert all(s.duplicate for s in again) and batcher.batches == 8


@pytest.fixture
def app(tmp_path: Path) -> App:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'batching.sqlite'}",
        rules_dir=ROOT / "rules",
        data_dir=tmp_path,
    )
    return App.open(settings)
