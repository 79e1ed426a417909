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
from concurrent.futures import Executor, ProcessPoolExecutor

from .extract import ExtractedArticle, extract_article


class Extractor:
    def __init__(self, workers: int = 0) -> None:
        self.workers = workers
        self._pool: Executor | None = None

    async def extract(self, html: bytes | str, url: str | None = None, encoding: str | None = None) -> ExtractedArticle:
        """Extract one page; raises ``ExtractError`` like ``extract_article``."""
        if self.workers <= 0:
            return await asyncio.to_thread(extract_article, html, url, encoding=encoding)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _extract, html, url, encoding)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _extract(html: bytes | str, url: str | None, encoding: str | None) -> ExtractedArticle:
    return extract_article(html, url, encoding=encoding)
