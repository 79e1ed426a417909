"""Article extraction off the event loop: worker processes, or a thread when there are none.

trafilatura is CPU-bound (about 10 ms a page) and, with lxml's shared parsers, must not run
in two threads of one process at once (see ``extract``). Worker processes give every core to
extraction and keep the GIL free for matching; ``workers=0`` runs it in a thread instead
(tests, small installations). Workers are started with ``spawn``: forking a process that
runs an event loop and a connection pool is asking for trouble.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from concurrent.futures import Executor, ProcessPoolExecutor
from types import FrameType

from .errors import ExtractError
from .extract import ExtractedArticle, extract_article, warm_up

DEFAULT_TIMEOUT_S = 30.0
# The pipeline matches the text and title and reads no date: no dateparser search of free text
# (``extract_article``'s ``extensive_dates``).
EXTENSIVE_DATES = False


class Extractor:
    """Extraction in worker processes, each page bounded by ``timeout_s`` of CPU time there.

    A worker runs extraction in its main thread, so an interval timer can interrupt a page
    that lxml or trafilatura take pathologically long on; the worker survives and the feed
    summary is matched instead. (Threads cannot be interrupted, hence no timer with
    ``workers=0``.)
    """

    def __init__(self, workers: int = 0, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.workers = workers
        self.timeout_s = timeout_s
        self._pool: Executor | None = None

    async def extract(
        self, html: bytes | str, url: str | None = None, encoding: str | None = None
    ) -> ExtractedArticle:
        """Extract one page; raises ``ExtractError`` like ``extract_article``."""
        if self.workers <= 0:
            return await asyncio.to_thread(
                extract_article, html, url, encoding=encoding, extensive_dates=EXTENSIVE_DATES
            )
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=warm_up,
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _extract, html, url, encoding, self.timeout_s)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _extract(
    html: bytes | str, url: str | None, encoding: str | None, timeout_s: float
) -> ExtractedArticle:
    """Runs in a worker process's main thread, where ``signal`` timers work."""
    previous = signal.signal(signal.SIGALRM, _timed_out)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return extract_article(html, url, encoding=encoding, extensive_dates=EXTENSIVE_DATES)
    except _TimedOut:
        raise ExtractError(f"extraction took too long (more than {timeout_s:g} s)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _TimedOut(BaseException):
    """Not an ``Exception``: trafilatura catches those internally and would carry on."""


def _timed_out(_signum: int, _frame: FrameType | None) -> None:
    raise _TimedOut
