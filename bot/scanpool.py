"""Scanning many texts on every core: worker processes forked once the matcher is built.

Matching is pure Python and holds the interpreter lock, so threads do not help; processes do.
They are forked after the index is built, so each starts with the whole matcher already in
memory (shared copy-on-write, never rebuilt or sent over a pipe), receives (source, text,
title) and sends back the scan result in the JSON contract. Results come back in input order.
Where ``fork`` does not exist (Windows) the texts are scanned in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from bot.matching.engine import Matcher
from bot.matching.model import Document
from bot.report import scan_result

Job = tuple[str, str, str]  # source, text, title
PARALLEL_FROM = 40  # fewer inputs than this are scanned here: forking would cost more than it saves
CHUNK = 8

_matcher: Matcher | None = None  # the workers' matcher: set in the parent just before forking


def scan_one(matcher: Matcher, job: Job) -> dict[str, Any]:
    """One text's scan result (``scan --format json`` shape), the cut reported if there was one."""
    source, text, title = job
    analysis = matcher.analyze(Document(text, title))
    alerts = matcher.alerts(analysis)
    cut = (len(analysis.text), analysis.total_chars) if analysis.cut else None
    return scan_result(source, title, alerts, cut)


def _scan_in_worker(job: Job) -> dict[str, Any]:
    assert _matcher is not None, "workers are forked after the matcher is set"
    return scan_one(_matcher, job)


def workers_for(jobs: int, requested: int = 0) -> int:
    """``requested`` workers, or with 0 one per core when there are enough texts to pay for it."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if requested > 0:
        return requested
    return (os.cpu_count() or 1) if jobs >= PARALLEL_FROM else 1


@contextmanager
def scanned(
    matcher: Matcher, jobs: Iterable[Job], workers: int
) -> Iterator[Iterator[dict[str, Any]]]:
    """The scan results of ``jobs`` in order, from ``workers`` forked processes (1: this one)."""
    global _matcher
    if workers <= 1:
        yield (scan_one(matcher, job) for job in jobs)
        return
    _matcher = matcher
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield pool.imap(_scan_in_worker, jobs, chunksize=CHUNK)
    finally:
        _matcher = None
