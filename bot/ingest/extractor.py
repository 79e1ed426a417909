"""CPU-bound work off the event loop: worker processes, or a thread when there are none.

trafilatura is CPU-bound (5 to 30 ms a page) and, with lxml's shared parsers, must not run in
two threads of one process at once (see ``extract``); matching is pure Python and holds the
interpreter lock. Worker processes give every core to that work and leave the event loop's
process the fetching and the storing: the pipeline sends each page there to be extracted and
matched in one call (``bot.reading``). ``workers=0`` runs the same calls in a thread instead
(tests, small installations). Workers are started with ``spawn``: forking a process that runs
an event loop and a connection pool is asking for trouble.

A worker that dies (a crash in a C library, the out-of-memory killer) breaks the whole pool
for every later call; the pool is dropped and started again at the next call, and the call
that met the death fails with an ``ExtractError`` (the pipeline then matches the summary).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

from .errors import ExtractError
from .extract import ExtractedArticle, extract_article, warm_up

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
# The pipeline matches the text and title and reads no date: no dateparser search of free text
# (``extract_article``'s ``extensive_dates``).
EXTENSIVE_DATES = False

T = TypeVar("T")


class Extractor:
    """Worker processes for extraction (and whatever the pipeline sends with it), each page
    bounded by ``timeout_s`` of CPU time there.

    A worker runs a call in its main thread, so an interval timer can interrupt a page that
    lxml or trafilatura take pathologically long on; the worker survives and the feed summary
    is matched instead. (Threads cannot be interrupted, hence no timer with ``workers=0``.)
    """

    def __init__(self, workers: int = 0, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.workers = workers
        self.timeout_s = timeout_s
        self._pool: ProcessPoolExecutor | None = None

    async def call(self, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` in a worker process (a thread with ``workers=0``).

        ``function`` must be a module-level function and its arguments and result picklable.
        Raises what it raises; ``ExtractError`` when the worker died under it.
        """
        if self.workers <= 0:
            return await asyncio.to_thread(function, *args)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=warm_up,
            )
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, function, *args)
        except BrokenProcessPool as error:
            if self._pool is pool:  # the first call to hear of it starts a new pool next time
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
                log.error("an extraction process died (%s); starting new ones", error)
            raise ExtractError(f"the extraction process died ({error})") from None

    async def extract(
        self, html: bytes | str, url: str | None = None, encoding: str | None = None
    ) -> ExtractedArticle:
        """Extract one page; raises ``ExtractError`` like ``extract_article``."""
        return await self.call(extract_page, html, url, encoding, self.timeout_s)

    def worker_pids(self) -> list[int]:
        """The worker processes running now (for measuring them; none with ``workers=0``).
        The executor keeps no public list: its ``_processes`` table it is."""
        processes = getattr(self._pool, "_processes", None) or {}
        return [process.pid for process in processes.values() if process.pid is not None]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def extract_page(
    html: bytes | str, url: str | None, encoding: str | None, timeout_s: float
) -> ExtractedArticle:
    """``extract_article`` with the pipeline's options, within ``timeout_s`` when it runs in
    a process's main thread (a worker), where ``signal`` timers work."""
    with deadline(timeout_s):
        return extract_article(html, url, encoding=encoding, extensive_dates=EXTENSIVE_DATES)


@contextmanager
def deadline(timeout_s: float) -> Iterator[None]:
    """Interrupt the block after ``timeout_s`` with an ``ExtractError``; only in the main
    thread of a worker process (a timer signal cannot interrupt any other thread, and the
    event loop's own process must never get one)."""
    in_worker = multiprocessing.parent_process() is not None
    if not in_worker or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _timed_out)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    except _TimedOut:
        raise ExtractError(f"extraction took too long (more than {timeout_s:g} s)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _TimedOut(BaseException):
    """Not an ``Exception``: trafilatura catches those internally and would carry on."""


def _timed_out(_signum: int, _frame: FrameType | None) -> None:
    raise _TimedOut
